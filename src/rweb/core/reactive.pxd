# Cython declarations for reactive.py (the compiled build; see setup.py).

cimport cython

cdef class Tracker:
    cdef public list sources
    cdef public object owner
    cdef public Py_ssize_t used
    cpdef invalidate(self)

cdef Tracker _tracker

@cython.locals(sources=list)
cpdef object begin(Tracker tracker)
@cython.locals(t=Tracker)
cpdef object end(Tracker prev)
@cython.locals(sources=list, n=Py_ssize_t)
cpdef object trim(Tracker t)
@cython.locals(sources=list)
cpdef object unsubscribe(Tracker tracker)
@cython.locals(slots=list, j=Py_ssize_t, i=Py_ssize_t, several=set, rec=_Record)
cdef object _unlink(Tracker tracker, list sources)
@cython.locals(src=list, n=Py_ssize_t)
cdef object _subscribed(Tracker t, object obj, Py_ssize_t i)
@cython.locals(sources=list, j=Py_ssize_t)
cpdef bint reads_only_shared(Tracker t) except -1
@cython.locals(t=Tracker)
cdef object _notify(set subs)

cdef class _Record:
    cdef public list _rw_vals
    cdef public object _rw_owner
    cdef object __weakref__

@cython.locals(t=Tracker, s=list, several=set)
cdef object _read(_Record rec, Py_ssize_t i, Py_ssize_t j)
@cython.locals(one=Tracker, several=set)
cdef object _write(_Record rec, Py_ssize_t i, Py_ssize_t j, object value)

cdef class _Field:
    cdef readonly Py_ssize_t i, j
    cdef readonly str name

cdef object _on_shared, _FREE, _ANYONE, _SHARED, _fan
cdef object _foreign(object obj, Tracker t)
