"""rweb.broker_redis.RedisPubSub against a real redis-server on a free loopback port.

Brokers run on their own event loops in threads (as workers would, one loop
each), and one test drives a broker in a child process.  Redis is stopped and
started again on the same port; a ``TcpGate`` cuts one broker off while the
others keep Redis.  Every wait is bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from redis_server import Agent, LoopThread, RedisServer, TcpGate, redis_py_missing, wait_until

pytestmark = pytest.mark.skipif(redis_py_missing() is not None, reason=str(redis_py_missing()))

if redis_py_missing() is None:
    from rweb.broker_redis import RedisPubSub

FAST = {"reconnect_min": 0.02, "reconnect_max": 0.2, "connect_timeout": 2.0, "io_timeout": 2.0}


BrokerFactory = Callable[..., tuple["RedisPubSub", LoopThread]]


@pytest.fixture
def broker() -> Iterator[BrokerFactory]:
    """``broker(url, **options)`` -> a started RedisPubSub on its own loop thread."""
    made: list[tuple[RedisPubSub, LoopThread]] = []

    def make(
        url: str, *, start: bool = True, wait: float = 10.0, **options: Any
    ) -> tuple[RedisPubSub, LoopThread]:
        loop = LoopThread(f"broker-{len(made)}")
        b = RedisPubSub(url, **{**FAST, **options})
        made.append((b, loop))
        if start:
            assert loop.run(b.start(wait=wait)), "the broker did not connect"
        return b, loop

    yield make
    for b, loop in made:
        try:
            loop.run(b.close(timeout=0.5), timeout=10)
        finally:
            loop.stop()


@pytest.fixture
def gate(redis_server: RedisServer) -> Iterator[TcpGate]:
    g = TcpGate(redis_server.port)
    try:
        yield g
    finally:
        g.stop()


def numsub(server: RedisServer, *channels: str) -> dict[str, int]:
    flat = server.command("PUBSUB", "NUMSUB", *channels)
    return {k.decode(): int(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}


def publish_all(broker: RedisPubSub, topic: str, messages: list[Any]) -> None:
    for m in messages:
        broker.publish(topic, m)


class Inbox:
    """Collects (topic, message, thread id) from subscriber callbacks."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any, int]] = []
        self.gaps: list[str] = []

    def __call__(self, topic: str, message: Any) -> None:
        self.items.append((topic, message, threading.get_ident()))

    def gap(self, topic: str) -> None:
        self.gaps.append(topic)

    def messages(self, topic: str | None = None) -> list[Any]:
        return [m for t, m, _ in list(self.items) if topic is None or t == topic]


# -- topics between brokers ------------------------------------------------------------


