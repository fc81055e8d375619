"""Reactive records kept identical in every process through the app's broker (``app.share``).

Each process holds its own copy of a shared record and renders from it, so a
click that reads it never waits on the network.  A :class:`Replica` watches
its record like a component would (a tracker over every field it serialises):

- a local change marks it dirty; once the event loop is free (after the
  batch, never inside it), it publishes the record's whole state on the topic
  ``rweb:shared:<name>``, stamped ``(time_ns, instance)``;
- publish first: that publish goes before this process pushes the change to
  its own sessions, so that with a broker the other processes start their
  fan-out while this one does its own.  The replica is invalidated before the
  renders that read the record (rweb.render's fan-out hook takes trackers that
  are not renders first), and the first replica written in a loop turn
  schedules one callback that publishes every replica written in that turn:
  it runs before the pushes that their writes scheduled;
- a state received from another process is applied when its stamp is newer
  than the one this copy holds: the fields are written, and the sessions that
  read them are pushed as for any write;
- a process that starts asks the others for the state (``hello``), and after a
  broker reconnection (``on_gap``) each process publishes its state again, so
  copies converge: the newest stamp wins everywhere.

What is replicated: the record's fields, whose values must be JSON (numbers,
strings, booleans, None, lists and dicts of those; ``RList``/``RDict`` are sent
as lists and dicts).  A nested record is not: a clear error at first publish.
The whole state goes with every change, so keep shared records small (a room's
last messages, a dashboard's figures), not a database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from ..core.reactive import RDict, RList, Tracker, tracking

__all__ = ["Replica"]

log = logging.getLogger("rweb.sharing")

TOPIC = "rweb:shared:"

# Replicas written on a loop's thread in this turn, to publish in one callback: the first one
# written schedules it, before any push the turn's writes schedule.
_due: dict[asyncio.AbstractEventLoop, list[Replica]] = {}


def _publish_due(loop: asyncio.AbstractEventLoop) -> None:
    for replica in _due.pop(loop, ()):
        replica.publish_now()


def _plain(value: Any) -> Any:
    t = type(value)
    if t is RList:
        return [_plain(v) for v in value]
    if t is RDict:
        return {k: _plain(v) for k, v in value.items()}
    return value


class Replica(Tracker):
    """One shared record's copy in this process, and its link to the others."""

    __slots__ = ("app", "applying", "dirty", "fields", "instance", "name", "record", "stamp", "topic")

    def __init__(self, app: Any, name: str, record: Any) -> None:
        super().__init__()
        self.app = app
        self.name = name
        self.record = record
        self.topic = TOPIC + name
        self.fields: tuple[str, ...] = type(record).__rweb_fields__
        self.stamp: list[Any] = [0, ""]  # (time_ns, instance) of the state this copy holds
        self.instance = ""
        self.applying = False
        self.dirty = False
        self._snapshot()  # subscribe to every field from the start

    def start(self) -> None:
        """The app is served (after any fork): join the topic and ask the others for the state."""
        pubsub = self.app.pubsub
        self.instance = str(getattr(pubsub, "instance_id", "") or id(self))
        try:
            pubsub.subscribe(self.topic, self._received, on_gap=self._gap)
        except TypeError:  # a broker without gap notices (the in-process one)
            pubsub.subscribe(self.topic, self._received)
        pubsub.publish(self.topic, {"hello": self.instance})

    # -- local changes ---------------------------------------------------------

    def invalidate(self) -> None:
        if self.applying or self.dirty:
            return
        self.dirty = True
        scheduler = self.app.scheduler
        loop = scheduler.loop
        if loop is None:  # not served yet: it goes out with the first hello answer
            self.dirty = False
            self.stamp = [time.time_ns(), self.instance]
            return
        if not scheduler.on_loop_thread():  # a write on another thread: its own callback
            loop.call_soon_threadsafe(self.publish_now)
            return
        due = _due.get(loop)
        if due is None:
            _due[loop] = [self]
            loop.call_soon(_publish_due, loop)
        else:
            due.append(self)

    def _snapshot(self) -> dict[str, Any]:
        """The record's state, read under this tracker (which re-subscribes it to everything read)."""
        rec = self.record
        with tracking(self):
            return {f: _plain(getattr(rec, f)) for f in self.fields}

    def publish_now(self) -> None:
        """Publish the record's state now (a local change is pending), stamped now."""
        self.dirty = False
        self.stamp = [time.time_ns(), self.instance]
        self._send()

    def _send(self) -> None:
        state = self._snapshot()
        try:
            orjson.dumps(state)
        except TypeError as exc:
            log.error("shared record %r: its state is not JSON (%s); not replicated", self.name, exc)
            return
        self.app.pubsub.publish(self.topic, {"stamp": self.stamp, "state": state})

    # -- changes from other processes ----------------------------------------------

    def _received(self, _topic: str, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if "hello" in message:
            if message["hello"] != self.instance and self.stamp[0]:
                self._send()
            return
        stamp, state = message.get("stamp"), message.get("state")
        if not (isinstance(stamp, list) and len(stamp) == 2 and isinstance(state, dict)):
            log.warning("shared record %r: a malformed update was ignored", self.name)
            return
        if stamp <= self.stamp:  # older than (or the same as) what this copy holds
            return
        self.stamp = stamp
        rec = self.record
        self.applying = True
        try:
            for f in self.fields:
                if f in state:
                    setattr(rec, f, state[f])
        finally:
            self.applying = False
        self._snapshot()  # follow the new values (lists and dicts are new objects)

    def _gap(self, _topic: str) -> None:
        # Updates may have been missed either way: everyone says what it holds; the newest wins.
        if self.stamp[0]:
            self._send()
        self.app.pubsub.publish(self.topic, {"hello": self.instance})
