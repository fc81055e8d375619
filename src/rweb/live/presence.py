"""Presence per topic: who is here, and who joins and leaves.

A member is a ``key`` (a string, unique per tracker: say a session's id,
with the user in ``meta``) with a JSON ``meta`` value, tracked on a ``topic``::

    presence = presence_for(app.pubsub)
    presence.track("room:1", "session-17", {"user": "ada"})
    presence.list("room:1")           # {"session-17": {"user": "ada"}, ...}
    stop = presence.subscribe("room:1", on_join=joined, on_leave=left)
    presence.untrack("room:1", "session-17")   # a closed tab leaves at once

``on_join(topic, key, meta)`` is called when a member appears (and when a
tracked member's meta changes), ``on_leave(topic, key, meta)`` when it goes.
Both are called on the broker's event loop, once per change, in this process.

Two implementations behind the :class:`Presence` interface:

* :class:`LocalPresence`, for :class:`~rweb.pubsub.LocalPubSub`: one process,
  synchronous.
* :class:`RedisPresence`, for :class:`~rweb.broker_redis.RedisPubSub`
  (``broker.presence``): across processes and machines, on the broker's
  topics (:class:`~rweb.redis_topics.RedisTopics`, for its events) and link
  (:class:`~rweb.redis_link.RedisLink`, for its commands and lifecycle).  Each topic has a Redis
  hash ``<prefix>p:<topic>`` of ``key -> {"m": meta, "e": expiry, "o": owner}``.
  ``track`` / ``untrack`` write it and publish the join / leave on the
  channel ``<prefix>p:<topic>`` at once, so every process watching the topic
  updates its view within a round trip.  Every ``heartbeat`` seconds each
  process refreshes the expiry (now + ``timeout``) of its own members and
  re-reads the hashes of the topics it watches.  A member whose process died
  (SIGKILL, lost machine, no ``untrack``) stops being refreshed: once its expiry
  has passed, the next process to sweep the topic removes it with HDEL and
  publishes the leave; only the process whose HDEL returned 1 publishes, so
  two sweepers report a member's leave once.  Each process's view also drops
  an expired member by itself, and fires ``on_leave`` once per member
  whichever way the leave reached it.

  Timing: a dead process's members leave within ``timeout`` + ``heartbeat``
  (defaults 15 s + 5 s).  A process sweeps only after it has been connected
  to Redis for ``timeout`` seconds, so that after an outage every live process
  has had time to reconnect and refresh its members before anyone is judged
  dead (a Redis restart does not make everyone leave and rejoin).  Expiries
  are wall-clock times: the machines' clocks must agree to well within
  ``timeout``.  A process whose own member was swept (its loop stalled longer
  than ``timeout``) re-adds it at its next heartbeat and publishes a join.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import threading
import time
import weakref
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:
    from ..sessions.redis_topics import RedisTopics
    from ..wire.redis_link import RedisLink

__all__ = ["LocalPresence", "Presence", "PresenceHook", "RedisPresence", "presence_for"]

log = logging.getLogger("rweb.presence")
# The heartbeat's jitter: its own generator, so a background task never moves an app's seeded random.
_jitter = random.Random()

#: ``hook(topic, key, meta)``
PresenceHook = Callable[[str, str, Any], Any]


class Presence(Protocol):
    """What every presence service offers."""

    def track(self, topic: str, key: str, meta: Any = None) -> None:
        """``key`` is present on ``topic`` with ``meta`` (a JSON value) until untracked."""
        ...

    def untrack(self, topic: str, key: str) -> None:
        """``key`` leaves ``topic`` now."""
        ...

    def list(self, topic: str) -> dict[str, Any]:
        """The members of ``topic`` this process knows: ``{key: meta}``."""
        ...

    def subscribe(
        self,
        topic: str,
        on_join: PresenceHook | None = None,
        on_leave: PresenceHook | None = None,
    ) -> Callable[[], None]:
        """Watch ``topic``'s joins and leaves; returns the function that stops watching."""
        ...


class _Member:
    __slots__ = ("expiry", "meta", "own", "updated")

    def __init__(self, meta: Any, expiry: float, updated: float, own: bool) -> None:
        self.meta = meta
        self.expiry = expiry  # wall-clock time; inf for this process's own members
        self.updated = updated  # loop time of the last event that set it
        self.own = own


class _Watcher:
    __slots__ = ("on_join", "on_leave")

    def __init__(self, on_join: PresenceHook | None, on_leave: PresenceHook | None) -> None:
        self.on_join = on_join
        self.on_leave = on_leave


