# Cython declarations for html.py (the compiled build; see setup.py).
# Keep in step with the classes' __slots__.

cimport cython

cdef class Element:
    cdef public str tag
    cdef public tuple attr_keys
    cdef readonly tuple items  # the children, then the attributes' values
    cdef readonly Py_ssize_t nkids  # how many of items are children
    cdef public bint void

cdef class Component:
    cdef public object fn, name
    cdef public tuple args

cdef class Template:
    cdef readonly str source, head, first
    cdef readonly tuple pieces, names, attrs, tags, rooms, order, slots
    cdef readonly frozenset actions
    cdef readonly bint rooted
    cdef readonly dict firsts, index
    cdef readonly list tables, lasts
    cdef readonly object _kwnames
    cdef readonly tuple _perm
    cdef readonly dict _perms
    cdef void *_vectorcall  # _template_vectorcall, at the type's tp_vectorcall_offset (_arm); not a slot
    cpdef tuple _arrange(self, tuple kwnames)

cdef class ElementFactory:
    cdef readonly str tag
    cdef readonly bint void, raw
    cdef void *_vectorcall  # _element_vectorcall (_arm_element), as Template's; not a slot

cdef class Filled:
    cdef readonly Template template
    cdef readonly tuple vals

@cython.locals(f=Filled)
cdef Filled _filled(Template template, tuple vals)
cpdef Template _counted_as_elements(Template t)


# A template is called with keywords at every render of every row: CPython calls a type's
# tp_call with a new tuple and a new dict of the keywords, which Cython copies again.  The
# type takes vectorcall instead (PEP 590): the keywords' values arrive as an array beside
# the call site's tuple of names, and go straight into the Filled's tuple, in the template's
# order (Template._arrange, once per call site's names).  A call with positional arguments,
# or through PyObject_Call (``ROW(**values)`` from C), still goes through __call__.
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM

cdef extern from *:
    """
    static void rweb_set_vectorcall(PyTypeObject *tp, Py_ssize_t offset) {
        if (tp->tp_vectorcall_offset == offset && (tp->tp_flags & Py_TPFLAGS_HAVE_VECTORCALL)) return;
        tp->tp_vectorcall_offset = offset;
        tp->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL;
        PyType_Modified(tp);
    }
    """
    void rweb_set_vectorcall(PyTypeObject *tp, Py_ssize_t offset)
    Py_ssize_t PyVectorcall_NARGS(size_t nargsf)
    object PyObject_Call(object callable, object args, object kwargs)

cdef inline tuple _tuple_of(PyObject **items, Py_ssize_t n):
    """A new tuple of the ``n`` objects at ``items``."""
    cdef tuple out = PyTuple_New(n)
    cdef Py_ssize_t k
    cdef object v
    for k in range(n):
        v = <object>items[k]
        Py_INCREF(v)
        PyTuple_SET_ITEM(out, k, v)
    return out

cdef inline object _call_slowly(object self, PyObject **args, Py_ssize_t nargs, PyObject *kwnames):
    """A vectorcall passed on to the type's __call__ (its checks and its errors)."""
    cdef Py_ssize_t k
    cdef tuple names = () if kwnames == NULL else <tuple>kwnames
    return PyObject_Call(
        type(self).__call__,
        (self,) + _tuple_of(args, nargs),
        {names[k]: <object>args[nargs + k] for k in range(len(names))},
    )

cdef inline object _template_vectorcall(object self, PyObject **args, size_t nargsf, PyObject *kwnames):
    cdef Template t = <Template>self
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef Py_ssize_t k, n
    cdef tuple perm, vals, names
    cdef object v
    if nargs != 0 or kwnames == NULL:  # no keywords, or positional arguments: __call__'s error
        return _call_slowly(self, args, nargs, kwnames)
    names = <tuple>kwnames
    if names is t._kwnames:
        perm = t._perm
    else:
        perm = t._arrange(names)
    n = len(perm)
    vals = PyTuple_New(n)
    for k in range(n):
        v = <object>args[k]
        Py_INCREF(v)
        PyTuple_SET_ITEM(vals, <Py_ssize_t>perm[k], v)
    return _filled(t, vals)

cdef inline void _arm(Template t):
    t._vectorcall = <void*>_template_vectorcall
    rweb_set_vectorcall(<PyTypeObject*>Template, <Py_ssize_t>(<char*>&t._vectorcall - <char*><PyObject*>t))

@cython.locals(el=Element)
cpdef Element _build(str tag, tuple items, Py_ssize_t nkids, tuple keys, bint void)

# An element function is called for every element of every render.  Its signature is
# ``*children, **attrs``, for which CPython makes a tuple and a dict of the call's arguments
# (and Cython's function wrapper works on them again): the type takes vectorcall instead,
# and the children and the attributes' values are one tuple (Element.items), made once from
# the call's array, where they sit in that order; the attributes' keys are the call site's
# tuple of names, the same object at every call.
cdef inline object _element_vectorcall(object self, PyObject **args, size_t nargsf, PyObject *kwnames):
    cdef ElementFactory f = <ElementFactory>self
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef tuple keys
    if f.raw or (f.void and nargs != 0):  # text that must be checked, or children refused: __call__
        return _call_slowly(self, args, nargs, kwnames)
    if kwnames == NULL:
        return _build(f.tag, _tuple_of(args, nargs), nargs, (), f.void)
    keys = <tuple>kwnames  # the call site's names: one tuple for every call there
    return _build(f.tag, _tuple_of(args, nargs + len(keys)), nargs, keys, f.void)

cdef inline void _arm_element(ElementFactory f):
    f._vectorcall = <void*>_element_vectorcall
    rweb_set_vectorcall(<PyTypeObject*>ElementFactory, <Py_ssize_t>(<char*>&f._vectorcall - <char*><PyObject*>f))

cdef dict _schemes
@cython.locals(first=Py_UCS4)
cpdef object _check_attr(object kind, object name, object value, str text, str tag)
