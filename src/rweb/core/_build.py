"""Which build of rweb is running: the compiled hot path or plain Python (private).

``setup.py`` compiles the modules that have a ``.pxd`` beside them with Cython
when it can.  Each of those modules knows how it runs (``_COMPILED``, from
``cython.compiled``): a module is compiled when its own code says so, not
because a file with some suffix lies beside it.

The generated C goes to ``build/cython``; the extension modules themselves
sit beside their sources (that is how an editable install finds them), so an
extension built from an older source would shadow an edit:
:func:`stale_extensions` finds those, the test suite refuses to run over
them, and ``make build`` (run by ``make run``, ``make test`` and
``make bench``) rebuilds what changed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import shutil
from pathlib import Path

__all__ = [
    "COMPILED", "COMPILED_MODULES", "NATIVE_MODULES", "compiled_modules", "copy_plain_python", "stale_extensions",
]

_HERE = Path(__file__).resolve().parent.parent
_EXT = tuple(importlib.machinery.EXTENSION_SUFFIXES)

# The modules setup.py compiles (each has a .pxd beside it; a test checks the two agree).
COMPILED_MODULES = (
    "core.diff",
    "core.html",
    "core.meter",
    "core.reactive",
    "server.picows_transport",
    "live.connection",
    "rendering.render",
    "sessions.session",
    "words.protocol",
)


# Written in Cython itself (a .pyx: C-level hooks with no plain-Python form), so absent from the
# plain build, whose callers do without them (rweb.server.memory: huge-page arenas).
NATIVE_MODULES = ("server._arenas",)


# The compiled modules ``import rweb`` loads: the server's transport is only imported
# when a server starts, and rweb.COMPILED does not import it either.
LOADED_WITH_RWEB = tuple(name for name in COMPILED_MODULES if not name.startswith("server."))


def compiled_modules(names: tuple[str, ...] = COMPILED_MODULES) -> list[str]:
    """The rweb modules (of ``names``) that run compiled in this process (importing them)."""
    mods = [importlib.import_module(f"rweb.{name}") for name in names]
    return [m.__name__.removeprefix("rweb.") for m in mods if getattr(m, "_COMPILED", False)]


def stale_extensions() -> list[str]:
    """Extensions older than their ``.py``, ``.pxd`` or ``.pyx`` (an edit not yet rebuilt)."""
    stale = []
    for name in COMPILED_MODULES + NATIVE_MODULES:
        base = _HERE.joinpath(*name.split("."))  # "core.diff": core/diff.py
        exts = [p for p in base.parent.glob(base.name + ".*") if p.name.endswith(_EXT)]
        if not exts:
            continue
        built = min(p.stat().st_mtime for p in exts)
        for src in (base.with_suffix(".py"), base.with_suffix(".pxd"), base.with_suffix(".pyx")):
            if src.exists() and src.stat().st_mtime > built:
                stale.append(name)
                break
    return stale


def copy_plain_python(dest: Path) -> Path:
    """Copy this rweb package, without its compiled extensions, to ``dest/rweb``.

    Put ``dest`` first on ``PYTHONPATH`` to run the plain-Python build (tests, benchmarks).
    """
    shutil.rmtree(dest / "rweb", ignore_errors=True)
    shutil.copytree(_HERE, dest / "rweb", ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__"))
    return dest


COMPILED: bool = compiled_modules(LOADED_WITH_RWEB) == list(LOADED_WITH_RWEB)
"""True when the hot path runs compiled: every one of ``COMPILED_MODULES`` that ``import rweb``
loads (the server's transport, compiled too, is only imported when a server starts)."""
