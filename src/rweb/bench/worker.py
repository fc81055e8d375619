"""The load engine: one client worker process driving its share of the sessions.

Each session is a picows ``WSListener``; replies are handled in ``on_ws_frame`` directly
(no queues, no per-click tasks or timers): the callback records the latency into a shared
``array('q')``, and immediately sends the next pre-encoded click. Reply timeouts and the
overall time bound are enforced by one periodic watchdog per process, which also
publishes progress to the parent through shared memory.

The parent (``rweb.bench.cli``) talks to a worker over a pipe:

    worker -> ("connected", info)      every session connected (or failed to)
    parent -> "go" | "close"           start clicking / close idle sessions
    worker -> ("done", info)           clicking finished (sent before closing sockets)
    worker -> ("result", payload)      everything measured
    worker -> ("error", text)          the worker itself crashed
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import traceback
from array import array
from collections import Counter
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

import orjson
from picows import WSCloseCode, WSListener, WSMsgType, WSTransport, ws_connect

from ..wire.codec import ERROR_MARK, PUSH_PREFIX, error_of
from .liveview import LiveViewError, PageInfo, fetch_page
from .procfs import raise_nofile_limit, self_cpu_seconds

TEXT = WSMsgType.TEXT
BINARY = WSMsgType.BINARY
CONT = WSMsgType.CONTINUATION
CLOSE = WSMsgType.CLOSE

# session states
CONNECTING = 0
WAIT_INITIAL = 1
JOINING = 2
IDLE = 3
WAITING = 4  # a click is outstanding
DONE = 5
FAILED = 6
CLOSING = 7

HEARTBEAT_NS = 30_000_000_000  # Phoenix drops sockets silent for 60 s


@dataclass
class WorkerConfig:
    index: int
    protocol: str  # "rweb" | "liveview"
    mode: str  # "clicks" | "idle"
    url: str  # ws URL (rweb) or page URL (liveview)
    ws_path: str
    clients: int
    clicks: int
    action_msg: bytes  # pre-encoded rweb click
    lv_event: str
    connect_rate: float  # handshakes started per second by this worker, 0 = unbounded
    connect_concurrency: int
    timeout: float
    max_time: float  # seconds, from worker start, after which everything stops
    action_cycle: tuple[bytes, ...] = ()  # rweb clicks sent in turn instead of action_msg (--cycle)
    read_buffer: int = 4096
    verbose: bool = False


class ClientFailed(Exception):
    """Raised into a session's ready-future by Engine.fail (already counted)."""


# rweb's wire format (docs/protocol.md, rweb.codec): a server push is not a reply, and a
# reply that carries an error is a failed click. The seed's format (what the bare servers
# speak) has neither, so any other complete message answers the click. The hot loop looks
# at the bytes only (no JSON decoding per click).
_PUSH_PREFIX = PUSH_PREFIX
_ERROR_MARK = ERROR_MARK


def _error_code(data: bytes) -> str:
    try:
        error = error_of(orjson.loads(data))
    except Exception:
        error = None
    return error[0] if error is not None else "?"


