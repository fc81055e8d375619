"""``rweb.clock``, the path the docs use: the module is ``rweb.rendering.clock`` (src/rweb/rendering/clock.py).

This path is the module itself, not a copy: ``rweb.clock is rweb.rendering.clock``, so patching one patches
the other.  Code inside rweb imports ``rweb.rendering.clock``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .rendering import clock as _module

if TYPE_CHECKING:
    from .rendering.clock import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
