# Cython declarations for connection.py (the compiled build; see setup.py).

from cpython.ref cimport PyObject

from ..core.meter cimport Meter
from ..rendering.render cimport _OBJECT_HEAD, SharedPatches, _warm
from ..words.protocol cimport decode, encode_reply
from ..sessions.session cimport PushTarget, Session

cdef object _current

cdef class _Busy:
    cdef public object lost, pending, queue, task

cdef class Connection(PushTarget):
    cdef public object action, address, app, conn, effects, hangup, last_ref, max_size, nonce, path, schedule, send, snap, state, tracer, writer_id
    cdef public Meter meter
    cdef public Session session
    cpdef object receive(self, object data)
    cdef object _receive(self, object data)
    cdef object _send_shared(self, SharedPatches patches)
    cdef void warm(self) noexcept

cdef inline void _warm_send(Connection c) noexcept:
    """What a push through ``c`` calls first (Connection.warm): borrowed, so not touched yet."""
    _warm(<PyObject*>c.send, _OBJECT_HEAD)
