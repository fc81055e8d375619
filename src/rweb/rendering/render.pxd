# Cython declarations for render.py (the compiled build; see setup.py).
# Keep in step with the classes' __slots__.

cimport cython

from ..core.diff cimport diff, full
from ..core.html cimport Element, Filled, Template, _check_attr
from ..core.reactive cimport Tracker, begin, end, reads_only_shared, unsubscribe

cdef extern from "Python.h":
    void _gc_untrack "PyObject_GC_UnTrack" (object op)
    Py_ssize_t _refcnt "Py_REFCNT" (object op)
    list _list_new "PyList_New" (Py_ssize_t n)
    void _list_set "PyList_SET_ITEM" (object op, Py_ssize_t i, object v)  # steals: see _list_fill

from cpython.ref cimport Py_INCREF, PyObject

cdef extern from *:
    """
    /* Empty every slot of a list (NULL, as PyList_New leaves them), its items released. */
    static inline void rweb_list_empty_slots(PyObject *l) {
        PyListObject *o = (PyListObject *)l;
        Py_ssize_t i, n = Py_SIZE(o);
        for (i = 0; i < n; i++) {
            PyObject *v = o->ob_item[i];
            o->ob_item[i] = NULL;
            Py_XDECREF(v);
        }
    }
    """
    void _list_empty_slots "rweb_list_empty_slots" (list l)

cdef extern from "Python.h":
    long _as_long "PyLong_AsLongAndOverflow" (object v, int *overflow) except? -1

cdef inline str _c_int_text(object v):
    """``str(v)`` of an int (render._int_text): Cython's formatter for a C long, CPython's past one."""
    cdef int overflow = 0
    cdef long n = _as_long(v, &overflow)
    if overflow:
        return str(v)
    return f"{n}"

cdef extern from *:
    """
    /* Ask the CPU to bring the ``n`` bytes of the object at ``o`` into its caches, without
       waiting for them: a hint (a prefetch never faults, whatever the address). */
    static inline void rweb_warm(PyObject *o, Py_ssize_t n) {
        const char *p = (const char *)((Py_uintptr_t)o & ~(Py_uintptr_t)63);
        const char *end = (const char *)o + n;
        for (; p < end; p += 64) __builtin_prefetch(p, 0, 3);
    }
    """
    void _warm "rweb_warm" (PyObject *o, Py_ssize_t n) noexcept
    PyObject *_list_item "PyList_GET_ITEM" (list l, Py_ssize_t i)  # borrowed: its object is not touched

# How much of an object of a class the render does not know a warm asks for: a page's owner
# (its session, 136 bytes) and the objects a push reads (a connection, a listener: 96-168).
cdef enum:
    _OBJECT_HEAD = 192

cdef Py_ssize_t _member_size, _view_size

cdef list _spare_dyns

cdef inline void _list_fill(list dyns, Py_ssize_t i, object v):
    """Slot ``i`` of a new list (PyList_New: NULL) takes a new reference to ``v``."""
    Py_INCREF(v)
    _list_set(dyns, i, v)

cdef class RenderContext:
    cdef public object comp, view, outer
    cdef public object acts
    cdef public list st, dy, kids

cdef RenderContext _spare
cdef list _NO_DYNS
@cython.locals(p=RenderContext)
cdef RenderContext _context(object comp, object view, object outer)
cdef object _recycle(RenderContext p)

cdef class ComponentState(Tracker):
    cdef public object actions, children, fn, group, name, parent, plan, rc, render_fn, statics, dyns
    cdef public tuple args
    cdef public View view
    cdef public bint dirty
    cdef public int room  # beside dirty: fills the padding before depth
    cdef public long depth, claimed
    cpdef invalidate(self)

cdef class SharedRender(Tracker):
    cdef public object actions, dyns, fanout, fn, key, last_old, last_out, name, rc, render_fn, round, statics, todo
    cdef public tuple args
    cdef public dict members, sent
    cdef public bint dirty, scheduled
    cdef public int room
    cdef public Py_ssize_t pos
    cpdef invalidate(self)
    cpdef object patches_from(self, object statics, object dyns)

cdef class ViewOwner:
    cpdef view_dirty(self)
    cpdef bint take_shared(self, object patches) except -1
    cdef void warm(self, int hop) noexcept

cdef class SharedPatches(dict):
    cdef public object data

cdef class View:
    cdef public list dirty
    cdef public object _moved, _patches, actions, comps, errors, fanout, rendering, root
    cdef public ViewOwner owner
    cdef public long epoch, fulls
    cdef public bint hold, share
    @cython.locals(batch=list, comp=ComponentState)
    cpdef dict flush(self)
    @cython.locals(p=RenderContext, last=str)
    cpdef _render(self, ComponentState comp, dict patches)
    @cython.locals(olds=list, k=Py_ssize_t, patch=dict)
    cdef object _settle(self, ComponentState comp, dict patches, object earlier, tuple statics, list dyns)

cdef dict _statics_table, _rc_table, _attr_table, _present_table, _cref_table, _actions_table, _shape_table
cdef dict _OPEN, _OPEN_BARE, _CLOSE, _escaped
cdef object _ACTION_NAME, _KIND_ACTION_LIST, _html_room, _ABSENT, _AS_WRITTEN
cdef inline object _rendered(object fn, object render_fn, tuple args)
cdef list _NO_ERRORS
cdef dict _NO_PATCHES
cdef View _acting
cpdef View acting(View view)
cdef Py_ssize_t _attr_count
cdef long _GONE
@cython.locals(by_value=dict)
cdef str _attr(object name, object value)

