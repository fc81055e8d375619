"""Push from anywhere: timers, tasks, topics, presence and triggers tied to a session's life.

Through the real server (``rweb.testing.serve``) and a real WebSocket client;
the broker test runs two servers (two Apps, as two instances would) through a
real redis-server on a free loopback port.  Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from redis_server import RedisServer

from rweb import App, Conn, reactive
from rweb.html import component, div, li, span, ul
from rweb.testing import serve


@reactive
class Box:
    value: Any


def board_app(broker: Any = None, instance: str = "i1") -> App:
    """A page that shows the last message of topic "news", who is in "room", and a clock tick.

    Writer ids are unique within one server, not across instances: presence
    keys carry the instance's name.
    """
    app = App("board", broker=broker, actions=["say", "poke"])

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        news, members, ticks = Box(""), Box({}), Box(0)
        conn.subscribe("news", lambda m: setattr(news, "value", m["text"]))
        conn.track("room", f"{instance}-{writer_id}", {"name": f"user {instance}-{writer_id}"})
        conn.watch("room", lambda ms: setattr(members, "value", dict(ms)))
        if conn.query.get("clock"):
            conn.every(0.05, lambda: setattr(ticks, "value", ticks.value + 1))

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "say":
                app.publish("news", {"text": params["text"]})
            elif action == "poke":
                news.value = "poked"

        return (
            lambda: div(
                component("news", lambda: span(news.value)),
                component("who", lambda: ul([li(m["name"]) for _, m in sorted(members.value.items())])),
                component("ticks", lambda: span(ticks.value)),
            ),
            on_action,
        )

    return app


async def until(ws: Any, wire: Any, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
    """Read messages until ``pred(msg)``; returns that message."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        msg = await wire.recv(ws, max(0.05, end - loop.time()))
        if pred(msg):
            return msg


def news_is(text: str) -> Any:
    return lambda m: (m.get("d") or {}).get("news") == {"0": text}


def test_a_timer_pushes_and_stops_with_the_session(wire: Any) -> None:
    app = board_app()
    with serve(app) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url + "?url=" + "/%3Fclock%3D1") as ws:
                await wire.recv(ws)
                seen = []
                while len(seen) < 3:
                    msg = await wire.recv(ws)
                    if msg["t"] == "p" and "ticks" in msg["d"]:
                        seen.append(int(msg["d"]["ticks"]["0"]))
                assert seen == sorted(seen) and seen[-1] >= 3

        wire.run(main())
        srv.call(lambda: None)
    assert app.sessions == {}


def test_publish_from_another_thread_reaches_every_subscriber_once(wire: Any) -> None:
    app = board_app()
    with serve(app) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url) as a, wire.connect(srv.ws_url) as b:
                await wire.recv(a)
                await wire.recv(b)
                threading.Thread(target=app.publish, args=("news", {"text": "from a thread"})).start()
                await until(a, wire, news_is("from a thread"))
                await until(b, wire, news_is("from a thread"))
                # From a session: the sender's reply and the other's push.
                await a.send('{"action":"say","params":{"text":"hello <b>"}}')
                await until(a, wire, news_is("hello &lt;b&gt;"))
                await until(b, wire, news_is("hello &lt;b&gt;"))
            assert srv.call(lambda: app.pubsub.subscribers("news")) == 0  # unsubscribed at the end

        wire.run(main())


def test_presence_joins_and_a_closed_tab_leaves_at_once(wire: Any) -> None:
    app = board_app()
    with serve(app) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url) as a:
                await wire.recv(a)
                async with wire.connect(srv.ws_url) as b:
                    await wire.recv(b)
                    await until(a, wire, lambda m: "who" in (m.get("d") or {}) and str(m).count("user ") == 2)
                    assert len(srv.call(lambda: app.presence("room"))) == 2
                await until(a, wire, lambda m: "who" in (m.get("d") or {}) and str(m).count("user ") == 1)
                assert len(srv.call(lambda: app.presence("room"))) == 1

        wire.run(main())


