"""``rweb.flash``, the path the docs use: the module is ``rweb.wire.flash`` (src/rweb/wire/flash.py).

This path is the module itself, not a copy: ``rweb.flash is rweb.wire.flash``, so patching one patches
the other.  Code inside rweb imports ``rweb.wire.flash``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .wire import flash as _module

if TYPE_CHECKING:
    from .wire.flash import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
