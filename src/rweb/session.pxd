# Cython declarations for session.py (the compiled build; see setup.py).

from .render cimport View

cdef class Session:
    cdef public object _push_pending, closed, extra_actions, handlers, on_action, push, schedule, writer_id
    cdef public View view
    cpdef tuple dispatch(self, str action, dict params)
