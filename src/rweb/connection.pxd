# Cython declarations for connection.py (the compiled build; see setup.py).

from .protocol cimport decode, encode_reply
from .session cimport Session

cdef class _Busy:
    cdef public object lost, pending, queue, task

cdef class Connection:
    cdef public object address, app, conn, effects, hangup, last_ref, max_size, nonce, schedule, send, snap, state, writer_id
    cdef public Session session
