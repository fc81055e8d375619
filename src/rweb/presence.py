"""``rweb.presence``, the path the docs use: the module is ``rweb.live.presence`` (src/rweb/live/presence.py).

This path is the module itself, not a copy: ``rweb.presence is rweb.live.presence``, so patching one patches
the other.  Code inside rweb imports ``rweb.live.presence``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .live import presence as _module

if TYPE_CHECKING:
    from .live.presence import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
