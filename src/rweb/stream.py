"""``rweb.stream``, the path the docs use: the module is ``rweb.live.stream`` (src/rweb/live/stream.py).

This path is the module itself, not a copy: ``rweb.stream is rweb.live.stream``, so patching one patches
the other.  Code inside rweb imports ``rweb.live.stream``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .live import stream as _module

if TYPE_CHECKING:
    from .live.stream import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
