"""``rweb.broker_redis``, the path the docs use: the module is ``rweb.live.broker_redis`` (src/rweb/live/broker_redis.py).

This path is the module itself, not a copy: ``rweb.broker_redis is rweb.live.broker_redis``, so patching one patches
the other.  Code inside rweb imports ``rweb.live.broker_redis``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .live import broker_redis as _module

if TYPE_CHECKING:
    from .live.broker_redis import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
