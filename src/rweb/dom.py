"""``rweb.dom``, the path the docs use: the module is ``rweb.rendering.dom`` (src/rweb/rendering/dom.py).

This path is the module itself, not a copy: ``rweb.dom is rweb.rendering.dom``, so patching one patches
the other.  Code inside rweb imports ``rweb.rendering.dom``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .rendering import dom as _module

if TYPE_CHECKING:
    from .rendering.dom import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