def _json_copy(meta: Any) -> Any:
    """What every process sees of ``meta``: its JSON round trip (raises TypeError for non-JSON)."""
    return orjson.loads(orjson.dumps(meta))


class _Views:
    """Members per topic and the hooks watching them (shared by both implementations)."""

    def __init__(self) -> None:
        self._views: dict[str, dict[str, _Member]] = {}
        self._watchers: dict[str, list[_Watcher]] = {}

    def list(self, topic: str) -> dict[str, Any]:
        view = self._views.get(topic)
        if not view:
            return {}
        return {key: m.meta for key, m in view.items()}

    def subscribe(
        self,
        topic: str,
        on_join: PresenceHook | None = None,
        on_leave: PresenceHook | None = None,
    ) -> Callable[[], None]:
        watcher = _Watcher(on_join, on_leave)
        self._watchers.setdefault(topic, []).append(watcher)
        self._interest_changed(topic)

        def unsubscribe() -> None:
            current = self._watchers.get(topic)
            if current is None:
                return
            try:
                current.remove(watcher)
            except ValueError:
                return
            if not current:
                del self._watchers[topic]
            self._interest_changed(topic)

        return unsubscribe

    def _interest_changed(self, topic: str) -> None:
        pass

    def _upsert(
        self, topic: str, key: str, meta: Any, expiry: float, updated: float, own: bool
    ) -> None:
        view = self._views.setdefault(topic, {})
        old = view.get(key)
        view[key] = _Member(meta, expiry, updated, own)
        if old is None or old.meta != meta:
            self._fire(topic, key, meta, join=True)

    def _remove(self, topic: str, key: str) -> bool:
        view = self._views.get(topic)
        if not view:
            return False
        old = view.pop(key, None)
        if not view:
            del self._views[topic]
        if old is None:
            return False
        self._fire(topic, key, old.meta, join=False)
        return True

    def _fire(self, topic: str, key: str, meta: Any, *, join: bool) -> None:
        for w in tuple(self._watchers.get(topic, ())):
            hook = w.on_join if join else w.on_leave
            if hook is None:
                continue
            try:
                hook(topic, key, meta)
            except Exception:
                log.exception("a presence %s hook of %r raised", "join" if join else "leave", topic)


class LocalPresence(_Views):
    """Presence within one process (for :class:`~rweb.pubsub.LocalPubSub`); hooks run synchronously."""

    def track(self, topic: str, key: str, meta: Any = None) -> None:
        self._upsert(topic, key, _json_copy(meta), math.inf, 0.0, True)

    def untrack(self, topic: str, key: str) -> None:
        self._remove(topic, key)


_local: weakref.WeakKeyDictionary[Any, LocalPresence] = weakref.WeakKeyDictionary()
_local_lock = threading.Lock()


def presence_for(pubsub: Any) -> Presence:
    """The presence service that goes with a broker: ``broker.presence`` if it has one, else in-process."""
    presence = getattr(pubsub, "presence", None)
    if presence is not None:
        return presence  # type: ignore[no-any-return]
    with _local_lock:
        found = _local.get(pubsub)
        if found is None:
            found = _local[pubsub] = LocalPresence()
        return found


