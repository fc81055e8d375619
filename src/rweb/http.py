"""``rweb.http``, the path the docs use: the module is ``rweb.web.http`` (src/rweb/web/http.py).

This path is the module itself, not a copy: ``rweb.http is rweb.web.http``, so patching one patches
the other.  Code inside rweb imports ``rweb.web.http``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .web import http as _module

if TYPE_CHECKING:
    from .web.http import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
