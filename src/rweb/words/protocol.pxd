# Cython declarations for protocol.py (the compiled build; see setup.py).

cimport cython

@cython.locals(msg=dict)
cpdef tuple decode(object data)
cpdef bytes encode_reply(dict patches, object ref=*, object error=*, object effects=*)
