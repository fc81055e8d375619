"""Topics between sessions: the interface, and the in-process broker.

A message is published to a named topic; every subscriber of that topic gets
it, on the sessions' event loop.  The in-process broker (the default) serves
one worker process; a broker across processes and machines (Redis) plugs in
behind the same interface.

Subscribers are plain callables ``callback(topic, message)``.  A callback
that raises is logged and does not stop the others.  Messages must be
JSON-serialisable, so that a broker across processes carries the same values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import orjson

__all__ = ["LocalPubSub", "PubSub", "Subscriber"]

log = logging.getLogger("rweb.pubsub")

_dumps, _loads = orjson.dumps, orjson.loads

Subscriber = Callable[[str, Any], Any]


class PubSub(Protocol):
    """What every broker offers."""

    def subscribe(self, topic: str, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(topic, message)`` for each message on ``topic``; returns an unsubscribe function."""
        ...

    def publish(self, topic: str, message: Any) -> None:
        """Deliver ``message`` to the topic's subscribers (never blocks the caller)."""
        ...

    def subscribers(self, topic: str) -> int:
        """How many subscribers ``topic`` has in this process."""
        ...


class LocalPubSub:
    """Topics within one process.  Delivery is synchronous, in subscription order."""

    def __init__(self) -> None:
        self._topics: dict[str, list[Subscriber]] = {}

    def subscribe(self, topic: str, callback: Subscriber) -> Callable[[], None]:
        subs = self._topics.setdefault(topic, [])
        subs.append(callback)

        def unsubscribe() -> None:
            current = self._topics.get(topic)
            if current is None:
                return
            try:
                current.remove(callback)
            except ValueError:
                return
            if not current:
                del self._topics[topic]

        return unsubscribe

    def publish(self, topic: str, message: Any) -> None:
        # As across processes: subscribers get the JSON value (a tuple arrives as a
        # list), and what is not JSON is refused here too, not only with a broker.
        message = _loads(_dumps(message))
        subs = self._topics.get(topic)
        if not subs:
            return
        for cb in tuple(subs):  # a callback may unsubscribe itself
            try:
                cb(topic, message)
            except BaseException:  # user code: even SystemExit must not stop the others
                log.exception("a subscriber of %r raised", topic)

    def subscribers(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))
