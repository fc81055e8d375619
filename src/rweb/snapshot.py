"""``rweb.snapshot``, the path the docs use: the module is ``rweb.live.snapshot`` (src/rweb/live/snapshot.py).

This path is the module itself, not a copy: ``rweb.snapshot is rweb.live.snapshot``, so patching one patches
the other.  Code inside rweb imports ``rweb.live.snapshot``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .live import snapshot as _module

if TYPE_CHECKING:
    from .live.snapshot import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
