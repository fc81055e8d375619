"""One browser tab's socket as a sans-I/O state machine: messages in, bytes out.

A transport (the built-in picows server, the ASGI adapter, the in-process test
client) creates one :class:`Connection` per socket and drives it the same way:

- ``Connection(app, writer_id, info, send, schedule)``: ``info`` is what the
  socket request carried (its query holds the page's URL: the join, see
  :class:`rweb.protocol.Join`); the page's session is set up;
- ``start() -> (first, close)``: the first message (the page; ``None`` while a
  session is restored or the page's async guard is awaited: it comes through
  ``send``), and the close code to close the socket with after it, or ``None``
  (see rweb.transport);
- ``receive(data) -> bytes | None``: one client message, exactly one reply:
  returned at once, or, ``None``, sent later through ``send`` (an async
  handler is running, this message's or an earlier one's);
- ``ended(code)``: the socket is gone (``code``: the peer's close code, ``None``
  without a close frame): lost, the session waits for its browser to resume
  it (:meth:`Connection.lost`); closed, the session ends and its hooks run
  (:meth:`Connection.close`; an async handler still running is cancelled).

Messages the server sends on its own (pushes, effects asked for outside an
action) go out through ``send``; ``schedule(fn)`` must run ``fn`` soon on the
same loop; an async handler runs as a task on the app's loop
(``app.loop().create_task``).  Nothing here touches a socket.

States: ``joining`` (built) -> ``live`` (open() succeeded) -> ``closed``; while
an async handler runs, the state is a :class:`_Busy` holding its task and the
messages that arrived meanwhile, answered in order once its reply is sent.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from hmac import compare_digest
from secrets import token_hex
from typing import Any

from ..core.diff import full
from ..core.reactive import capture, checks_owners, own
from ..rendering.render import RenderError, SharedPatches, describe, error_ref
from ..sessions.session import (
    ConnectionInfo,
    PushTarget,
    Session,
    SetupError,
    _discard,
    _name,
    _render_error,
    render_error_code,
    report_slow,
)
from ..web.client_script import client_version
from ..web.http import Redirect
from ..wire.codec import ERROR_MARK
from ..wire.effects import Effect, Navigate
from ..words.protocol import (
    JOIN_TOKEN_PARAM,
    JOIN_VERSION_PARAM,
    ErrorCode,
    Join,
    Nav,
    Ping,
    ProtocolError,
    Resume,
    decode,
    decode_control,
    encode_error,
    encode_init,
    encode_push,
    encode_reply,
    encode_upload_reply,
)
from .runtime import Runtime
from .transport import closing_code, is_lost

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:
    _COMPILED = False

__all__ = ["Connection", "current"]

log = logging.getLogger("rweb.connection")

# The connection whose message (or work) runs now on this loop, for the log records it causes
# (rweb.logs reads it only when a record is made); an async handler's task carries its own.
_current: Any = None
_in_task: ContextVar[Any] = ContextVar("rweb_connection", default=None)


def _span_attributes(span: Any, connection: Connection, reply: bytes | None) -> None:
    """A join's or an action's span: the session, the page, the action, the error code if any."""
    span.set_attribute("rweb.session", str(connection.writer_id))
    if connection.path is not None:
        span.set_attribute("rweb.page", connection.path)
    if connection.action is not None:
        span.set_attribute("rweb.action", connection.action)
        span.update_name(f"rweb.action {connection.action}")
    if reply is not None and ERROR_MARK in reply:
        code = reply.partition(ERROR_MARK)[2].partition(b'"')[0].decode("utf-8", "replace")
        span.set_attribute("rweb.error", code)


def current() -> tuple[Connection, str | None] | None:
    """``(connection, action)``: the connection whose client message or async handler runs now,
    and the action it answers (``None``: none); found when a log record is made (rweb.logs)."""
    found = _current
    if found is not None:
        return found, found.action
    return _in_task.get()  # type: ignore[no-any-return]

JOINING, LIVE, CLOSED = "joining", "live", "closed"

# What waits in a busy connection's queue: (kind, argument).
_MESSAGE, _BINARY, _TOO_LARGE, _RUN = 0, 1, 2, 3


class _Busy:
    """The state of a connection while an async handler runs."""

    __slots__ = ("lost", "pending", "queue", "task")

    def __init__(self, pending: Any) -> None:
        self.pending = pending  # the handler's awaitable until the task takes it
        self.queue: deque[tuple[int, Any]] = deque()  # what arrived meanwhile, in order
        self.task: Any = None
        self.lost = False  # the socket was lost meanwhile: the session waits for its browser once done


class Connection(PushTarget):
    __slots__ = (
        "action",
        "address",
        "app",
        "conn",
        "effects",
        "hangup",
        "last_ref",
        "max_size",
        "meter",
        "nonce",
        "path",
        "schedule",
        "send",
        "session",
        "snap",
        "state",
        "tracer",
        "writer_id",
    )

    def __init__(
        self,
        app: Runtime,
        writer_id: Any,
        info: ConnectionInfo | None,
        send: Callable[[bytes], None],
        schedule: Callable[[Callable[[], None]], Any],
        hangup: Callable[[int], None] | None = None,
    ) -> None:
        self.app = app
        self.writer_id = writer_id
        self.send = send
        self.schedule = schedule
        self.max_size = app.max_message_size
        self.meter = app.meter  # rweb.meter.Meter while metrics are on, else None
        self.tracer = app.tracer  # an OpenTelemetry tracer after app.tracing(), else None
        self.action: str | None = None  # the action of the message being answered (logs, metrics)
        self.path: str | None = None  # the page's path once mounted (rweb.logs)
        self.session: Session | None = None
        self.conn: Any = None  # the Conn given to the page's setup (kept when user code may use it)
        self.effects: list[Any] | None = None  # asked for by user code, not yet sent
        # joining -> live -> closed; while joining, a failed setup is kept here
        # for open() to report: (error code, message) or a Redirect.
        self.state: Any = JOINING
        self.last_ref: Any = None  # the ref of the last action applied (exactly once across a resume)
        # Closes the socket when a first message sent later (a restored session's) failed;
        # hangup(close code).
        self.hangup = hangup
        self.snap: Any = None  # this session's snapshot entry (rweb.snapshot), with a snapshot store
        info = info or ConnectionInfo()
        self.address = info.client  # the client's address (App.client_address): per-address limits
        # The generation of this session's resume token: a new one with every socket that holds
        # the session, so that a token resumes once (App.resume_token, claim).
        self.nonce: str | None = None
        vsn = info.query.get(JOIN_VERSION_PARAM) if info.query else None
        if vsn is not None and vsn != client_version():
            # A page whose script is not this server's (a deploy came between): it reloads.
            self.state = (ErrorCode.STALE_CLIENT, f"the page's client is {vsn}, this server's {client_version()}")
            return
        token = info.query.get(JOIN_TOKEN_PARAM) if info.query else None
        if app.resume_grace > 0:
            self.nonce = token_hex(8)
        if token is not None and app.resume_grace > 0:
            old = app.resume_target(token, info)
            if type(old) is str:  # a session of another process: its snapshot is fetched by open()
                self.state = _Restore(old, info)
                return
            if old is not None:
                # Its async handler still runs (open() waits for it), or its snapshot was left for
                # any process to take (open() takes it first): then it is taken over.
                if old.busy() or (old.snap is not None and old.snap.final):
                    self.state = _Restore(old, info)
                    return
                self._adopt(old)
                return
            self.state = _FRESH  # a token nobody holds any more: a new session, and the browser is told
            if self.meter is not None:
                self.meter.resumed("failed")
        # (error code, message) or a Redirect when the page could not be set up; a _Guard: its
        # guard is async, awaited by open()
        failure = self._mount(page_info(info))
        if type(failure) is _Guard:
            failure.fresh = self.state is _FRESH
        if failure is not None:
            self.state = failure

    # -- the page's session ----------------------------------------------------

    def _mount(self, info: ConnectionInfo) -> Any:
        """Set up the session of the page at ``info.path``; returns a failure or None.

        Or a :class:`_Guard` when the page's guard is ``async def``: the caller awaits it,
        then sets the page up (:meth:`_guarded_mount`).
        """
        conn = self.app.make_conn(info, live=True, writer_id=self.writer_id)
        conn.attach(self)
        self.path = info.path
        if conn.route is None:
            log.info("session %s: no page at %s", self.writer_id, info.path)
            return (ErrorCode.NOT_FOUND, f"no page at {info.path}")
        if conn.route.async_guard:
            return _Guard(conn)
        return self._setup(conn)

    def _setup(self, conn: Any) -> Any:
        """Set up the session of ``conn``'s page (its guard's outcome ready); returns a failure or None."""
        app = self.app
        slow = app.slow_callback
        snapshots = app.snapshots
        created: Any = None
        if snapshots is not None or checks_owners():
            # Collect what the setup creates: the session's state, to save and to tell from shared state.
            created = []
            prev = capture(created)
        t0 = time.perf_counter()
        try:
            render_page, on_action = app.setup(conn)
            self.session = Session(
                render_page, on_action, self.writer_id, app.actions, self.schedule, self, slow, app.debug,
                app.fanout,
            )
            self.session.framework_actions = conn.page_flash
            if self.meter is not None:
                self.session.meter = self.meter
        except Redirect as exc:
            return exc
        except SetupError as exc:
            ref = error_ref()
            log.error("session %s: %s (ref %s)", self.writer_id, exc, ref, exc_info=exc.__cause__)
            cause = exc.__cause__ or exc
            return (ErrorCode.SETUP_ERROR, f"the session could not be set up: {self._shown(cause, ref)}")
        finally:
            if created is not None:
                capture(prev)
        if created is not None:
            own(created, self.session.view)  # read by another page, refused (rweb.reactive.on_shared_state)
            if snapshots is not None:
                self.snap = snapshots.open(self, created, conn.path)
        elapsed = time.perf_counter() - t0
        if elapsed > slow > 0:
            report_slow(f"session_setup {_name(conn.route.endpoint)}", self.writer_id, elapsed, slow)
        # Keep the Conn (it holds the headers) where user code can reach it, or
        # where a live navigation may take the socket to another page.
        if app.keeps_conn(conn):
            self.conn = conn
        else:
            conn.attach(None)
        return None

    def _page(
        self, ref: Any = None, url: str | None = None, resume: Resume | None = None
    ) -> tuple[bytes, bool]:
        """The page's first message: ``(init, True)``, or a failure and False."""
        failure = self.state
        if type(failure) is not str:
            self.state = JOINING
            if isinstance(failure, tuple):
                return self._error(failure[0], failure[1], ref), False
            # A redirect: the browser loads another URL, once the effects the setup asked for
            # (a cookie: the flash messages that go on, rweb.flash) are done.
            effects, self.effects = self.effects, None
            return encode_init({}, ref, effects=[*(effects or ()), Navigate(failure.url, "load")]), False
        session = self.session
        assert session is not None
        try:
            components = session.mount()
        except BaseException as exc:  # Session.mount turns a BaseException into a RenderError
            eref = exc.ref if isinstance(exc, RenderError) else error_ref()
            log.error("session %s: the page failed to render (ref %s)", self.writer_id, eref, exc_info=exc)
            self._ended()  # a page that never showed has no session to patch later
            code = render_error_code([exc]) if isinstance(exc, RenderError) else ErrorCode.RENDER_ERROR
            return self._error(code, f"the page failed to render: {self._shown(exc, eref)}", ref), False
        # Components that failed show empty: the browser is told why (rweb:error, the client's notice).
        errors = session.view.errors
        error = _render_error(errors, self.writer_id, "its page's first render", self.app.debug or None) if errors else None
        effects, self.effects = self.effects, None
        conn = self.conn
        title = None
        if url is not None and conn is not None and conn.route is not None:
            title = conn.route.title
        return encode_init(
            components, ref, url, title or (self.app.title if url else None), effects, resume, error
        ), True

    def redirecting(self) -> bool:
        """Before open(): True when the page sends the browser elsewhere (close normally, 1000)."""
        state = self.state
        kind = type(state)
        return kind is not str and kind is not tuple and kind is not _Restore and kind is not _Guard

    def start(self) -> tuple[bytes | None, int | None]:
        """Open the socket's session: ``(first, close)``, the rules every transport follows.

        Send ``first`` (``None``: the session is being restored from its
        snapshot, its first message comes through ``send``), then close the
        socket with code ``close`` unless it is ``None`` (the page redirected:
        1000; it failed: 1011; see rweb.transport).
        """
        redirected = self.redirecting()
        if self.tracer is None:
            msg, ok = self.open()
        else:
            with self.tracer.start_as_current_span("rweb.join") as span:
                msg, ok = self.open()
                _span_attributes(span, self, msg)
        return msg, None if ok else closing_code(redirected)

    def ended(self, code: int | None) -> None:
        """The socket is gone, closed with ``code`` by its peer (``None``: no close frame came).

        Lost (rweb.transport.is_lost: no close frame, a server restart, the
        client's heartbeat giving up) keeps the session for a resume
        (:meth:`lost`); any other close ends it (:meth:`close`).
        """
        if is_lost(code):
            self.lost()
        else:
            self.close()

    def open(self) -> tuple[bytes | None, bool]:
        """The first message: the full page.  ``(message, ok)``; close if not ok.

        ``(None, True)``: the session is being restored from its snapshot; the
        first message goes out through ``send`` (and ``hangup`` if it failed).
        """
        state = self.state
        if type(state) is _Restore or type(state) is _Guard:
            busy = _Busy(None)  # messages that arrive meanwhile wait, as for an async handler
            self.state = busy
            busy.task = self.app.loop().create_task(self._join_later(busy, state))
            return None, True
        if state is _RESUMED:
            self.state = LIVE
            return self._resumed_page(), True
        if state is _FRESH:
            self.state = JOINING
        resume = None
        if self.app.resume_grace > 0:
            resume = Resume(self.app.resume_token(self), fresh=state is _FRESH)
        msg, ok = self._page(resume=resume)
        if ok:
            self.state = LIVE
            self._started()
        return msg, ok

    # -- resuming: the socket was lost, the session was not ------------------------------

    def joining(self) -> bool:
        """Its page's setup is still running (nothing sent yet)."""
        return self.state is JOINING

    def detached(self) -> bool:
        """Its socket was lost; the session waits for its browser."""
        return type(self.state) is _Detached

    def resumable(self) -> bool:
        """May a browser with this session's token take it over?  Detached, or still
        "live" on a socket the browser already gave up on (its heartbeat found it
        dead before the server's did)."""
        state = self.state
        return type(state) is _Detached or state is LIVE or (type(state) is _Busy and state.lost)

    def claim(self, nonce: str) -> bool:
        """True once for the session's current token (its ``nonce``): that token is then spent.

        Whoever claims first takes the session over; a second socket with the
        same token, or a token of an earlier socket, gets a fresh session.
        """
        mine = self.nonce
        if mine is None or not compare_digest(mine, nonce):
            return False
        self.nonce = None  # pragma: no mutate (spent: None or "", which no claim's nonce (hex, from a signed token) is)
        return True

    def lost(self) -> None:
        """The socket dropped without a close (network, sleep, proxy): keep the session for the grace period.

        A browser that joins again with the session's token within
        ``app.resume_grace`` seconds gets it back (:meth:`_adopt`); otherwise it
        ends as on close.  A clean close (a close frame: a tab closed, a page
        left) ends it at once: use :meth:`close`.
        """
        state = self.state
        conn = self.conn
        if conn is not None and conn.uploads is not None:
            conn.uploads.lost()  # the files under way cannot go on: their entries say so
        if type(state) is _Busy and self.session is not None and self.app.resume_grace > 0:
            # An async handler runs: it finishes (its reply goes nowhere), then the session waits.
            state.lost = True
            self.send = _nowhere
            return
        if state is not LIVE or self.session is None or self.app.resume_grace <= 0:
            self.close()
            return
        try:
            handle = self.app.loop().call_later(self.app.resume_grace, self._expire)
        except RuntimeError:  # not served (driven by hand): nothing to wait on
            self.close()
            return
        self.state = _Detached(handle)
        self.send = _nowhere  # pushes while away: the session stays dirty; the resume sends the page
        if self.snap is not None:  # the browser may come back to another process
            self.app.snapshots.detached(self.snap)
        self.app.detached(self)  # counted against the caps: the oldest waiting may end here

    def _expire(self) -> None:
        if type(self.state) is _Detached:
            log.info("session %s: not resumed within %.0f s: ended", self.writer_id, self.app.resume_grace)
            self.app.undetached(self)
            self.state = LIVE
            self.close()

    def _adopt(self, old: Connection) -> None:
        """Take over ``old``'s session (detached, same process): same writer id, same state."""
        detached = old.state
        if type(detached) is _Detached:
            detached.handle.cancel()
            self.app.undetached(old)
        old.send = _nowhere  # a socket still open there (a dead one) gets nothing more
        self.writer_id = old.writer_id
        self.session, old.session = old.session, None
        self.conn, old.conn = old.conn, None
        # Until the browser sends a newer ref, one it sends again was already applied.
        last = old.last_ref
        self.last_ref = _Resent(last) if type(last) is int else last
        self.effects, old.effects = old.effects, None
        self.snap, old.snap = old.snap, None
        if self.snap is not None:
            self.app.snapshots.moved(self.snap, self)
        old.state = CLOSED
        session = self.session
        assert session is not None
        session.push = self
        session.schedule = self.schedule
        if self.conn is not None:
            self.conn.attach(self)
        self.app.session_moved(self)
        self.state = _RESUMED
        if self.meter is not None:
            self.meter.resumed("process")
        log.info("session %s: resumed", self.writer_id)

    def _resumed_page(self) -> bytes:
        """The page as it is now (what changed while away included), for a resumed browser."""
        session = self.session
        assert session is not None
        session.flush()  # apply what was written while the socket was away
        comps = session.view.comps
        components = {name: full(c.statics, c.dyns) for name, c in comps.items()
                      if c.statics is not None and c.dyns is not None}
        session.view.share_statics(components)
        effects, self.effects = self.effects, None
        last = self.last_ref
        resume = Resume(self.app.resume_token(self), resumed=True, last=last.ref if type(last) is _Resent else last)
        return encode_init(components, None, None, None, effects, resume)

    async def _join_later(self, busy: _Busy, state: _Restore | _Guard) -> None:
        """A join whose first message waits: for the page's async guard (``state`` is a _Guard),
        or for a session to take over (a _Restore, see :meth:`_restored_page`)."""
        try:
            if isinstance(state, _Guard):
                page = await self._guarded_page(busy, state)
            else:
                page = await self._restored_page(busy, state)
        except BaseException as exc:  # nothing may leave this socket waiting for a page forever
            if self.state is CLOSED:
                raise  # the socket closed meanwhile (its task cancelled): nobody waits
            eref = error_ref()
            log.error("session %s: could not be joined (ref %s)", self.writer_id, eref, exc_info=exc)
            page = self._error(ErrorCode.SETUP_ERROR, f"the session could not be set up: {self._shown(exc, eref)}"), False, False
            if self.session is not None:
                self._ended()
            if not isinstance(exc, Exception):
                self.state = CLOSED
                raise
        if page is None:  # the socket closed meanwhile
            return
        msg, ok, redirected = page
        self.send(msg)
        if not ok:
            self.state = CLOSED
            if self.hangup is not None:
                self.hangup(closing_code(redirected))
            return
        if self.state is JOINING:  # a page set up here (not a session taken over)
            self._started()
        self._drain(busy)

    async def _guarded_page(self, busy: _Busy, pending: _Guard) -> tuple[bytes, bool, bool] | None:
        """The first message of a join to a page whose guard is async: ``(message, ok, redirected)``,
        or None if the socket closed meanwhile."""
        failure = await self._guarded_mount(busy, pending)
        if failure is _GONE:
            return None
        if failure is not None:
            self.state = failure
        redirected = self.redirecting()
        resume = None
        if self.app.resume_grace > 0:
            resume = Resume(self.app.resume_token(self), fresh=pending.fresh)
        msg, ok = self._page(resume=resume)
        return msg, ok, redirected

    async def _guarded_mount(self, busy: _Busy, pending: _Guard) -> Any:
        """The page's async guard awaited (the event loop serves other sessions meanwhile; this
        socket's messages wait, and a close cancels it), then the page set up: what
        :meth:`_mount` returns, or _GONE if the socket closed meanwhile."""
        conn = pending.conn
        self.state = busy
        self.conn = conn  # a close meanwhile ends it (its subscriptions: conn.tag)
        await conn.route.await_guard(conn)
        if self.state is not busy:
            return _GONE
        self.state = JOINING
        self.conn = None  # the setup keeps it, or not (App.keeps_conn)
        return self._setup(conn)

    async def _restored_page(self, busy: _Busy, restore: _Restore) -> tuple[bytes, bool, bool] | None:
        """The first message for a join that waited: ``(message, ok, redirected)``, or None if the
        socket closed meanwhile."""
        key = restore.key
        blob = None
        if type(key) is not str:
            if await self._wait_done(key) and self.state is busy and await self._took(key) and self.state is busy:
                self._adopt(key)
                self.state = busy
                return self._resumed_page(), True, False
        else:
            blob = await self.app.snapshots.claim(key)
        if self.state is not busy:
            return None
        info = page_info(restore.info)
        self.state = JOINING
        failure = await self._mounted(busy, info)
        if failure is _GONE:
            return None
        token = self.app.resume_token(self)
        resume = Resume(token, fresh=True)
        if failure is None and blob is not None and self.snap is not None:
            try:
                last = self.app.snapshots.restore(self.snap, blob, info.path)
            except Exception as exc:
                log.warning("session %s: its snapshot was not restored (%s): a fresh session", self.writer_id, exc)
                self._ended()  # this half-restored session never showed
                failure = await self._mounted(busy, info)  # the setup's own state, not a half-restored one
                if failure is _GONE:
                    return None
            else:
                self.last_ref = _Resent(last) if type(last) is int else last
                resume = Resume(token, resumed=True, last=last)
                if self.meter is not None:
                    self.meter.resumed("snapshot")
                log.info("session %s: restored from another process's snapshot", self.writer_id)
        if not resume.resumed and self.meter is not None:  # the session was not there to take
            self.meter.resumed("failed")
        if failure is not None:
            self.state = failure
        redirected = self.redirecting()
        msg, ok = self._page(resume=resume)
        return msg, ok, redirected

    async def _mounted(self, busy: _Busy, info: ConnectionInfo) -> Any:
        """:meth:`_mount`, its async guard awaited if it has one."""
        failure = self._mount(info)
        if type(failure) is _Guard:
            return await self._guarded_mount(busy, failure)
        return failure

    @staticmethod
    async def _took(old: Connection) -> bool:
        """Take ``old``'s snapshot out of the store before taking ``old`` over: a process that took
        it first (the same token, racing) has the session, and ``old`` ends here."""
        snap = old.snap
        if snap is None or not snap.final:
            return old.detached()
        snapshots = old.app.snapshots
        try:
            won = await snapshots.take(snap.key) is not None
        except Exception as exc:  # the store is out of reach: nobody else can have taken it
            log.warning("session %s: its snapshot could not be taken (%s): resumed here", old.writer_id, exc)
            won = True
        if not won and old.detached():
            log.info("session %s: its snapshot was taken by another process", old.writer_id)
            old.close()
        return won and old.detached()

    @staticmethod
    async def _wait_done(old: Connection, timeout: float = 60.0) -> bool:
        """Wait (bounded) until ``old``'s async handlers are done; True if it then waits for its browser."""
        import asyncio

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while old.busy() and loop.time() < deadline:
            task = old.state.task
            if task is None:
                await asyncio.sleep(0.01)
            else:
                await asyncio.wait({task}, timeout=max(deadline - loop.time(), 0))
        return old.detached()

    def _error(self, code: str, message: str, ref: Any = None) -> bytes:
        """An error reply (counted by the metrics, by code)."""
        if self.meter is not None:
            self.meter.error(code)
        return encode_error(code, message, ref)

    def _counted(self, error: tuple[str, str] | None) -> None:
        """An error going out in a reply or a push: counted by the metrics (by code)."""
        if error is not None and self.meter is not None:
            self.meter.error(error[0])

    def _shown(self, exc: BaseException, ref: str) -> str:
        """An error as the browser may see it (its message and traceback too in debug mode)."""
        return describe(exc, ref, self.app.debug or None)

    def busy(self) -> bool:
        """An async handler (or a restore) is half-way."""
        return type(self.state) is _Busy

    def applied(self) -> Any:
        """The ref of the last action applied."""
        last = self.last_ref
        return last.ref if type(last) is _Resent else last

    def _started(self) -> None:
        self.app.session_started(self.conn, self)

    def _ended(self) -> None:
        snap = self.snap
        if snap is not None:
            self.snap = None
            self.app.snapshots.end(snap)
        session, self.session = self.session, None
        if session is not None:
            session.close()
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.attach(None)
            closers = conn.take_closers()
            if closers:
                for fn in closers:
                    try:
                        fn()
                    except BaseException:  # user code: nothing it raises escapes
                        log.exception("session %s: an on_close callback raised", self.writer_id)
        self.app.session_ended(conn, self)

    # -- messages ------------------------------------------------------------------

    def receive(self, data: bytes | str) -> bytes | None:
        """One client text message -> its reply, or None: the reply will come through ``send``.

        None when an async handler runs (this message's, or an earlier one's:
        then this message waits and is answered in order once it is done).
        """
        global _current
        prev = _current
        _current = self
        try:
            if self.meter is None:
                return self._receive(data)
            # Through the typed attribute (not a local): compiled, these are C calls (connection.pxd).
            self.meter.begin()
            if self.tracer is None:
                reply = self._receive(data)
            else:  # app.tracing(): an OpenTelemetry span per message (tracing turns the meter on)
                with self.tracer.start_as_current_span("rweb.action") as span:
                    reply = self._receive(data)
                    _span_attributes(span, self, reply)
            self.meter.end(self.action, reply)
            return reply
        finally:
            _current = prev
            self.action = None

    def _receive(self, data: bytes | str) -> bytes | None:
        state = self.state
        if type(state) is _Busy:
            state.queue.append((_MESSAGE, data))
            return None
        if len(data) > self.max_size:
            return self.too_large(len(data))
        try:
            action, params, ref = decode(data)
        except ProtocolError as exc:
            log.warning("session %s: %s: %s", self.writer_id, exc.code, exc.message)
            return self._error(exc.code, exc.message, exc.ref)
        if action is None:
            return self._control(params, ref)
        self.action = action
        session = self.session
        if session is None:
            return self._error(ErrorCode.SETUP_ERROR, "the session could not be set up", ref)
        if ref is not None:
            last = self.last_ref
            if type(last) is _Resent and type(ref) is int and ref <= last.ref:
                return encode_reply({}, ref)  # sent again after a resume: applied once already
            self.last_ref = ref
        patches, error = session.dispatch(action, params)
        if patches is None:  # an async handler: ``error`` is its awaitable
            return self._start(session, action, error, ref)
        if error is not None:
            log.warning("session %s: %s: %s", self.writer_id, error[0], error[1])
            if self.meter is not None:
                self.meter.error(error[0])
        effects = self.effects
        if effects is not None:
            self.effects = None
            return encode_reply(patches, ref, error, effects)
        return encode_reply(patches, ref, error)

    # -- async handlers ---------------------------------------------------------------

    def _start(self, session: Session, action: str, pending: Any, ref: Any) -> bytes | None:
        """Run an async handler as a task; its reply goes out through ``send`` when it is done."""
        busy = _Busy(pending)
        coro = self._answer_later(busy, session, action, pending, ref)
        try:
            busy.task = self.app.loop().create_task(coro)
        except Exception as exc:  # no event loop to run it on (a Connection driven by hand)
            coro.close()
            session.abandon(pending)
            eref = error_ref()
            log.error("session %s: async handler for %r not started (ref %s)", self.writer_id, action, eref,
                      exc_info=exc)
            return self._error(ErrorCode.HANDLER_ERROR, f"action {action!r} failed: {self._shown(exc, eref)}", ref)
        self.state = busy
        return None

    async def _answer_later(self, busy: _Busy, session: Session, action: str, pending: Any, ref: Any) -> None:
        busy.pending = None  # the task has it now: close() cancels the task
        _in_task.set((self, action))  # this task's log records are this session's, this action's (rweb.logs)
        try:
            patches, error = await session.finish(action, pending)
        except BaseException as exc:
            if self.state is not busy or isinstance(exc, GeneratorExit):
                raise  # the socket closed, or the loop is going away: nobody to answer
            # Cancelled by someone else, or an internal error: the message still gets its reply.
            eref = error_ref()
            log.error("session %s: action %r: %s (ref %s)", self.writer_id, action, type(exc).__name__, eref,
                      exc_info=exc if isinstance(exc, Exception) else None)
            patches, _ = session.flush() if not session.closed else ({}, None)
            effects, self.effects = self.effects, None
            error = (ErrorCode.HANDLER_ERROR, f"action {action!r} failed: {self._shown(exc, eref)}")
            self._counted(error)
            self.send(encode_reply(patches, ref, error, effects))
            self._drain(busy)
            if not isinstance(exc, Exception):
                raise
            return
        if self.state is not busy:  # the socket closed while the handler ran
            return
        if error is not None:
            log.warning("session %s: %s: %s", self.writer_id, error[0], error[1])
            self._counted(error)
        effects, self.effects = self.effects, None
        self.send(encode_reply(patches, ref, error, effects))
        self._drain(busy)

    def _drain(self, busy: _Busy) -> None:
        """The async handler is done and answered: answer what waited for it, in order."""
        queue = busy.queue
        self.state = LIVE
        if busy.lost:  # nobody to answer: messages that waited stay unapplied (the browser sends them again)
            for kind, arg in queue:
                if kind == _RUN:  # work of the server's (app.in_session): it still runs
                    self.run(arg)
            queue.clear()
            self.lost()
            return
        while queue:
            kind, arg = queue.popleft()
            reply: bytes | None = None
            if kind == _MESSAGE:
                reply = self.receive(arg)
            elif kind == _RUN:
                self.run(arg)
            elif kind == _BINARY:
                reply = self.receive_binary(arg)
            else:
                reply = self.too_large(arg)
            state = self.state
            if type(state) is _Busy:  # another async handler: the rest waits for it
                state.queue = queue
                return
            if state is not LIVE:
                return
            if reply is not None:
                self.send(reply)

    def _control(self, msg: dict[str, Any], ref: Any) -> bytes | None:
        try:
            nav = decode_control(msg, ref)
        except ProtocolError as exc:
            log.warning("session %s: %s: %s", self.writer_id, exc.code, exc.message)
            return self._error(exc.code, exc.message, exc.ref)
        if type(nav) is Ping:
            return encode_reply({}, ref)
        if type(nav) is Nav:
            return self.navigate_to(nav.url, ref)
        return self._upload(nav, ref)

    def _upload(self, msg: Any, ref: Any) -> bytes:
        """An upload's request or cancel (rweb.upload): one reply, with the page's changes."""
        from ..words.protocol import UploadCancel

        session = self.session
        conn = self.conn
        uploads = conn.uploads if conn is not None else None
        if session is None or uploads is None:
            return self._error(ErrorCode.UPLOAD_REFUSED, f"no upload named {msg.name!r} on this page", ref)
        if type(msg) is UploadCancel:
            up = uploads.by_name.get(msg.name)
            if up is None:
                return self._error(ErrorCode.UPLOAD_REFUSED, f"no upload named {msg.name!r} on this page", ref)
            patches, error = session.call(up.cancel)
            effects, self.effects = self.effects, None
            return encode_reply(patches, ref, error, effects)
        answer: list[Any] = []
        patches, error = session.call(lambda: answer.extend(uploads.start(msg.name, msg.files)))
        effects, self.effects = self.effects, None
        if error is None and answer:
            ids, refused = answer
            if refused is not None:
                log.warning("session %s: upload_refused: %s", self.writer_id, refused)
                error = (ErrorCode.UPLOAD_REFUSED, refused)
            else:
                from .upload import HEADER

                return encode_upload_reply(patches, ref, ids, self.max_size - HEADER, effects)
        return encode_reply(patches, ref, error, effects)

    def navigate_to(self, url: str, ref: Any = None) -> bytes | None:
        """The browser now shows ``url``: patch this page or mount the page there.

        None when that page's guard is async: the reply goes out through ``send`` once it is done.
        """
        page = Join(url)  # the nav message's URL parsed as a join's: the path decoded, as HTTP's
        path = page.path
        app = self.app
        found = app.page_for(path)
        if found is None:
            # Not a reactive page (a plain handler, a static file, a 404): load it.
            return encode_reply({}, ref, None, [Navigate(url, "load")])
        route, params = found
        conn = self.conn
        session = self.session
        if (
            conn is not None
            and session is not None
            and conn.route is route
            and conn.params_hook is not None
        ):
            conn.path = path
            if self.snap is not None:
                self.snap.path = path
            conn.params = params
            conn.query = page.query
            patches, error = session.call(conn.params_hook, params, conn.query)
            effects, self.effects = self.effects, None
            return encode_reply(patches, ref, error, effects)
        # Another page (or this one anew): end this session, start that one.
        old = self.conn
        info = ConnectionInfo(
            path=path,
            query=page.query,
            headers=old.headers if old is not None else {},
            cookies=old.cookies if old is not None else {},
            client=old.client if old is not None else None,
            flash=old.flash_token() if old is not None else None,  # the flash messages go on (rweb.flash)
        )
        self._ended()
        self.effects = None
        failure = self._mount(info)
        if type(failure) is _Guard:  # its guard is async: the reply comes through send
            busy = _Busy(None)
            self.state = busy
            busy.task = self.app.loop().create_task(self._navigate_later(busy, failure, url, ref))
            return None
        return self._navigated(failure, url, ref)

    def _navigated(self, failure: Any, url: str, ref: Any) -> bytes:
        """The reply to a navigation to another page, once set up (``failure``: see _mount)."""
        if type(failure) is tuple and failure[0] == ErrorCode.SETUP_ERROR:
            # The browser loads the URL for real and shows the server's error page.
            return encode_reply({}, ref, failure, [Navigate(url, "load")])
        if failure is not None:
            self.state = failure
        msg, ok = self._page(ref, url)
        self.state = LIVE
        if ok:
            self._started()
        return msg

    async def _navigate_later(self, busy: _Busy, pending: _Guard, url: str, ref: Any) -> None:
        """A navigation to a page whose guard is async: its reply once the guard is done."""
        failure = await self._guarded_mount(busy, pending)
        if failure is _GONE:
            return
        self.send(self._navigated(failure, url, ref))
        self._drain(busy)

    def receive_binary(self, data: bytes | None = None) -> bytes | None:
        """A binary message: an upload's chunk (rweb.upload), which gets no reply (None), or an error reply.

        None too while an async handler runs: the frame waits, as in receive.
        """
        state = self.state
        if type(state) is _Busy:
            state.queue.append((_BINARY, data))
            return None
        conn = self.conn
        if data is not None and conn is not None and conn.uploads is not None and self.session is not None:
            if len(data) > self.max_size:
                return self.too_large(len(data))
            ours, error = conn.uploads.receive(data)
            if ours:
                if self.meter is not None:
                    self.meter.uploaded(len(data))  # the frame's bytes: chunk headers included
                if error is not None:  # the file failed: the page shows it, the browser hears why
                    patches, _ = self.session.call(_nothing)
                    self(patches, error)  # push them
                return None
        log.warning("session %s: binary frame refused", self.writer_id)
        return self._error(ErrorCode.BINARY_FRAME, "binary frames are not accepted; send JSON text")

    def too_large(self, size: int) -> bytes | None:
        """A message over the size limit -> its error reply (None while an async handler runs: see receive)."""
        state = self.state
        if type(state) is _Busy:
            state.queue.append((_TOO_LARGE, size))
            return None
        log.warning("session %s: message of %d bytes refused", self.writer_id, size)
        return self._error(
            ErrorCode.TOO_LARGE, f"message of {size} bytes exceeds the limit of {self.max_size}"
        )

    # -- work from outside an action ------------------------------------------------

    def run(self, fn: Callable[[Any], Any]) -> None:
        """Run ``fn(conn)`` in this session (on its loop) and push what it changed.

        While an async handler runs, ``fn`` waits for it (its reply goes first).
        """
        session = self.session
        if session is None:
            return
        state = self.state
        if type(state) is _Busy:
            state.queue.append((_RUN, fn))
            return
        conn = self.conn
        if conn is None:  # the setup took no conn: a bare one (no headers were kept)
            conn = self.conn = self.app.bare_conn(self.writer_id)
            conn.attach(self)
        patches, error = session.call(fn, conn)
        effects, self.effects = self.effects, None
        self._counted(error)
        if patches or error or effects:
            self.send(encode_push(patches, error, effects))

    def effect(self, fx: Effect) -> None:
        """Ask the browser to do something (navigate, redeem a cookie: rweb.effects) with the next message."""
        if self.effects is None:
            self.effects = []
            # If no reply is under way to carry it, a push will.
            self.schedule(self._flush_effects)
        self.effects.append(fx)

    def queued(self, effect: Any) -> bool:
        """Is ``effect`` (an rweb.effects object) still waiting for a message to carry it?

        Until then it may still grow (a stream's operations join the
        stream's effect, rweb.stream); once sent, a new effect is needed.
        """
        effects = self.effects
        if not effects:
            return False
        for queued in effects:
            if queued is effect:
                return True
        return False

    def _flush_effects(self) -> None:
        effects = self.effects
        if effects is not None and self.state == LIVE:
            self.effects = None
            self.send(encode_push({}, None, effects))

    def __call__(self, patches: dict[str, Any], error: tuple[str, str] | None) -> None:
        """Push ``patches`` (and ``error``): the session's ``push`` is the connection itself, not a
        bound method held per page (idle memory)."""
        effects = self.effects
        if effects is not None:
            self.effects = None
        elif error is None and type(patches) is SharedPatches:  # a render shared by many pages: encoded once
            self._send_shared(patches)
            return
        self._counted(error)
        self.send(encode_push(patches, error, effects))

    def _send_shared(self, patches: SharedPatches) -> None:
        data = patches.data
        if data is None:
            data = patches.data = encode_push(patches)
        self.send(data)

    def warm(self) -> None:
        """A shared render pushes here soon (rweb.session.PushTarget): ask the CPU for what ``send`` is."""
        if cython.compiled:
            _warm_send(self)  # type: ignore[name-defined]  # noqa: F821

    def close(self) -> None:
        state = self.state
        if state == CLOSED:
            return
        self.state = CLOSED
        if type(state) is _Detached:
            state.handle.cancel()
            self.app.undetached(self)
        elif type(state) is _Busy:  # the session is gone: its async handler stops, unanswered
            state.queue.clear()
            pending, state.pending = state.pending, None
            if pending is not None:  # the task has not started: the handler never will
                _discard(pending)
            if state.task is not None:
                state.task.cancel()
        self._ended()


