"""``rweb.formdata``, the path the docs use: the module is ``rweb.wire.formdata`` (src/rweb/wire/formdata.py).

This path is the module itself, not a copy: ``rweb.formdata is rweb.wire.formdata``, so patching one patches
the other.  Code inside rweb imports ``rweb.wire.formdata``; this shim is on no floor (docs/architecture.md).
"""

import sys
from typing import TYPE_CHECKING

from .wire import formdata as _module

if TYPE_CHECKING:
    from .wire.formdata import *  # noqa: F403  (the names a type checker sees here)
else:
    sys.modules[__name__] = _module
