"""Topics across processes and machines, through a Redis server.

:class:`RedisPubSub` implements :class:`rweb.pubsub.PubSub` (``subscribe``,
``publish``, ``subscribers``) over Redis pub/sub, with redis-py's asyncio
connection (``pip install 'rweb[redis]'``; ``benchmarks/redis_client.py``
measured it against coredis).  Every process (worker, server instance, or a
plain script) that uses the same Redis and the same ``channel_prefix`` sees the
same topics.  :attr:`RedisPubSub.presence` adds presence per topic
(:mod:`rweb.presence`).

Layers
------

The broker is three layers on one link, each a module with its own public API
(none of them imports this module, nor presence):

* :class:`rweb.redis_link.RedisLink` (``broker.link``): the two connections,
  reconnection, the pipelined command queue, request/response, channels.  The
  one place that speaks to Redis.
* :class:`rweb.redis_topics.RedisTopics` (``broker.topics``): the topics
  (``subscribe`` / ``publish`` / ``subscribers``), their envelope, local
  delivery, gaps and drop reports.
* :class:`rweb.redis_store.RedisStore` (``broker.snapshot_store``): session
  snapshots and single-use claims (``store``, ``forget``, ``take``, ``claim``,
  ``sync``, also offered here so that the broker is the app's snapshot store).
* :class:`rweb.presence.RedisPresence` (``broker.presence``, made on first use)
  sits on the topics and the link.

How it works
------------

* ``publish(topic, message)`` never blocks and never awaits: it encodes the
  message (orjson; messages are JSON values), sends it to Redis first, then
  delivers it, in this call, to the topic's subscribers in this process (as
  :class:`~rweb.pubsub.LocalPubSub` does).  "Sends": when the publishing
  connection is idle the PUBLISH is written to the socket in the call, so other
  processes start their own deliveries while this one does its local fan-out
  (a worker's pushes to its sessions); while a batch is in flight it is queued,
  and a writer task pipelines what is queued in batches.  The copy sent through
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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.meter import Stat
from ..sessions.redis_topics import DropHook, GapHook, RedisTopics
from ..wire.pubsub import Subscriber
from ..wire.redis_link import RedisLink
from .redis_store import RedisStore

if TYPE_CHECKING:
    from .presence import RedisPresence

__all__ = ["DropHook", "GapHook", "RedisPubSub"]


class RedisPubSub:
    """A :class:`~rweb.pubsub.PubSub` through Redis; see the module's docstring for the guarantees.

    ``url``: ``redis://[user:password@]host:port/db``, ``rediss://...`` or
    ``unix://...``.  Hooks: ``on_drop(topic, count)`` when held publishes had
    to be dropped, ``on_gap(topic)`` when this process may have missed messages
    of a subscribed topic.  ``presence_heartbeat`` / ``presence_timeout``:
    see :class:`rweb.presence.RedisPresence`.  The other options are the
    link's (:class:`rweb.redis_link.RedisLink`).
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
        self.link = RedisLink(
            url,
            max_pending=max_pending,
            batch_size=batch_size,
            reconnect_min=reconnect_min,
            reconnect_max=reconnect_max,
            connect_timeout=connect_timeout,
            io_timeout=io_timeout,
            keepalive=keepalive,
            instance_id=instance_id,
        )
        self.topics = RedisTopics(
            self.link, channel_prefix=channel_prefix, on_drop=on_drop, on_gap=on_gap
        )
        self.snapshot_store = RedisStore(self.link, key_prefix=channel_prefix)
        self.presence_heartbeat = presence_heartbeat
        self.presence_timeout = presence_timeout
        self._presence: RedisPresence | None = None

    def __repr__(self) -> str:
        state = "connected" if self.link.connected else "disconnected"
        return f"<RedisPubSub {self.instance_id} {state} prefix={self.channel_prefix!r}>"

    @property
    def url(self) -> str:
        """The Redis URL."""
        return self.link.url

    @property
    def channel_prefix(self) -> str:
        """The prefix of every channel and key this broker uses."""
        return self.topics.channel_prefix

    @property
    def instance_id(self) -> str:
        """This process's name to Redis and to the others (final once started, after any fork)."""
        return self.link.instance_id

    # -- the PubSub interface (the topics') ---------------------------------------------

    def subscribe(
        self, topic: str, callback: Subscriber, *, on_gap: GapHook | None = None
    ) -> Callable[[], None]:
        """Call ``callback(topic, message)`` for each message on ``topic``; returns an unsubscribe function.

        ``on_gap(topic)`` is called when messages of this topic may have been
        missed (after a reconnection, or when a publisher had to drop some).
        """
        return self.topics.subscribe(topic, callback, on_gap=on_gap)

    def publish(self, topic: str, message: Any) -> None:
        """Deliver ``message`` to the topic's subscribers here at once, and to other processes through Redis.

        Never blocks.  From a thread other than the loop's it is marshalled
        to the loop.  Raises ``TypeError`` for a value that is not JSON.
        """
        self.topics.publish(topic, message)

    def subscribers(self, topic: str) -> int:
        """How many subscribers ``topic`` has in this process."""
        return self.topics.subscribers(topic)

    # -- lifecycle (the link's) -------------------------------------------------------------

    async def start(
        self, loop: asyncio.AbstractEventLoop | None = None, *, wait: float | None = None
    ) -> bool:
        """Start on the running loop (``loop``, if given, must be it); returns whether Redis answered.

        Waits up to ``wait`` seconds (default ``connect_timeout``) for the first
        connection.  If Redis cannot be reached by then, this logs it once and
        keeps trying in the background; publishes are held meanwhile.
        """
        return await self.link.start(loop, wait=wait)

    async def close(self, timeout: float = 2.0) -> None:
        """Leave presence, send what is queued (for up to ``timeout`` s), disconnect."""
        await self.link.close(timeout)
        self.topics.close()

    async def flush(self, timeout: float = 5.0, *, subscriptions: bool = True) -> bool:
        """Wait until every queued publish is written to Redis and every subscription is confirmed.

        Returns False if that did not happen within ``timeout`` seconds (for
        instance while Redis is down).  For tests and orderly shutdowns: the
        click path never needs it.
        """
        return await self.link.flush(timeout, subscriptions=subscriptions)

    @property
    def connected(self) -> bool:
        """Whether both connections to Redis are up now."""
        return self.link.connected

    # -- the snapshot store (the store's): App uses the broker as its SnapshotStore ----------

    def store(self, key: str, data: bytes, ttl: float) -> None:
        """``SET key data PX ttl``, queued like a publish (:meth:`rweb.redis_store.RedisStore.store`)."""
        self.snapshot_store.store(key, data, ttl)

    def store_many(self, items: list[tuple[str, bytes]], ttl: float) -> None:
        """Several :meth:`store` in one command (:meth:`rweb.redis_store.RedisStore.store_many`)."""
        self.snapshot_store.store_many(items, ttl)

    def forget(self, key: str) -> None:
        """``DEL key``, queued like a publish (:meth:`rweb.redis_store.RedisStore.forget`)."""
        self.snapshot_store.forget(key)

    async def take(self, key: str, limit: int) -> bytes | None:
        """The value of ``key``, deleted: nobody else gets it (:meth:`rweb.redis_store.RedisStore.take`)."""
        return await self.snapshot_store.take(key, limit)

    async def claim(self, key: str, ttl: float) -> bool:
        """True for the first claim of ``key`` within ``ttl`` seconds across processes
        (:meth:`rweb.redis_store.RedisStore.claim`)."""
        return await self.snapshot_store.claim(key, ttl)

    async def sync(self, timeout: float) -> bool:
        """Wait until every queued command and publish is written (False: not within ``timeout``)."""
        return await self.snapshot_store.sync(timeout)

    # -- presence and counters ------------------------------------------------------------------

    @property
    def presence(self) -> RedisPresence:
        """Presence per topic through this broker's Redis (:class:`rweb.presence.RedisPresence`)."""
        if self._presence is None:
            from .presence import RedisPresence

            self._presence = RedisPresence(
                self.topics, heartbeat=self.presence_heartbeat, timeout=self.presence_timeout
            )
        return self._presence

    def publish_lag(self) -> Stat:
        """The publish lag's sampled times (every publish Redis acknowledged): ``RedisLink.lag``."""
        return self.link.lag

    def stats(self) -> dict[str, Any]:
        """Counters since creation, and the current state."""
        link, topics = self.link.stats(), self.topics.stats()
        return {
            "published": topics["published"],  # publish() calls (local delivery included)
            "sent": link["sent"],  # messages written to Redis (gap markers and presence events too)
            "received": topics["received"],  # messages from other processes
            "delivered": topics["delivered"],  # subscriber calls, local and remote
            "dropped": link["dropped"],  # held publishes dropped (queue full, or closed)
            "reconnects": link["reconnects"],
            "gaps": topics["gaps"],  # on_gap notifications (per topic)
            "pending": link["pending"],  # queued publishes not yet written
            "connected": link["connected"],
            "subscriptions": link["subscriptions"],
        }

