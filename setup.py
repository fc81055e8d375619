"""The compiled build of rweb's hot path (optional).

Cython compiles every rweb module that has a ``.pxd`` file beside it (plain
Python, typed by that file) into a C extension: a counter click (decode, dispatch,
render, diff, encode) then takes a quarter to a half of the time in-process
(``benchmarks/render_cost.py``).  The
``.py`` files stay the source of truth and run as they are wherever the build
is skipped: without a C compiler (each extension is optional; a module Cython
cannot compile, such as the transport without picows's ``.pxd``, is left out
with a warning), or with ``RWEB_PURE_PYTHON=1``.  ``rweb.COMPILED`` says which one is running.
A ``.pyx`` module (``server/_arenas.pyx``: huge-page arenas) is C-level only: the plain build
does without it.

The generated C goes to ``build/cython``.  After editing a compiled module,
rebuild (``make build``); the extension beside a source would otherwise shadow
the edit (the test suite refuses to run over such a stale extension).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import Extension, setup

PACKAGE = Path(__file__).resolve().parent / "src" / "rweb"
COMPILED = sorted(".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in PACKAGE.rglob("*.pxd"))
# Written in Cython itself (C-level hooks with no plain-Python form): absent from the plain build.
NATIVE = sorted(".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in PACKAGE.rglob("*.pyx"))

DIRECTIVES = {
    "language_level": 3,
    # Types come from the .pxd files only; the annotations are for readers
    # and type checkers (Cython would otherwise enforce e.g. exact ``str``).
    "annotation_typing": False,
    "binding": True,  # functions keep Python signatures and introspection
}


def extensions() -> list[Extension]:
    if os.environ.get("RWEB_PURE_PYTHON"):
        return []
    try:
        from Cython.Build import cythonize
        from Cython.Compiler.Errors import CompileError
    except ImportError:
        return []
    exts = []
    sources = [(name, ".py") for name in COMPILED] + [(name, ".pyx") for name in NATIVE]
    for name, suffix in sources:
        try:
            exts += cythonize(
                [Extension(f"rweb.{name}", [f"src/rweb/{name.replace('.', '/')}{suffix}"])],
                compiler_directives=DIRECTIVES,
                quiet=True,
                build_dir="build/cython",  # generated C stays out of the sources
            )
        except CompileError as exc:  # e.g. the transport without picows's .pxd: its .py runs
            print(f"warning: rweb.{name} is not compiled ({exc}): it runs as plain Python", file=sys.stderr)
    for ext in exts:
        # A failed compile (no C compiler, no Python headers) leaves the .py in use.
        # Set after cythonize, which does not carry the flag over.
        ext.optional = True
    return exts


setup(ext_modules=extensions())
