"""``rweb.html``, the path the docs use: the module is ``rweb.core.html`` (src/rweb/core/html.py).

This path is the module itself, not a copy: ``rweb.html is rweb.core.html``, so patching one patches
the other.  Code inside rweb imports ``rweb.core.html``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .core import html as _module

if TYPE_CHECKING:
    from .core.html import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
