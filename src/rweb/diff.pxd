# Cython declarations for diff.py (the compiled build; see setup.py).

cdef class CRef:
    cdef public object name, wire

cpdef dict diff(tuple old_statics, list old_dyns, tuple statics, list dyns)
cpdef dict full(tuple statics, list dyns)
