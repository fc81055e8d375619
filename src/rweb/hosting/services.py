"""What the sessions of every process share through the app's broker: topics, presence, shared records.

The app's :class:`BrokerServices` (``app.services``; ``App.publish``,
``App.presence_service``, ``App.share`` and ``App.refuse_split_state`` forward
to it) holds the pub/sub (:mod:`rweb.pubsub`: the in-process one, or the broker
``App(broker=...)`` names, started with the app in each serving process), the
presence service on top of it (:mod:`rweb.presence`), the records shared
across processes (:mod:`rweb.sharing`), and the rule that refuses state split
between processes (a module-level record read by sessions of several workers).
"""

from __future__ import annotations

import logging
from typing import Any

from ..core.reactive import SharedStateError
from ..sessions.scheduler import Scheduler
from ..wire.pubsub import LocalPubSub, PubSub

__all__ = ["BrokerServices"]

log = logging.getLogger("rweb.app")  # its messages are the app's, as they were


class BrokerServices:
    """``broker``: ``App(broker=...)``: None (topics within this process), ``"redis://..."``
    (rweb.broker_redis, started by :meth:`start`), or a PubSub object; ``pubsub``: the one in use.

    ``app``: what a shared record's replica is handed (rweb.sharing reads the app's
    pub/sub and scheduler through it)."""

    def __init__(self, app: Any, scheduler: Scheduler, broker: str | PubSub | None) -> None:
        self.app = app
        self.scheduler = scheduler
        self.broker = broker
        self.pubsub: PubSub = broker if broker is not None and not isinstance(broker, str) else LocalPubSub()
        self.presence: tuple[Any, Any] | None = None  # (pubsub, its presence service)
        self.shared: dict[str, Any] = {}  # name -> rweb.sharing.Replica
        self.refusing = False  # start() installed refuse_split_state (with a broker)

    async def start(self) -> None:
        """The serving process starts: the broker connects, the shared records subscribe, and with a
        broker, state split between processes is refused (:meth:`refuse_split_state`)."""
        if isinstance(self.broker, str):
            from ..live.broker_redis import RedisPubSub

            broker = RedisPubSub(self.broker)
            await broker.start()
            self.pubsub = broker
        elif self.broker is not None and hasattr(self.broker, "start"):
            await self.broker.start()
        for replica in self.shared.values():
            replica.start()
        if self.broker is not None:
            self.refuse_split_state()
            self.refusing = True

    async def stop(self) -> None:
        """The serving process stops: the refusal is lifted, the broker flushes what is queued and closes."""
        if self.refusing:
            from ..core.reactive import on_shared_state

            self.refusing = False
            on_shared_state(None)
        close = getattr(self.pubsub, "close", None)
        if close is not None:
            await close()

    def publish(self, topic: str, message: Any) -> None:
        """Publish ``message`` (JSON) on ``topic``, from anywhere: a handler, a timer, another thread.

        Subscribers (``conn.subscribe``) in this process get it on the loop;
        with a broker, those in every other process too.
        """
        loop = self.scheduler.loop
        if loop is not None and not self.scheduler.on_loop_thread():
            loop.call_soon_threadsafe(self.pubsub.publish, topic, message)
        else:
            self.pubsub.publish(topic, message)

    def presence_service(self) -> Any:
        """The presence service of this app's broker (rweb.presence)."""
        # (pubsub, its presence): the broker changes once, when startup() replaces the in-process one.
        cached = self.presence
        if cached is None or cached[0] is not self.pubsub:
            from ..live.presence import presence_for

            cached = self.presence = (self.pubsub, presence_for(self.pubsub))
        return cached[1]

    def share(self, name: str, record: Any) -> Any:
        """:meth:`rweb.App.share`'s work (its docstring says what sharing does)."""
        from ..core.reactive import is_reactive, process_local
        from ..live.sharing import Replica

        if not is_reactive(record) or not hasattr(type(record), "__rweb_fields__"):
            raise TypeError("app.share() takes a @reactive record")
        if name in self.shared:
            raise ValueError(f"a record is already shared as {name!r}")
        process_local(record)  # correct across processes by replication, not by accident
        self.shared[name] = Replica(self.app, name, record)
        return record

    def refuse_split_state(self, workers: int | None = None) -> None:
        """A record that a page reads but its session did not create is an error at first read
        (module-level state, another session's; unless shared or process_local).

        Installed by start_rweb for several workers without a broker
        (``workers``), and by startup() whenever the app has a broker
        (``workers=None``: then other processes exist by design).  Refused at
        the first read, not when a second session of the same process reads
        it: so whatever worker a connection lands on (see rweb.reactive,
        on_shared_state).
        """
        from ..core.reactive import IdentitySet, on_shared_state

        logged = IdentitySet()  # by identity: an RList or RDict is not hashable

        def refuse(record: Any) -> None:
            name = type(record).__qualname__
            shown = repr(record)
            if len(shown) > 200:  # a module-level list of every todo...
                shown = shown[:200] + "...)"
            if workers is not None:
                msg = (
                    f"{name} record {shown} is read by a session that did not create it (module-level "
                    f"state, or another session's), but this server runs {workers} "
                    "worker processes without a broker: sessions on other workers would never see its "
                    "changes. Share it with app.share(name, record) and a broker (App(broker='redis://...')), "
                    "run workers=1, or declare it rweb.process_local(record) if each worker may differ."
                )
            else:
                msg = (
                    f"{name} record {shown} is read by a session that did not create it (module-level "
                    "state, or another session's), and this app runs with a broker "
                    "(several processes or servers): sessions of the other processes would never see its "
                    "changes. Share it with app.share(name, record), or declare it "
                    "rweb.process_local(record) if each process may differ."
                )
            if record not in logged:  # once per record in the log; refused every time
                logged.add(record)
                log.error(msg)
            raise SharedStateError(msg)

        on_shared_state(refuse)
