"""Presence per topic: in-process (LocalPresence) and across processes (RedisPresence).

The Redis tests run a real redis-server on a free loopback port, brokers on
their own loops in threads, and a broker in a child process that is killed
with SIGKILL.  Every wait is bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from redis_server import Agent, LoopThread, RedisServer, redis_py_missing, wait_until

from rweb.presence import LocalPresence, presence_for
from rweb.pubsub import LocalPubSub

REDIS_MISSING = redis_py_missing()
needs_redis = pytest.mark.skipif(REDIS_MISSING is not None, reason=str(REDIS_MISSING))

if REDIS_MISSING is None:
    from rweb.broker_redis import RedisPubSub

FAST = {"reconnect_min": 0.02, "reconnect_max": 0.2, "connect_timeout": 2.0, "io_timeout": 2.0}


class Events:
    """Records presence hooks: ("join" | "leave", topic, key, meta)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str, Any]] = []
        self.threads: set[int] = set()

    def join(self, topic: str, key: str, meta: Any) -> None:
        self.threads.add(threading.get_ident())
        self.items.append(("join", topic, key, meta))

    def leave(self, topic: str, key: str, meta: Any) -> None:
        self.threads.add(threading.get_ident())
        self.items.append(("leave", topic, key, meta))

    def of(self, kind: str, key: str | None = None) -> list[tuple[str, str, str, Any]]:
        return [e for e in list(self.items) if e[0] == kind and (key is None or e[2] == key)]


# -- in-process ------------------------------------------------------------------------------


def test_local_presence() -> None:
    pubsub = LocalPubSub()
    presence = presence_for(pubsub)
    assert isinstance(presence, LocalPresence)
    assert presence_for(pubsub) is presence  # one per broker
    assert presence_for(LocalPubSub()) is not presence
    ev = Events()
    stop = presence.subscribe("room", on_join=ev.join, on_leave=ev.leave)
    presence.track("room", "s1", {"user": "ada", "tags": ("a",)})
    presence.track("room", "s2", None)
    presence.track("elsewhere", "s3", 1)
    assert presence.list("room") == {"s1": {"user": "ada", "tags": ["a"]}, "s2": None}
    assert ev.items == [
        ("join", "room", "s1", {"user": "ada", "tags": ["a"]}),
        ("join", "room", "s2", None),
    ]
    presence.track("room", "s1", {"user": "ada", "tags": ["a"]})  # unchanged: no event
    presence.track("room", "s2", {"typing": True})  # changed meta: reported as a join
    assert ev.items[-1] == ("join", "room", "s2", {"typing": True})
    presence.untrack("room", "s1")
    presence.untrack("room", "s1")  # twice is harmless
    assert ev.items[-1] == ("leave", "room", "s1", {"user": "ada", "tags": ["a"]})
    assert presence.list("room") == {"s2": {"typing": True}}
    stop()
    presence.untrack("room", "s2")
    assert len(ev.items) == 4  # no hooks after stop()
    assert presence.list("room") == {}
    with pytest.raises(TypeError):
        presence.track("room", "bad", object())


# -- across processes ------------------------------------------------------------------------


BrokerFactory = Callable[..., tuple["RedisPubSub", LoopThread]]


@pytest.fixture
def broker() -> Iterator[BrokerFactory]:
    made: list[tuple[RedisPubSub, LoopThread]] = []

    def make(url: str, **options: Any) -> tuple[RedisPubSub, LoopThread]:
        loop = LoopThread(f"presence-{len(made)}")
        b = RedisPubSub(url, **{**FAST, **options})
        made.append((b, loop))
        assert loop.run(b.start(wait=10))
        return b, loop

    yield make
    for b, loop in made:
        try:
            loop.run(b.close(timeout=0.5), timeout=10)
        finally:
            loop.stop()


def hash_of(server: RedisServer, topic: str) -> dict[str, Any]:
    import orjson

    found = server.command("HGETALL", f"rweb:p:{topic}")  # redis-py makes it a dict
    return {k.decode(): orjson.loads(v) for k, v in found.items()}


