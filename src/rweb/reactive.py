"""``rweb.reactive``, the path the docs use: the module is ``rweb.core.reactive`` (src/rweb/core/reactive.py).

This path is the module itself, not a copy: ``rweb.reactive is rweb.core.reactive``, so patching one patches
the other.  Code inside rweb imports ``rweb.core.reactive``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .core import reactive as _module

if TYPE_CHECKING:
    from .core.reactive import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