def test_trigger_runs_an_action_in_a_session_from_outside(wire: Any) -> None:
    app = board_app()
    with serve(app) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url) as ws:
                await wire.recv(ws)
                [wid] = srv.call(lambda: list(app.sessions))
                done: list[bool] = []
                t = threading.Thread(target=lambda: done.append(app.trigger(wid, "poke")))
                t.start()
                await until(ws, wire, news_is("poked"))
                t.join(5)
                assert done == [True] and app.trigger("nobody", "poke") is False

        wire.run(main())


def test_timers_and_topics_belong_to_the_live_session() -> None:
    app = App("x")
    conn = Conn(app, __import__("rweb").ConnectionInfo(), live=False)
    with pytest.raises(RuntimeError):
        conn.subscribe("t", print)


# -- across servers, through Redis ------------------------------------------------------


def test_topics_and_presence_cross_servers_through_redis(redis_server: RedisServer, wire: Any) -> None:
    one, two = board_app(redis_server.url, "one"), board_app(redis_server.url, "two")
    with serve(one) as s1, serve(two) as s2:

        async def main() -> None:
            async with wire.connect(s1.ws_url) as a, wire.connect(s2.ws_url) as b:
                await wire.recv(a)
                await wire.recv(b)
                # b's server learns of a (another instance) through Redis presence.
                await until(b, wire, lambda m: "who" in (m.get("d") or {}) and str(m).count("user ") == 2, 10)
                await a.send('{"action":"say","params":{"text":"across"}}')
                await until(b, wire, news_is("across"), 10)
                await until(a, wire, news_is("across"))

        wire.run(main())


# -- state shared between sessions: never split silently ----------------------------------


@reactive
class Tally:
    n: int


def tally_app(tally: Tally, broker: Any = None) -> App:
    app = App("tally", broker=broker, actions=["bump"])

    @app.page("/")
    def home(writer_id: Any) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            tally.n += 1

        return (lambda: div(component("n", lambda: span(tally.n)))), on_action

    return app


def test_several_workers_without_a_broker_refuse_state_that_sessions_share(caplog: pytest.LogCaptureFixture) -> None:
    from rweb import process_local
    from rweb.reactive import on_shared_state
    from rweb.testing import Client

    shared = Tally(0)  # module-level state: made before the server starts
    app = tally_app(shared)
    app.refuse_split_state(2)
    try:
        # Refused at the first read, the first session's included: on a server of two
        # workers it may well be the only one of its worker, and it would split silently.
        for wid in (1, 2, 3):
            page = Client(app, writer_id=wid)
            assert page.init["e"]["code"] == "shared_state"
            assert "data-rweb-error" in page.html() and "0" not in page.html()
        assert sum("without a broker" in r.getMessage() for r in caplog.records) == 1
        own = process_local(Tally(5))
        local = tally_app(own)
        Client(local, writer_id=1)
        assert "5" in Client(local, writer_id=2).html()  # declared per process: allowed
    finally:
        on_shared_state(None)


def test_start_rweb_refuses_shared_records_with_several_workers_and_no_broker() -> None:
    from rweb.server import start_rweb

    app = tally_app(Tally(0))
    app.share("tally", Tally(0))
    with pytest.raises(RuntimeError, match="without one"):
        start_rweb(0, app, workers=2)


def test_a_shared_record_is_identical_in_two_servers_through_redis(redis_server: RedisServer, wire: Any) -> None:
    t1, t2 = Tally(0), Tally(0)
    one, two = tally_app(t1, redis_server.url), tally_app(t2, redis_server.url)
    one.share("tally", t1)
    two.share("tally", t2)
    with serve(one) as s1, serve(two) as s2:

        async def main() -> None:
            async with wire.connect(s1.ws_url) as a, wire.connect(s2.ws_url) as b:
                await wire.recv(a)
                await wire.recv(b)
                for _ in range(3):
                    await a.send('{"action":"bump","params":{}}')
                await until(b, wire, lambda m: (m.get("d") or {}).get("n") == {"0": "3"}, 10)
                await b.send('{"action":"bump","params":{}}')
                await until(a, wire, lambda m: (m.get("d") or {}).get("n") == {"0": "4"}, 10)

        wire.run(main())
    assert t1.n == t2.n == 4


