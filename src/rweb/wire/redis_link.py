"""One process's link to Redis: the connections, their reconnection, commands and channels.

:class:`RedisLink` is the one place in rweb that speaks to Redis (through
redis-py's asyncio connections, ``pip install 'rweb[redis]'``).  What sits on
it: the topics of :class:`rweb.redis_topics.RedisTopics` (pub/sub), the
snapshot store of :class:`rweb.redis_store.RedisStore`, and presence
(:class:`rweb.presence.RedisPresence`, through the topics).  The broker
:class:`rweb.broker_redis.RedisPubSub` makes one link and puts the three on it.

Two connections, made again together after any loss:

* the **command connection** writes, pipelined in batches of up to
  ``batch_size``, the queued commands (:meth:`RedisLink.send`,
  :meth:`RedisLink.request`, :meth:`RedisLink.requests`) and then the queued
  publishes (:meth:`RedisLink.publish`), and reads their replies in order.
  A publish on an idle connection (no batch in flight) is written to the socket
  in the :meth:`RedisLink.publish` call itself, so that it leaves before
  whatever its caller does next; the others wait for the batch in flight;
* the **subscription connection** keeps Redis's SUBSCRIBEs equal to the
  channels listened to (:meth:`RedisLink.listen`), hands each message to its
  channel's ``on_message(payload)``, and PINGs when quiet (``keepalive``); a
  PING unanswered within ``io_timeout`` counts as a lost connection.

While Redis cannot be reached, publishes and fire-and-forget commands are
held (publishes up to ``max_pending``: past it the oldest is dropped and the
``"dropped"`` hooks are told), commands awaiting a reply fail at once with
``ConnectionError``, and the link reconnects with jittered exponential backoff
(``reconnect_min`` .. ``reconnect_max`` seconds).  After a reconnection every
channel's ``on_gap()`` runs once Redis has confirmed its subscription again
(messages published meanwhile are lost: Redis keeps no backlog), and so does a
channel listened to during an outage.  The batch in flight when a connection
broke is written again after reconnecting.

Threads: everything here runs on the loop the link was started on
(:meth:`RedisLink.start`); :meth:`RedisLink.check_thread` is how the layers
above refuse a call from another thread.  ``connected`` and :meth:`RedisLink.stats`
may be read from any thread.

Hooks (:meth:`RedisLink.on`), each called on the loop:

``"started"``   the link was started (after any fork: the instance id is final)
``"connected"`` both connections are up (the first time, and after each loss)
``"idle"``      the command queue just emptied (a layer may queue more: gap markers)
``"dropped"``   ``fn(label, channel, n)``: ``n`` publishes were not sent.  ``channel``
                is the channel of one dropped while the process goes on (its
                receivers are to be told); None at close, when what is left is dropped.
``"closing"``   :meth:`RedisLink.close` began: last words may still be queued
``"closed"``    the link stopped for good
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from ..core.meter import Stat, now

__all__ = ["Build", "DropListener", "LinkEvent", "RedisLink"]

# The broker's logger: the layers on the link log as one service ("redis broker: ...").
log = logging.getLogger("rweb.broker_redis")
# Reconnect jitter (_backoff) from a generator of its own: the random module's state is the app's.
_jitter = random.Random()

Build = Callable[[], "tuple[Any, ...] | None"]
"""``build()``: a command's arguments, made when it is written (None: nothing to send after all)."""

DropListener = Callable[[str | None, bytes | None, int], None]
"""``fn(label, channel, n)``: ``n`` publishes were not sent (see :meth:`RedisLink.on_drop`)."""

LinkEvent = Literal["started", "connected", "idle", "closing", "closed"]
"""The events :meth:`RedisLink.on` accepts (see the module's docstring)."""


def _connection_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    return (RedisError, OSError, asyncio.TimeoutError, EOFError)


class _Cmd:
    """A command for the command connection; ``build`` makes its arguments at send time."""

    __slots__ = ("build", "future")

    def __init__(self, build: Build, future: asyncio.Future[Any] | None) -> None:
        self.build = build
        self.future = future


class _Listener:
    __slots__ = ("on_gap", "on_message")

    def __init__(self, on_message: Callable[[bytes], None], on_gap: Callable[[], None]) -> None:
        self.on_message = on_message
        self.on_gap = on_gap


