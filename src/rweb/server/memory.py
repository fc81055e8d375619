"""A serving process's small objects on huge pages (docs/operations.md, "Huge pages").

A worker holding 1,000 todo pages holds about 100 MiB of small Python objects,
and a click reaches a dozen of them that nothing else touched lately: the
session, the row's component, its record, its last render.  Each of those is
a miss in the CPU's address translation as well as in its caches once the
pages outgrow what the TLB maps with 4 KiB pages (a few MiB); under a
hypervisor each such miss walks two sets of page tables.  Python's
small-object allocator (pymalloc) takes its memory in 1 MiB arenas, too small
and not aligned for the kernel's transparent huge pages, so it never gets any.

:func:`huge_page_arenas` replaces pymalloc's arena hook in this process
(``PyObject_SetArenaAllocator``, rweb.server._arenas): arenas come two at a
time out of 2 MiB chunks aligned to 2 MiB that the kernel is asked to back
with one huge page each (``madvise(MADV_HUGEPAGE)``), so one TLB entry maps
about 2 MiB of sessions.  ``start_rweb`` calls it unless ``huge_pages=False``.

What it costs: memory is returned to the system a chunk (two arenas) at a
time, when both are empty, instead of an arena at a time; and a chunk's
first touch makes all of its 2 MiB resident, where 4 KiB pages would fill in
as pymalloc reaches them (the last chunk, not each session: measured in
docs/operations.md).  It needs the compiled build (the hook is C; the plain
Python build has none) and Linux's transparent huge pages in ``madvise`` or
``always`` mode (``/sys/kernel/mm/transparent_hugepage/enabled``); with
``never`` nothing is installed, and where the mode cannot be read (no such
file) the hook is installed and the kernel's answer to the advice decides.
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["arena_stats", "huge_page_arenas", "transparent_huge_pages"]

log = logging.getLogger("rweb.server")

THP_ENABLED = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def transparent_huge_pages() -> str | None:
    """The kernel's transparent huge page mode (``always``, ``madvise``, ``never``), None if unknown."""
    try:
        text = THP_ENABLED.read_text()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1 : end] if 0 <= start < end else None


def huge_page_arenas() -> bool:
    """Serve pymalloc's arenas from 2 MiB huge pages in this process and those it forks.

    True when the hook is in place (it then stays for the life of the process), False
    where it cannot be: the plain-Python build, a platform without ``MADV_HUGEPAGE``,
    or the kernel's transparent huge pages turned off (``never``).  Calling it again is
    harmless.  Objects already allocated stay where they are.
    """
    mode = transparent_huge_pages()
    if mode == "never":
        log.debug("rweb: transparent huge pages are off (%s): arenas left as they are", THP_ENABLED)
        return False
    try:
        from ._arenas import install  # compiled only
    except ImportError:
        log.debug("rweb: no compiled arena hook (plain Python build): arenas left as they are")
        return False
    return install()


def arena_stats() -> dict[str, int] | None:
    """The hook's counts (``chunks`` mapped now, ``arenas`` handed out of them, ``mapped``
    chunks since installed, ``advised`` of those the kernel took as huge); None without it."""
    try:
        from ._arenas import stats
    except ImportError:
        return None
    return stats()