class RedisPresence(_Views):
    """Presence on ``topics`` (:class:`~rweb.redis_topics.RedisTopics`) and its link; see the module's docstring.

    Made by ``broker.presence`` (:class:`~rweb.broker_redis.RedisPubSub`).
    ``track`` / ``untrack`` / ``subscribe`` / ``list`` are synchronous and
    never wait on Redis: they update this process's view (and fire its hooks)
    at once and queue the Redis side.  Its heartbeat runs while the link is
    started; the link's close makes its members leave.
    """

    def __init__(
        self, topics: RedisTopics, *, heartbeat: float = 5.0, timeout: float = 15.0
    ) -> None:
        super().__init__()
        if not 0 < heartbeat < timeout:
            raise ValueError("need 0 < heartbeat < timeout")
        self.topics = topics
        self.link: RedisLink = topics.link
        self.heartbeat = heartbeat
        self.timeout = timeout
        self._prefix = topics.channel_prefix + "p:"
        self._own: dict[str, dict[str, Any]] = {}  # topic -> key -> meta (this process's members)
        self._watched: set[str] = set()  # topics whose channel is subscribed
        self._tombstones: dict[str, dict[str, float]] = {}  # topic -> key -> loop time of a leave
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._jobs: set[asyncio.Task[Any]] = set()
        self._resync_wanted: set[str] = set()
        self.sweeps = 0  # members this process removed from Redis (HDEL returned 1)
        link = self.link
        link.on("started", self._link_started)
        link.on("connected", self._link_connected)
        link.on("closing", self._link_closing)
        link.on("closed", self._link_closed)
        if link.started:
            self._link_started()

    # -- the interface --------------------------------------------------------

    def track(self, topic: str, key: str, meta: Any = None) -> None:
        self.link.check_thread("presence.track")
        meta = _json_copy(meta)
        own = self._own.setdefault(topic, {})
        changed = own.get(key, _MISSING) != meta
        own[key] = meta
        self._upsert(topic, key, meta, math.inf, self._now(), True)
        self._interest_changed(topic)
        if changed:
            name = self._name(topic)
            self.link.send(partial(self._hset, topic, key))
            self.topics.send_event(
                name, orjson.dumps(["j", key, meta, time.time() + self.timeout])
            )

    def untrack(self, topic: str, key: str) -> None:
        self.link.check_thread("presence.untrack")
        own = self._own.get(topic)
        if own is None or key not in own:
            return
        del own[key]
        if not own:
            del self._own[topic]
        self._remove(topic, key)
        # A read of the hash already under way must not bring it back.
        self._tombstones.setdefault(topic, {})[key] = self._now()
        name = self._name(topic)
        field = key.encode()
        self.link.send(partial(_args, "HDEL", name, field))
        self.topics.send_event(name, orjson.dumps(["l", key]))
        self._interest_changed(topic)

    def subscribe(
        self,
        topic: str,
        on_join: PresenceHook | None = None,
        on_leave: PresenceHook | None = None,
    ) -> Callable[[], None]:
        self.link.check_thread("presence.subscribe")
        return super().subscribe(topic, on_join, on_leave)

    async def fetch(self, topic: str) -> dict[str, Any]:
        """Read ``topic``'s members from Redis now (live ones only), whether watched or not."""
        flat = await self.link.request("HGETALL", self._name(topic))
        now = time.time()
        members: dict[str, Any] = {}
        for field, value in zip(flat[::2], flat[1::2], strict=True):
            rec = _record(value)
            if rec is not None and rec[1] >= now:
                members[field.decode()] = rec[0]
        return members

    def tracked(self, topic: str) -> dict[str, Any]:
        """This process's own members of ``topic``."""
        return dict(self._own.get(topic, {}))

    # -- internals ----------------------------------------------------------------

    def _name(self, topic: str) -> bytes:
        return (self._prefix + topic).encode()

    def _now(self) -> float:
        loop = self.link.loop
        return loop.time() if loop is not None else time.monotonic()

    def _hset(self, topic: str, key: str) -> tuple[Any, ...] | None:
        """HSET of one of our members with a fresh expiry, built when it is sent."""
        own = self._own.get(topic)
        if own is None or key not in own:
            return None
        value = orjson.dumps(
            {"m": own[key], "e": time.time() + self.timeout, "o": self.link.instance_id}
        )
        return ("HSET", self._name(topic), key.encode(), value)

    def _interest_changed(self, topic: str) -> None:
        wanted = topic in self._watchers or topic in self._own
        if wanted and topic not in self._watched:
            self._watched.add(topic)
            self.topics.watch(self._name(topic), topic, self._on_event, self._on_gap)
            self._resync_soon(topic)
        elif not wanted and topic in self._watched:
            self._watched.discard(topic)
            self.topics.unwatch(self._name(topic))
            # Nobody here looks at it any more: forget the others' members quietly.
            self._views.pop(topic, None)
            self._tombstones.pop(topic, None)

    def _on_event(self, topic: str, event: Any) -> None:
        """A join or leave published by another process (on the loop)."""
        if topic not in self._watched:
            return
        try:
            kind, key = event[0], event[1]
        except (TypeError, IndexError, KeyError):
            return
        if not isinstance(key, str):
            return
        if key in self._own.get(topic, ()):
            return  # ours: this process is authoritative (the heartbeat re-asserts it)
        now = self._now()
        if kind == "j" and len(event) == 4:
            self._tombstones.get(topic, {}).pop(key, None)
            self._upsert(topic, key, event[2], float(event[3]), now, False)
        elif kind == "l":
            self._tombstones.setdefault(topic, {})[key] = now
            self._remove(topic, key)

    def _on_gap(self, topic: str) -> None:
        # Joins or leaves may have been missed: re-read the topic's hash.
        self._resync_soon(topic)

    def _resync_soon(self, topic: str) -> None:
        loop = self.link.loop
        if loop is None or not self.link.connected:
            return  # done on (re)connection
        if topic in self._resync_wanted:
            return
        self._resync_wanted.add(topic)

        async def job() -> None:
            self._resync_wanted.discard(topic)
            try:
                await self._resync(topic)
            except Exception as exc:
                log.debug("presence: resync of %r failed: %s", topic, exc)

        task = loop.create_task(job())
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    def _may_sweep(self) -> bool:
        """Judge members dead only after being connected for a whole timeout (see the module doc)."""
        link = self.link
        return link.connected and self._now() - link.connected_since >= self.timeout

    async def _resync(self, topic: str) -> None:
        if topic not in self._watched:
            return
        name = self._name(topic)
        asked_at = self._now()
        flat = await self.link.request("HGETALL", name)
        if topic not in self._watched:
            return
        now_wall = time.time()
        may_sweep = self._may_sweep()
        own = self._own.get(topic, {})
        tombs = self._tombstones.get(topic, {})
        present: set[str] = set()
        expired: list[tuple[bytes, str]] = []
        for field, value in zip(flat[::2], flat[1::2], strict=True):
            key = field.decode(errors="replace")
            rec = _record(value)
            if key in own:
                present.add(key)
                continue
            if rec is None or rec[1] < now_wall:
                expired.append((field, key))
                continue
            present.add(key)
            view = self._views.get(topic, {})
            member = view.get(key)
            if member is not None and member.updated > asked_at:
                continue  # an event newer than this read
            if tombs.get(key, -math.inf) > asked_at:
                continue  # left after this read
            self._upsert(topic, key, rec[0], rec[1], asked_at, False)
        if not may_sweep:
            return
        # Members gone from Redis whose expiry passed (their process and Redis's copy both gone).
        for key, member in list(self._views.get(topic, {}).items()):
            if member.own or key in present or member.updated > asked_at:
                continue
            if member.expiry < now_wall:
                self._remove(topic, key)
        if not expired:
            return
        results = await self.link.requests(
            [partial(_args, "HDEL", name, field) for field, _ in expired]
        )
        for (_, key), result in zip(expired, results, strict=True):
            if result == 1:
                # This process removed it: it alone announces the leave.
                self.sweeps += 1
                self.topics.send_event(name, orjson.dumps(["l", key]))
            if key not in own and topic in self._watched:
                self._tombstones.setdefault(topic, {})[key] = self._now()
                self._remove(topic, key)

    async def _refresh_own(self) -> None:
        """Heartbeat: push our members' expiry forward; re-announce any that were missing."""
        items = [(topic, key) for topic, own in self._own.items() for key in own]
        if not items:
            return
        results = await self.link.requests([partial(self._hset, t, k) for t, k in items])
        for (topic, key), result in zip(items, results, strict=True):
            if result == 1:  # a new field: it had been swept, or Redis restarted empty
                meta = self._own.get(topic, {}).get(key, _MISSING)
                if meta is not _MISSING:
                    self.topics.send_event(
                        self._name(topic),
                        orjson.dumps(["j", key, meta, time.time() + self.timeout]),
                    )

    async def _tick(self) -> None:
        await self._refresh_own()
        # All watched topics at once: the broker pipelines the reads.
        results = await asyncio.gather(
            *(self._resync(topic) for topic in list(self._watched)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, Exception):
                log.debug("presence: resync failed: %s", result)
        now = self._now()
        for topic in list(self._tombstones):
            tombs = self._tombstones[topic]
            for key in [k for k, t in tombs.items() if now - t > 2 * self.timeout]:
                del tombs[key]
            if not tombs:
                del self._tombstones[topic]

    async def _beat(self) -> None:
        assert self._wake is not None
        wake = self._wake
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), self.heartbeat * _jitter.uniform(0.8, 1.0))
            wake.clear()
            if not self.link.connected:
                continue
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("presence: heartbeat failed: %s", exc)

    # -- the link's hooks -------------------------------------------------------------

    def _link_started(self) -> None:
        loop = self.link.loop
        assert loop is not None
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._beat(), name="rweb-redis-presence")

    def _link_connected(self) -> None:
        # Re-assert our members and re-read every watched topic now.
        if self._wake is not None:
            self._wake.set()

    def _link_closing(self) -> None:
        for topic, own in list(self._own.items()):
            for key in list(own):
                self.untrack(topic, key)

    def _link_closed(self) -> None:
        for task in (self._task, *self._jobs):
            if task is not None:
                task.cancel()
        self._task = None
        self._jobs.clear()


_MISSING: Any = object()


def _args(*args: Any) -> tuple[Any, ...]:
    return args


def _record(value: bytes) -> tuple[Any, float] | None:
    """(meta, expiry) of a hash value, or None if it is not one of ours."""
    try:
        rec = orjson.loads(value)
        return rec["m"], float(rec["e"])
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
        return None