def test_the_first_paint_creates_no_timer_topic_or_presence() -> None:
    import asyncio as aio

    from rweb import Request

    app = App("x")

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        for call in (lambda: conn.track("room", "ghost"), lambda: conn.subscribe("t", print),
                     lambda: conn.every(1, print), lambda: conn.watch("room", print)):
            with pytest.raises(RuntimeError, match="live session"):
                call()
        return (lambda: div("x")), {}

    assert aio.run(app.handle_http(Request("GET", "/"))).status == 200
    assert app.presence("room") == {} and app.pubsub.subscribers("t") == 0


def test_watch_before_track_sees_the_session_itself_and_an_own_publish_rides_on_the_reply() -> None:
    from rweb.testing import Client

    app = App("x", actions=["say"])

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        who, said = Box({}), Box("")
        conn.watch("room", lambda ms: setattr(who, "value", dict(ms)))  # before track
        conn.track("room", f"u{writer_id}", {"n": writer_id})
        conn.subscribe("news", lambda m: setattr(said, "value", m))

        def on_action(action: str, params: dict[str, Any]) -> None:
            app.publish("news", params["text"])

        return (lambda: div(component("who", lambda: span(len(who.value))),
                            component("said", lambda: span(said.value)))), on_action

    a = Client(app, writer_id=1)
    assert "<span data-rc=\"who\">1</span>" in a.html()
    b = Client(app, writer_id=2)
    assert "<span data-rc=\"who\">2</span>" in b.html()
    a.run_pending()
    assert "<span data-rc=\"who\">2</span>" in a.html()
    n = len(a.pushes)
    reply = a.send("say", {"text": "hi"})
    assert reply["d"]["said"] == {"0": "hi"} and len(a.pushes) == n  # one message: the reply
    b.run_pending()
    assert "hi" in b.html()


def test_the_in_process_broker_carries_json_values_as_redis_does() -> None:
    app = App("x")
    got: list[Any] = []
    app.pubsub.subscribe("t", lambda _t, m: got.append(m))
    app.publish("t", (1, 2))
    assert got == [[1, 2]]
    with pytest.raises(TypeError):
        app.publish("t", {1, 2})


def test_with_a_broker_an_unshared_record_that_sessions_share_is_refused_too() -> None:
    import asyncio as aio

    from rweb.pubsub import LocalPubSub
    from rweb.testing import Client

    app = tally_app(Tally(0), broker=LocalPubSub())  # a broker: other processes exist by design
    aio.run(app.startup())
    try:
        Client(app, writer_id=1)
        assert "data-rweb-error" in Client(app, writer_id=2).html()
    finally:
        aio.run(app.shutdown())
    other = tally_app(Tally(0))  # the check ends with the app's services
    Client(other, writer_id=1)
    assert "data-rweb-error" not in Client(other, writer_id=2).html()


def test_a_session_hears_of_a_gap_in_its_topic() -> None:
    """conn.subscribe(..., on_gap=...): the broker may have missed messages; the session reloads."""
    from rweb.pubsub import LocalPubSub
    from rweb.testing import Client

    class GappyBroker(LocalPubSub):
        def __init__(self) -> None:
            super().__init__()
            self.gaps: list[Any] = []

        def subscribe(self, topic: str, callback: Any, *, on_gap: Any = None) -> Any:
            if on_gap is not None:
                self.gaps.append((topic, on_gap))
            return super().subscribe(topic, callback)

    broker = GappyBroker()
    app = App("x", broker=broker)

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        reloads = Box(0)
        conn.subscribe("news", print, on_gap=lambda: setattr(reloads, "value", reloads.value + 1))
        return (lambda: div(component("n", lambda: span(reloads.value)))), {}

    c = Client(app)
    [(topic, gap)] = broker.gaps
    gap(topic)  # what the Redis broker does after a reconnection
    c.run_pending()
    assert c.pushes[-1]["d"] == {"n": {"0": "1"}}
