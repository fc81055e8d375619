"""``rweb.upload``, the path the docs use: the module is ``rweb.live.upload`` (src/rweb/live/upload.py).

This path is the module itself, not a copy: ``rweb.upload is rweb.live.upload``, so patching one patches
the other.  Code inside rweb imports ``rweb.live.upload``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .live import upload as _module

if TYPE_CHECKING:
    from .live.upload import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
