"""Protocol glue for one WebSocket, independent of the transport.

A transport (the built-in picows server, the ASGI adapter, the in-process
test client) creates one :class:`Connection` per socket and feeds it frames;
the connection decodes them, drives its :class:`~rweb.session.Session`, and
hands back the bytes to send.  Messages the server sends on its own (pushes)
go out through the ``send`` callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .protocol import (
    ProtocolError,
    decode,
    encode_error,
    encode_init,
    encode_push,
    encode_reply,
)
from .session import App, ConnectionInfo, Session, SetupError

__all__ = ["Connection"]

log = logging.getLogger("rweb.connection")


class Connection:
    __slots__ = ("app", "info", "max_size", "send", "session", "writer_id")

    def __init__(
        self,
        app: App,
        writer_id: Any,
        info: ConnectionInfo | None,
        send: Callable[[bytes], None],
        schedule: Callable[[Callable[[], None]], Any],
    ) -> None:
        self.app = app
        self.writer_id = writer_id
        self.info = info
        self.send = send
        self.max_size = app.max_message_size
        self.session: Session | None = None
        self._make_session(schedule)
        self.info = None  # only session_setup needs it; don't hold headers per idle session

    def _make_session(self, schedule: Callable[[Callable[[], None]], Any]) -> None:
        assert self.info is not None
        try:
            self.session = self.app.session(
                self.writer_id, self.info, schedule=schedule, push=self._push
            )
        except SetupError as exc:
            log.error("session %s: %s", self.writer_id, exc, exc_info=exc.__cause__)
            self.session = None

    def open(self) -> tuple[bytes, bool]:
        """The first message: the full page.  ``(message, ok)``; close if not ok."""
        session = self.session
        if session is None:
            return encode_error("setup_error", "the session could not be set up"), False
        try:
            return encode_init(session.mount()), True
        except Exception as exc:
            log.error("session %s: the page failed to render", self.writer_id, exc_info=exc)
            return encode_error("render_error", f"the page failed to render: {exc}"), False

    def receive(self, data: bytes | str) -> bytes:
        """One client text message -> exactly one reply."""
        if len(data) > self.max_size:
            return self.too_large(len(data))
        try:
            action, params, ref = decode(data)
        except ProtocolError as exc:
            log.warning("session %s: %s: %s", self.writer_id, exc.code, exc.message)
            return encode_error(exc.code, exc.message, exc.ref)
        session = self.session
        if session is None:
            return encode_error("setup_error", "the session could not be set up", ref)
        patches, error = session.dispatch(action, params)
        if error is not None:
            log.warning("session %s: %s: %s", self.writer_id, error[0], error[1])
        return encode_reply(patches, ref, error)

    def receive_binary(self) -> bytes:
        log.warning("session %s: binary frame refused", self.writer_id)
        return encode_error("binary_frame", "binary frames are not accepted; send JSON text")

    def too_large(self, size: int) -> bytes:
        log.warning("session %s: message of %d bytes refused", self.writer_id, size)
        return encode_error(
            "too_large", f"message of {size} bytes exceeds the limit of {self.max_size}"
        )

    def _push(self, patches: dict[str, Any], error: tuple[str, str] | None) -> None:
        self.send(encode_push(patches, error))

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
