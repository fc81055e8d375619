"""``rweb.forms``, the path the docs use: the module is ``rweb.features.forms`` (src/rweb/features/forms.py).

This path is the module itself, not a copy: ``rweb.forms is rweb.features.forms``, so patching one patches
the other.  Code inside rweb imports ``rweb.features.forms``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .features import forms as _module

if TYPE_CHECKING:
    from .features.forms import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
