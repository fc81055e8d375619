"""What every transport does with a WebSocket, written once (sans-I/O: decisions, no I/O).

A transport (the built-in picows server, the ASGI adapter, the in-process
test client) owns the bytes; the rules of a socket's life are here and in
:class:`~rweb.connection.Connection`, so that each transport is a few lines
of glue, in this order:

1. the handshake: ``info = admit(app, ConnectionInfo.from_request(target, headers, peer))``;
   ``None``: refuse it (403 before the upgrade; ``CloseCode.POLICY_VIOLATION`` where
   only a close can be sent).  (The in-process test client skips this step:
   a test joins with the headers it gives, as it always could, see
   docs/testing.md);
2. ``connection = Connection(app, app.next_writer_id(), info, send, schedule, hangup)``,
   then ``first, close = connection.start()``: send ``first`` (``None``: the
   session is being restored, or the page's async guard awaited: its first
   message comes through ``send``),
   then close the socket with code ``close`` unless it is ``None``.
   ``hangup(code)`` closes the socket with ``code`` when a first message
   sent later said the session failed;
3. each message: ``connection.receive(text)`` (an upload's chunk:
   ``receive_binary(data)``; over ``app.max_message_size``:
   ``too_large(size)``); a reply that is not ``None`` is sent back;
4. the socket is gone: ``connection.ended(code)``, ``code`` the close code
   the peer sent (``None``: no close frame came).  :func:`is_lost` decides
   whether the session waits for its browser (a resume) or ends now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ..sessions.session import ConnectionInfo
from ..words.protocol import CloseCode

__all__ = [
    "LOST_CODES",
    "admit",
    "is_lost",
]

# A socket that ended so was lost, not left: its session waits ``App.resume_grace`` seconds
# for its browser to join again with its token.  Any other close (a tab closed, a page
# left: 1000, 1001...) ends the session at once.  The codes are the wire's (rweb.protocol.CloseCode).
LOST_CODES = frozenset({CloseCode.ABNORMAL, CloseCode.SERVICE_RESTART, CloseCode.NO_HEARTBEAT})


def is_lost(code: int | None) -> bool:
    """Was a socket that ended with close code ``code`` (``None``: no close frame) lost rather than left?"""
    return code is None or code in LOST_CODES


def closing_code(redirected: bool) -> int:
    """The code that closes a socket whose first message refused the session: a redirect, or a failure."""
    return CloseCode.NORMAL if redirected else CloseCode.INTERNAL_ERROR


class Gate(Protocol):
    """What the handshake asks of the app (an :class:`rweb.App` has it)."""

    def socket_info(self, info: ConnectionInfo) -> ConnectionInfo: ...

    def origin_allowed(self, headers: Mapping[str, str]) -> bool: ...


def admit(app: Gate, info: ConnectionInfo) -> ConnectionInfo | None:
    """A socket request -> the info its session sees (the client's address as the app reads it,
    rweb.proxies), or ``None``: refused, a page of another site (``App.origin_allowed``)."""
    info = app.socket_info(info)
    if not app.origin_allowed(info.headers):
        return None
    return info