# A queued publish: (label for drop reports, channel, payload, when publish() queued it: rweb.meter.now()).
_Pending = tuple[str | None, bytes, bytes, float]


class _Batch:
    """Commands and publishes written in one go, whose replies the writer task reads in order."""

    __slots__ = ("cmds", "pubs", "written")

    def __init__(self, cmds: list[_Cmd], pubs: list[_Pending], written: bool) -> None:
        self.cmds = cmds
        self.pubs = pubs
        self.written = written


class _WritesNow:
    """Mixed into redis-py's asyncio connection class for the URL (TCP, TLS or Unix socket).

    redis-py writes only from a coroutine (``send_packed_command``), so a
    command queued by a callback leaves when the loop next runs the writer
    task: after every callback already scheduled (a worker's pushes to its own
    sessions).  :meth:`write_now` hands the bytes to the socket in the call.
    The reading side stays redis-py's (``read_response``).
    """

    _writer: asyncio.StreamWriter | None  # redis-py's: the connection's stream, once connected

    def write_now(self, chunks: list[bytes]) -> bool:
        """Write ``chunks`` to the socket now (the transport buffers what the kernel does not take);
        False, writing nothing, when the connection is not open."""
        writer = self._writer
        if writer is None or writer.transport.is_closing():
            return False
        writer.writelines(chunks)
        return True

    async def drain_written(self) -> None:
        """Wait while the transport's buffer is over its high-water mark."""
        writer = self._writer
        if writer is None:
            raise ConnectionError("the connection to Redis is closed")
        await writer.drain()


_WRITES_NOW: dict[type, type] = {}


def _writes_now(cls: type) -> type:
    """``cls`` with :class:`_WritesNow` mixed in (one class per connection class)."""
    found = _WRITES_NOW.get(cls)
    if found is None:
        found = _WRITES_NOW[cls] = type(f"Rweb{cls.__name__}", (_WritesNow, cls), {})
    return found