def test_two_brokers_exchange_messages_in_order_without_echo(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    a, la = broker(redis_server.url)
    b, lb = broker(redis_server.url)
    at, bt = Inbox(), Inbox()
    la.call(a.subscribe, "chat", at)
    lb.call(b.subscribe, "chat", bt)
    assert la.run(a.flush()) and lb.run(b.flush())
    assert numsub(redis_server, "rweb:t:chat") == {"rweb:t:chat": 2}

    def burst(broker: RedisPubSub, who: str) -> None:
        for i in range(300):
            broker.publish("chat", {"from": who, "i": i})

    la.call(burst, a, "a")
    lb.call(burst, b, "b")
    assert wait_until(lambda: len(at.items) == 600 and len(bt.items) == 600, 15)
    time.sleep(0.2)  # an echo, if one slipped through, would arrive now
    for inbox in (at, bt):
        msgs = inbox.messages()
        assert len(msgs) == 600  # each message exactly once: the own echo is ignored
        for who in ("a", "b"):
            assert [m["i"] for m in msgs if m["from"] == who] == list(range(300))
    # Remote messages were delivered on the receiving broker's loop thread.
    assert {tid for _, _, tid in bt.items} == {lb.ident}
    assert {tid for _, _, tid in at.items} == {la.ident}
    sa, sb = la.call(a.stats), lb.call(b.stats)
    assert sa["published"] == 300 and sa["sent"] == 300 and sa["received"] == 300
    assert sa["delivered"] == 600 and sa["dropped"] == 0 and sa["pending"] == 0
    assert sb["received"] == 300 and sb["connected"] is True and sb["subscriptions"] == 1


def test_local_subscribers_get_the_message_synchronously(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    a, la = broker(redis_server.url)
    inbox = Inbox()

    def publish_and_look() -> list[Any]:
        a.subscribe("t", inbox)
        a.publish("t", {"n": (1, 2)})
        return inbox.messages()  # already there: no await in between

    # What local subscribers get is what other processes get: the JSON value.
    assert la.call(publish_and_look) == [{"n": [1, 2]}]
    assert la.call(a.subscribers, "t") == 1
    with pytest.raises(TypeError):
        la.call(a.publish, "t", {"not json": object()})
    assert la.call(lambda: a.stats()["published"]) == 1


def test_the_publish_leaves_before_the_local_fan_out(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    """Another process gets a message while its publisher still delivers it to its own
    subscribers (a worker's sessions), so that the two fan-outs overlap: ordering events, no timing.

    The publisher's first local subscriber holds its delivery until the other broker has the
    message (bounded).  Were the PUBLISH written after the local fan-out, as a task run when
    the loop is next free, the other broker could only get it once every local subscriber had
    it, and the hold would run out first.
    """
    a, la = broker(redis_server.url)
    b, lb = broker(redis_server.url)
    events: list[str] = []
    remote_has_it = threading.Event()

    def remote(topic: str, message: Any) -> None:
        events.append("remote")
        remote_has_it.set()

    def local(i: int) -> Callable[[str, Any], None]:
        def deliver(topic: str, message: Any) -> None:
            if i == 0:
                remote_has_it.wait(5.0)
            events.append(f"local {i}")

        return deliver

    n = 50
    lb.call(b.subscribe, "room", remote)
    for i in range(n):
        la.call(a.subscribe, "room", local(i))
    assert la.run(a.flush()) and lb.run(b.flush())
    la.call(a.publish, "room", {"post": 1})
    assert wait_until(lambda: len(events) == n + 1, 10)
    assert events.index("remote") < events.index("local 0")
    # Each local subscriber still gets it inside publish(), in subscription order.
    assert [e for e in events if e != "remote"] == [f"local {i}" for i in range(n)]
    assert wait_until(lambda: la.call(a.stats)["sent"] == 1)  # and its reply was read


def test_take_gives_a_snapshot_once_and_deletes_one_over_the_limit_unread(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    from rweb.snapshot import TooLarge

    a, la = broker(redis_server.url)
    la.call(a.store, "s1", b"x" * 10, 60)
    la.call(a.store, "s2", b"y" * 11, 60)
    assert la.run(a.sync(5))
    assert la.run(a.take("s1", 10)) == b"x" * 10  # exactly the limit: taken
    assert la.run(a.take("s1", 10)) is None  # once
    with pytest.raises(TooLarge) as over:
        la.run(a.take("s2", 10))
    assert over.value.size == 11
    assert redis_server.command("EXISTS", a.channel_prefix + "s2") == 0  # deleted unread
    assert la.run(a.take("never stored", 10)) is None


def evals(server: RedisServer) -> int:
    """How many EVAL commands the server ran so far (INFO commandstats)."""
    stats = server.command("INFO", "commandstats")
    return int(stats.get("cmdstat_eval", {}).get("calls", 0))


def test_store_many_keeps_every_snapshot_in_one_command_per_batch(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    """The interval's save of many sessions: one reply to read per batch, not one per session."""
    from rweb.live.redis_store import BATCH_BYTES, BATCH_KEYS

    a, la = broker(redis_server.url)
    before = evals(redis_server)
    la.call(a.store_many, [(f"m{i}", b"v%d" % i) for i in range(3)], 60)
    assert la.run(a.sync(5))
    assert evals(redis_server) == before + 1
    for i in range(3):
        assert redis_server.command("GET", a.channel_prefix + f"m{i}") == b"v%d" % i
        assert 55_000 < redis_server.command("PTTL", a.channel_prefix + f"m{i}") <= 60_000
    # Bounded batches: BATCH_KEYS keys per command; a last one alone is a plain SET.
    n = 2 * BATCH_KEYS + 1
    before = evals(redis_server)
    la.call(a.store_many, [(f"n{i}", b"w%d" % i) for i in range(n)], 30)
    assert la.run(a.sync(5))
    assert evals(redis_server) == before + 2
    assert redis_server.command("MGET", *[a.channel_prefix + f"n{i}" for i in range(n)]) == [
        b"w%d" % i for i in range(n)
    ]
    assert 25_000 < redis_server.command("PTTL", a.channel_prefix + f"n{n - 1}") <= 30_000
    assert la.run(a.take("m1", 10)) == b"v1"  # taken as one stored alone is
    # and BATCH_BYTES bytes per command: two large snapshots go together, the third alone.
    big = [(f"b{i}", bytes([65 + i]) * (BATCH_BYTES // 2 + 1)) for i in range(3)]
    before = evals(redis_server)
    la.call(a.store_many, big, 30)
    assert la.run(a.sync(5))
    assert evals(redis_server) == before + 1
    assert [redis_server.command("GET", a.channel_prefix + k) for k, _ in big] == [v for _, v in big]


def test_unsubscribe_stops_delivery_and_the_redis_subscription(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    a, la = broker(redis_server.url)
    b, lb = broker(redis_server.url)
    one, two, other = Inbox(), Inbox(), Inbox()
    stop_one = lb.call(b.subscribe, "t", one)
    stop_two = lb.call(b.subscribe, "t", two)
    lb.call(b.subscribe, "u", other)
    assert lb.run(b.flush())
    assert numsub(redis_server, "rweb:t:t")["rweb:t:t"] == 1  # one Redis subscription per topic

    lb.call(stop_one)
    lb.call(stop_one)  # twice is harmless
    assert lb.call(b.subscribers, "t") == 1
    la.call(a.publish, "t", 1)
    assert wait_until(lambda: two.messages() == [1])
    assert one.messages() == []

    lb.call(stop_two)
    assert lb.run(b.flush())
    assert numsub(redis_server, "rweb:t:t")["rweb:t:t"] == 0  # UNSUBSCRIBEd with the last one
    la.call(a.publish, "t", 2)
    la.call(a.publish, "u", "marker")
    # A's messages arrive in order: once "u" is in, "t" would have been too.
    assert wait_until(lambda: other.messages() == ["marker"])
    assert two.messages() == [1]


def test_publish_from_another_thread_is_marshalled_to_the_loop(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    a, la = broker(redis_server.url)
    b, lb = broker(redis_server.url)
    local, remote = Inbox(), Inbox()
    la.call(a.subscribe, "t", local)
    lb.call(b.subscribe, "t", remote)
    assert lb.run(b.flush())

    def worker() -> None:
        for i in range(20):
            a.publish("t", i)  # not the loop's thread

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert wait_until(lambda: len(local.items) == 60 and len(remote.items) == 60)
    assert {tid for _, _, tid in local.items} == {la.ident}  # callbacks only on the loop
    assert sorted(local.messages()) == sorted(list(range(20)) * 3)
    # Encoding happens in the caller: a bad value fails there.
    with pytest.raises(TypeError):
        a.publish("t", {1j})
    # Subscribing is for the loop's thread only.
    with pytest.raises(RuntimeError, match="event loop thread"):
        a.subscribe("t", local)


# -- across processes ---------------------------------------------------------------------


def test_a_broker_in_another_process(redis_server: RedisServer, broker: BrokerFactory) -> None:
    a, la = broker(redis_server.url)
    child = Agent(redis_server.url)
    try:
        pongs, seq, pings = Inbox(), Inbox(), Inbox()
        la.call(a.subscribe, "pong", pongs)
        la.call(a.subscribe, "seq", seq)
        la.call(a.subscribe, "ping", pings)
        assert la.run(a.flush())
        child.request(op="relay", topic="ping", to="pong")
        child.request(op="flush")

        def pings_out() -> None:
            for i in range(200):
                a.publish("ping", i)

        la.call(pings_out)
        assert wait_until(lambda: len(pongs.items) == 200, 15), child.stderr()
        assert pongs.messages() == list(range(200))
        assert pings.messages() == list(range(200))  # our own, once, not echoed back

        child.request(op="publish_many", topic="seq", count=1000)
        assert wait_until(lambda: len(seq.items) == 1000, 15)
        assert seq.messages() == list(range(1000))  # one publisher's order is kept
        # And the other way round, to a subscriber in the child.
        child.request(op="subscribe", topic="to-child")
        child.request(op="flush")
        la.call(a.publish, "to-child", {"hello": "child"})
        assert wait_until(lambda: child.find("message"), 10)
        assert child.find("message")[0] == {
            "ev": "message",
            "topic": "to-child",
            "message": {"hello": "child"},
        }
    finally:
        child.stop()


# -- when Redis goes away --------------------------------------------------------------------


def test_redis_restart_reconnects_resubscribes_and_delivers_held_publishes(
    redis_server: RedisServer,
    broker: BrokerFactory,
    gate: TcpGate,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="rweb.broker_redis")
    a, la = broker(gate.url)  # A reaches Redis through the gate
    hooked: list[str] = []
    b, lb = broker(redis_server.url, on_gap=hooked.append)
    ai, bi, bu = Inbox(), Inbox(), Inbox()
    la.call(a.subscribe, "t", ai, on_gap=ai.gap)
    lb.call(b.subscribe, "t", bi, on_gap=bi.gap)
    lb.call(b.subscribe, "u", bu, on_gap=bu.gap)
    assert la.run(a.flush()) and lb.run(b.flush())

    # Redis goes down for both; A stays cut off until B is back, so that B is
    # subscribed again when A's held publishes go out.
    gate.close()
    redis_server.stop()
    assert wait_until(lambda: not a.connected and not b.connected, 10)
    t0 = time.perf_counter()
    la.call(publish_all, a, "t", [f"held-{i}" for i in range(3)])
    assert time.perf_counter() - t0 < 1.0  # never waits on Redis
    assert la.call(lambda: a.stats()["pending"]) == 3
    assert ai.messages() == ["held-0", "held-1", "held-2"]  # local subscribers at once
    time.sleep(0.5)  # several failed reconnection attempts

    redis_server.start()  # same port
    assert wait_until(lambda: b.connected and sorted(bi.gaps + bu.gaps) == ["t", "u"], 10)
    assert lb.run(b.flush())
    assert numsub(redis_server, "rweb:t:t", "rweb:t:u") == {"rweb:t:t": 1, "rweb:t:u": 1}

    gate.reopen()
    assert wait_until(lambda: a.connected and ai.gaps == ["t"], 10)
    assert wait_until(lambda: bi.messages() == ["held-0", "held-1", "held-2"], 10)
    assert la.call(lambda: a.stats()["pending"]) == 0

    # Business as usual, both ways.
    lb.call(b.publish, "t", "from-b")
    la.call(a.publish, "t", "from-a")
    assert wait_until(lambda: ai.messages()[-1] == "from-b" and bi.messages()[-1] == "from-a")
    assert la.call(lambda: a.stats()["reconnects"]) == 1
    assert lb.call(lambda: b.stats()["reconnects"]) == 1
    assert lb.call(lambda: b.stats()["gaps"]) == 2
    # Each broker logged the outage once (start and end), not per attempt or message.
    lost = [r for r in caplog.records if "lost the connection" in r.getMessage()]
    back = [r for r in caplog.records if "reconnected to" in r.getMessage()]
    assert len(lost) == 2 and len(back) == 2
    assert bi.gaps == ["t"] and bu.gaps == ["u"]  # once per topic
    assert sorted(hooked) == ["t", "u"]  # and the broker-wide hook


def test_overflow_drops_the_oldest_and_reports_it(
    redis_server: RedisServer,
    broker: BrokerFactory,
    gate: TcpGate,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="rweb.broker_redis")
    drops: list[tuple[str, int]] = []
    a, la = broker(gate.url, max_pending=5, on_drop=lambda t, n: drops.append((t, n)))
    b, lb = broker(redis_server.url)
    bi = Inbox()
    lb.call(b.subscribe, "t", bi, on_gap=bi.gap)
    assert lb.run(b.flush())

    gate.close()  # only A loses Redis
    assert wait_until(lambda: not a.connected, 10)
    la.call(publish_all, a, "t", list(range(12)))
    stats = la.call(a.stats)
    assert stats["dropped"] == 7 and stats["pending"] == 5
    assert wait_until(lambda: sum(n for _, n in drops) == 7, 5)
    assert {t for t, _ in drops} == {"t"}
    assert any("dropped 7 publishes" in r.getMessage() for r in caplog.records)

    gate.reopen()
    # The newest five arrive in order; then B is told it missed some.
    assert wait_until(lambda: bi.messages() == [7, 8, 9, 10, 11] and bi.gaps == ["t"], 10)
    assert b.connected and lb.call(lambda: b.stats()["reconnects"]) == 0


def test_start_while_redis_is_down_holds_publishes(broker: BrokerFactory) -> None:
    server = RedisServer()  # not started yet
    try:
        a, la = broker(server.url, start=False)
        inbox = Inbox()
        la.call(a.subscribe, "t", inbox)
        assert la.run(a.start(wait=0.3)) is False
        la.call(a.publish, "t", "early")
        server.start()
        assert wait_until(lambda: a.connected, 10)
        b, lb = broker(server.url)
        later = Inbox()
        lb.call(b.subscribe, "t", later)
        assert lb.run(b.flush()) and la.run(a.flush())
        la.call(a.publish, "t", "late")
        assert wait_until(lambda: later.messages() == ["late"])
        assert inbox.messages() == ["early", "late"]
        assert inbox.gaps == []
    finally:
        server.close()


def test_close_sends_what_is_queued(redis_server: RedisServer, broker: BrokerFactory) -> None:
    a, la = broker(redis_server.url)
    b, lb = broker(redis_server.url)
    bi = Inbox()
    lb.call(b.subscribe, "t", bi)
    assert lb.run(b.flush())

    async def publish_and_close() -> None:
        for i in range(500):
            a.publish("t", i)
        await a.close()

    la.run(publish_and_close())
    assert wait_until(lambda: len(bi.items) == 500)
    assert bi.messages() == list(range(500))
    assert a.stats()["dropped"] == 0 and not a.connected


def test_a_dead_connection_is_noticed_by_the_keepalive(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    # Redis frozen (SIGSTOP): no RST, the socket just goes quiet.
    import signal

    a, _ = broker(redis_server.url, keepalive=0.3, io_timeout=0.5)
    assert redis_server.proc is not None
    redis_server.proc.send_signal(signal.SIGSTOP)
    try:
        assert wait_until(lambda: not a.connected, 10)
    finally:
        redis_server.proc.send_signal(signal.SIGCONT)
    assert wait_until(lambda: a.connected, 10)


def test_a_raising_subscriber_does_not_stop_the_others(
    redis_server: RedisServer, broker: BrokerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    a, la = broker(redis_server.url)
    b, lb = broker(redis_server.url)
    before, after = Inbox(), Inbox()

    def boom(topic: str, message: Any) -> None:
        raise ValueError("subscriber bug")

    for inbox_or_boom in (before, boom, after):
        lb.call(b.subscribe, "t", inbox_or_boom)
        la.call(a.subscribe, "t", inbox_or_boom)
    assert lb.run(b.flush()) and la.run(a.flush())
    la.call(a.publish, "t", 1)
    assert wait_until(lambda: after.messages() == [1, 1] and before.messages() == [1, 1])
    assert any("subscriber of 't' raised" in r.getMessage() for r in caplog.records)


def test_publish_after_close_is_counted_as_dropped(
    redis_server: RedisServer, broker: BrokerFactory
) -> None:
    a, la = broker(redis_server.url)
    inbox = Inbox()
    la.call(a.subscribe, "t", inbox)
    la.run(a.close())
    la.call(a.publish, "t", "late")
    assert inbox.messages() == ["late"]  # local subscribers still get it
    assert a.stats()["dropped"] == 1 and a.stats()["connected"] is False
