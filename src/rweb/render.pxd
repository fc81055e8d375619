# Cython declarations for render.py (the compiled build; see setup.py).
# Keep in step with the classes' __slots__.

from .html cimport Element

cdef class ComponentState:
    cdef public object actions, acts, children, sources, fn, name, parent, rc, statics, dyns
    cdef public View view
    cdef public list st, dy, kids
    cdef public bint dirty
    cdef public long depth, claimed
    cpdef invalidate(self)

cdef class View:
    cdef public list _dirty
    cdef public object _moved, _patches, actions, comps, errors, on_dirty, root
    cdef public long epoch
    cdef public bint hold
    cpdef dict flush(self)
    cpdef _render(self, ComponentState comp, dict patches)

cdef str _element(Element el, ComponentState p, str cur, str extra=*)
cdef str _walk(object node, ComponentState p, str cur)
