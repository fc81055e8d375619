"""``rweb.security``, the path the docs use: the module is ``rweb.wire.security`` (src/rweb/wire/security.py).

This path is the module itself, not a copy: ``rweb.security is rweb.wire.security``, so patching one patches
the other.  Code inside rweb imports ``rweb.wire.security``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .wire import security as _module

if TYPE_CHECKING:
    from .wire.security import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
