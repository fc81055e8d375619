"""``rweb.redis_link``, the path the docs use: the module is ``rweb.wire.redis_link`` (src/rweb/wire/redis_link.py).

This path is the module itself, not a copy: ``rweb.redis_link is rweb.wire.redis_link``, so patching one patches
the other.  Code inside rweb imports ``rweb.wire.redis_link``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .wire import redis_link as _module

if TYPE_CHECKING:
    from .wire.redis_link import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
