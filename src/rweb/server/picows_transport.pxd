# Cython declarations for picows_transport.py (the compiled build; see setup.py).
# The listener is a C subclass of picows's WSListener: picows calls its on_ws_frame
# through the C method table, not as a Python method, and the frame's fields are read in C.

from picows.picows cimport WSFrame, WSListener, WSTransport
from picows.picows cimport WSMsgType as _WSMsgType  # (the .py imports the Python WSMsgType)

from ..live.connection cimport Connection

cdef _WSMsgType _TEXT_CODE

cdef class _Listener(WSListener):
    cdef public object close_code, frag_kind, fragments, server
    cdef public WSTransport transport
    cdef public Connection conn
    cdef public bint whole
    cdef public Py_ssize_t fragments_size
    cpdef on_ws_connected(self, WSTransport transport)
    cpdef on_ws_frame(self, WSTransport transport, WSFrame frame)
    cpdef on_ws_disconnected(self, WSTransport transport)
    cpdef pause_writing(self)
    cpdef resume_writing(self)

cdef object _answer(_Listener listener, object data)
cdef object _send_reply(_Listener listener, object reply)
