# Cython declarations for diff.py (the compiled build; see setup.py).

cimport cython

cdef tuple _KEYS

cdef class CRef:
    cdef public object name, wire

@cython.locals(patch=dict, keys=tuple, i=Py_ssize_t, n=Py_ssize_t, a=str, b=str)
cpdef dict diff(tuple old_statics, list old_dyns, tuple statics, list dyns)
cpdef dict full(tuple statics, list dyns)
@cython.locals(i=Py_ssize_t, j=Py_ssize_t, n=Py_ssize_t, out=list)
cpdef object wire_statics(tuple statics)
