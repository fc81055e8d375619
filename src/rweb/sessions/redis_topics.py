"""Topics across processes: pub/sub on a :class:`~rweb.redis_link.RedisLink`.

:class:`RedisTopics` implements :class:`rweb.pubsub.PubSub` (``subscribe``,
``publish``, ``subscribers``).  Every process that uses the same Redis and the
same ``channel_prefix`` sees the same topics.  The broker
(:class:`rweb.broker_redis.RedisPubSub`) makes one on its link; its module's
docstring states the delivery guarantees.

* ``publish(topic, message)`` encodes the message (orjson: messages are JSON
  values), delivers it at once, in the call, to the topic's subscribers in this
  process, and queues it on the link (``PUBLISH <prefix>t:<topic>``).  The copy
  sent through Redis is tagged with the link's instance id, and the process
  ignores its own echo, so a local subscriber gets each message exactly once.
* A topic's channel is listened to when the topic gets its first subscriber in
  this process and no longer when its last one leaves.
* Drops (the link's queue bound, or close) are reported: a log line a second at
  most, the ``on_drop(topic, count)`` hook, and, once the held publishes are
  out, a gap marker on the topic's channel, so that other processes'
  subscribers get ``on_gap(topic)``.
* Other channels carrying the same envelope (presence's events) are watched
  with :meth:`RedisTopics.watch` and written with :meth:`RedisTopics.send_event`.

Wire format: a Redis message is the JSON array ``[origin, message]``; a gap
marker is ``[origin, count, "gap"]``.  Another program may publish to a topic
with ``PUBLISH <prefix>t:<topic> '["anything", <json>]'``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from ..wire.pubsub import Subscriber
from ..wire.redis_link import RedisLink, log

__all__ = ["DropHook", "GapHook", "RedisTopics"]

GapHook = Callable[[str], Any]
"""``on_gap(topic)``: messages of ``topic`` may have been missed."""

DropHook = Callable[[str, int], Any]
"""``on_drop(topic, count)``: ``count`` publishes of ``topic`` were not sent."""

_GAP = b'"gap"'
_PRESENCE = "(presence)"  # drop reports' name for what was not a topic's publish


class _Sub:
    __slots__ = ("callback", "on_gap")

    def __init__(self, callback: Subscriber, on_gap: GapHook | None) -> None:
        self.callback = callback
        self.on_gap = on_gap


class _Channel:
    """One Redis channel this process wants: a topic's, or a watched one's (presence)."""

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
        # Watched channels hand their events to their sink instead.
        self.sink = sink
        self.gap = gap


class RedisTopics:
    """A :class:`~rweb.pubsub.PubSub` through ``link``; see the module's docstring.

    Hooks: ``on_drop(topic, count)`` when publishes could not be sent,
    ``on_gap(topic)`` when this process may have missed messages of a
    subscribed topic.
    """

    def __init__(
        self,
        link: RedisLink,
        *,
        channel_prefix: str = "rweb:",
        on_drop: DropHook | None = None,
        on_gap: GapHook | None = None,
    ) -> None:
        self.link = link
        self.channel_prefix = channel_prefix
        self.on_drop = on_drop
        self.on_gap = on_gap
        self._topic_prefix = channel_prefix + "t:"
        self._origin = orjson.dumps(link.instance_id)
        self._topics: dict[str, _Channel] = {}
        self._gap_markers: dict[bytes, int] = {}  # channel -> messages dropped, to announce
        self._drops_to_report: dict[str, int] = {}
        self._drop_report: asyncio.TimerHandle | None = None
        self._last_drop_report = 0.0
        self._published = 0
        self._received = 0
        self._delivered = 0
        self._gaps = 0
        link.on("started", self._started)
        link.on("idle", self._send_gap_markers)
        link.on_drop(self._dropped)

    # -- the PubSub interface -------------------------------------------------------

    def subscribe(
        self, topic: str, callback: Subscriber, *, on_gap: GapHook | None = None
    ) -> Callable[[], None]:
        """Call ``callback(topic, message)`` for each message on ``topic``; returns an unsubscribe function.

        ``on_gap(topic)`` is called when messages of this topic may have been
        missed (after a reconnection, or when a publisher had to drop some).
        """
        self.link.check_thread("subscribe")
        chan = self._topics.get(topic)
        if chan is None:
            chan = _Channel((self._topic_prefix + topic).encode(), topic)
            self._topics[topic] = chan
            self._listen(chan)
        sub = _Sub(callback, on_gap)
        chan.subs.append(sub)

        def unsubscribe() -> None:
            self.link.check_thread("unsubscribe")
            current = self._topics.get(topic)
            if current is None:
                return
            try:
                current.subs.remove(sub)
            except ValueError:
                return
            if not current.subs:
                del self._topics[topic]
                self.link.unlisten(current.name)

        return unsubscribe

    def publish(self, topic: str, message: Any) -> None:
        """Deliver ``message`` to the topic's subscribers here at once, and to other processes through Redis.

        Never blocks.  From a thread other than the link's loop it is
        marshalled to the loop.  Raises ``TypeError`` for a value that is not JSON.
        """
        data = orjson.dumps(message)
        link = self.link
        loop = link.loop
        if loop is not None and not link.on_loop_thread():
            loop.call_soon_threadsafe(self._publish, topic, data)
            return
        self._publish(topic, data)

    def subscribers(self, topic: str) -> int:
        """How many subscribers ``topic`` has in this process."""
        chan = self._topics.get(topic)
        return len(chan.subs) if chan is not None else 0

    # -- watched channels (presence) ---------------------------------------------------

    def watch(
        self, channel: bytes, topic: str, sink: Callable[[str, Any], None], gap: Callable[[str], None]
    ) -> None:
        """Listen to ``channel`` (same envelope as a topic's): ``sink(topic, event)`` for each
        event another process sent, ``gap(topic)`` when some may have been missed."""
        if not self.link.listening(channel):
            self._listen(_Channel(channel, topic, sink, gap))

    def unwatch(self, channel: bytes) -> None:
        """Stop listening to a watched ``channel``."""
        self.link.unlisten(channel)

    def send_event(self, channel: bytes, data: bytes) -> None:
        """Queue ``data`` (JSON) for the other processes watching ``channel``; no local delivery."""
        self.link.publish(channel, b"[" + self._origin + b"," + data + b"]")

    # -- state ----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """``published`` (publish calls), ``received`` (messages from other processes),
        ``delivered`` (subscriber calls), ``gaps`` (on_gap notifications, per topic)."""
        return {
            "published": self._published,
            "received": self._received,
            "delivered": self._delivered,
            "gaps": self._gaps,
        }

    def close(self) -> None:
        """Report now the drops not yet reported (after the link's close)."""
        if self._drop_report is not None:
            self._drop_report.cancel()
            self._drop_report = None
        if self._drops_to_report:
            self._report_drops()

    # -- internals ------------------------------------------------------------------------

    def _started(self) -> None:
        # After any fork the link has its final instance id.
        self._origin = orjson.dumps(self.link.instance_id)
        if self._drops_to_report:
            self._schedule_drop_report()

    def _listen(self, chan: _Channel) -> None:
        self.link.listen(chan.name, partial(self._on_message, chan), partial(self._gap, chan))

    def _publish(self, topic: str, data: bytes) -> None:
        self._published += 1
        chan = self._topics.get(topic)
        name = chan.name if chan is not None else (self._topic_prefix + topic).encode()
        # To Redis first: on an idle link the PUBLISH is written in this call, so other
        # processes start their deliveries while this one does its own.
        self.link.publish(name, b"[" + self._origin + b"," + data + b"]", topic)
        if chan is not None:
            # Local subscribers get what other processes get: the decoded JSON value.
            self._deliver(chan, orjson.loads(data))

    def _deliver(self, chan: _Channel, message: Any) -> None:
        topic = chan.topic
        subs = tuple(chan.subs)  # a callback may unsubscribe itself
        for sub in subs:
            try:
                sub.callback(topic, message)
            except Exception:
                log.exception("a subscriber of %r raised", topic)
        self._delivered += len(subs)

    def _on_message(self, chan: _Channel, payload: bytes) -> None:
        try:
            envelope = orjson.loads(payload)
            origin = envelope[0]
        except (orjson.JSONDecodeError, TypeError, IndexError, KeyError):
            log.warning("redis broker: ignored a malformed message on %r", chan.name)
            return
        if origin == self.link.instance_id:
            return  # our own echo: local subscribers already have it
        self._received += 1
        if len(envelope) == 3 and envelope[2] == "gap":
            self._gap(chan)
            return
        if len(envelope) != 2:
            log.warning("redis broker: ignored a malformed message on %r", chan.name)
            return
        if chan.sink is not None:
            try:
                chan.sink(chan.topic, envelope[1])
            except Exception:
                log.exception("redis broker: a presence event on %r raised", chan.topic)
            return
        self._deliver(chan, envelope[1])

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

    def _send_gap_markers(self) -> None:
        """The link's queue is empty (held publishes are out): tell others what was dropped."""
        if not self._gap_markers:
            return
        markers, self._gap_markers = self._gap_markers, {}
        for channel, n in markers.items():
            self.link.publish(
                channel, b"[" + self._origin + b"," + str(n).encode() + b"," + _GAP + b"]"
            )

    def _dropped(self, label: str | None, channel: bytes | None, n: int) -> None:
        if channel is not None:
            self._gap_markers[channel] = self._gap_markers.get(channel, 0) + n
        name = label or _PRESENCE
        self._drops_to_report[name] = self._drops_to_report.get(name, 0) + n
        if self.link.loop is not None and not self.link.closing:
            self._schedule_drop_report()

    def _schedule_drop_report(self) -> None:
        loop = self.link.loop
        if self._drop_report is not None or loop is None:
            return
        # At most one report a second: a burst of drops makes one line.
        delay = max(0.0, self._last_drop_report + 1.0 - loop.time())
        self._drop_report = loop.call_later(delay, self._report_drops)

    def _report_drops(self) -> None:
        self._drop_report = None
        drops, self._drops_to_report = self._drops_to_report, {}
        if not drops:
            return
        loop = self.link.loop
        if loop is not None:
            self._last_drop_report = loop.time()
        total = sum(drops.values())
        detail = ", ".join(f"{t}: {n}" for t, n in sorted(drops.items()))
        log.warning(
            "redis broker: dropped %d publishes that could not be sent (queue bound %d; %s)",
            total,
            self.link.max_pending,
            detail,
        )
        hook = self.on_drop
        if hook is not None:
            for topic, n in drops.items():
                if topic == _PRESENCE:
                    continue
                try:
                    hook(topic, n)
                except Exception:
                    log.exception("redis broker: the on_drop hook raised")
