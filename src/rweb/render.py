"""``rweb.render``, the path the docs use: the module is ``rweb.rendering.render`` (src/rweb/rendering/render.py).

This path is the module itself, not a copy: ``rweb.render is rweb.rendering.render``, so patching one patches
the other.  Code inside rweb imports ``rweb.rendering.render``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .rendering import render as _module

if TYPE_CHECKING:
    from .rendering.render import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
