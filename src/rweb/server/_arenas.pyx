# cython: language_level=3
"""Python's small-object arenas on transparent huge pages (private; see rweb.server.memory).

pymalloc takes memory from the system one arena (1 MiB on 64-bit CPython) at a
time, through a hook that CPython lets a program replace
(``PyObject_SetArenaAllocator``).  The hook set here maps 2 MiB chunks aligned
to 2 MiB, asks the kernel for a huge page under each (``madvise(MADV_HUGEPAGE)``)
and hands out each chunk as two arenas.  A chunk is unmapped when both of its
arenas are free.  Requests of another size, arenas that the allocator before
this one made, and an arena asked for when no chunk can be mapped, go to that
allocator.

Called by pymalloc with the GIL held: the bookkeeping needs no lock.
"""

from libc.stdint cimport uintptr_t
from libc.stdlib cimport realloc
from posix.mman cimport (
    MADV_HUGEPAGE,
    MAP_ANONYMOUS,
    MAP_FAILED,
    MAP_PRIVATE,
    PROT_READ,
    PROT_WRITE,
    madvise,
    mmap,
    munmap,
)


cdef extern from "Python.h":
    ctypedef struct PyObjectArenaAllocator:
        void *ctx
        void *(*alloc)(void *ctx, size_t size) noexcept nogil
        void (*free)(void *ctx, void *ptr, size_t size) noexcept nogil

    void PyObject_GetArenaAllocator(PyObjectArenaAllocator *allocator)
    void PyObject_SetArenaAllocator(PyObjectArenaAllocator *allocator)


cdef enum:
    CHUNK = 2 * 1024 * 1024  # one huge page on x86-64 and on arm64 with 4 KiB pages
    HALF = 1024 * 1024  # pymalloc's arena on 64-bit CPython 3.10+

ctypedef struct Chunk:
    char *base
    unsigned used  # bit 0: the first arena is handed out; bit 1: the second


cdef PyObjectArenaAllocator _previous
cdef bint _installed = False
cdef Chunk *_chunks = NULL
cdef size_t _count = 0, _capacity = 0
cdef size_t _advised = 0  # chunks the kernel accepted MADV_HUGEPAGE for
cdef size_t _mapped_total = 0  # chunks mapped since installed


cdef void *_alloc(void *ctx, size_t size) noexcept nogil:
    global _chunks, _count, _capacity, _advised, _mapped_total
    cdef size_t i, grown
    cdef unsigned half
    cdef Chunk *more
    cdef char *raw
    cdef char *base
    if size != HALF:
        return _previous.alloc(_previous.ctx, size)
    for i in range(_count):  # a chunk with a free arena first: chunks stay full
        if _chunks[i].used != 3:
            half = 1 if _chunks[i].used & 1 else 0
            _chunks[i].used |= 1u << half
            return _chunks[i].base + half * HALF
    if _count == _capacity:
        grown = _capacity * 2 if _capacity else 64
        more = <Chunk *>realloc(_chunks, grown * sizeof(Chunk))
        if more == NULL:
            return _previous.alloc(_previous.ctx, size)
        _chunks = more
        _capacity = grown
    # Twice the size, then the ends cut off: a chunk aligned to its own size.
    raw = <char *>mmap(NULL, 2 * CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if <void *>raw == MAP_FAILED:  # no 4 MiB of address space: the allocator before, 1 MiB
        return _previous.alloc(_previous.ctx, size)
    base = <char *>((<uintptr_t>raw + CHUNK - 1) & ~(<uintptr_t>(CHUNK - 1)))
    if base != raw:
        munmap(raw, base - raw)
    if base + CHUNK != raw + 2 * CHUNK:
        munmap(base + CHUNK, (raw + 2 * CHUNK) - (base + CHUNK))
    if madvise(base, CHUNK, MADV_HUGEPAGE) == 0:
        _advised += 1
    _chunks[_count].base = base
    _chunks[_count].used = 1
    _count += 1
    _mapped_total += 1
    return base


cdef void _free(void *ctx, void *ptr, size_t size) noexcept nogil:
    global _count
    cdef size_t i
    cdef char *base
    if size == HALF:
        base = <char *>(<uintptr_t>ptr & ~(<uintptr_t>(CHUNK - 1)))
        for i in range(_count):
            if _chunks[i].base == base:
                _chunks[i].used &= ~(1u << (0 if <char *>ptr == base else 1))
                if _chunks[i].used == 0:
                    munmap(base, CHUNK)
                    _count -= 1
                    _chunks[i] = _chunks[_count]
                return
    _previous.free(_previous.ctx, ptr, size)


def install() -> bool:
    """Take over pymalloc's arenas in this process (and the processes it forks); True once done."""
    global _installed
    cdef PyObjectArenaAllocator mine
    if not _installed:
        mine.ctx = NULL
        mine.alloc = _alloc
        mine.free = _free
        PyObject_GetArenaAllocator(&_previous)
        PyObject_SetArenaAllocator(&mine)
        _installed = True
    return True


def stats() -> dict[str, int]:
    """What the hook holds: ``chunks`` mapped now and the ``arenas`` handed out of them; ``mapped``
    chunks since it was installed, and ``advised`` of those the kernel took MADV_HUGEPAGE for."""
    cdef size_t i, arenas = 0
    for i in range(_count):
        arenas += (_chunks[i].used & 1) + (_chunks[i].used >> 1)
    return {"installed": int(_installed), "chunks": _count, "arenas": arenas,
            "mapped": _mapped_total, "advised": _advised}
