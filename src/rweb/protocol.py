"""``rweb.protocol``, the path the docs use: the module is ``rweb.words.protocol`` (src/rweb/words/protocol.py).

This path is the module itself, not a copy: ``rweb.protocol is rweb.words.protocol``, so patching one patches
the other.  Code inside rweb imports ``rweb.words.protocol``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .words import protocol as _module

if TYPE_CHECKING:
    from .words.protocol import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
