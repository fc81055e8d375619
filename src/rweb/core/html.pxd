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
    cdef readonly str source, head, first
    cdef readonly tuple pieces, names, attrs, tags, rooms
    cdef readonly frozenset keys, actions
    cdef readonly bint rooted
    cdef readonly dict firsts
    cdef readonly list tables

cdef class Filled:
    cdef readonly Template template
    cdef readonly dict values

@cython.locals(f=Filled)
cdef Filled _filled(Template template, dict values)

cdef object _new
@cython.locals(el=Element)
cpdef Element _build(str tag, tuple children, dict attrs, bint void)

cdef dict _schemes
@cython.locals(first=Py_UCS4)
cpdef object _check_attr(object kind, object name, object value, str text, str tag)
