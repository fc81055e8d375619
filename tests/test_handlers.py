"""Handlers: what user code raises never escapes, async handlers, and the blocking warning.

Through the real server (``rweb.testing.serve`` and the real ``websockets``
client), through the ASGI callable, and in-process (``rweb.testing.Client``,
or a bare :class:`~rweb.connection.Connection` on a real asyncio loop).
Every wait is bounded.  docs/handlers.md's snippets run here too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rweb.sessions.session
from rweb import App, Conn, ConnectionInfo, reactive
from rweb.html import button, component, div, span
from rweb.live.connection import Connection
from rweb.testing import Client, Served, TestClient, serve

DOCS = Path(__file__).resolve().parent.parent / "docs"

RAISED: dict[str, type[BaseException]] = {
    "cancel": asyncio.CancelledError,
    "exit": SystemExit,
    "interrupt": KeyboardInterrupt,
    "generator_exit": GeneratorExit,
}


@reactive
class Box:
    value: int


def make_app(events: list[str] | None = None, **options: Any) -> App:
    """One page: a per-session ``v``, a shared ``s``, and handlers of every kind (a mapping)."""
    log = events if events is not None else []
    shared = Box(0)
    gate = asyncio.Event()  # shared too: "release" from any session opens it
    app = App("handlers", **options)

    @app.page("/")
    def setup(writer_id: Any, conn: Conn) -> Any:
        box = Box(1)

        def page() -> Any:
            return div(component("v", lambda: span(box.value)), component("s", lambda: span(shared.value)))

        def inc(params: dict[str, Any]) -> None:
            box.value += 1

        def share(params: dict[str, Any]) -> None:
            shared.value += 1

        def raise_(params: dict[str, Any]) -> None:
            box.value += 1  # written before raising: still sent
            raise RAISED[params["what"]]()

        async def mul(params: dict[str, Any]) -> None:
            await asyncio.sleep(float(params.get("delay", 0.05)))
            box.value *= 10

        async def sleepy(params: dict[str, Any]) -> None:
            log.append(f"start {writer_id}")
            try:
                await asyncio.sleep(float(params.get("delay", 0.3)))
            except asyncio.CancelledError:
                log.append(f"cancelled {writer_id}")
                raise
            box.value += 100
            log.append(f"done {writer_id}")

        async def fail(params: dict[str, Any]) -> None:
            box.value += 1
            await asyncio.sleep(0.01)
            raise ValueError("secret detail")

        async def wait(params: dict[str, Any]) -> None:
            box.value += 1
            await gate.wait()
            box.value += 1

        def release(params: dict[str, Any]) -> None:
            gate.set()

        async def go(params: dict[str, Any]) -> None:
            conn.navigate("/?page=2")
            await asyncio.sleep(0.01)
            box.value = 7

        def block(params: dict[str, Any]) -> None:
            time.sleep(float(params.get("seconds", 0.06)))

        conn.on_close(lambda: log.append(f"closed {writer_id}"))
        return page, {
            "inc": inc, "share": share, "raise": raise_, "mul": mul, "sleepy": sleepy, "fail": fail,
            "wait": wait, "release": release, "go": go, "block": block,
        }

    return app


def msg(action: str, ref: Any = None, **params: Any) -> str:
    return json.dumps({"action": action, "params": params, **({"ref": ref} if ref is not None else {})})


@pytest.fixture
def events() -> list[str]:
    return []


@pytest.fixture
def server(events: list[str]) -> Iterator[Served]:
    with serve(make_app(events)) as srv:
        yield srv


def batch_sizes(srv: Served) -> list[int]:
    """Record how many messages each ``Server.answer`` call answers."""
    sizes: list[int] = []
    server = srv.server
    answer = server.answer

    def counting() -> None:
        sizes.append(len(server.inbox) // 2)
        answer()

    srv.call(lambda: setattr(server, "answer", counting))
    return sizes


async def wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


# -- what user code raises: through the real server -----------------------------------


@pytest.mark.parametrize("what", ["cancel", "exit", "interrupt"])
def test_a_base_exception_in_a_handler_is_its_error_reply_and_the_batch_goes_on(
    what: str, server: Served, wire: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="rweb")
    sizes = batch_sizes(server)
    name = RAISED[what].__name__

    async def main() -> None:
        async with wire.connect(server.ws_url) as a, wire.connect(server.ws_url) as b:
            await wire.recv(a)
            await wire.recv(b)
            # Hold the server's loop while both messages go out: it then reads
            # both sockets in one turn and answers them in one batch.
            hold = asyncio.create_task(asyncio.to_thread(server.call, lambda: time.sleep(0.3)))
            await asyncio.sleep(0.1)
            await a.send(msg("raise", "a", what=what))
            await b.send(msg("inc", "b"))
            await hold
            ra = await wire.recv(a)
            rb = await wire.recv(b)
            assert ra["ref"] == "a" and ra["e"]["code"] == "handler_error"
            assert re.fullmatch(rf"action 'raise' failed: {name} \(ref [0-9a-f]{{8}}\)", ra["e"]["message"])
            assert ra["d"] == {"v": {"0": "2"}}  # what it wrote before raising
            assert rb == {"t": "r", "d": {"v": {"0": "2"}}, "ref": "b"}
            # Both sessions go on.
            assert (await wire.click(a, "inc"))["d"] == {"v": {"0": "3"}}
            assert (await wire.click(b, "inc"))["d"] == {"v": {"0": "3"}}
        async with wire.connect(server.ws_url) as c:  # and so does the worker
            assert (await wire.recv(c))["t"] == "init"
            assert (await wire.click(c, "inc"))["d"] == {"v": {"0": "2"}}

    wire.run(main())
    assert 2 in sizes, sizes  # the two messages were one batch
    logged = [r.getMessage() for r in caplog.records if r.name == "rweb.session"]
    assert any(f"on_action('raise') raised {name} (ref " in line for line in logged), logged


def test_the_server_still_stops_and_cancels_running_handlers(server: Served, events: list[str], wire: Any) -> None:
    # A handler's SystemExit is an error reply; the server's own stop (SIGINT /
    # SIGTERM reach start_rweb's loop signal handlers, which close the server)
    # still works, and cancels the handlers under way.
    async def main() -> None:
        from websockets.exceptions import ConnectionClosed

        async with wire.connect(server.ws_url) as a:
            await wire.recv(a)
            assert (await wire.ask(a, msg("raise", what="exit")))["e"]["code"] == "handler_error"
            await a.send(msg("sleepy", delay=30))
            await wait_for(lambda: any(e.startswith("start") for e in events))
            closing = asyncio.run_coroutine_threadsafe(server.server.close(), server.loop)
            await asyncio.wait_for(asyncio.wrap_future(closing), 10)
            with pytest.raises(ConnectionClosed) as closed:
                await wire.recv(a)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        await wait_for(lambda: any(e.startswith("cancelled") for e in events))

    wire.run(main())
    assert not any(e.startswith("done") for e in events)


# -- async handlers: through the real server -------------------------------------------


def test_an_async_handler_does_not_hold_up_other_sessions(server: Served, wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(server.ws_url) as a, wire.connect(server.ws_url) as b:
            await wire.recv(a)
            await wire.recv(b)
            t0 = time.monotonic()
            await a.send(msg("sleepy", "slow", delay=0.3))
            await b.send(msg("inc", "fast"))
            rb = await wire.recv(b)
            fast = time.monotonic() - t0
            ra = await wire.recv(a)
            slow = time.monotonic() - t0
            assert rb == {"t": "r", "d": {"v": {"0": "2"}}, "ref": "fast"}
            assert ra == {"t": "r", "d": {"v": {"0": "101"}}, "ref": "slow"}
            assert fast < 0.2 and slow >= 0.3, (fast, slow)

    wire.run(main())


def test_one_sessions_messages_are_applied_and_answered_in_order(server: Served, wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(server.ws_url) as a:
            await wire.recv(a)
            # value 1: mul (async) then inc gives 11; inc then mul would give 20.
            await a.send(msg("mul", 1, delay=0.1))
            await a.send(msg("inc", 2))
            await a.send(msg("mul", 3, delay=0.02))
            await a.send(b"\x00")  # a binary frame: its error reply waits its turn too
            await a.send(json.dumps({"t": "nav", "url": "/?q=1", "ref": 5}))
            await a.send(msg("mul", 6, delay=0.0))
            replies = [await wire.recv(a) for _ in range(6)]
            assert [r.get("ref") for r in replies] == [1, 2, 3, None, 5, 6]
            assert replies[0]["d"] == {"v": {"0": "10"}}
            assert replies[1]["d"] == {"v": {"0": "11"}}
            assert replies[2]["d"] == {"v": {"0": "110"}}
            assert replies[3]["e"]["code"] == "binary_frame"
            assert replies[4]["t"] == "init"  # the page mounted anew (no on_params hook)
            assert replies[5]["d"] == {"v": {"0": "10"}}

    wire.run(main())


def test_an_exception_in_an_async_handler_is_a_handler_error(
    server: Served, wire: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="rweb")

    async def main() -> None:
        async with wire.connect(server.ws_url) as a:
            await wire.recv(a)
            reply = await wire.ask(a, msg("fail", 9))
            assert reply["ref"] == 9 and reply["d"] == {"v": {"0": "2"}}
            assert reply["e"]["code"] == "handler_error" and "ValueError" in reply["e"]["message"]
            assert "secret" not in json.dumps(reply)
            assert (await wire.click(a, "inc"))["d"] == {"v": {"0": "3"}}

    wire.run(main())
    assert any("on_action('fail') raised ValueError" in r.getMessage() for r in caplog.records)


def test_closing_the_socket_cancels_the_running_handler(server: Served, events: list[str], wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(server.ws_url) as a:
            await wire.recv(a)
            await a.send(msg("sleepy", delay=5))
            await a.send(msg("inc"))  # waits behind it: never answered
            await wait_for(lambda: any(e.startswith("start") for e in events))
        await wait_for(lambda: any(e.startswith("cancelled") for e in events))
        await wait_for(lambda: any(e.startswith("closed") for e in events))

    wire.run(main())
    assert not any(e.startswith("done") for e in events)
    assert server.call(lambda: server.app.sessions) == {}


def test_a_held_session_gets_other_sessions_writes_with_its_reply(server: Served, wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(server.ws_url) as a, wire.connect(server.ws_url) as b:
            await wire.recv(a)
            await wire.recv(b)
            await a.send(msg("wait", "w"))  # v += 1, await the gate, v += 1
            await asyncio.sleep(0.05)
            # b writes shared state that a shows too: b is answered at once...
            assert (await wire.click(b, "share"))["d"] == {"s": {"0": "1"}}
            # ...while a, held by its handler, is sent nothing: no push half-way.
            with pytest.raises(TimeoutError):
                await wire.recv(a, timeout=0.2)
            assert (await wire.click(b, "release"))["d"] == {}
            # a's reply carries all that changed while its handler ran.
            assert await wire.recv(a) == {"t": "r", "d": {"v": {"0": "3"}, "s": {"0": "1"}}, "ref": "w"}
            assert (await wire.click(b, "share"))["d"] == {"s": {"0": "2"}}
            assert (await wire.recv(a)) == {"t": "p", "d": {"s": {"0": "2"}}}  # pushed again, as usual

    wire.run(main())


def test_an_async_handlers_effects_ride_on_its_reply(server: Served, wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(server.ws_url) as a:
            await wire.recv(a)
            reply = await wire.ask(a, msg("go", 1))
            assert reply == {
                "t": "r", "d": {"v": {"0": "7"}}, "ref": 1,
                "fx": [["nav", {"url": "/?page=2", "mode": "push"}]],
            }
            with pytest.raises(TimeoutError):  # and no push of its own
                await wire.recv(a, timeout=0.1)

    wire.run(main())


def test_a_blocking_handler_is_logged_with_its_name(wire: Any, caplog: pytest.LogCaptureFixture) -> None:
    rweb.sessions.session._slow_logged.clear()
    caplog.set_level(logging.WARNING, logger="rweb")
    with serve(make_app(slow_callback_ms=30)) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url) as a:
                await wire.recv(a)
                assert (await wire.ask(a, msg("block", seconds=0.06)))["d"] == {}
                assert (await wire.ask(a, msg("block", seconds=0.06)))["d"] == {}
                assert (await wire.click(a, "inc"))["d"] == {"v": {"0": "2"}}

        wire.run(main())
    lines = [r.getMessage() for r in caplog.records if "blocked the event loop" in r.getMessage()]
    assert len(lines) == 1, lines  # once a minute per handler
    assert re.search(r"session \d+: handler \S*make_app\.<locals>\.setup\.<locals>\.block \(action 'block'\) "
                     r"blocked the event loop for \d+ ms \(limit 30 ms\)", lines[0]), lines[0]


# -- through the ASGI callable ---------------------------------------------------------------


class Channel:
    """Both directions of one ASGI connection."""

    def __init__(self) -> None:
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive(self) -> dict[str, Any]:
        return await self.to_app.get()

    async def send(self, message: dict[str, Any]) -> None:
        await self.from_app.put(message)

    async def text(self) -> dict[str, Any]:
        message = await asyncio.wait_for(self.from_app.get(), 5)
        return json.loads(message["text"])


def test_async_handlers_and_base_exceptions_under_asgi(events: list[str], wire: Any) -> None:
    import rweb

    asgi_app = rweb.asgi(make_app(events))
    scope = {"type": "websocket", "path": "/ws", "root_path": "", "query_string": b"",
             "headers": [(b"host", b"test")], "client": ("127.0.0.1", 1), "scheme": "ws", "subprotocols": []}

    async def main() -> None:
        sock = Channel()
        task = asyncio.create_task(asgi_app(scope, sock.receive, sock.send))
        await sock.to_app.put({"type": "websocket.connect"})
        assert (await asyncio.wait_for(sock.from_app.get(), 5))["type"] == "websocket.accept"
        assert (await sock.text())["t"] == "init"
        for m in (msg("mul", 1, delay=0.05), msg("inc", 2), msg("raise", 3, what="exit")):
            await sock.to_app.put({"type": "websocket.receive", "text": m})
        await sock.to_app.put({"type": "websocket.receive", "bytes": b"\x00"})
        replies = [await sock.text() for _ in range(4)]
        assert [r.get("ref") for r in replies] == [1, 2, 3, None]
        assert [r["d"] for r in replies[:3]] == [{"v": {"0": "10"}}, {"v": {"0": "11"}}, {"v": {"0": "12"}}]
        assert replies[2]["e"]["code"] == "handler_error" and replies[3]["e"]["code"] == "binary_frame"
        await sock.to_app.put({"type": "websocket.receive", "text": msg("sleepy", delay=5)})
        await wait_for(lambda: any(e.startswith("start") for e in events))
        await sock.to_app.put({"type": "websocket.disconnect", "code": 1001})
        await asyncio.wait_for(task, 5)
        await wait_for(lambda: any(e.startswith("cancelled") for e in events))

    wire.run(main())


# -- in-process: rweb.testing.Client -----------------------------------------------------------


@pytest.mark.parametrize("what", sorted(RAISED))
def test_every_base_exception_of_a_handler_is_a_handler_error_in_process(what: str) -> None:
    tab = Client(make_app())
    reply = tab.send("raise", {"what": what})
    assert reply["e"]["code"] == "handler_error" and RAISED[what].__name__ in reply["e"]["message"]
    assert reply["d"] == {"v": {"0": "2"}}
    assert tab.send("inc")["d"] == {"v": {"0": "3"}}


@pytest.mark.parametrize("what", ["cancel", "exit", "interrupt"])
def test_a_base_exception_of_a_callable_on_action(what: str) -> None:
    def setup(writer_id: Any) -> Any:
        box = Box(0)

        def on_action(action: str, params: dict[str, Any]) -> None:
            box.value += 1
            if action == "boom":
                raise RAISED[what]()

        return (lambda: div(span(box.value), button("b", data_action="boom"), button("+", data_action="inc"))), on_action

    tab = Client(setup)
    assert tab.send("boom")["e"]["code"] == "handler_error"
    assert tab.send("inc") == {"t": "r", "d": {"root": {"0": "2"}}, "ref": 2}


@pytest.mark.parametrize("what", sorted(RAISED))
def test_every_base_exception_of_an_async_handler_is_a_handler_error(what: str) -> None:
    def setup(writer_id: Any) -> Any:
        box = Box(0)

        async def boom(params: dict[str, Any]) -> None:
            box.value += 1
            await asyncio.sleep(0)
            raise RAISED[what]()

        return (lambda: div(span(box.value))), {"boom": boom}

    tab = Client(setup)
    reply = tab.send("boom")
    assert reply["e"]["code"] == "handler_error" and RAISED[what].__name__ in reply["e"]["message"]
    assert reply["d"] == {"root": {"0": "1"}}
    assert tab.send("boom")["d"] == {"root": {"0": "2"}}


def test_closing_a_handlers_coroutine_closes_it_and_releases_the_page() -> None:
    app = make_app()
    session = app.session(1)
    session.mount()
    patches, pending = session.dispatch("sleepy", {"delay": 5})
    assert patches is None and session.view.hold

    loop = asyncio.new_event_loop()
    coro = session.finish("sleepy", pending)
    loop.call_soon(coro.send, None)  # runs to the handler's first await
    loop.call_soon(loop.stop)
    loop.run_forever()
    # As when a pending task is collected: GeneratorExit goes through (else
    # "coroutine ignored GeneratorExit"), and the handler's finally blocks ran.
    coro.close()
    loop.close()
    assert not session.view.hold


def test_async_handlers_in_process() -> None:
    tab = Client(make_app())
    assert tab.send("mul", {"delay": 0.01}) == {"t": "r", "d": {"v": {"0": "10"}}, "ref": 1}
    assert tab.send("inc")["d"] == {"v": {"0": "11"}}
    reply = tab.send("fail")
    assert reply["e"]["code"] == "handler_error" and reply["d"] == {"v": {"0": "12"}}
    reply = tab.send("go")  # its effect rides on the reply: the client follows it
    assert reply["fx"] == [["nav", {"url": "/?page=2", "mode": "push"}]] and tab.url == "/?page=2"
    assert tab.pushes == []
    tab.close()


def test_a_client_waits_for_an_async_reply_at_most_its_timeout() -> None:
    tab = Client(make_app())
    tab.timeout = 0.1
    with pytest.raises(TimeoutError):
        tab.send("wait")
    tab.close()  # the handler is cancelled, not left pending


class Boom:
    """A render that raises a BaseException once ``armed``."""

    def __init__(self, exc: type[BaseException]) -> None:
        self.exc = exc
        self.armed = False


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, asyncio.CancelledError])
def test_a_base_exception_in_a_render_is_a_render_error_and_the_page_stays_whole(
    exc: type[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="rweb")
    boom = Boom(exc)

    def setup(writer_id: Any) -> Any:
        box = Box(0)

        def bad() -> Any:
            if boom.armed and box.value:
                raise boom.exc()
            return span("bad ", box.value)

        def page() -> Any:
            return div(
                component("a", lambda: span("a ", box.value)),
                component("wrap", lambda: div(component("bad", bad), span(box.value))),
                component("z", lambda: span("z ", box.value)),
            )

        def inc(params: dict[str, Any]) -> None:
            box.value += 1

        return page, {"inc": inc}

    tab = Client(setup)
    boom.armed = True
    reply = tab.send("inc")
    assert reply["e"]["code"] == "render_error" and exc.__name__ in reply["e"]["message"]
    assert "'bad'" in reply["e"]["message"]
    # The browser's page matches the server's: every component but the failed one shows 1.
    assert tab.html() == (
        '<div data-rc="root"><span data-rc="a">a 1</span><div data-rc="wrap"><span data-rc="bad">bad 0</span>'
        '<span>1</span></div><span data-rc="z">z 1</span></div>'
    )
    boom.armed = False
    reply = tab.send("inc")
    assert "e" not in reply
    assert tab.html() == (
        '<div data-rc="root"><span data-rc="a">a 2</span><div data-rc="wrap"><span data-rc="bad">bad 2</span>'
        '<span>2</span></div><span data-rc="z">z 2</span></div>'
    )
    assert any("component 'bad' failed to render" in r.getMessage() for r in caplog.records)


def test_a_base_exception_in_the_first_render_or_the_setup_fails_the_join() -> None:
    def render_fails(writer_id: Any) -> Any:
        def page() -> Any:
            raise KeyboardInterrupt

        return page, {}

    with pytest.raises(RuntimeError, match="render_error"):
        Client(render_fails)

    def setup_fails(writer_id: Any) -> Any:
        raise SystemExit(2)

    with pytest.raises(RuntimeError, match="setup_error"):
        Client(setup_fails)
    assert TestClient(App(session_setup=setup_fails)).get("/").status == 500


def raiser(exc: BaseException) -> Any:
    def fn(*args: Any) -> None:
        raise exc

    return fn


def test_base_exceptions_in_hooks_params_hooks_and_callbacks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="rweb")
    app = App("hooks")

    @app.page("/")
    def setup(writer_id: Any, conn: Conn) -> Any:
        box = Box(0)

        def params(path_params: Any, query: Any) -> None:
            if query.get("x") == "cancel":
                raise asyncio.CancelledError
            box.value = int(query.get("x", 0))

        conn.on_params(params)
        conn.on_close(raiser(SystemExit(1)))
        return (lambda: div(span(box.value))), {}

    app.on_session_start(raiser(KeyboardInterrupt()))
    app.on_session_end(raiser(SystemExit(3)))

    @app.get("/exit")
    def exit_handler(request: Any) -> Any:
        raise SystemExit(4)

    @app.get("/cancel")
    async def cancel_handler(request: Any) -> Any:
        raise asyncio.CancelledError

    http = TestClient(app)
    tab = http.live("/")
    assert tab.navigate("/?x=3")["d"] == {"root": {"0": "3"}}
    reply = tab.navigate("/?x=cancel")
    assert reply["e"]["code"] == "handler_error" and "CancelledError" in reply["e"]["message"]
    app.in_session(tab.writer_id, raiser(SystemExit(5)))
    tab.run_pending()
    assert tab.pushes[-1]["e"]["code"] == "handler_error"
    tab.close()
    assert app.sessions == {}
    assert http.get("/exit").status == 500
    assert http.get("/cancel").status == 500
    logged = " ".join(r.getMessage() for r in caplog.records)
    for what in ("start hook raised", "end hook raised", "on_close callback raised", "GET /exit failed"):
        assert what in logged, what


# -- in-process: a Connection on a real asyncio loop ----------------------------------------------


def test_connection_queues_messages_behind_an_async_handler_and_close_cancels_it(events: list[str]) -> None:
    app = make_app(events)

    async def main() -> None:
        app.bind(asyncio.get_running_loop())
        loop = asyncio.get_running_loop()
        sent: list[dict[str, Any]] = []
        c = Connection(app, 1, ConnectionInfo(), lambda b: sent.append(json.loads(b)), loop.call_soon)
        c.open()
        assert c.receive(msg("mul", 1, delay=0.01)) is None
        assert c.receive(msg("inc", 2)) is None
        assert c.too_large(10**6) is None and c.receive_binary() is None
        c.run(lambda conn: None)  # in_session work waits its turn too
        await wait_for(lambda: len(sent) == 4)
        assert [m.get("ref") for m in sent] == [1, 2, None, None]
        assert [m["e"]["code"] for m in sent[2:]] == ["too_large", "binary_frame"]
        assert c.receive(msg("inc", 3)) is not None  # idle again: answered at once

        assert c.receive(msg("sleepy", 4, delay=5)) is None
        assert c.receive(msg("inc", 5)) is None
        await wait_for(lambda: "start 1" in events)
        c.close()
        await wait_for(lambda: "cancelled 1" in events)
        await asyncio.sleep(0.05)
        assert len(sent) == 4 and "closed 1" in events and app.sessions == {}

        # Closed before its task started: the handler's coroutine is closed, never run.
        c = Connection(app, 2, ConnectionInfo(), lambda b: sent.append(json.loads(b)), loop.call_soon)
        c.open()
        assert c.receive(msg("sleepy", 6, delay=5)) is None
        c.close()
        await asyncio.sleep(0.05)
        assert "start 2" not in events and len(sent) == 4

    with no_leaks():
        asyncio.run(main())


def test_a_connection_without_a_loop_answers_an_async_handler_with_an_error() -> None:
    app = make_app()  # never bound to a loop
    c = Connection(app, 1, ConnectionInfo(), lambda b: None, lambda fn: None)
    c.open()
    reply = json.loads(c.receive(msg("mul", 1)) or b"{}")
    assert reply["e"]["code"] == "handler_error" and "RuntimeError" in reply["e"]["message"]
    assert json.loads(c.receive(msg("inc", 2)) or b"{}")["d"] == {"v": {"0": "2"}}


class no_leaks:
    """No "coroutine ... was never awaited", no "Task was destroyed but it is pending"."""

    def __enter__(self) -> None:
        self.unraisable: list[Any] = []
        self.hook = sys.unraisablehook
        sys.unraisablehook = self.unraisable.append
        self.handler = _Records()
        logging.getLogger("asyncio").addHandler(self.handler)

    def __exit__(self, *exc: object) -> None:
        import gc

        gc.collect()
        sys.unraisablehook = self.hook
        logging.getLogger("asyncio").removeHandler(self.handler)
        if exc[0] is None:
            assert not self.unraisable, [(u.exc_value, u.object) for u in self.unraisable]
            assert not self.handler.records, [r.getMessage() for r in self.handler.records]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# -- the blocking warning ---------------------------------------------------------------------


def test_slow_setup_render_and_handler_are_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    rweb.sessions.session._slow_logged.clear()
    caplog.set_level(logging.WARNING, logger="rweb")
    box = Box(0)

    def slow_setup(writer_id: Any) -> Any:
        time.sleep(0.04)

        def slow_page() -> Any:
            if box.value:
                time.sleep(0.04)
            return div(span(box.value))

        def inc(params: dict[str, Any]) -> None:
            box.value += 1

        return slow_page, {"inc": inc}

    tab = Client(slow_setup, slow_callback_ms=20)
    tab.send("inc")
    tab.send("inc")
    lines = [r.getMessage() for r in caplog.records if "blocked the event loop" in r.getMessage()]
    assert len(lines) == 2, lines
    assert re.search(r"session_setup \S+slow_setup blocked the event loop for \d+ ms \(limit 20 ms\)", lines[0])
    assert re.search(r"render of \S+slow_setup\.<locals>\.slow_page after 'inc' blocked", lines[1])

    rweb.sessions.session._slow_logged.clear()
    caplog.clear()
    tab = Client(slow_setup, slow_callback_ms=None)  # off
    tab.send("inc")
    assert not [r for r in caplog.records if "blocked the event loop" in r.getMessage()]
    with pytest.raises(ValueError):
        App(session_setup=slow_setup, slow_callback_ms=-1)

    # Set after the app is made, it holds for the sessions opened from then on: off, then on again.
    app = App(session_setup=slow_setup, slow_callback_ms=20)
    app.slow_callback_ms = None
    Client(app).send("inc")
    assert not [r for r in caplog.records if "blocked the event loop" in r.getMessage()]
    app.slow_callback_ms = 20
    Client(app).send("inc")
    lines = [r.getMessage() for r in caplog.records if "blocked the event loop" in r.getMessage()]
    assert any(re.search(r"session_setup \S+slow_setup blocked .* \(limit 20 ms\)", line) for line in lines), lines
    with pytest.raises(ValueError):
        app.slow_callback_ms = -1


# -- docs/handlers.md ----------------------------------------------------------------------------


_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_the_guides_snippets_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = (DOCS / "handlers.md").read_text()
    blocks = [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in _BLOCK.finditer(text)]
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    ran = 0
    for line, code in blocks:
        name = f"rweb_docs_handlers_{line}"
        module = types.ModuleType(name)
        module.__file__ = str(DOCS / "handlers.md")
        monkeypatch.setitem(sys.modules, name, module)
        exec(compile("\n" * (line - 1) + code, str(DOCS / "handlers.md"), "exec"), module.__dict__)
        for key, fn in list(module.__dict__.items()):
            if key.startswith("test_") and callable(fn):
                fn()
                ran += 1
    assert ran >= 2
