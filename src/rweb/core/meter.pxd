# Cython declarations for meter.py (the compiled build; see setup.py).

cimport cython

# The clock that times messages and renders: CLOCK_MONOTONIC (perf_counter's on Linux), a
# vDSO read: no system call, no object.
cdef extern from *:
    """
    #include <time.h>
    static inline double rweb_fine_ticks(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    """
    double _fine_ticks "rweb_fine_ticks" ()

# Two str equal? What Python's own dict lookup asks of a key that is not the same object (length,
# kind, then memcmp), without the ordering compare Cython's ``!=`` on two str makes.
cdef extern from *:
    """
    #include <string.h>
    static inline int rweb_same_str(PyObject *a, PyObject *b) {
        Py_ssize_t n;
        int kind;
        if (a == b) return 1;
        n = PyUnicode_GET_LENGTH(a);
        kind = PyUnicode_KIND(a);
        if (n != PyUnicode_GET_LENGTH(b) || kind != (int)PyUnicode_KIND(b)) return 0;
        return memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * (size_t)kind) == 0;
    }
    """
    bint _same "rweb_same_str" (str a, str b)

cpdef double now()

@cython.final
cdef class Stat:
    cdef public long long count, timed
    cdef public double seconds
    cdef long long counts[14]  # meter._SLOTS: per bucket of BUCKETS, then +Inf; zeroed with the object
    cdef public str label
    @cython.locals(i=cython.Py_ssize_t, n=cython.Py_ssize_t, bound=cython.double, bounds=tuple)
    cpdef void time(self, double seconds) noexcept
    @cython.locals(i=cython.Py_ssize_t, n=cython.Py_ssize_t)
    cpdef tuple take(self)

@cython.final
cdef class Meter:
    cdef public dict actions, closes, errors, http, resumes
    cdef public list snapshots
    cdef public Stat last, other, renders
    cdef public long long bytes_out, failures, joins, mark, messages_out, pauses, pushes, upload_bytes
    cdef public int every, max_labels, rtick, tick
    cdef public double t0
    @cython.locals(tick=cython.int)
    cpdef void begin(self) noexcept
    @cython.locals(stat=Stat, found=Stat, t0=cython.double)
    cpdef void end(self, str action, bytes reply) noexcept  # a MemoryError (a new label) is only printed
    cdef Stat _label(self, str action)
    @cython.locals(tick=cython.int)
    cpdef double render_start(self) noexcept
    cpdef void render_done(self, double t0) noexcept
    cpdef sent(self, bytes data)
