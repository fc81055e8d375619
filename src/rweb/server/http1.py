"""HTTP/1.1 for the built-in server: plain requests go to the app, WebSocket upgrades to picows.

One :class:`HTTP1Protocol` per accepted connection parses requests with
``httptools`` (llhttp) and answers each with what :meth:`rweb.App.handle_http`
returns: keep-alive, pipelining (responses in request order), ``HEAD``
(the ``GET`` headers without the body), ``Expect: 100-continue``, and the
limits, each answered before the connection closes: headers over
``app.max_header_size`` -> 431, a body over ``app.max_body_size`` -> 413
(checked on ``Content-Length`` up front, counted as chunks arrive), a
malformed request -> 400, a client too slow with its headers or body (each
has an overall deadline, not one per read) -> 408.  A client that pipelines
is answered a few requests per event-loop turn, and not at all while it
does not read its answers (see ``_received``).

After an error response the connection is closed gracefully: the write side is
shut down and whatever the client still sends is read and dropped for a short
while, so that the kernel does not answer unread data with a reset that could
destroy the response before the client reads it.

A ``GET`` of the socket path with ``Upgrade: websocket`` is handed to picows:
a ``WSProtocol`` built as ``picows.ws_create_server`` builds it takes over the
transport and is fed every byte read so far (the upgrade request and anything
after it) through its buffered-protocol interface; from then on the
connection is picows' own, and nothing here refers to it.  This protocol is a
buffered protocol too (reading into one buffer shared by every connection of
the server), so the transport keeps no bound method of it after the switch.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

import httptools

from ..web.health import draining_response, refused_while_draining
from ..web.http import Request, Response, check_header

__all__ = ["HTTP1Protocol", "HTTPFront", "split_target"]

log = logging.getLogger("rweb.server")

# picows refuses (by dropping the connection) an upgrade request whose head is this long.
PICOWS_MAX_HEAD = 16 * 1024
READ_BUFFER_SIZE = 64 * 1024
# Responses owed on one connection (async handlers still running) before reading pauses.
MAX_PIPELINE = 32
# Requests one connection may have answered in one event-loop turn: past it, the
# rest of what it sent waits for the next turn, so that a client pipelining
# thousands of requests in one read shares the worker with every other one.
TURN_REQUESTS = 4
# A read is fed to the parser this many bytes at a time (but for a body's known
# rest): the points where parsing may stop for the turn.  Most requests fit in
# one slice; a connection that pipelined past a turn's share gets small ones.
PARSE_SLICE = 1024
PIPELINE_SLICE = 256
# The kernel's unsent bytes past which a pipelining connection's socket stops
# taking writes (TCP_NOTSENT_LOWAT, Linux): its answers then wait in the
# transport, whose high-water mark stops the parsing.  Without it the kernel
# would take megabytes of answers a client never reads (send-buffer autotuning).
PIPELINE_NOTSENT = 16 * 1024
_TCP_NOTSENT_LOWAT: int | None = getattr(socket, "TCP_NOTSENT_LOWAT", None)
# A body at or above this size is written apart from its head (no copy).
_JOIN_LIMIT = 16 * 1024

# Timer kinds
_NONE, _HEAD, _BODY, _IDLE, _LINGER = 0, 1, 2, 3, 4


class FrontServer(Protocol):
    """What the HTTP front end reads of the server it serves (settings are read when used)."""

    app: Any
    ws_path: str
    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    linger_timeout: float
    refusing: bool  # draining, with drain_refuse: new GET / HEAD requests and sockets get 503


class _Stop(Exception):
    """Raised in a parser callback to stop parsing (the answer is already decided)."""


class _Slot:
    """A response owed on a connection, in request order: (head, body, close) once known."""

    __slots__ = ("data", "task")

    def __init__(self, data: tuple[bytes, bytes, bool] | None = None) -> None:
        self.data = data
        self.task: asyncio.Task[None] | None = None


def split_target(target: bytes) -> tuple[str, str]:
    """A request target -> (percent-decoded path, raw query string).

    The absolute form (``http://host/path?q``, RFC 9112 3.2.2) is reduced to
    its path and query.
    """
    if target[:1] != b"/" and target[:7].lower() in (b"http://", b"https:/"):
        rest = target.partition(b"//")[2]
        cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=-1)
        target = rest[cut:] if cut >= 0 else b"/"
        if target[:1] == b"?":
            target = b"/" + target
    path, _, qs = target.partition(b"?")
    qs = qs.partition(b"#")[0]
    if b"%" in path:
        path = unquote_to_bytes(path)
    return path.decode("utf-8", "replace") or "/", qs.decode("latin-1")


_status_lines: dict[int, bytes] = {}


def _status_line(status: int) -> bytes:
    line = _status_lines.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = _status_lines[status] = f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")
    return line


_date_second = 0
_date_line = b""


def _date() -> bytes:
    global _date_second, _date_line
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_line = b"Date: " + formatdate(now, usegmt=True).encode("ascii") + b"\r\n"
    return _date_line


_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NO_BODY = (204, 304)
_SKIPPED = frozenset(("content-length", "transfer-encoding", "connection", "keep-alive"))


def encode_response(
    response: Response, *, head: bool, close: bool, http10: bool = False
) -> tuple[bytes, bytes, bool]:
    """``response`` as (head, body, close): its headers, ``Content-Length``, ``Connection``.

    ``Content-Length``, ``Transfer-Encoding`` and ``Connection`` are the
    transport's; a ``Connection: close`` from the handler closes after the
    response.  A ``HEAD`` answer keeps the ``Content-Length`` of the body it
    does not send (or the handler's own, when it gave no body).  Raises
    ``ValueError`` for a status or header that cannot go on the wire.
    """
    status = response.status
    if not 200 <= status <= 999:
        raise ValueError(f"a handler's response cannot have status {status}")
    parts: list[str] = []
    has_date = False
    given_length: str | None = None
    for name, value in response.headers:
        low = name.lower()
        if low in _SKIPPED:
            if low == "content-length":
                given_length = value.strip()
            elif low == "connection" and "close" in value.lower():
                close = True
            continue
        if low == "date":
            has_date = True
        check_header(name, value)  # a handler may have appended to response.headers directly
        parts.append(f"{name}: {value}\r\n")
    body = response.body
    if status not in _NO_BODY:
        if head and not body and given_length is not None and given_length.isdigit():
            parts.append(f"Content-Length: {given_length}\r\n")
        else:
            parts.append(f"Content-Length: {len(body)}\r\n")
    if close:
        parts.append("Connection: close\r\n")
    elif http10:
        parts.append("Connection: keep-alive\r\n")
    parts.append("\r\n")
    text = "".join(parts)
    try:
        tail = text.encode("latin-1")
    except UnicodeEncodeError:
        tail = text.encode("utf-8")
    out = _status_line(status) + tail if has_date else _status_line(status) + _date() + tail
    if head or status in _NO_BODY:
        body = b""
    return out, body, close


def _error(status: int, *, head: bool = False) -> tuple[bytes, bytes, bool]:
    from ..web.http import error_response

    return encode_response(error_response(status), head=head, close=True)


class HTTPFront:
    """The protocol factory of one listening server, and what its connections share.

    ``ws_protocol(peer)`` builds the picows protocol a WebSocket upgrade from ``peer`` is handed to.
    """

    def __init__(
        self, server: FrontServer, ws_protocol: Callable[[str | None], asyncio.BufferedProtocol]
    ) -> None:
        self.server = server
        self.app = server.app
        self.ws_protocol = ws_protocol
        self.loop = asyncio.get_running_loop()
        self.connections: set[HTTP1Protocol] = set()  # plain HTTP connections (not upgraded)
        self.closing = False
        # One read buffer for every connection: each read is consumed before the next one.
        self.read_view = memoryview(bytearray(READ_BUFFER_SIZE))

    def __call__(self) -> HTTP1Protocol:
        return HTTP1Protocol(self)

    def shutdown(self) -> None:
        """The server is closing: idle connections close now, busy ones after what they owe."""
        self.closing = True
        for conn in list(self.connections):
            conn.shutdown()

    def abort(self) -> None:
        for conn in list(self.connections):
            conn.abort()


class HTTP1Protocol(asyncio.BufferedProtocol):
    """One HTTP/1.1 connection, until it closes or becomes a WebSocket."""

    __slots__ = (
        "_body",
        "_body_length",
        "_body_size",
        "_chunk",
        "_client",
        "_closing",
        "_completed_in_chunk",
        "_discard",
        "_eof",
        "_expect_continue",
        "_front",
        "_head_raw",
        "_head_size",
        "_headers",
        "_http10",
        "_in_head",
        "_in_message",
        "_keep_alive",
        "_method",
        "_parse_scheduled",
        "_parser",
        "_path",
        "_pending_upgrade",
        "_pipelining",
        "_qs",
        "_queue",
        "_raw",
        "_reading_paused",
        "_timer",
        "_timer_kind",
        "_transport",
        "_turn",
        "_unparsed",
        "_upgrade",
        "_url",
        "_write_paused",
        "_ws",
    )

    def __init__(self, front: HTTPFront) -> None:
        self._front = front
        self._transport: asyncio.Transport | None = None
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._client: str | None = None
        self._queue: deque[_Slot] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_kind = _NONE
        self._closing = False  # no further requests: close once what is owed is sent
        self._discard = False  # parsing is over: what arrives is read and dropped
        self._eof = False
        self._reading_paused = False
        self._write_paused = False
        self._pending_upgrade: bytes | None = None
        # What was read and not parsed yet (this turn's share was used, or the
        # client does not read the answers): reading waits until it is parsed.
        self._unparsed: memoryview | None = None
        self._parse_scheduled = False
        self._turn = 0  # requests answered in this event-loop turn
        self._pipelining = False  # it sent more than a turn's share at once
        self._chunk: bytes | memoryview = b""
        self._completed_in_chunk = False
        # The message being read
        self._in_message = False
        self._in_head = False
        self._url: list[bytes] = []
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._body_size = 0
        self._body_length = 0  # the body's Content-Length (0: none, or chunked)
        self._head_size = 0
        self._head_raw = 0
        self._raw: list[bytes | memoryview] | None = None
        self._method = b""
        self._path = "/"
        self._qs = ""
        self._http10 = False
        self._keep_alive = True
        self._expect_continue = False
        self._upgrade = False
        self._ws = False

    # -- transport events ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        front = self._front
        if front.closing:
            transport.close()
            return
        front.connections.add(self)
        self._set_timer(_HEAD, front.server.header_timeout)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._front.read_view

    def buffer_updated(self, nbytes: int) -> None:
        self._turn = 0
        self._received(bytes(self._front.read_view[:nbytes]))

    def eof_received(self) -> bool:
        self._eof = True
        if self._discard or self._pending_upgrade is not None or not self._queue:
            return False  # the transport closes (after writing what it holds)
        self._closing = True  # answer what was asked, then close
        if self._in_message:  # a request cut short: it can never be answered
            self._in_message = self._in_head = False
            self._cancel_timer()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()

    # -- server events ---------------------------------------------------------------

    def shutdown(self) -> None:
        """Close now if idle; otherwise after the responses owed (no further requests)."""
        t = self._transport
        if t is None:
            return
        self._closing = True
        self._pending_upgrade = None
        if not self._queue and not (self._in_message and not self._in_head):
            self._release()
            t.close()

    def abort(self) -> None:
        t = self._transport
        self._release()
        if t is not None:
            t.abort()

    # -- reading -------------------------------------------------------------------------

    def _received(self, data: bytes | memoryview) -> None:
        """Parse ``data``, a slice at a time, until it is all parsed or parsing must wait.

        Parsing stops between two slices once this turn's share of requests is
        answered (``TURN_REQUESTS``; it goes on at the next event-loop turn),
        or while the client does not read its answers (the transport's write
        buffer is over its high-water mark: it goes on when that drains), or
        while ``MAX_PIPELINE`` responses are owed; meanwhile the rest waits in
        ``_unparsed`` and the socket is not read.  So a client pipelining
        requests it never reads the answers to gets no more work done than the
        socket buffers hold, and one that sends thousands of requests at once
        is answered a few at a time, between every other connection's turns.
        """
        view = memoryview(data)
        pos, end = 0, len(data)
        while pos < end:
            parser = self._parser
            if self._discard or parser is None or self._pending_upgrade is not None:
                return
            if self._turn >= TURN_REQUESTS or self._write_paused or len(self._queue) >= MAX_PIPELINE:
                self._unparsed = view[pos:]
                if not self._pipelining:
                    self._pipelining = True
                    self._limit_unsent()
                self._update_reading()
                return
            stop = pos + (PIPELINE_SLICE if self._pipelining else PARSE_SLICE)
            if self._in_message and not self._in_head and self._body_length:  # a body's known rest at once
                stop += self._body_length - self._body_size
            piece: bytes | memoryview = data if pos == 0 and stop >= end else view[pos:stop]
            self._chunk = piece
            self._completed_in_chunk = False
            was_in_head = self._in_head
            if was_in_head and self._raw is not None:
                self._raw.append(piece)
            try:
                parser.feed_data(piece)
            except httptools.HttpParserUpgrade as exc:
                rest = view[pos + int(exc.args[0]) :]  # everything after the request, to the read's end
                if self._raw:
                    self._raw[-1] = view[pos:]
                replay = self._upgraded(rest)
                if replay is None:
                    return
                data = replay + bytes(rest)
                view = memoryview(data)
                pos, end = 0, len(data)
                continue
            except httptools.HttpParserError as exc:
                self._parse_error(exc)
                return
            finally:
                self._chunk = b""
            pos += len(piece)
            if self._in_message and not self._discard:
                if self._in_head:
                    if was_in_head:  # the whole piece is header bytes
                        self._head_raw += len(piece)
                        if self._head_raw > self._front.app.max_header_size:
                            self._fail(431)
                elif self._timer_kind != _BODY:
                    # Reading a body: all of it must come within body_timeout of its headers.
                    self._set_timer(_BODY, self._front.server.body_timeout)

    def _limit_unsent(self) -> None:
        """Keep at most ``PIPELINE_NOTSENT`` unsent bytes in this socket's kernel buffer."""
        t = self._transport
        sock = t.get_extra_info("socket") if t is not None else None
        if sock is not None and _TCP_NOTSENT_LOWAT is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, _TCP_NOTSENT_LOWAT, PIPELINE_NOTSENT)
            except OSError:  # not TCP (a Unix socket): its buffer is fixed anyway
                pass

    def _parse_later(self) -> None:
        """A new event-loop turn (or the client read its answers): parse what waited."""
        self._parse_scheduled = False
        data = self._unparsed
        if data is None or self._transport is None:
            return
        self._unparsed = None
        self._turn = 0
        self._received(data)
        if self._unparsed is None:
            self._update_reading()

    def _parse_error(self, exc: Exception) -> None:
        if self._discard:
            return
        if self._closing:  # data after a "Connection: close" request: ignored
            self._discard = True
            self._in_message = self._in_head = False
            if not self._queue:
                self._finish()
            return
        cause = exc.__context__
        if cause is not None and not isinstance(cause, _Stop):
            log.error("HTTP front end: internal error while parsing a request", exc_info=cause)
            self._fail(500)
        else:
            self._fail(400)

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self._closing or self._discard:
            self._discard = True
            raise _Stop
        self._in_message = self._in_head = True
        self._url = []
        self._headers = []
        self._body = []
        self._body_size = self._body_length = self._head_size = self._head_raw = 0
        # The message starts this piece (but for blank lines) unless another one ended in it.
        self._raw = None if self._completed_in_chunk else [self._chunk]
        self._method = b""
        self._expect_continue = self._upgrade = self._ws = False
        if self._timer_kind != _HEAD:
            self._set_timer(_HEAD, self._front.server.header_timeout)

    def on_url(self, url: bytes) -> None:
        self._url.append(url)
        self._head_size += len(url)
        if self._head_size > self._front.app.max_header_size:
            self._fail(431)
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._in_head:  # not the trailers of a chunked body: counted, never taken as headers
            self._headers.append((name, value))
        self._head_size += len(name) + len(value) + 4
        if self._head_size > self._front.app.max_header_size:
            self._fail(431)
            raise _Stop

    def on_headers_complete(self) -> None:
        parser = self._parser
        assert parser is not None
        self._in_head = False
        self._cancel_timer()
        self._path, self._qs = split_target(b"".join(self._url))
        self._method = method = parser.get_method()
        self._http10 = parser.get_http_version() == "1.0"
        self._keep_alive = parser.should_keep_alive()
        length = 0
        chunked = False
        expect: bytes | None = None
        upgrade: bytes | None = None
        for name, value in self._headers:
            n = name.lower()
            if n == b"content-length":
                length = int(value)
            elif n == b"transfer-encoding":
                chunked = True
            elif n == b"expect":
                expect = value
            elif n == b"upgrade":
                upgrade = value
        if parser.should_upgrade():
            # llhttp skips the body and hands the rest over: see _upgraded.
            self._upgrade = True
            if method == b"CONNECT":
                self._fail(501)
                raise _Stop
            self._ws = (
                method == b"GET"
                and upgrade is not None
                and b"websocket" in upgrade.lower()
                and self._path == self._front.server.ws_path
            )
            if not self._ws:
                self._raw = None
            return
        self._raw = None
        if length > self._front.app.max_body_size:
            self._fail(413)
            raise _Stop
        self._body_length = length
        if expect is not None:
            if expect.strip().lower() != b"100-continue":
                self._fail(417)
                raise _Stop
            if not self._http10 and (length or chunked):
                if self._queue:
                    self._expect_continue = True  # sent once the responses before it are
                elif self._transport is not None:
                    self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._front.app.max_body_size:
            self._fail(413)
            raise _Stop
        self._body.append(body)
        self._expect_continue = False

    def on_message_complete(self) -> None:
        self._in_message = False
        self._completed_in_chunk = True
        self._expect_continue = False
        if self._upgrade:
            return  # HttpParserUpgrade follows
        if self._timer_kind == _BODY:
            self._cancel_timer()
        self._dispatch()

    # -- upgrades ---------------------------------------------------------------------------

    def _upgraded(self, rest: memoryview) -> bytes | None:
        """The parser stopped after an upgrade request: hand it to picows, or read on as HTTP.

        Returns the bytes to parse before ``rest`` (the request again, without
        its upgrade headers), or None.
        """
        if self._discard:
            return None
        if not self._ws:  # not ours to upgrade: answer it as a plain request
            head = self._rebuild_head(drop_upgrade=True)
            self._parser = httptools.HttpRequestParser(self)
            self._in_message = False
            return head
        # picows takes "Connection: Upgrade" only, not Firefox's "keep-alive, Upgrade".
        plain = all(v.strip().lower() == b"upgrade" for k, v in self._headers if k.lower() == b"connection")
        if self._raw is not None and plain:  # the request began a piece: the bytes as read
            raw = b"".join(self._raw).lstrip(b"\r\n")
            head_size = len(raw) - len(rest)
        else:  # rebuilt from its parts (it followed another request in the same read)
            head = self._rebuild_head(drop_upgrade=False)
            raw = head + rest
            head_size = len(head)
        self._raw = None
        if head_size >= PICOWS_MAX_HEAD:
            self._fail(431)
        elif self._closing:
            self._fail(503)
        elif self._front.server.refusing:  # a draining server: the proxy tries another instance
            self._fail(503, draining_response())
        elif self._queue:  # once the responses before it are sent
            self._pending_upgrade = raw
            self._update_reading()
        else:
            self._handoff(raw)
        return None

    def _rebuild_head(self, *, drop_upgrade: bool) -> bytes:
        parser = self._parser
        assert parser is not None
        lines = [self._method + b" " + b"".join(self._url) + b" HTTP/" + parser.get_http_version().encode()]
        for name, value in self._headers:
            if name.lower() == b"connection":
                if not drop_upgrade:  # what picows accepts
                    value = b"Upgrade"
                else:
                    tokens = [t.strip() for t in value.split(b",") if t.strip().lower() != b"upgrade"]
                    if not tokens:
                        continue
                    value = b", ".join(tokens)
            elif drop_upgrade and name.lower() == b"upgrade":
                continue
            lines.append(name + b": " + value)
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _handoff(self, raw: bytes) -> None:
        """Give the transport to a picows WebSocket protocol, fed ``raw`` (every byte read since the request began)."""
        t = self._transport
        front = self._front
        peer = self._peer()
        self._release()
        if t is None or t.is_closing():
            return
        try:
            ws = front.ws_protocol(peer)
            t.set_protocol(ws)
            ws.connection_made(t)
            view = memoryview(raw)
            while view and not t.is_closing():
                buf: Any = ws.get_buffer(len(view))  # picows.pyi: a Buffer; a writable memoryview here
                n = min(len(buf), len(view))
                if n <= 0:
                    raise RuntimeError("the WebSocket protocol offered an empty buffer")
                buf[:n] = view[:n]
                del buf  # picows may move its buffer in buffer_updated
                ws.buffer_updated(n)
                view = view[n:]
            t.resume_reading()
        except Exception:
            log.exception("HTTP front end: the WebSocket handoff failed")
            t.abort()

    # -- answering ------------------------------------------------------------------------------

    def _peer(self) -> str | None:
        if self._client is None and self._transport is not None:
            peer = self._transport.get_extra_info("peername")
            self._client = str(peer[0]) if isinstance(peer, tuple) and peer else None
        return self._client

    def _dispatch(self) -> None:
        self._turn += 1
        method = self._method.decode("ascii")
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._headers]
        self._url, self._headers, self._body = [], [], []
        request = Request(
            method, self._path, query_string=self._qs, headers=headers, body=body, client=self._peer(),
            root_path=self._front.app.root_path,  # behind a proxy that strips the app's prefix
        )
        head = method == "HEAD"
        keep = self._keep_alive and not self._closing
        if not keep:
            self._closing = True
        http10 = self._http10
        front = self._front
        if front.server.refusing and refused_while_draining(front.app, self._method, self._path):
            self._closing = True
            self._send(*encode_response(draining_response(), head=head, close=True))
            return
        try:
            response = front.app.respond(request)
        except Exception:  # respond answers errors itself; this is a last guard
            log.exception("%s %s: the app failed to answer", method, self._path)
            self._send(*_error(500, head=head))
            return
        if not isinstance(response, Response):  # an async handler: answered from a task, in order
            slot = _Slot()
            self._queue.append(slot)
            slot.task = front.loop.create_task(self._answer_later(request, response, slot, head, keep, http10))
            self._update_reading()
            return
        self._send(*self._encode(response, head, keep, http10))

    async def _answer_later(
        self, request: Request, pending: Awaitable[Response], slot: _Slot, head: bool, keep: bool, http10: bool
    ) -> None:
        try:
            response = await pending
        except Exception:  # handle_http answers errors itself; this is a last guard
            log.exception("%s %s: the app failed to answer", request.method, request.path)
            slot.data = _error(500, head=head)
        else:
            # A shutdown or an end of input since: the last response owed says it closes.
            last = self._closing and bool(self._queue) and self._queue[-1] is slot
            slot.data = self._encode(response, head, keep and not last, http10)
        slot.task = None
        self._flush()

    def _encode(self, response: Response, head: bool, keep: bool, http10: bool) -> tuple[bytes, bytes, bool]:
        try:
            return encode_response(response, head=head, close=not keep, http10=http10)
        except Exception:
            log.exception("a response cannot be sent as it is (status or header); answering 500")
            return _error(500, head=head)

    def _send(self, head: bytes, body: bytes, close: bool) -> None:
        if self._queue:
            self._queue.append(_Slot((head, body, close)))
            self._update_reading()
            return
        if self._transport is None:
            return
        self._write(head, body)
        if close:
            self._finish()
        else:
            self._after_flush()

    def _write(self, head: bytes, body: bytes) -> None:
        t = self._transport
        assert t is not None
        if not body:
            t.write(head)
        elif len(body) < _JOIN_LIMIT:
            t.write(head + body)
        else:
            t.writelines((head, body))

    def _flush(self) -> None:
        q = self._queue
        if self._transport is None:
            q.clear()
            return
        while q:
            data = q[0].data
            if data is None:
                self._update_reading()
                return
            q.popleft()
            self._write(data[0], data[1])
            if data[2]:
                q.clear()
                self._finish()
                return
        self._after_flush()

    def _after_flush(self) -> None:
        """Every response owed has been written."""
        if self._pending_upgrade is not None:
            raw, self._pending_upgrade = self._pending_upgrade, None
            self._handoff(raw)
            return
        if self._closing and not self._in_message:
            self._finish()
            return
        if self._reading_paused:
            self._update_reading()
        if self._in_message:
            if self._expect_continue and not self._in_head and self._transport is not None:
                self._expect_continue = False
                self._transport.write(_CONTINUE)
        elif self._timer_kind == _NONE:
            self._set_timer(_IDLE, self._front.server.keepalive_timeout)

    def _fail(self, status: int, response: Response | None = None) -> None:
        """Answer ``status`` (or ``response``) after what is owed, read no further request, and close."""
        if self._discard:
            return
        head = self._method == b"HEAD" and not self._in_head
        self._discard = self._closing = True
        self._in_message = self._in_head = False
        self._expect_continue = False
        self._pending_upgrade = None
        self._cancel_timer()
        if response is None:
            self._send(*_error(status, head=head))
        else:
            self._send(*encode_response(response, head=head, close=True))

    def _finish(self) -> None:
        """Close after the last response: shut the write side, drain the rest for a while."""
        t = self._transport
        self._discard = self._closing = True
        self._cancel_timer()
        if t is None or t.is_closing():
            return
        if self._eof or not t.can_write_eof():
            t.close()
            return
        try:
            t.write_eof()
        except Exception:
            t.close()
            return
        self._update_reading()
        self._set_timer(_LINGER, self._front.server.linger_timeout)

    def _update_reading(self) -> None:
        t = self._transport
        if t is None:
            return
        held = self._write_paused or len(self._queue) >= MAX_PIPELINE or self._pending_upgrade is not None
        if self._unparsed is not None and not held and not self._parse_scheduled:
            self._parse_scheduled = True
            self._front.loop.call_soon(self._parse_later)
        pause = not self._discard and (held or self._unparsed is not None)
        if pause != self._reading_paused:
            self._reading_paused = pause
            if pause:
                t.pause_reading()
            else:
                t.resume_reading()

    # -- timers ------------------------------------------------------------------------------------

    def _set_timer(self, kind: int, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._front.loop.call_later(delay, self._timed_out)
        self._timer_kind = kind

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_kind = _NONE

    def _timed_out(self) -> None:
        kind = self._timer_kind
        self._timer = None
        self._timer_kind = _NONE
        t = self._transport
        if t is None:
            return
        if (kind == _HEAD and self._in_message) or kind == _BODY:
            self._fail(408)  # a request begun and not finished in time
        elif kind == _LINGER:
            if t.get_write_buffer_size():
                t.abort()
            else:
                t.close()
        else:  # idle on keep-alive, or connected without sending anything
            self._release()
            t.close()

    def _release(self) -> None:
        """Forget the connection (closed, or handed to picows)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_kind = _NONE
        self._front.connections.discard(self)
        self._transport = None
        self._parser = None
        self._queue.clear()
        self._raw = None
        self._chunk = b""
        self._unparsed = None
        self._url, self._headers, self._body = [], [], []
        self._pending_upgrade = None
