"""``rweb.dashboard``, the path the docs use: the module is ``rweb.features.dashboard`` (src/rweb/features/dashboard.py).

This path is the module itself, not a copy: ``rweb.dashboard is rweb.features.dashboard``, so patching one patches
the other.  Code inside rweb imports ``rweb.features.dashboard``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .features import dashboard as _module

if TYPE_CHECKING:
    from .features.dashboard import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