class _Detached:
    """The socket is gone, the session waits for its browser until ``handle`` fires."""

    __slots__ = ("handle",)

    def __init__(self, handle: Any) -> None:
        self.handle = handle


class _Guard:
    """A page whose guard is ``async def``, set up once it is awaited (_guarded_mount): the
    state of its join until open(), or a navigation's.  ``fresh``: the join's resume token
    was one nobody holds (the browser is told with the first message)."""

    __slots__ = ("conn", "fresh")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.fresh = False


_GONE = object()  # the socket closed while a join or a navigation waited


class _Restore:
    """The state of a join, until open(), whose token names a session to wait for: another
    process's (``key``: its snapshot key), or one of this process whose socket was lost while
    an async handler ran (``key``: its Connection)."""

    __slots__ = ("info", "key")

    def __init__(self, key: Any, info: ConnectionInfo) -> None:
        self.key = key
        self.info = info


class _Resent:
    """``last_ref`` after a resume: refs up to ``ref`` were applied before the socket was lost.

    Only then are repeated refs dropped (a client may well send the same ref
    every time, as some load clients do; the browser's grow by one)."""

    __slots__ = ("ref",)

    def __init__(self, ref: int) -> None:
        self.ref = ref


_RESUMED = "resumed"  # state between adopting a session and open()
_FRESH = "fresh"  # state of a join whose token nobody holds: open() says so


def _nothing() -> None:
    """Run through Session.call to render what was written outside it."""


def _nowhere(data: bytes) -> None:
    """Where a detached session's messages go: nowhere (the resume sends the whole page)."""


def page_info(info: ConnectionInfo) -> ConnectionInfo:
    """The socket request's info -> the page's: its path and query are the join's (:class:`rweb.protocol.Join`)."""
    join = Join.from_query(info.query)
    return ConnectionInfo(
        path=join.path, query=join.query, headers=info.headers, cookies=info.cookies, client=info.client,
        flash=join.flash,
    )
