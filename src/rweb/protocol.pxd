# Cython declarations for protocol.py (the compiled build; see setup.py).

cpdef tuple decode(object data)
cpdef bytes encode_reply(dict patches, object ref=*, object error=*)
