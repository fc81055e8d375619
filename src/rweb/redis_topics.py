"""``rweb.redis_topics``, the path the docs use: the module is ``rweb.sessions.redis_topics`` (src/rweb/sessions/redis_topics.py).

This path is the module itself, not a copy: ``rweb.redis_topics is rweb.sessions.redis_topics``, so patching one patches
the other.  Code inside rweb imports ``rweb.sessions.redis_topics``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .sessions import redis_topics as _module

if TYPE_CHECKING:
    from .sessions.redis_topics import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
