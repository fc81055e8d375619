"""What the modules compiled from Python (setup.py) take from Cython's ``cython`` module at
import, for when they run as plain Python and Cython is not installed (it is a build
dependency, not a runtime one): ``compiled`` (False), and its decorators, which then do nothing."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def _same(cls: Any) -> Any:
    return cls


def _directive(_value: Any) -> Any:
    return _same


cython = SimpleNamespace(compiled=False, cclass=_same, freelist=_directive, boundscheck=_directive,
                         wraparound=_directive)
