"""``rweb.logs``, the path the docs use: the module is ``rweb.server.logs`` (src/rweb/server/logs.py).

This path is the module itself, not a copy: ``rweb.logs is rweb.server.logs``, so patching one patches
the other.  Code inside rweb imports ``rweb.server.logs``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .server import logs as _module

if TYPE_CHECKING:
    from .server.logs import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