@needs_redis
def test_joins_and_leaves_reach_the_other_process_at_once(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    # Default heartbeat and timeout (5 s, 15 s): every change below is seen
    # far sooner, so it travelled as an event, not by expiry.
    a, la = broker(redis_server.url)
    b, lb = broker(redis_server.url)
    pa = la.call(lambda: a.presence)
    pb = lb.call(lambda: b.presence)
    ev = Events()
    lb.call(pb.subscribe, "room", on_join=ev.join, on_leave=ev.leave)
    assert lb.run(b.flush())

    t0 = time.monotonic()
    la.call(pa.track, "room", "tab-1", {"user": "ada"})
    assert la.call(pa.list, "room") == {"tab-1": {"user": "ada"}}  # at once, locally
    assert wait_until(lambda: ev.of("join", "tab-1"), 3)
    assert lb.call(pb.list, "room") == {"tab-1": {"user": "ada"}}
    assert hash_of(redis_server, "room")["tab-1"]["m"] == {"user": "ada"}

    la.call(pa.track, "room", "tab-1", {"user": "ada", "typing": True})
    assert wait_until(lambda: len(ev.of("join", "tab-1")) == 2, 3)
    assert lb.call(pb.list, "room") == {"tab-1": {"user": "ada", "typing": True}}

    la.call(pa.untrack, "room", "tab-1")  # a closed tab
    assert wait_until(lambda: ev.of("leave", "tab-1"), 3)
    assert time.monotonic() - t0 < 5  # well inside the 15 s timeout: untrack is immediate
    assert lb.call(pb.list, "room") == {}
    assert wait_until(lambda: "tab-1" not in hash_of(redis_server, "room"), 3)
    assert ev.threads == {lb.ident}  # hooks on the broker's loop
    assert [e[0] for e in ev.items] == ["join", "join", "leave"]


@needs_redis
def test_a_late_watcher_reads_who_is_already_here(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    a, la = broker(redis_server.url)
    b, lb = broker(redis_server.url)
    pa = la.call(lambda: a.presence)
    la.call(pa.track, "room", "x", 1)
    la.call(pa.track, "room", "y", 2)
    assert la.run(a.flush())
    pb = lb.call(lambda: b.presence)
    ev = Events()
    lb.call(pb.subscribe, "room", on_join=ev.join, on_leave=ev.leave)
    assert wait_until(lambda: lb.call(pb.list, "room") == {"x": 1, "y": 2}, 5)
    assert sorted(e[2] for e in ev.of("join")) == ["x", "y"]
    assert lb.run(pb.fetch("room")) == {"x": 1, "y": 2}


@needs_redis
def test_members_of_a_killed_process_expire_and_leave_once(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    heartbeat, timeout = 0.2, 1.0
    # Two watchers: both sweep, the leave is published by one and seen once by each.
    b, lb = broker(redis_server.url, presence_heartbeat=heartbeat, presence_timeout=timeout)
    c, lc = broker(redis_server.url, presence_heartbeat=heartbeat, presence_timeout=timeout)
    pb = lb.call(lambda: b.presence)
    pc = lc.call(lambda: c.presence)
    eb, ec = Events(), Events()
    lb.call(pb.subscribe, "room", on_join=eb.join, on_leave=eb.leave)
    lc.call(pc.subscribe, "room", on_join=ec.join, on_leave=ec.leave)
    assert lb.run(b.flush()) and lc.run(c.flush())

    child = Agent(redis_server.url, heartbeat=heartbeat, timeout=timeout)
    try:
        child.request(op="track", topic="room", key="child-1", meta={"pid": child.proc.pid})
        child.request(op="track", topic="room", key="child-2", meta=None)
        assert wait_until(lambda: len(eb.of("join")) == 2 and len(ec.of("join")) == 2, 5)
        time.sleep(3 * heartbeat)  # alive: refreshed, nobody leaves
        assert eb.of("leave") == [] and ec.of("leave") == []
        assert set(hash_of(redis_server, "room")) == {"child-1", "child-2"}

        killed_at = time.monotonic()
        child.kill()  # SIGKILL: no untrack, no goodbye
        assert wait_until(lambda: len(eb.of("leave")) == 2 and len(ec.of("leave")) == 2, 10)
        took = time.monotonic() - killed_at
        assert timeout * 0.5 < took < timeout + 5 * heartbeat + 2
    finally:
        child.stop()
    assert hash_of(redis_server, "room") == {}
    assert lb.call(pb.list, "room") == {} and lc.call(pc.list, "room") == {}
    time.sleep(3 * heartbeat)  # later sweeps find nothing more to report
    assert len(eb.of("leave")) == 2 and len(ec.of("leave")) == 2
    # Each member was removed from Redis (HDEL returned 1) by exactly one sweeper.
    assert lb.call(lambda: pb.sweeps) + lc.call(lambda: pc.sweeps) == 2


@needs_redis
def test_joins_and_leaves_of_a_child_process(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    a, la = broker(redis_server.url)
    pa = la.call(lambda: a.presence)
    child = Agent(redis_server.url, heartbeat=0.2, timeout=1.0)
    try:
        child.request(op="watch", topic="room")
        child.request(op="flush")
        la.call(pa.track, "room", "parent", {"p": 1})
        assert wait_until(lambda: child.find("join"), 5)
        assert child.find("join")[0] == {
            "ev": "join",
            "topic": "room",
            "key": "parent",
            "meta": {"p": 1},
        }
        la.call(pa.untrack, "room", "parent")
        assert wait_until(lambda: child.find("leave"), 5)
    finally:
        child.stop()


@needs_redis
def test_close_makes_members_leave(redis_server: RedisServer, broker: BrokerFactory) -> None:
    a, la = broker(redis_server.url)
    b, lb = broker(redis_server.url)
    pa = la.call(lambda: a.presence)
    pb = lb.call(lambda: b.presence)
    ev = Events()
    lb.call(pb.subscribe, "room", on_join=ev.join, on_leave=ev.leave)
    la.call(pa.track, "room", "a1", None)
    assert wait_until(lambda: ev.of("join"), 5)
    la.run(a.close())
    assert wait_until(lambda: ev.of("leave", "a1"), 3)
    assert hash_of(redis_server, "room") == {}


@needs_redis
def test_a_redis_restart_does_not_make_anyone_leave(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    heartbeat, timeout = 0.2, 1.5
    a, la = broker(redis_server.url, presence_heartbeat=heartbeat, presence_timeout=timeout)
    b, lb = broker(redis_server.url, presence_heartbeat=heartbeat, presence_timeout=timeout)
    pa = la.call(lambda: a.presence)
    pb = lb.call(lambda: b.presence)
    ev = Events()
    lb.call(pb.subscribe, "room", on_join=ev.join, on_leave=ev.leave)
    la.call(pa.track, "room", "a1", {"n": 1})
    assert wait_until(lambda: ev.of("join"), 5)

    redis_server.restart()  # no persistence: the hash is gone
    assert wait_until(lambda: a.connected and b.connected, 10)
    # A puts its member back with its next heartbeat...
    assert wait_until(lambda: "a1" in hash_of(redis_server, "room"), 5)
    # ...and B, which kept it through the outage, saw no leave and no second join.
    time.sleep(timeout + 3 * heartbeat)
    assert [e[0] for e in ev.items] == ["join"]
    assert lb.call(pb.list, "room") == {"a1": {"n": 1}}
    # A change made after the restart travels as usual.
    la.call(pa.untrack, "room", "a1")
    assert wait_until(lambda: ev.of("leave", "a1"), 3)


@needs_redis
def test_a_read_under_way_does_not_bring_back_an_untracked_member(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    a, la = broker(redis_server.url)
    pa = la.call(lambda: a.presence)
    ev = Events()
    la.call(pa.subscribe, "room", on_join=ev.join, on_leave=ev.leave)
    la.call(pa.track, "room", "k", 1)
    assert la.run(a.flush())

    async def race() -> dict[str, Any]:
        import asyncio

        reading = asyncio.ensure_future(pa._resync("room"))
        await asyncio.sleep(0)  # the HGETALL is queued, and will still see "k"
        pa.untrack("room", "k")
        await reading
        return pa.list("room")

    assert la.run(race()) == {}
    assert [e[0] for e in ev.items] == ["join", "leave"]


@needs_redis
def test_background_jitter_leaves_the_apps_random_state_alone(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    # The heartbeat's and the reconnects' jitter come from generators of their own: an app (or a
    # test) that seeds the random module sees its sequence unmoved by a broker running beside it.
    import random

    from rweb.redis_link import RedisLink

    b, lb = broker(redis_server.url, presence_heartbeat=0.02, presence_timeout=1.0)
    lb.call(lambda: b.presence.track("room", "k", None))
    random.seed(5)
    state = random.getstate()
    time.sleep(0.3)  # about 15 heartbeats
    delays = [RedisLink("redis://127.0.0.1:1", reconnect_min=0.1, reconnect_max=1.0)._backoff(a) for a in range(4)]
    assert random.getstate() == state
    assert all(0.5 * min(1.0, 0.1 * 2**a) <= d <= min(1.0, 0.1 * 2**a) for a, d in enumerate(delays))
