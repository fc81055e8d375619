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

cpdef double now()

@cython.final
cdef class Stat:
    cdef public long long count, timed
    cdef public double seconds
    cdef public list buckets
    cdef public str label
    @cython.locals(i=cython.Py_ssize_t, n=cython.Py_ssize_t, bound=cython.double, bounds=tuple)
    cpdef time(self, double seconds)
    cpdef tuple take(self)

@cython.final
cdef class Meter:
    cdef public dict actions, closes, errors, http, resumes
    cdef public list snapshots
    cdef public Stat other, renders
    cdef public long long bytes_out, failures, joins, mark, messages_out, pauses, pushes, upload_bytes
    cdef public int every, max_labels, rtick, tick
    cdef public double t0
    @cython.locals(tick=cython.int)
    cpdef begin(self)
    @cython.locals(stat=Stat, t0=cython.double)
    cpdef end(self, str action, object reply)
    cdef Stat _label(self, str action)
    @cython.locals(tick=cython.int)
    cpdef double render_start(self)
    cpdef render_done(self, double t0)
    cpdef sent(self, bytes data)
