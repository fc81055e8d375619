# Cython declarations for connection.py (the compiled build; see setup.py).

from ..core.meter cimport Meter
from ..words.protocol cimport decode, encode_reply
from ..sessions.session cimport Session

cdef object _current

cdef class _Busy:
    cdef public object lost, pending, queue, task

cdef class Connection:
    cdef public object action, address, app, conn, effects, hangup, last_ref, max_size, nonce, path, schedule, send, snap, state, tracer, writer_id
    cdef public Meter meter
    cdef public Session session
    cpdef object receive(self, object data)
    cdef object _receive(self, object data)
