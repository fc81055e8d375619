# Cython declarations for html.py (the compiled build; see setup.py).
# Keep in step with the classes' __slots__.

cimport cython

cdef class Element:
    cdef public str tag
    cdef public tuple children
    cdef public dict attrs
    cdef public bint void

cdef class Component:
    cdef public object fn, name

cdef class Template:
    cdef public str source, head, first
    cdef public tuple pieces, names, attrs, tags, rooms
    cdef public frozenset keys, actions
    cdef public bint rooted

cdef class Filled:
    cdef public Template template
    cdef public dict values

@cython.locals(f=Filled)
cdef Filled _filled(Template template, dict values)

cdef object _new
@cython.locals(el=Element)
cpdef Element _build(str tag, tuple children, dict attrs, bint void)

cdef dict _schemes
@cython.locals(first=Py_UCS4)
cpdef object _check_attr(object kind, object name, object value, str text, str tag)
