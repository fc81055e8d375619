"""``rweb.redis_store``, the path the docs use: the module is ``rweb.live.redis_store`` (src/rweb/live/redis_store.py).

This path is the module itself, not a copy: ``rweb.redis_store is rweb.live.redis_store``, so patching one patches
the other.  Code inside rweb imports ``rweb.live.redis_store``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .live import redis_store as _module

if TYPE_CHECKING:
    from .live.redis_store import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
