# Cython declarations for session.py (the compiled build; see setup.py).

cimport cython
from cpython.ref cimport PyObject

from ..core.meter cimport Meter
from ..rendering.render cimport _OBJECT_HEAD, View, ViewOwner, _warm, acting

# The clock that times user code (session._ticks): CLOCK_MONOTONIC_COARSE where
# there is one (a few ns a read, a few ms of resolution), else CLOCK_MONOTONIC.
cdef extern from *:
    """
    #include <time.h>
    static inline double rweb_coarse_ticks(void) {
        struct timespec ts;
    #ifdef CLOCK_MONOTONIC_COARSE
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    #else
        clock_gettime(CLOCK_MONOTONIC, &ts);
    #endif
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    """
    double _coarse_ticks "rweb_coarse_ticks" ()

cdef double _ticks() noexcept

cdef class PushTarget:
    cdef void warm(self) noexcept

cdef object _holds_cls, _holds_fn
cdef bint _holds_pushes(object sched) except -1

cdef class Session(ViewOwner):
    cdef public bint _push_pending, closed, debug
    cdef public double slow
    cdef public object extra_actions, framework_actions, handlers, on_action, push, schedule, writer_id
    cdef public Meter meter
    cdef public View view
    @cython.locals(t0=cython.double, t1=cython.double, t2=cython.double, meter=Meter)
    cpdef tuple dispatch(self, str action, dict params)
    @cython.locals(t0=cython.double, t1=cython.double, meter=Meter)
    cdef tuple _rerender(self, str action, object error)
    cdef tuple _framework(self, str action, dict params, str why)
    cpdef view_dirty(self)
    cpdef bint take_shared(self, object patches) except -1
    cdef void warm(self, int hop) noexcept

@cython.locals(t=cython.double, slow=cython.double)
cdef double _lap(Session session, str what, str action, double t0)
cdef void _slow_path(Session session, str what, str action, double seconds)  # the cold path, out of line

cdef inline void _warm_push(Session s, int hop) noexcept:
    """What a push to ``s``'s page reads, asked for (Session.warm).  Hop 0: the push target and the
    scheduler, borrowed, so not touched yet; hop 1 (they have come): the target's own (PushTarget)."""
    cdef PyObject *push = <PyObject*>s.push
    if hop == 0:
        _warm(push, _OBJECT_HEAD)
        _warm(<PyObject*>s.schedule, _OBJECT_HEAD)
    elif isinstance(s.push, PushTarget):
        (<PushTarget>push).warm()
