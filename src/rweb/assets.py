"""``rweb.assets``, the path the docs use: the module is ``rweb.web.assets`` (src/rweb/web/assets.py).

This path is the module itself, not a copy: ``rweb.assets is rweb.web.assets``, so patching one patches
the other.  Code inside rweb imports ``rweb.web.assets``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .web import assets as _module

if TYPE_CHECKING:
    from .web.assets import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
