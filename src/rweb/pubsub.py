"""``rweb.pubsub``, the path the docs use: the module is ``rweb.wire.pubsub`` (src/rweb/wire/pubsub.py).

This path is the module itself, not a copy: ``rweb.pubsub is rweb.wire.pubsub``, so patching one patches
the other.  Code inside rweb imports ``rweb.wire.pubsub``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .wire import pubsub as _module

if TYPE_CHECKING:
    from .wire.pubsub import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
