"""``rweb.signing``, the path the docs use: the module is ``rweb.addressing.signing`` (src/rweb/addressing/signing.py).

This path is the module itself, not a copy: ``rweb.signing is rweb.addressing.signing``, so patching one patches
the other.  Code inside rweb imports ``rweb.addressing.signing``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .addressing import signing as _module

if TYPE_CHECKING:
    from .addressing.signing import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