@cython.locals(keys=tuple, items=tuple, nk=Py_ssize_t, i=Py_ssize_t, statics=list, dyns=list, names=dict, ce=Element, o=str,
               tag=str, ctag=str)
cdef str _element(Element el, RenderContext p, str cur, long room, str extra=*)
cdef str _walk(object node, RenderContext p, str cur, long room)
cdef dict _plans, _template_plans
@cython.locals(names=dict, kids=list, c=object, sub=object, keys=tuple, named=tuple, last=list, i=Py_ssize_t,
               items=tuple)
cdef object _plan(Element el, long room, list acts)
@cython.locals(names=list, got=object)
cdef object _plan_actions(list acts)
@cython.locals(held=object, shape=tuple, acts=list, got=object, n=Py_ssize_t, dyns=list, f=Filled, planned=long)
cdef str _render_tree(object tree, RenderContext p, tuple statics, long room, str rc, tuple plan)
cdef tuple _plan_of(tuple statics, tuple held)
cdef tuple _keep_plan(tuple statics, object tree, long room, tuple held)
@cython.locals(t=Template, vals=tuple, slots=tuple, attrs=tuple, n=Py_ssize_t, i=Py_ssize_t, k=Py_ssize_t, v=object)
cdef tuple _template_plan(Filled f, long room, tuple statics)
@cython.locals(t=Template, vals=tuple, slots=tuple, attrs=tuple, last=list, n=Py_ssize_t, i=Py_ssize_t, j=Py_ssize_t,
               k=Py_ssize_t, got=str)
cdef bint _refill(Filled f, list dyns, RenderContext p) except -1
@cython.locals(tag=str, keys=tuple, items=tuple, nk=Py_ssize_t, planned=tuple, names=tuple, kids=tuple,
               last=list, i=Py_ssize_t, j=Py_ssize_t, n=Py_ssize_t, m=Py_ssize_t, want=object, c=object, same=bint,
               nt=object, got=str, kept=bint, size=Py_ssize_t)
cdef Py_ssize_t _replay(Element el, tuple plan, list dyns, Py_ssize_t pos, RenderContext p) except -2
@cython.locals(spare=list, got=list)
cdef list _new_dyns(Py_ssize_t n)
cdef void _put(list dyns, Py_ssize_t i, object v) noexcept
cdef str _int_text(object v)
cdef str _number_text(object v)
@cython.locals(a=str, b=str)
cdef bint _same_value(object v, object last)
@cython.locals(got=str)
cdef str _text_slot(str v, list last, Py_ssize_t j)
cdef object _NO_VALUE
@cython.locals(nt=object)
cdef str _attribute(object name, object v, RenderContext p, str tag)
@cython.locals(by_value=dict, got=str, nt=object)
cdef str _table_attr(list tables, Py_ssize_t i, object name, object v, RenderContext p, str tag)
cdef set _own_acts(RenderContext p)
@cython.locals(t=Template, slots=tuple, attrs=tuple, pieces=tuple, vals=tuple, i=Py_ssize_t, j=Py_ssize_t, n=Py_ssize_t, o=str,
               firsts=dict, tables=list)
cdef str _fill(Filled f, RenderContext p, str cur, long room, str extra=*)
@cython.locals(f=Filled, t=Template)
cdef str _markup(object tree, RenderContext p, long room, str rc)
@cython.locals(m=ComponentState, view=View, i=Py_ssize_t, n=Py_ssize_t, owner=ViewOwner)
cdef object _deliver(SharedRender g, list todo, Py_ssize_t start, Py_ssize_t stop)
cdef object _adopt_output(ComponentState m, SharedRender g)
cdef bint _from_group(ComponentState comp, SharedRender g) except -1
@cython.locals(lo=Py_ssize_t, ln=Py_ssize_t, n=Py_ssize_t, p=Py_ssize_t, q=Py_ssize_t)
cdef object _splice(str old, str new)

cdef inline void _warm_ahead(list todo, Py_ssize_t i, Py_ssize_t n) noexcept:
    """Ahead of delivering to member ``todo[i]`` (render._deliver): ask for what the next members'
    deliveries read, a step a member nearer, each step reading only what the step before brought:
    the member, its view, the view's owner, then the owner's own hops (ViewOwner.warm).  Borrowed
    pointers throughout: a reference taken would write to the object, and wait for it."""
    cdef PyObject *v
    cdef PyObject *o
    if i + 5 < n:
        _warm(_list_item(todo, i + 5), _member_size)
    if i + 4 < n:
        _warm(<PyObject*>(<ComponentState>_list_item(todo, i + 4)).view, _view_size)
    if i + 3 < n:
        v = <PyObject*>(<ComponentState>_list_item(todo, i + 3)).view
        if v != <PyObject*>None:
            _warm(<PyObject*>(<View>v).owner, _OBJECT_HEAD)
    cdef int hop
    for hop in range(2):
        if i + 2 - hop < n:
            v = <PyObject*>(<ComponentState>_list_item(todo, i + 2 - hop)).view
            if v != <PyObject*>None:
                o = <PyObject*>(<View>v).owner
                if o != <PyObject*>None:
                    (<ViewOwner>o).warm(hop)
