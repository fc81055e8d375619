"""Topics across processes and machines, through a Redis server.

:class:`RedisPubSub` implements :class:`rweb.pubsub.PubSub` (``subscribe``,
``publish``, ``subscribers``) over Redis pub/sub, with redis-py's asyncio
connection (``pip install 'rweb[redis]'``; ``benchmarks/redis_client.py``
measured it against coredis).  Every process (worker, server instance, or a
plain script) that uses the same Redis and the same ``channel_prefix`` sees the
same topics.  :attr:`RedisPubSub.presence` adds presence per topic
(:mod:`rweb.presence`).

How it works
------------

* ``publish(topic, message)`` never blocks and never awaits: it encodes the
  message (orjson; messages are JSON values), delivers it at once, in this
  call, to the topic's subscribers in this process (as
  :class:`~rweb.pubsub.LocalPubSub` does), and queues it for a writer task
  that pipelines queued publishes to Redis in batches.  The copy sent through
  Redis is tagged with this process's instance id, and the process ignores its
  own echo, so a local subscriber gets each message exactly once.
* Two connections: one for publishing (and presence's commands), one for
  subscriptions.  A Redis channel (``<prefix>t:<topic>``) is SUBSCRIBEd when a
  topic gets its first subscriber in this process and UNSUBSCRIBEd when its
  last one leaves.
* Messages from other processes are delivered on the event loop the broker was
  started on (:meth:`RedisPubSub.start`), by the task reading the subscription
  connection; callbacks never run on another thread.

Threads
-------

``publish`` may be called from any thread: off the loop's thread it encodes
the message in the caller (so a value that is not JSON raises there) and hands
it to the loop with ``call_soon_threadsafe``; local subscribers then get it on
the loop, soon after.  ``subscribe``, the unsubscribe functions, ``flush`` and
presence must be called on the loop's thread once the broker is started
(before :meth:`start`, during set-up, any single thread will do); elsewhere
they raise ``RuntimeError``.  ``stats()`` and ``connected`` may be read from
any thread.

Delivery guarantees
-------------------

* **Same process**: every message reaches every local subscriber of its topic
  synchronously, exactly once, in publish order.
* **Other processes, while connected**: Redis pub/sub is at-most-once.  A
  message reaches every process whose subscription to the topic Redis has
  confirmed when the message reaches Redis; messages from one process arrive
  everywhere in the order that process published them (one connection, one
  queue).  A subscription takes effect when Redis confirms it (one round trip
  after ``subscribe``; :meth:`RedisPubSub.flush` waits for it): messages
  published elsewhere before that are not delivered.
* **This process cannot reach Redis**: its publishes are held in a queue of at
  most ``max_pending`` messages and sent, in order, after it reconnects.  Past
  the bound the *oldest* held messages are dropped, and every drop is
  reported: a log line with the count, the ``on_drop(topic, count)`` hook,
  ``stats()["dropped"]``, and a gap marker sent on the topic's channel once
  reconnected, so that other processes' subscribers get ``on_gap(topic)``.
  The batch being written when the connection broke is sent again after
  reconnecting: if Redis had in fact processed it, those messages arrive
  twice (at-least-once for that batch only).
* **Messages other processes published while this one was disconnected** are
  lost (Redis keeps no backlog for pub/sub).  They are never silently lost:
  once reconnected and re-subscribed, every subscribed topic gets
  ``on_gap(topic)`` (the subscriber's own ``on_gap=`` and the broker-wide
  ``on_gap`` hook), after Redis has confirmed the new subscription, so a
  subscriber that resyncs then (re-reads shared state) misses nothing.  A
  topic subscribed while disconnected also gets ``on_gap`` when its
  subscription is confirmed.
* A Redis outage is logged once when it starts and once when it ends (how
  long, how many publishes were held, how many dropped), not per message.
  Reconnection uses jittered exponential backoff between ``reconnect_min``
  and ``reconnect_max`` seconds.  A connection that stops answering (no reply
  to a PING within ``io_timeout`` after ``keepalive`` seconds of silence) is
  treated as lost.
* :meth:`RedisPubSub.close` waits (bounded) for the queue to drain; what is
  still queued then is counted and reported as dropped.

Wire format: a Redis message is the JSON array ``[origin, message]``; a gap
marker is ``[origin, count, "gap"]``.  Another program may publish to a topic
with ``PUBLISH <prefix>t:<topic> '["anything", <json>]'``.
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
from typing import TYPE_CHECKING, Any

import orjson

from .pubsub import Subscriber

if TYPE_CHECKING:
    from .presence import RedisPresence

__all__ = ["GapHook", "RedisPubSub"]

log = logging.getLogger("rweb.broker_redis")

GapHook = Callable[[str], Any]
DropHook = Callable[[str, int], Any]

_GAP = b'"gap"'
# A snapshot's claim (RedisPubSub.take): its length first; one over the limit is deleted unread
# (its length is the answer), the others are got and deleted in one step (GETDEL).
_TAKE = """
local n = redis.call('STRLEN', KEYS[1])
if n > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return n
end
return redis.call('GETDEL', KEYS[1])
"""


def _connection_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    return (RedisError, OSError, asyncio.TimeoutError, EOFError)


class _Sub:
    __slots__ = ("callback", "on_gap")

    def __init__(self, callback: Subscriber, on_gap: GapHook | None) -> None:
        self.callback = callback
        self.on_gap = on_gap


class _Channel:
    """One Redis channel this process wants: a topic's, or a presence topic's."""

    __slots__ = ("gap", "name", "sink", "subs", "topic")

    def __init__(
        self,
        name: bytes,
        topic: str,
        sink: Callable[[str, Any], None] | None = None,
        gap: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.topic = topic
        self.subs: list[_Sub] = []
        # Presence channels hand their events to the presence service instead.
        self.sink = sink
        self.gap = gap


class _Cmd:
    """A command for the publishing connection; ``build`` makes its arguments at send time."""

    __slots__ = ("build", "future")

    def __init__(
        self,
        build: Callable[[], tuple[Any, ...] | None],
        future: asyncio.Future[Any] | None,
    ) -> None:
        self.build = build
        self.future = future


# A queued publish: (topic for drop reports or None, channel, payload).
_Pending = tuple[str | None, bytes, bytes]


class RedisPubSub:
    """A :class:`~rweb.pubsub.PubSub` through Redis; see the module's docstring for the guarantees.

    ``url``: ``redis://[user:password@]host:port/db``, ``rediss://...`` or
    ``unix://...``.  Hooks: ``on_drop(topic, count)`` when held publishes had
    to be dropped, ``on_gap(topic)`` when this process may have missed messages
    of a subscribed topic.  ``presence_heartbeat`` / ``presence_timeout``:
    see :class:`rweb.presence.RedisPresence`.
    """

    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = "rweb:",
        max_pending: int = 10_000,
        batch_size: int = 512,
        on_drop: DropHook | None = None,
        on_gap: GapHook | None = None,
        reconnect_min: float = 0.05,
        reconnect_max: float = 5.0,
        connect_timeout: float = 5.0,
        io_timeout: float = 5.0,
        keepalive: float = 10.0,
        presence_heartbeat: float = 5.0,
        presence_timeout: float = 15.0,
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
        self.channel_prefix = channel_prefix
        self.max_pending = max_pending
        self.batch_size = batch_size
        self.on_drop = on_drop
        self.on_gap = on_gap
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.connect_timeout = connect_timeout
        self.io_timeout = io_timeout
        self.keepalive = keepalive
        self.presence_heartbeat = presence_heartbeat
        self.presence_timeout = presence_timeout
        self._fixed_id = instance_id
        self._pid = os.getpid()
        self.instance_id = instance_id or self._new_id()
        self._origin = orjson.dumps(self.instance_id)
        self._topic_prefix = channel_prefix + "t:"
        # -- subscriptions (desired, per channel) --
        self._topics: dict[str, _Channel] = {}
        self._channels: dict[bytes, _Channel] = {}
        self._subscribed: set[bytes] = set()  # SUBSCRIBE sent on the current connection
        self._confirmed: set[bytes] = set()  # ... and confirmed by Redis
        self._gap_pending: set[bytes] = set()  # on_gap due once confirmed
        # -- the publishing side --
        self._pending: deque[_Pending] = deque()
        self._commands: deque[_Cmd] = deque()
        self._in_flight = 0
        self._gap_markers: dict[bytes, int] = {}  # channel -> messages dropped, to announce
        self._drops_to_report: dict[str, int] = {}
        self._drop_report: asyncio.TimerHandle | None = None
        self._last_drop_report = 0.0
        # -- the loop and the connection --
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
        self._presence: RedisPresence | None = None
        self._last_error: BaseException | None = None
        self._pools: dict[str, Any] = {}
        self._make_pool("pub")  # a malformed URL fails here, not in the background
        # -- counters --
        self._published = 0
        self._sent = 0
        self._received = 0
        self._delivered = 0
        self._dropped = 0
        self._reconnects = 0
        self._gaps = 0

    @staticmethod
    def _new_id() -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def __repr__(self) -> str:
        state = "connected" if self._connected else "disconnected"
        return f"<RedisPubSub {self.instance_id} {state} prefix={self.channel_prefix!r}>"

    # -- the PubSub interface -------------------------------------------------------

    def subscribe(
        self, topic: str, callback: Subscriber, *, on_gap: GapHook | None = None
    ) -> Callable[[], None]:
        """Call ``callback(topic, message)`` for each message on ``topic``; returns an unsubscribe function.

        ``on_gap(topic)`` is called when messages of this topic may have been
        missed (after a reconnection, or when a publisher had to drop some).
        """
        self._check_thread("subscribe")
        chan = self._topics.get(topic)
        if chan is None:
            name = (self._topic_prefix + topic).encode()
            chan = _Channel(name, topic)
            self._topics[topic] = chan
            self._want(chan)
        sub = _Sub(callback, on_gap)
        chan.subs.append(sub)

        def unsubscribe() -> None:
            self._check_thread("unsubscribe")
            current = self._topics.get(topic)
            if current is None:
                return
            try:
                current.subs.remove(sub)
            except ValueError:
                return
            if not current.subs:
                del self._topics[topic]
                self._unwant(current)

        return unsubscribe

    def publish(self, topic: str, message: Any) -> None:
        """Deliver ``message`` to the topic's subscribers here at once, and to other processes through Redis.

        Never blocks.  From a thread other than the loop's it is marshalled
        to the loop.  Raises ``TypeError`` for a value that is not JSON.
        """
        data = orjson.dumps(message)
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            loop.call_soon_threadsafe(self._publish, topic, data)
            return
        self._publish(topic, data)

    def subscribers(self, topic: str) -> int:
        """How many subscribers ``topic`` has in this process."""
        chan = self._topics.get(topic)
        return len(chan.subs) if chan is not None else 0

    # -- lifecycle --------------------------------------------------------------------

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
            self._origin = orjson.dumps(self.instance_id)
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
        if self._drops_to_report:
            self._schedule_drop_report()
        if self._presence is not None:
            self._presence._broker_started()
        timeout = self.connect_timeout if wait is None else wait
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._connected_event.wait(), timeout)
        if not self._connected:
            log.warning(
                "redis broker: %s not reachable within %.1f s (%s); retrying in the background, "
                "publishes are held (up to %d)",
                self._safe_url(),
                timeout,
                self._last_error or "no answer",
                self.max_pending,
            )
        return self._connected

    async def close(self, timeout: float = 2.0) -> None:
        """Leave presence, send what is queued (for up to ``timeout`` s), disconnect."""
        if self._close_called:
            return
        self._close_called = True
        if self._presence is not None and self._task is not None:
            self._presence._broker_closing()
        if self._task is not None and self._connected:
            await self.flush(timeout, subscriptions=False)
        self._closing = True
        if self._presence is not None:
            self._presence._broker_closed()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # What could not be sent in time is reported, not silently lost.
        counts: dict[str, int] = {}
        for topic, _, _ in self._pending:
            counts[topic or "(presence)"] = counts.get(topic or "(presence)", 0) + 1
        self._pending.clear()
        for topic, n in counts.items():
            self._count_drop(topic, n)
        self._fail_commands(ConnectionError("the broker is closed"), all=True)
        if self._drop_report is not None:
            self._drop_report.cancel()
            self._drop_report = None
        if self._drops_to_report:
            self._report_drops()
        self._connected = False

    async def flush(self, timeout: float = 5.0, *, subscriptions: bool = True) -> bool:
        """Wait until every queued publish is written to Redis and every subscription is confirmed.

        Returns False if that did not happen within ``timeout`` seconds (for
        instance while Redis is down).  For tests and orderly shutdowns: the
        click path never needs it.
        """
        self._check_thread("flush")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            done = (
                self._connected
                and not self._pending
                and not self._commands
                and not self._in_flight
                and not self._gap_markers
            )
            if done and subscriptions:
                done = set(self._channels) <= self._confirmed and not self._gap_pending
            if done:
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)

    # -- a key-value store for session snapshots (rweb.snapshot.SnapshotStore) -----------

    def store(self, key: str, data: bytes, ttl: float) -> None:
        """``SET key data PX ttl``, queued like a publish (never blocks; held while Redis is down)."""
        name = self.channel_prefix + key
        ms = max(int(ttl * 1000), 1)
        self._send(lambda: ("SET", name, data, "PX", ms))

    def forget(self, key: str) -> None:
        name = self.channel_prefix + key
        self._send(lambda: ("DEL", name))

    async def take(self, key: str, limit: int) -> bytes | None:
        """The value of ``key``, deleted: nobody else gets it (one script: ``STRLEN``, then ``GETDEL``).

        A value longer than ``limit`` bytes is deleted without being read:
        raises :class:`rweb.snapshot.TooLarge`.  Waits (bounded) for a first connection.
        """
        from .snapshot import TooLarge

        await self._first_connection()
        result = await self._request(
            "EVAL",  # pragma: no mutate (Redis reads command names in any case: "eval" is the same)
            _TAKE, 1, self.channel_prefix + key, limit,
        )
        if type(result) is int:
            raise TooLarge(result)
        return bytes(result) if result is not None else None

    async def claim(self, key: str, ttl: float) -> bool:
        """``SET key 1 NX PX ttl``: True for the first claim of ``key`` within ``ttl`` seconds,
        across every process that uses this Redis (single-use tokens).  Raises when Redis
        cannot answer (the caller refuses then: a replay is never accepted by default)."""
        ms = max(int(ttl * 1000), 1)
        await self._first_connection()
        return await self._request("SET", self.channel_prefix + key, b"1", "NX", "PX", ms) is not None

    async def _first_connection(self) -> None:
        """Wait (at most ``connect_timeout``) while Redis is not connected (at start, or after a loss)."""
        event = self._connected_event
        if not self._connected and event is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), self.connect_timeout)

    async def sync(self, timeout: float) -> bool:
        """Wait until every queued command and publish is written (False: not within ``timeout``)."""
        return await self.flush(timeout, subscriptions=False)

    @property
    def connected(self) -> bool:
        """Whether both connections to Redis are up now."""
        return self._connected

    @property
    def presence(self) -> RedisPresence:
        """Presence per topic through this broker's Redis (:class:`rweb.presence.RedisPresence`)."""
        if self._presence is None:
            from .presence import RedisPresence

            self._presence = RedisPresence(
                self, heartbeat=self.presence_heartbeat, timeout=self.presence_timeout
            )
            if self._task is not None:
                self._presence._broker_started()
        return self._presence

    def stats(self) -> dict[str, Any]:
        """Counters since creation, and the current state."""
        return {
            "published": self._published,  # publish() calls (local delivery included)
            "sent": self._sent,  # messages written to Redis (gap markers and presence events too)
            "received": self._received,  # messages from other processes
            "delivered": self._delivered,  # subscriber calls, local and remote
            "dropped": self._dropped,  # held publishes dropped (queue full, or closed)
            "reconnects": self._reconnects,
            "gaps": self._gaps,  # on_gap notifications (per topic)
            "pending": len(self._pending),  # queued publishes not yet written
            "connected": self._connected,
            "subscriptions": len(self._channels),
        }

    # -- internals: publishing ----------------------------------------------------------

    def _check_thread(self, what: str) -> None:
        if self._loop is not None and threading.get_ident() != self._loop_thread:
            raise RuntimeError(
                f"RedisPubSub.{what} must be called on the broker's event loop thread "
                "(use app.call_soon from other threads)"
            )

    def _publish(self, topic: str, data: bytes) -> None:
        self._published += 1
        chan = self._topics.get(topic)
        if chan is not None:
            # Local subscribers get what other processes get: the decoded JSON value.
            self._deliver(chan, orjson.loads(data))
        name = chan.name if chan is not None else (self._topic_prefix + topic).encode()
        self._enqueue(topic, name, b"[" + self._origin + b"," + data + b"]")

    def _publish_raw(self, channel: bytes, data: bytes) -> None:
        """Queue an internal event (presence) for other processes; no local delivery."""
        self._enqueue(None, channel, b"[" + self._origin + b"," + data + b"]")

    def _enqueue(self, topic: str | None, channel: bytes, payload: bytes) -> None:
        if self._closing:
            # Published after close(): local subscribers had it; other processes will not.
            if not self._warned_closed:
                self._warned_closed = True
                log.warning("redis broker: publish after close() is not sent to other processes")
            self._count_drop(topic or "(presence)", 1)
            return
        pending = self._pending
        if len(pending) >= self.max_pending:
            old_topic, old_channel, _ = pending.popleft()
            self._note_drop(old_topic, old_channel)
        pending.append((topic, channel, payload))
        wake = self._wake
        if wake is not None and not wake.is_set():
            wake.set()

    def _send(self, build: Callable[[], tuple[Any, ...] | None]) -> None:
        """Queue a fire-and-forget command (before queued publishes); ``build()`` runs at send time."""
        self._queue_command(_Cmd(build, None))

    def _ask(self, build: Callable[[], tuple[Any, ...] | None]) -> asyncio.Future[Any]:
        """Queue a command whose reply the caller awaits; fails at once while disconnected."""
        assert self._loop is not None
        future: asyncio.Future[Any] = self._loop.create_future()
        if not self._connected:
            future.set_exception(ConnectionError("Redis is not connected"))
        else:
            self._queue_command(_Cmd(build, future))
        return future

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

    async def _request(self, *args: Any) -> Any:
        """Send one command and await its reply (bounded by ``io_timeout``)."""
        return await asyncio.wait_for(self._ask(lambda: args), self.io_timeout)

    async def _requests(self, builds: list[Callable[[], tuple[Any, ...] | None]]) -> list[Any]:
        """Pipeline several commands; their replies (an exception for a failed one), bounded."""
        futures = [self._ask(build) for build in builds]
        return await asyncio.wait_for(
            asyncio.gather(*futures, return_exceptions=True), self.io_timeout
        )

    def _note_drop(self, topic: str | None, channel: bytes) -> None:
        self._gap_markers[channel] = self._gap_markers.get(channel, 0) + 1
        self._count_drop(topic or "(presence)", 1)

    def _count_drop(self, label: str, n: int) -> None:
        self._dropped += n
        self._drops_to_report[label] = self._drops_to_report.get(label, 0) + n
        if self._loop is not None and not self._closing:
            self._schedule_drop_report()

    def _schedule_drop_report(self) -> None:
        if self._drop_report is not None or self._loop is None:
            return
        # At most one report a second: a burst of drops makes one line.
        delay = max(0.0, self._last_drop_report + 1.0 - self._loop.time())
        self._drop_report = self._loop.call_later(delay, self._report_drops)

    def _report_drops(self) -> None:
        self._drop_report = None
        drops, self._drops_to_report = self._drops_to_report, {}
        if not drops:
            return
        if self._loop is not None:
            self._last_drop_report = self._loop.time()
        total = sum(drops.values())
        detail = ", ".join(f"{t}: {n}" for t, n in sorted(drops.items()))
        log.warning(
            "redis broker: dropped %d publishes that could not be sent (queue bound %d; %s)",
            total,
            self.max_pending,
            detail,
        )
        hook = self.on_drop
        if hook is not None:
            for topic, n in drops.items():
                if topic == "(presence)":
                    continue
                try:
                    hook(topic, n)
                except Exception:
                    log.exception("redis broker: the on_drop hook raised")

    def _fail_commands(self, exc: BaseException, *, all: bool = False) -> None:
        """Fail the commands awaiting a reply; keep fire-and-forget ones (unless ``all``)."""
        commands, self._commands = self._commands, deque()
        for cmd in commands:
            if cmd.future is None:
                if not all:
                    self._commands.append(cmd)
            elif not cmd.future.done():
                cmd.future.set_exception(exc)

    # -- internals: delivery ------------------------------------------------------------

    def _deliver(self, chan: _Channel, message: Any) -> None:
        topic = chan.topic
        subs = tuple(chan.subs)  # a callback may unsubscribe itself
        for sub in subs:
            try:
                sub.callback(topic, message)
            except Exception:
                log.exception("a subscriber of %r raised", topic)
        self._delivered += len(subs)

    def _gap(self, chan: _Channel) -> None:
        self._gaps += 1
        topic = chan.topic
        if chan.gap is not None:
            try:
                chan.gap(topic)
            except Exception:
                log.exception("redis broker: presence resync of %r raised", topic)
            return
        for sub in tuple(chan.subs):
            if sub.on_gap is not None:
                try:
                    sub.on_gap(topic)
                except Exception:
                    log.exception("an on_gap handler of %r raised", topic)
        hook = self.on_gap
        if hook is not None:
            try:
                hook(topic)
            except Exception:
                log.exception("redis broker: the on_gap hook raised")

    def _want(self, chan: _Channel) -> None:
        self._channels[chan.name] = chan
        if self._ever_connected and not self._connected:
            self._gap_pending.add(chan.name)
        wake = self._sub_wake
        if wake is not None:
            wake.set()

    def _unwant(self, chan: _Channel) -> None:
        self._channels.pop(chan.name, None)
        self._gap_pending.discard(chan.name)
        wake = self._sub_wake
        if wake is not None:
            wake.set()

    def _watch_channel(
        self, name: bytes, topic: str, sink: Callable[[str, Any], None], gap: Callable[[str], None]
    ) -> None:
        """Subscribe an internal channel (presence) whose events go to ``sink(topic, event)``."""
        if name not in self._channels:
            self._want(_Channel(name, topic, sink, gap))

    def _unwatch_channel(self, name: bytes) -> None:
        chan = self._channels.get(name)
        if chan is not None:
            self._unwant(chan)

    def _on_redis_message(self, channel: bytes, payload: bytes) -> None:
        chan = self._channels.get(channel)
        if chan is None:
            return
        try:
            envelope = orjson.loads(payload)
            origin = envelope[0]
        except (orjson.JSONDecodeError, TypeError, IndexError, KeyError):
            log.warning("redis broker: ignored a malformed message on %r", channel)
            return
        if origin == self.instance_id:
            return  # our own echo: local subscribers already have it
        self._received += 1
        if len(envelope) == 3 and envelope[2] == "gap":
            self._gap(chan)
            return
        if len(envelope) != 2:
            log.warning("redis broker: ignored a malformed message on %r", channel)
            return
        if chan.sink is not None:
            try:
                chan.sink(chan.topic, envelope[1])
            except Exception:
                log.exception("redis broker: a presence event on %r raised", chan.topic)
            return
        self._deliver(chan, envelope[1])

    # -- internals: the connection -----------------------------------------------------

    def _safe_url(self) -> str:
        if "@" in self.url:
            scheme, rest = self.url.split("://", 1) if "://" in self.url else ("", self.url)
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return self.url

    def _make_pool(self, role: str) -> Any:
        """Connection settings from the URL (one connection is made from it per attempt)."""
        from redis.asyncio import ConnectionPool
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        return ConnectionPool.from_url(
            self.url,
            socket_connect_timeout=self.connect_timeout,
            # The subscription connection waits for messages without a deadline;
            # the keepalive notices a dead one.
            socket_timeout=None if role == "sub" else self.io_timeout,
            retry=Retry(NoBackoff(), 0),
            protocol=2,
            client_name=f"rweb-{role}-{self.instance_id.replace(' ', '_')}"[:120],
        )

    def _backoff(self, attempt: int) -> float:
        # Exponential, capped, jittered (half to full delay) so that workers spread out.
        delay = min(self.reconnect_max, self.reconnect_min * 2.0 ** min(attempt, 30))
        return delay * random.uniform(0.5, 1.0)

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
                    log.debug("redis broker: connecting to %s failed: %s", self._safe_url(), exc)
                else:
                    log.exception("redis broker: connecting to %s failed", self._safe_url())
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
                continue
            attempt = 0
            self._subscribed = set()
            self._confirmed = set()
            self._last_sub_data = loop.time()
            if self._ever_connected:
                # Whatever other processes published meanwhile is gone: say so per topic.
                self._gap_pending = set(self._channels)
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
                    self._safe_url(),
                    time.monotonic() - down_since,
                    len(self._pending),
                    self._dropped - dropped_at_outage,
                    len(self._channels),
                )
                down_since = None
            elif self._reconnects == 0:
                log.info("redis broker: connected to %s as %s", self._safe_url(), self.instance_id)
            if self._presence is not None:
                self._presence._broker_connected()
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
            dropped_at_outage = self._dropped
            log.warning(
                "redis broker: lost the connection to %s (%s); reconnecting. Publishes are held "
                "(%d now, up to %d); subscribers will get on_gap once re-subscribed",
                self._safe_url(),
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
        on_message = self._on_redis_message
        while True:
            reply = await conn.read_response()
            self._last_sub_data = loop.time()
            if isinstance(reply, ResponseError):
                raise reply
            if not isinstance(reply, list) or not reply:
                continue
            kind = reply[0]
            if kind == b"message":
                on_message(reply[1], reply[2])
            elif kind == b"subscribe":
                name = reply[1]
                if name in self._subscribed:
                    self._confirmed.add(name)
                    if name in self._gap_pending:
                        self._gap_pending.discard(name)
                        chan = self._channels.get(name)
                        if chan is not None:
                            self._gap(chan)
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
            wanted = self._channels.keys()
            add = [c for c in wanted if c not in self._subscribed]
            remove = [c for c in self._subscribed if c not in self._channels]
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

    async def _writer(self, conn: Any) -> None:
        from redis.exceptions import ResponseError

        assert self._wake is not None
        wake = self._wake
        pending = self._pending
        commands = self._commands
        batch_size = self.batch_size
        while True:
            if not pending and not commands:
                if self._gap_markers:
                    # Held publishes are out: tell other processes what had to be dropped.
                    markers, self._gap_markers = self._gap_markers, {}
                    for channel, n in markers.items():
                        pending.append(
                            (
                                None,
                                channel,
                                b"[" + self._origin + b"," + str(n).encode() + b"," + _GAP + b"]",
                            )
                        )
                    continue
                wake.clear()
                await wake.wait()
                continue
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
            args.extend(("PUBLISH", channel, payload) for _, channel, payload in pubs)
            if not args:
                continue
            self._in_flight = len(args)
            answered = 0  # publishes Redis has acknowledged
            try:
                await conn.send_packed_command(conn.pack_commands(args), check_health=False)
                for cmd in cmds:
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
                for _ in pubs:
                    with contextlib.suppress(ResponseError):
                        await conn.read_response()
                    answered += 1
                    self._sent += 1
            except BaseException:
                # Unacknowledged publishes go back to the head of the queue (sent
                # again after reconnecting); unanswered commands fail.
                pending.extendleft(reversed(pubs[answered:]))
                while len(pending) > self.max_pending:
                    t, ch, _ = pending.popleft()
                    self._note_drop(t, ch)
                for cmd in cmds:
                    if cmd.future is not None and not cmd.future.done():
                        cmd.future.set_exception(
                            ConnectionError("the connection to Redis was lost")
                        )
                raise
            finally:
                self._in_flight = 0
