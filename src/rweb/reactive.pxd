# Cython declarations for reactive.py (the compiled build; see setup.py).

cdef object _tracker

cpdef object begin(object tracker)
cpdef object end(object prev)
cpdef object unsubscribe(object tracker)

cdef class _Record:
    cdef public list _rw_subs, _rw_vals
    cdef object __weakref__

cdef object _read(_Record rec, Py_ssize_t i)
cdef object _write(_Record rec, Py_ssize_t i, object value)

cdef class _Field:
    cdef readonly Py_ssize_t i
    cdef readonly str name