class RedisLink:
    """Two connections to the Redis at ``url``, kept up; see the module's docstring.

    ``url``: ``redis://[user:password@]host:port/db``, ``rediss://...`` or
    ``unix://...`` (a malformed one raises here).  ``instance_id`` names this
    process to Redis (``CLIENT SETNAME``) and to the layers above; by default
    ``host:pid:random``, made again in a child that starts a link created
    before a fork.
    """

    def __init__(
        self,
        url: str,
        *,
        max_pending: int = 10_000,
        batch_size: int = 512,
        reconnect_min: float = 0.05,
        reconnect_max: float = 5.0,
        connect_timeout: float = 5.0,
        io_timeout: float = 5.0,
        keepalive: float = 10.0,
        instance_id: str | None = None,
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401
        except ImportError as exc:
            raise ImportError("the Redis broker needs redis-py: pip install 'rweb[redis]'") from exc
        if max_pending < 1 or batch_size < 1:
            raise ValueError("max_pending and batch_size must be at least 1")
        if not 0 < reconnect_min <= reconnect_max:
            raise ValueError("need 0 < reconnect_min <= reconnect_max")
        self.url = url
        self.max_pending = max_pending
        self.batch_size = batch_size
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.connect_timeout = connect_timeout
        self.io_timeout = io_timeout
        self.keepalive = keepalive
        self._fixed_id = instance_id
        self._pid = os.getpid()
        self.instance_id = instance_id or self._new_id()
        self._hooks: dict[str, list[Callable[[], None]]] = {}
        self._drop_listeners: list[DropListener] = []
        # -- channels (wanted, per name) --
        self._listeners: dict[bytes, _Listener] = {}
        self._subscribed: set[bytes] = set()  # SUBSCRIBE sent on the current connection
        self._confirmed: set[bytes] = set()  # ... and confirmed by Redis
        self._gap_pending: set[bytes] = set()  # on_gap due once confirmed
        # -- the command connection's queues --
        self._pending: deque[_Pending] = deque()
        self._commands: deque[_Cmd] = deque()
        self._in_flight = 0
        self._batch: _Batch | None = None  # written, replies not yet read
        self._pub: Any = None  # the command connection while the writer task runs
        self._parked = False  # the writer task waits for work
        # -- the loop and the connections --
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake: asyncio.Event | None = None
        self._sub_wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected_event: asyncio.Event | None = None
        self._connected = False
        self._ever_connected = False
        self._connected_since = 0.0  # loop time
        self._closing = False
        self._close_called = False
        self._warned_closed = False
        self._last_sub_data = 0.0
        self._last_error: BaseException | None = None
        self._pools: dict[str, Any] = {}
        self._make_pool("pub")  # a malformed URL fails here, not in the background
        # -- counters --
        self._sent = 0
        self._reconnects = 0
        self.lag = Stat("publish")
        """Publish lag: the seconds from :meth:`publish` to Redis's reply to that PUBLISH (the wait in
        this queue, held while Redis is down included, then the write and the round trip), every
        publish Redis acknowledged; ``rweb.metrics`` takes it (``rweb_broker_publish_lag_seconds``)."""
        self._drop_count = 0

    @staticmethod
    def _new_id() -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def __repr__(self) -> str:
        state = "connected" if self._connected else "disconnected"
        return f"<RedisLink {self.instance_id} {state} {self.safe_url()}>"

    # -- hooks --------------------------------------------------------------------------

    def on(self, event: LinkEvent, fn: Callable[[], None]) -> None:
        """Call ``fn()`` on ``event`` (see the module's docstring), in the order hooks were added."""
        self._hooks.setdefault(event, []).append(fn)

    def on_drop(self, fn: DropListener) -> None:
        """Call ``fn(label, channel, n)`` when ``n`` queued publishes are not sent."""
        self._drop_listeners.append(fn)

    def _fire(self, event: LinkEvent) -> None:
        for fn in tuple(self._hooks.get(event, ())):
            try:
                fn()
            except Exception:
                log.exception("redis broker: a %r hook raised", event)

    def _dropped(self, label: str | None, channel: bytes | None, n: int) -> None:
        self._drop_count += n
        for fn in tuple(self._drop_listeners):
            try:
                fn(label, channel, n)
            except Exception:
                log.exception("redis broker: a drop listener raised")

    # -- state --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether both connections to Redis are up now."""
        return self._connected

    @property
    def connected_since(self) -> float:
        """The loop time at which the current connection was made (meaningful while ``connected``)."""
        return self._connected_since

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the link was started on, or None before :meth:`start`."""
        return self._loop

    @property
    def started(self) -> bool:
        """Whether :meth:`start` ran (and :meth:`close` did not end it)."""
        return self._task is not None

    @property
    def closing(self) -> bool:
        """Whether the link stopped, or is stopping, for good (:meth:`close`)."""
        return self._closing

    @property
    def pending(self) -> int:
        """Publishes queued and not yet written to Redis."""
        return len(self._pending)

    def stats(self) -> dict[str, Any]:
        """``sent`` (publishes Redis acknowledged), ``dropped`` (publishes not sent), ``reconnects``,
        ``pending``, ``connected``, ``subscriptions`` (channels listened to)."""
        return {
            "sent": self._sent,
            "dropped": self._drop_count,
            "reconnects": self._reconnects,
            "pending": len(self._pending),
            "connected": self._connected,
            "subscriptions": len(self._listeners),
        }

    def safe_url(self) -> str:
        """The URL without its password, for logs."""
        if "@" in self.url:
            scheme, rest = self.url.split("://", 1) if "://" in self.url else ("", self.url)
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return self.url

    def check_thread(self, what: str) -> None:
        """Raise ``RuntimeError`` naming ``what`` when called off the link's loop thread (once started)."""
        if not self.on_loop_thread():
            raise RuntimeError(
                f"RedisPubSub.{what} must be called on the broker's event loop thread "
                "(use app.call_soon from other threads)"
            )

    def on_loop_thread(self) -> bool:
        """True before :meth:`start`, and on the link's loop thread after it."""
        return self._loop is None or threading.get_ident() == self._loop_thread

    # -- lifecycle ------------------------------------------------------------------------

    async def start(
        self, loop: asyncio.AbstractEventLoop | None = None, *, wait: float | None = None
    ) -> bool:
        """Start on the running loop (``loop``, if given, must be it); returns whether Redis answered.

        Waits up to ``wait`` seconds (default ``connect_timeout``) for the first
        connection.  If Redis cannot be reached by then, this logs it once and
        keeps trying in the background; publishes are held meanwhile.
        """
        running = asyncio.get_running_loop()
        if loop is not None and loop is not running:
            raise RuntimeError("start the broker from the loop it is to serve")
        if self._task is not None:
            raise RuntimeError("this broker is already started")
        if self._closing:
            raise RuntimeError("this broker is closed")
        if os.getpid() != self._pid:
            # Created before a fork: this process is a different publisher.
            self._pid = os.getpid()
            self.instance_id = self._fixed_id or self._new_id()
            if self._pending:
                log.warning(
                    "redis broker: %d publishes queued before the fork belong to the parent; "
                    "not sent from %s",
                    len(self._pending),
                    self.instance_id,
                )
                self._pending.clear()
        # Client names carry the instance id: made here, after any fork.
        self._pools = {role: self._make_pool(role) for role in ("pub", "sub")}
        self._loop = running
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._sub_wake = asyncio.Event()
        self._connected_event = asyncio.Event()
        if self._pending or self._commands:
            self._wake.set()
        self._task = running.create_task(self._run(), name=f"rweb-redis-broker {self.instance_id}")
        self._fire("started")
        timeout = self.connect_timeout if wait is None else wait
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._connected_event.wait(), timeout)
        if not self._connected:
            log.warning(
                "redis broker: %s not reachable within %.1f s (%s); retrying in the background, "
                "publishes are held (up to %d)",
                self.safe_url(),
                timeout,
                self._last_error or "no answer",
                self.max_pending,
            )
        return self._connected

    async def close(self, timeout: float = 2.0) -> None:
        """Fire ``"closing"``, write what is queued (for up to ``timeout`` s), disconnect.

        What is still queued then is dropped and reported (``"dropped"`` hooks
        with no channel); commands awaiting a reply fail.
        """
        if self._close_called:
            return
        self._close_called = True
        if self._task is not None:
            self._fire("closing")
            if self._connected:
                await self.flush(timeout, subscriptions=False)
        self._closing = True
        self._fire("closed")
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # What could not be sent in time is reported, not silently lost.
        counts: dict[str | None, int] = {}
        for label, _, _, _ in self._pending:
            counts[label] = counts.get(label, 0) + 1
        self._pending.clear()
        for label, n in counts.items():
            self._dropped(label, None, n)
        self._fail_commands(ConnectionError("the broker is closed"), all=True)
        self._connected = False

    async def flush(self, timeout: float = 5.0, *, subscriptions: bool = True) -> bool:
        """Wait until every queued command and publish is written, and (``subscriptions``) every
        channel's subscription confirmed; False if that did not happen within ``timeout`` s."""
        self.check_thread("flush")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            done = (
                self._connected
                and not self._pending
                and not self._commands
                and not self._in_flight
            )
            if done and subscriptions:
                done = set(self._listeners) <= self._confirmed and not self._gap_pending
            if done:
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)

    async def wait_connected(self) -> None:
        """Wait (at most ``connect_timeout``) while Redis is not connected (at start, or after a loss)."""
        event = self._connected_event
        if not self._connected and event is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), self.connect_timeout)

    # -- commands -----------------------------------------------------------------------

    def send(self, build: Build) -> None:
        """Queue a fire-and-forget command, written before queued publishes; ``build()`` makes
        its arguments when it is written.  Held while Redis is down."""
        self._queue_command(_Cmd(build, None))

    def ask(self, build: Build) -> asyncio.Future[Any]:
        """Queue a command whose reply the caller awaits; the future fails at once while
        disconnected (and when the connection is lost before the reply)."""
        assert self._loop is not None, "the link is not started"
        future: asyncio.Future[Any] = self._loop.create_future()
        if not self._connected:
            future.set_exception(ConnectionError("Redis is not connected"))
        else:
            self._queue_command(_Cmd(build, future))
        return future

    async def request(self, *args: Any) -> Any:
        """Send one command and await its reply (bounded by ``io_timeout``).

        Raises ``ConnectionError`` while disconnected, redis-py's ``ResponseError``
        for an error reply, and ``TimeoutError`` past the bound.
        """
        return await asyncio.wait_for(self.ask(lambda: args), self.io_timeout)

    async def requests(self, builds: list[Build]) -> list[Any]:
        """Pipeline several commands; their replies in order (an exception for a failed one), bounded."""
        futures = [self.ask(build) for build in builds]
        return await asyncio.wait_for(
            asyncio.gather(*futures, return_exceptions=True), self.io_timeout
        )

    def publish(self, channel: bytes, payload: bytes, label: str | None = None) -> None:
        """Send ``PUBLISH channel payload`` (never blocks); ``label`` names it in drop reports.

        Written to the socket in this call when the command connection is idle
        (no batch in flight), so that it leaves before the caller goes on;
        otherwise queued for the next batch, in order.  Held while Redis is down, up to ``max_pending``: past it the oldest is
        dropped (the ``"dropped"`` hooks get its label and channel).  After
        :meth:`close` it is dropped at once.
        """
        if self._closing:
            if not self._warned_closed:
                self._warned_closed = True
                log.warning("redis broker: publish after close() is not sent to other processes")
            self._dropped(label, None, 1)
            return
        pending = self._pending
        if len(pending) >= self.max_pending:
            old_label, old_channel, _, _ = pending.popleft()
            self._dropped(old_label, old_channel, 1)
        pending.append((label, channel, payload, now()))
        if self._parked and self._batch is None:
            # The command connection is idle: the publish leaves now, before the
            # caller goes on (to deliver it locally); the writer task reads the reply.
            self._write_batch(self._pub)
        wake = self._wake
        if wake is not None and not wake.is_set():
            wake.set()

    def _queue_command(self, cmd: _Cmd) -> None:
        if len(self._commands) >= self.max_pending:
            # Presence's commands heal with its next heartbeat.
            old = self._commands.popleft()
            if old.future is not None and not old.future.done():
                old.future.set_exception(ConnectionError("too many queued commands"))
        self._commands.append(cmd)
        wake = self._wake
        if wake is not None and not wake.is_set():
            wake.set()

    def _fail_commands(self, exc: BaseException, *, all: bool = False) -> None:
        """Fail the commands awaiting a reply; keep fire-and-forget ones (unless ``all``)."""
        commands, self._commands = self._commands, deque()
        for cmd in commands:
            if cmd.future is None:
                if not all:
                    self._commands.append(cmd)
            elif not cmd.future.done():
                cmd.future.set_exception(exc)

    # -- channels -------------------------------------------------------------------------

    def listen(
        self, channel: bytes, on_message: Callable[[bytes], None], on_gap: Callable[[], None]
    ) -> None:
        """SUBSCRIBE ``channel``: ``on_message(payload)`` for each message, ``on_gap()`` when
        messages may have been missed (once re-subscribed after a loss).  Replaces a listener
        of the same channel."""
        self._listeners[channel] = _Listener(on_message, on_gap)
        if self._ever_connected and not self._connected:
            self._gap_pending.add(channel)
        wake = self._sub_wake
        if wake is not None:
            wake.set()

    def unlisten(self, channel: bytes) -> None:
        """UNSUBSCRIBE ``channel`` (nothing if it was not listened to)."""
        if self._listeners.pop(channel, None) is None:
            return
        self._gap_pending.discard(channel)
        wake = self._sub_wake
        if wake is not None:
            wake.set()

    def listening(self, channel: bytes) -> bool:
        """Whether ``channel`` is listened to."""
        return channel in self._listeners

    # -- internals: the connections -------------------------------------------------------

    def _make_pool(self, role: str) -> Any:
        """Connection settings from the URL (one connection is made from it per attempt)."""
        from redis.asyncio import ConnectionPool
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        pool = ConnectionPool.from_url(
            self.url,
            socket_connect_timeout=self.connect_timeout,
            # The subscription connection waits for messages without a deadline;
            # the keepalive notices a dead one.
            socket_timeout=None if role == "sub" else self.io_timeout,
            retry=Retry(NoBackoff(), 0),
            protocol=2,
            client_name=f"rweb-{role}-{self.instance_id.replace(' ', '_')}"[:120],
        )
        pool.connection_class = _writes_now(pool.connection_class)
        return pool

    def _backoff(self, attempt: int) -> float:
        # Exponential, capped, jittered (half to full delay) so that workers spread out.
        delay = min(self.reconnect_max, self.reconnect_min * 2.0 ** min(attempt, 30))
        return delay * _jitter.uniform(0.5, 1.0)

    async def _run(self) -> None:
        errors = _connection_errors()
        attempt = 0
        down_since: float | None = None
        held_at_outage = 0
        dropped_at_outage = 0
        assert self._loop is not None
        loop = self._loop
        while not self._closing:
            pub = self._pools["pub"].make_connection()
            sub = self._pools["sub"].make_connection()
            try:
                await asyncio.wait_for(pub.connect(), self.connect_timeout)
                await asyncio.wait_for(sub.connect(), self.connect_timeout)
            except Exception as exc:
                await self._disconnect(pub, sub)
                self._last_error = exc
                if isinstance(exc, errors):
                    log.debug("redis broker: connecting to %s failed: %s", self.safe_url(), exc)
                else:
                    log.exception("redis broker: connecting to %s failed", self.safe_url())
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
                continue
            attempt = 0
            self._subscribed = set()
            self._confirmed = set()
            self._last_sub_data = loop.time()
            if self._ever_connected:
                # Whatever was published meanwhile is gone: say so per channel.
                self._gap_pending = set(self._listeners)
                self._reconnects += 1
            self._connected = True
            self._ever_connected = True
            self._connected_since = loop.time()
            assert self._connected_event is not None and self._wake is not None
            self._connected_event.set()
            self._wake.set()
            if down_since is not None:
                log.warning(
                    "redis broker: reconnected to %s after %.1f s; %d held publishes to send, "
                    "%d dropped during the outage; %d subscriptions to restore",
                    self.safe_url(),
                    time.monotonic() - down_since,
                    len(self._pending),
                    self._drop_count - dropped_at_outage,
                    len(self._listeners),
                )
                down_since = None
            elif self._reconnects == 0:
                log.info("redis broker: connected to %s as %s", self.safe_url(), self.instance_id)
            self._fire("connected")
            tasks = [
                loop.create_task(self._reader(sub)),
                loop.create_task(self._writer(pub)),
                loop.create_task(self._subscriptions(sub)),
            ]
            reason: BaseException | None = None
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    if not t.cancelled() and t.exception() is not None:
                        reason = t.exception()
                        break
            finally:
                self._connected = False
                self._connected_event.clear()
                for t in tasks:
                    t.cancel()
                for t in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await t
                await self._disconnect(pub, sub)
                # Replies to commands will not come: presence retries on its next beat.
                self._fail_commands(ConnectionError("the connection to Redis was lost"))
            if self._closing:
                break
            if reason is not None and not isinstance(reason, errors):
                log.error("redis broker: internal error, reconnecting", exc_info=reason)
            down_since = time.monotonic()
            held_at_outage = len(self._pending)
            dropped_at_outage = self._drop_count
            log.warning(
                "redis broker: lost the connection to %s (%s); reconnecting. Publishes are held "
                "(%d now, up to %d); subscribers will get on_gap once re-subscribed",
                self.safe_url(),
                reason or "closed",
                held_at_outage,
                self.max_pending,
            )
            await asyncio.sleep(self._backoff(0))

    @staticmethod
    async def _disconnect(*conns: Any) -> None:
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=True)

    async def _reader(self, conn: Any) -> None:
        from redis.exceptions import ResponseError

        assert self._loop is not None
        loop = self._loop
        listeners = self._listeners
        while True:
            reply = await conn.read_response()
            self._last_sub_data = loop.time()
            if isinstance(reply, ResponseError):
                raise reply
            if not isinstance(reply, list) or not reply:
                continue
            kind = reply[0]
            if kind == b"message":
                listener = listeners.get(reply[1])
                if listener is not None:
                    listener.on_message(reply[2])
            elif kind == b"subscribe":
                name = reply[1]
                if name in self._subscribed:
                    self._confirmed.add(name)
                    if name in self._gap_pending:
                        self._gap_pending.discard(name)
                        listener = listeners.get(name)
                        if listener is not None:
                            listener.on_gap()
            elif kind == b"unsubscribe":
                self._confirmed.discard(reply[1])

    async def _subscriptions(self, conn: Any) -> None:
        """Keep the connection's SUBSCRIBEs equal to the channels wanted; PING when quiet."""
        assert self._loop is not None and self._sub_wake is not None
        loop = self._loop
        wake = self._sub_wake
        pinged_at: float | None = None
        while True:
            wake.clear()
            wanted = self._listeners
            add = [c for c in wanted if c not in self._subscribed]
            remove = [c for c in self._subscribed if c not in wanted]
            if remove:
                self._subscribed.difference_update(remove)
                await conn.send_command("UNSUBSCRIBE", *remove, check_health=False)
            if add:
                self._subscribed.update(add)
                await conn.send_command("SUBSCRIBE", *add, check_health=False)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), min(self.keepalive, self.io_timeout) / 2)
            now = loop.time()
            quiet = now - self._last_sub_data
            if pinged_at is not None and self._last_sub_data >= pinged_at:
                pinged_at = None
            if pinged_at is not None and now - pinged_at > self.io_timeout:
                raise ConnectionError(f"Redis did not answer a PING within {self.io_timeout} s")
            if pinged_at is None and quiet >= self.keepalive:
                pinged_at = now
                await conn.send_command("PING", check_health=False)

    def _write_batch(self, conn: Any) -> bool:
        """Take up to ``batch_size`` queued commands, then publishes, and hand them to the socket now.

        Called by the writer task, and by :meth:`publish` when the command
        connection is idle (so that a publish leaves before whatever its caller
        does next: the local fan-out).  The batch is recorded as in flight even
        if the write failed: the writer task then treats the connection as lost
        and queues the publishes again.  False: nothing to write.
        """
        commands, pending = self._commands, self._pending
        batch_size = self.batch_size
        cmds: list[_Cmd] = []
        args: list[tuple[Any, ...]] = []
        while commands and len(args) < batch_size:
            cmd = commands.popleft()
            built = cmd.build()
            if built is None:
                if cmd.future is not None and not cmd.future.done():
                    cmd.future.set_result(None)
                continue
            cmds.append(cmd)
            args.append(built)
        n_pub = min(len(pending), batch_size - len(args))
        pubs = [pending.popleft() for _ in range(n_pub)]
        args.extend(("PUBLISH", channel, payload) for _, channel, payload, _ in pubs)
        if not args:
            return False
        self._in_flight = len(args)
        written = conn.write_now(conn.pack_commands(args))
        self._batch = _Batch(cmds, pubs, written)
        return True

    async def _writer(self, conn: Any) -> None:
        from redis.exceptions import ResponseError

        assert self._wake is not None
        wake = self._wake
        pending = self._pending
        commands = self._commands
        self._pub = conn
        try:
            while True:
                batch = self._batch
                if batch is None:
                    if not pending and not commands:
                        self._fire("idle")  # a layer may queue more (the topics' gap markers)
                        if pending or commands:
                            continue
                        wake.clear()
                        self._parked = True
                        try:
                            await wake.wait()
                        finally:
                            self._parked = False
                        continue
                    if not self._write_batch(conn):
                        continue
                    batch = self._batch
                    assert batch is not None
                answered = 0  # publishes Redis has acknowledged
                try:
                    if not batch.written:
                        raise ConnectionError("the connection to Redis is closed")
                    await asyncio.wait_for(conn.drain_written(), self.io_timeout)
                    for cmd in batch.cmds:
                        try:
                            result: Any = await conn.read_response()
                        except ResponseError as exc:
                            result = exc
                        future = cmd.future
                        if future is not None and not future.done():
                            if isinstance(result, Exception):
                                future.set_exception(result)
                            else:
                                future.set_result(result)
                    lag = self.lag
                    for pub in batch.pubs:
                        with contextlib.suppress(ResponseError):
                            await conn.read_response()
                        answered += 1
                        self._sent += 1
                        lag.time(now() - pub[3])
                except BaseException:
                    # Unacknowledged publishes go back to the head of the queue (sent
                    # again after reconnecting); unanswered commands fail.
                    pending.extendleft(reversed(batch.pubs[answered:]))
                    while len(pending) > self.max_pending:
                        label, channel, _, _ = pending.popleft()
                        self._dropped(label, channel, 1)
                    for cmd in batch.cmds:
                        if cmd.future is not None and not cmd.future.done():
                            cmd.future.set_exception(
                                ConnectionError("the connection to Redis was lost")
                            )
                    raise
                finally:
                    self._batch = None
                    self._in_flight = 0
        finally:
            self._pub = None