class Session(WSListener):
    """One rweb-protocol session: the next complete reply answers the outstanding click.

    rweb pushes (``"t":"p"``) are counted as extra messages, not as replies; an rweb
    reply with an error fails the session. Any other message (the seed's protocol, the
    bare servers) is the reply.
    """

    __slots__ = (
        "eng",
        "extra",
        "left",
        "msg",
        "n",
        "ready",
        "reason",
        "rx",
        "state",
        "sum_ns",
        "t_sent",
        "transport",
    )

    def __init__(self, eng: Engine) -> None:
        super().__init__()
        self.eng = eng
        self.transport: WSTransport | None = None
        self.state = WAIT_INITIAL
        self.t_sent = 0
        self.left = 0
        self.n = 0
        self.sum_ns = 0
        self.rx = 0
        self.extra = 0
        self.msg = eng.cfg.action_msg
        self.reason: str | None = None
        self.ready: asyncio.Future[None] = eng.loop.create_future()

    # -- picows callbacks -------------------------------------------------------------
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    # Each click sends a new message (LiveView refs) or the same bytes again (rweb).
    fresh_messages = False

    def next_message(self) -> bytes:
        return self.msg

    def answered(self, transport: WSTransport, now: int) -> None:
        """The reply to the click in flight arrived at ``now``: record it, send the next."""
        dt = now - self.t_sent
        self.eng.lat_append(dt)
        self.sum_ns += dt
        self.n += 1
        left = self.left - 1
        self.left = left
        if left > 0:
            if self.fresh_messages:
                self.msg = self.next_message()
            self.t_sent = perf_counter_ns()
            transport.send(TEXT, self.msg)
        else:
            self.state = DONE
            self.eng.session_finished(now)

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        now = perf_counter_ns()
        mt = frame.msg_type
        if mt is TEXT or mt is BINARY or mt is CONT:
            self.rx += frame.payload_size
            if not frame.fin:
                return
            state = self.state
            if state == WAITING:
                if frame.payload_size < 8 or mt is not TEXT:
                    self.answered(transport, now)
                    return
                data = frame.get_payload_as_bytes()
                if data.startswith(_PUSH_PREFIX):
                    self.extra += 1
                elif _ERROR_MARK in data:
                    self.eng.fail(self, f"error reply ({_error_code(data)})")
                else:
                    self.answered(transport, now)
            elif state == WAIT_INITIAL:
                self.state = IDLE
                if not self.ready.done():
                    self.ready.set_result(None)
            else:
                self.extra += 1
        elif mt is CLOSE:
            self.on_close_frame(transport, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.state not in (DONE, FAILED, CLOSING):
            self.eng.fail(self, "disconnected by server")

    # -- helpers ----------------------------------------------------------------------
    def on_close_frame(self, transport: WSTransport, frame: Any) -> None:
        if self.state in (DONE, FAILED, CLOSING):
            transport.disconnect()
            return
        try:
            code = frame.get_close_code().value
        except Exception:
            code = "?"
        with contextlib.suppress(Exception):
            transport.send_close(WSCloseCode.OK)
        self.eng.fail(self, f"closed by server (code {code})")

    def first_click(self) -> None:
        self.left = self.eng.cfg.clicks
        self.state = WAITING
        self.t_sent = perf_counter_ns()
        assert self.transport is not None
        self.transport.send(TEXT, self.msg)


class CyclingSession(Session):
    """An rweb session whose clicks take their messages in turn from ``cfg.action_cycle``
    (``rweb bench --cycle id=100``: toggle row 0, then 1, ... 99, then 0 again)."""

    __slots__ = ("i", "msgs")
    fresh_messages = True

    def __init__(self, eng: Engine) -> None:
        super().__init__(eng)
        self.msgs = eng.cfg.action_cycle
        self.i = 0
        self.msg = self.msgs[0]

    def next_message(self) -> bytes:
        i = self.i + 1
        if i == len(self.msgs):
            i = 0
        self.i = i
        return self.msgs[i]


class LiveViewSession(Session):
    """A Phoenix LiveView session: joins its topic, and a click is answered only by the
    ``phx_reply`` with the click's ref and status "ok"; other pushes are skipped."""

    __slots__ = ("buf", "hb_ref", "page", "prefix", "ref", "ref_s", "suffix")
    fresh_messages = True

    def __init__(self, eng: Engine) -> None:
        super().__init__(eng)
        self.state = CONNECTING
        self.page: PageInfo | None = None
        self.prefix = b""
        self.suffix = b""
        self.ref = 1
        self.ref_s = "1"
        self.hb_ref = 0
        self.buf: bytearray | None = None

    def setup(self, page: PageInfo) -> None:
        self.page = page
        self.prefix, self.suffix = page.event_parts(self.eng.cfg.lv_event, {})

    def next_message(self) -> bytes:
        ref = self.ref + 1
        self.ref = ref
        ref_s = str(ref)
        self.ref_s = ref_s
        return self.prefix + ref_s.encode() + self.suffix

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        now = perf_counter_ns()
        mt = frame.msg_type
        if mt is TEXT or mt is BINARY or mt is CONT:
            self.rx += frame.payload_size
            if not frame.fin:
                if self.buf is None:
                    self.buf = bytearray()
                self.buf += frame.get_payload_as_memoryview()
                return
            if self.buf is not None:
                self.buf += frame.get_payload_as_memoryview()
                payload: Any = bytes(self.buf)
                self.buf = None
            else:
                payload = frame.get_payload_as_memoryview()
            try:
                msg = orjson.loads(payload)
                ref = msg[1]
                event = msg[3]
            except (orjson.JSONDecodeError, IndexError, KeyError, TypeError):
                self.extra += 1
                return
            state = self.state
            if state == WAITING:
                if ref != self.ref_s or event != "phx_reply":
                    return  # a push (diff, heartbeat reply, ...) that is not this click's reply
                status = _status(msg)
                if status != "ok":
                    self.eng.fail(self, f"event reply status {status}")
                    return
                self.answered(transport, now)
            elif state == JOINING:
                if ref == "1" and event == "phx_reply":
                    status = _status(msg)
                    if status == "ok":
                        self.state = IDLE
                        if not self.ready.done():
                            self.ready.set_result(None)
                    else:
                        reason = ""
                        with contextlib.suppress(Exception):
                            reason = str(msg[4]["response"].get("reason", ""))[:60]
                        self.eng.fail(self, f"join: status {status} {reason}".rstrip())
            elif state != IDLE:
                self.extra += 1
        elif mt is CLOSE:
            self.on_close_frame(transport, frame)

    def first_click(self) -> None:
        self.msg = self.next_message()
        super().first_click()

    def heartbeat(self) -> None:
        if self.transport is not None and self.state == IDLE:
            self.hb_ref += 1
            self.transport.send(TEXT, b'[null,"hb%d","phoenix","heartbeat",{}]' % self.hb_ref)


def _status(msg: Any) -> Any:
    try:
        return msg[4]["status"]
    except (IndexError, KeyError, TypeError):
        return None


def _reason(phase: str, exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return f"{phase}: timeout"
    if isinstance(exc, LiveViewError):
        return str(exc)
    text = str(exc).splitlines()[0] if str(exc) else ""
    name = type(exc).__name__
    return f"{phase}: {name}: {text}"[:120].rstrip(": ") if text else f"{phase}: {name}"


class Engine:
    def __init__(self, cfg: WorkerConfig, progress: Any | None = None) -> None:
        self.cfg = cfg
        self.loop = asyncio.get_running_loop()
        self.progress = progress
        self.lat: array[int] = array("q")
        self.lat_append = self.lat.append
        self.sessions: list[Session] = []
        self.failures: Counter[str] = Counter()
        self.connected = 0
        self.dropped = 0  # connected sessions lost afterwards
        self.active = 0
        self.t_start = perf_counter_ns()
        self.deadline = self.t_start + int(cfg.max_time * 1e9)
        self.timeout_ns = int(cfg.timeout * 1e9)
        self.t_go = 0
        self.t_last = 0
        self.timeline: list[tuple[int, int]] = []
        self.clicking = False
        self.clicks_done: asyncio.Future[None] = self.loop.create_future()
        self.connect_first = 0
        self.connect_last = 0
        self.last_hb = perf_counter_ns()
        self.cpu_go = 0.0
        self.cpu_end = 0.0
        self.initial_rx = 0
        tick = min(max(cfg.timeout / 10, 0.005), 0.05)
        self.tick_s = tick
        self._tick_handle = self.loop.call_later(tick, self._tick)

    # -- failures and completion ------------------------------------------------------
    def fail(self, s: Session, reason: str) -> None:
        if s.state in (DONE, FAILED, CLOSING):
            return
        was_clicking = s.state == WAITING
        if s.state in (IDLE, WAITING):
            self.dropped += 1
        s.state = FAILED
        s.reason = reason
        self.failures[reason] += 1
        if not s.ready.done():
            s.ready.set_exception(ClientFailed(reason))
            s.ready.exception()  # mark retrieved
        if s.transport is not None:
            with contextlib.suppress(Exception):
                s.transport.disconnect(False)
        if was_clicking:
            self.session_finished(perf_counter_ns())

    def session_finished(self, now: int) -> None:
        self.active -= 1
        if now > self.t_last:
            self.t_last = now
        if self.active <= 0 and not self.clicks_done.done():
            self.clicks_done.set_result(None)

    def _publish(self) -> None:
        if self.progress is not None:
            i = 2 * self.cfg.index
            self.progress[i] = self.connected - self.dropped
            self.progress[i + 1] = len(self.lat)

    def _tick(self) -> None:
        now = perf_counter_ns()
        if self.clicking:
            self.timeline.append((now, len(self.lat)))
            limit = now - self.timeout_ns
            for s in self.sessions:
                if s.state == WAITING and s.t_sent < limit:
                    self.fail(s, "reply timeout")
        elif self.cfg.protocol == "liveview" and now - self.last_hb > HEARTBEAT_NS:
            self.last_hb = now
            for s in self.sessions:
                if isinstance(s, LiveViewSession):
                    s.heartbeat()
        if now > self.deadline:
            for s in self.sessions:
                if s.state in (WAITING, IDLE, WAIT_INITIAL, JOINING, CONNECTING):
                    self.fail(s, "overall time limit")
        self._publish()
        self._tick_handle = self.loop.call_later(self.tick_s, self._tick)

    # -- connect phase ----------------------------------------------------------------
    async def _connect_one(self) -> None:
        cfg = self.cfg
        lv = cfg.protocol == "liveview"
        s: Session = LiveViewSession(self) if lv else CyclingSession(self) if cfg.action_cycle else Session(self)
        self.sessions.append(s)
        phase = "connect"
        try:
            if perf_counter_ns() > self.deadline:
                raise TimeoutError
            url = cfg.url
            headers: dict[str, str] | None = None
            if lv:
                assert isinstance(s, LiveViewSession)
                phase = "http"
                page = await asyncio.wait_for(fetch_page(cfg.url, cfg.ws_path), cfg.timeout)
                s.setup(page)
                url = page.ws_url
                if page.cookies:
                    headers = {"Cookie": page.cookie_header()}
                phase = "connect"
            await asyncio.wait_for(
                ws_connect(
                    lambda: s,
                    url,
                    websocket_handshake_timeout=cfg.timeout,
                    read_buffer_init_size=cfg.read_buffer,
                    extra_headers=headers,
                    max_redirects=0,
                ),
                cfg.timeout,
            )
            if lv:
                assert isinstance(s, LiveViewSession) and s.page is not None
                phase = "join"
                s.state = JOINING
                assert s.transport is not None
                s.transport.send(TEXT, s.page.join_message())
            else:
                phase = "initial message"
            await asyncio.wait_for(asyncio.shield(s.ready), cfg.timeout)
        except ClientFailed:
            return  # already counted
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            if s.state not in (FAILED, DONE):
                self.fail(s, _reason(phase, exc))
            return
        self.connected += 1
        self.initial_rx += s.rx
        now = perf_counter_ns()
        if not self.connect_first:
            self.connect_first = now
        self.connect_last = now

    async def connect_all(self) -> None:
        cfg = self.cfg
        sem = asyncio.Semaphore(max(1, cfg.connect_concurrency))
        interval = 1e9 / cfg.connect_rate if cfg.connect_rate > 0 else 0.0
        t0 = perf_counter_ns()
        tasks: list[asyncio.Task[None]] = []

        async def one() -> None:
            try:
                await self._connect_one()
            finally:
                sem.release()

        for i in range(cfg.clients):
            await sem.acquire()
            if interval:
                wait = (t0 + i * interval - perf_counter_ns()) / 1e9
                if wait > 0:
                    await asyncio.sleep(wait)
            tasks.append(asyncio.ensure_future(one()))
        if tasks:
            await asyncio.gather(*tasks)
        self._publish()

    # -- timed phase ------------------------------------------------------------------
    async def run_clicks(self) -> None:
        ready = [s for s in self.sessions if s.state == IDLE]
        if self.cfg.clicks <= 0 or not ready:
            self.t_go = self.t_last = perf_counter_ns()
            return
        self.cpu_go = self_cpu_seconds()
        for s in self.sessions:
            s.rx = 0
        self.active = len(ready)
        self.t_go = perf_counter_ns()
        self.timeline.append((self.t_go, 0))
        self.clicking = True
        for s in ready:
            try:
                s.first_click()
            except Exception as exc:
                self.fail(s, _reason("send", exc))
        await self.clicks_done
        self.clicking = False
        self.cpu_end = self_cpu_seconds()
        self.timeline.append((self.t_last, len(self.lat)))
        self._publish()

    async def close_all(self, grace: float = 2.0) -> None:
        self._tick_handle.cancel()
        waits = []
        for s in self.sessions:
            t = s.transport
            if s.state != FAILED:
                s.state = CLOSING
            if t is None or t.is_disconnected:
                continue
            with contextlib.suppress(Exception):
                t.send_close(WSCloseCode.OK)
                t.disconnect()
            waits.append(asyncio.ensure_future(t.wait_disconnected()))
        if waits:
            _done, pending = await asyncio.wait(waits, timeout=grace)
            for p in pending:
                p.cancel()
            for w in waits:
                if w.done() and not w.cancelled():
                    w.exception()
            for s in self.sessions:
                if s.transport is not None and not s.transport.is_disconnected:
                    s.transport.disconnect(False)

    def result(self) -> dict[str, Any]:
        clicks = self.cfg.clicks
        avgs = [s.sum_ns / s.n for s in self.sessions if s.state != FAILED and s.n == clicks and clicks]
        return {
            "index": self.cfg.index,
            "clients": self.cfg.clients,
            "connected": self.connected,
            "connect_s": (self.connect_last - self.t_start) / 1e9 if self.connected else 0.0,
            "failures": dict(self.failures),
            "failed_sessions": sum(self.failures.values()),
            "t_go": self.t_go,
            "t_end": self.t_last,
            "latencies": self.lat.tobytes(),
            "client_avg_ns": avgs,
            "rx_bytes": sum(s.rx for s in self.sessions),
            "initial_rx": self.initial_rx,
            "extra_msgs": sum(s.extra for s in self.sessions),
            "cpu_s": max(0.0, self.cpu_end - self.cpu_go),
            "timeline": self.timeline,
        }


def _send(conn: Any, msg: Any) -> None:
    # The event loop's add_reader() may have made the pipe non-blocking; a large message
    # would then fail half-written with EAGAIN.
    os.set_blocking(conn.fileno(), True)
    conn.send(msg)


async def _worker_async(cfg: WorkerConfig, conn: Any, progress: Any) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[Any] = asyncio.Queue()

    def on_readable() -> None:
        try:
            inbox.put_nowait(conn.recv())
        except (EOFError, OSError):
            loop.remove_reader(conn.fileno())
            inbox.put_nowait("abort")

    loop.add_reader(conn.fileno(), on_readable)
    eng = Engine(cfg, progress)
    await eng.connect_all()
    _send(conn, ("connected", {"connected": eng.connected, "failed": sum(eng.failures.values())}))
    remaining = max(0.0, (eng.deadline - perf_counter_ns()) / 1e9)
    try:
        cmd = await asyncio.wait_for(inbox.get(), remaining + 1.0)
    except TimeoutError:
        cmd = "abort"
    if cmd == "go":
        await eng.run_clicks()
        _send(conn, ("done", {"t_end": eng.t_last}))
    await eng.close_all()
    loop.remove_reader(conn.fileno())
    _send(conn, ("result", eng.result()))


def worker_main(cfg: WorkerConfig, conn: Any, progress: Any) -> None:
    """Entry point of a client worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    raise_nofile_limit()
    if not cfg.verbose:
        logging.getLogger("picows").setLevel(logging.CRITICAL)
    try:
        try:
            import uvloop

            factory: Any = uvloop.new_event_loop
        except ImportError:  # pragma: no cover
            factory = None
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(_worker_async(cfg, conn, progress))
    except BaseException:
        with contextlib.suppress(Exception):
            _send(conn, ("error", traceback.format_exc()))
        os._exit(1)
