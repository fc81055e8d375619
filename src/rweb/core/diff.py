"""Render-to-render patches for one component.

A component renders to ``statics`` (a tuple of markup strings) and ``dyns``
(a list of escaped HTML fragments, or :class:`CRef` references to child
components), interleaved as ``s[0] d[0] s[1] d[1] ... s[n]``.  When the
statics are unchanged, the patch names only the dynamic slots that changed
(``{"1": "6"}``); when they changed (the shape of the tree changed) it is the
whole component (``{"s": [...], "d": [...]}``), never a positional patch
whose positions no longer mean the same thing.
"""

from __future__ import annotations

from typing import Any

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:  # plain Python without Cython: its decorators (diff's) do nothing
    from ._nocython import cython

    _COMPILED = False

__all__ = ["CRef", "diff", "full", "wire_statics"]


class CRef:
    """A dynamic slot holding the child component ``name``."""

    __slots__ = ("name", "wire")

    def __init__(self, name: str) -> None:
        self.name = name
        self.wire = {"c": name}

    def __eq__(self, other: object) -> bool:
        return type(other) is CRef and other.name == self.name

    def __ne__(self, other: object) -> bool:
        return not (type(other) is CRef and other.name == self.name)

    def __hash__(self) -> int:
        return hash(("CRef", self.name))

    def __repr__(self) -> str:
        return f"CRef({self.name!r})"


# Slot keys as strings, precomputed for the common sizes.
_KEYS = tuple(str(i) for i in range(4096))


def _out(dyns: list[Any]) -> list[Any]:
    return [v.wire if type(v) is CRef else v for v in dyns]


def full(statics: tuple[str, ...], dyns: list[Any]) -> dict[str, Any]:
    """The whole component, as sent when it is new or its shape changed (its statics in their
    wire form: :func:`wire_statics`)."""
    return {"s": wire_statics(statics), "d": _out(dyns)}


def wire_statics(statics: tuple[str, ...]) -> Any:
    """``statics`` as the wire carries them: each run of two or more empty strings (between
    dynamics that follow one another, a list of child components) as its length, an integer
    (``["<ul>", 3, "</ul>"]`` is ``["<ul>", "", "", "", "</ul>"]``; docs/protocol.md).  The tuple
    itself when it has no such run."""
    out: list[Any] | None = None
    n = len(statics)
    i = 0
    while i < n:
        if i + 1 < n and not statics[i] and not statics[i + 1]:
            j = i + 2
            while j < n and not statics[j]:
                j += 1
            if out is None:
                out = list(statics[:i])
            out.append(j - i)
            i = j
        else:
            if out is not None:
                out.append(statics[i])
            i += 1
    return statics if out is None else out


@cython.boundscheck(False)  # type: ignore[untyped-decorator]  # (indices: below both lists' lengths)
@cython.wraparound(False)  # type: ignore[untyped-decorator]
def diff(
    old_statics: tuple[str, ...] | None,
    old_dyns: list[Any] | None,
    statics: tuple[str, ...],
    dyns: list[Any],
) -> dict[str, Any] | None:
    """Patch from the old render to the new one, or None when nothing changed."""
    # (``is`` first: a tuple's ``!=`` compares item by item even with itself, and a render along a
    # plan keeps the very statics.)
    n = len(dyns)
    if old_dyns is None or (old_statics is not statics and old_statics != statics) or len(old_dyns) != n:
        return full(statics, dyns)
    # Same statics, so as many slots: one pass, and no dict unless one changed.
    patch: dict[str, Any] | None = None
    keys = _KEYS
    for i in range(n):
        v = dyns[i]
        old = old_dyns[i]
        if v is old:
            continue
        if type(v) is str and type(old) is str:  # (text: its length first, the common change)
            a = v
            b = old
            if len(a) == len(b) and a == b:
                continue
        elif v == old:
            continue
        if patch is None:
            patch = {}
        patch[keys[i] if i < 4096 else str(i)] = v.wire if type(v) is CRef else v
    return patch
