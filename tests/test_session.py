"""Sessions: setup, connection info, action dispatch, pushes between sessions."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from rweb import App, Conn, ConnectionInfo, UnknownAction, reactive
from rweb.html import button, component, div, form, input_, li, p, span, ul
from rweb.protocol import ErrorCode
from rweb.sessions.session import Session, SetupError
from rweb.testing import Client, serve


@reactive
class Count:
    value: int


def counter_setup(writer_id: Any) -> Any:
    count = Count(0)

    def page() -> Any:
        return div(component("display", lambda: p(count.value)), button("+", data_action="inc"))

    def on_action(action: str, params: dict[str, Any]) -> None:
        if action == "inc":
            count.value += params.get("by", 1)

    return page, on_action


# -- App and setup ------------------------------------------------------------------


def test_app_requires_a_callable_setup() -> None:
    with pytest.raises(TypeError):
        App("title", "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        App(session_setup=42)  # type: ignore[arg-type]


def test_setup_gets_the_writer_id() -> None:
    seen: list[Any] = []

    def setup(writer_id: Any) -> Any:
        seen.append(writer_id)
        return (lambda: p(f"writer {writer_id}")), {}

    c = Client(setup, writer_id=42)
    assert seen == [42]
    assert "writer 42" in c.html()


def test_two_argument_setup_gets_the_connection_info() -> None:
    seen: list[Any] = []

    def setup(writer_id: Any, conn: Conn) -> Any:
        seen.append(conn)
        return (lambda: p(conn.path, " ", conn.query.get("x", "-"))), {}

    # The socket's query is the page's when the join names no page URL.
    c = Client(setup, info=ConnectionInfo(path="/ws", query={"x": "1"}))
    assert [(x.path, dict(x.query), x.live, x.writer_id) for x in seen] == [("/", {"x": "1"}, True, 1)]
    assert "/ 1" in c.html()


def test_setup_with_a_defaulted_second_argument_gets_the_connection_info() -> None:
    def setup(writer_id: Any, conn: Any = None) -> Any:
        return (lambda: p("conn" if isinstance(conn, Conn) else "none")), {}

    assert "conn" in Client(setup).html()


@pytest.mark.parametrize(
    "result",
    [None, (lambda: p("x"),), ("not callable", {}), (lambda: p("x"), "not a handler"), [1, 2]],
)
def test_setup_returning_the_wrong_thing_is_a_setup_error(result: Any) -> None:
    app = App(session_setup=lambda w: result)
    with pytest.raises(SetupError):
        app.session(1)
    with pytest.raises(RuntimeError, match="setup_error"):
        Client(app)


def test_setup_that_raises_is_a_setup_error_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def setup(writer_id: Any) -> Any:
        raise KeyError("no such user")

    with pytest.raises(SetupError, match="KeyError"):
        App(session_setup=setup).session(1)
    caplog.set_level(logging.ERROR, logger="rweb")
    with pytest.raises(RuntimeError, match="setup_error"):
        Client(setup)
    assert any("no such user" in r.getMessage() for r in caplog.records if r.name.startswith("rweb"))


@pytest.mark.parametrize(
    ("target", "headers", "path", "query", "cookies"),
    [
        ("/ws", [], "/ws", {}, {}),
        ("/ws?x=1&y=&z=a%20b", [], "/ws", {"x": "1", "y": "", "z": "a b"}, {}),
        ("?x=1", [], "/", {"x": "1"}, {}),
        ("/ws", [("Cookie", "sid=abc; theme=dark")], "/ws", {}, {"sid": "abc", "theme": "dark"}),
        ("/ws", [("cookie", 'q="quoted value"')], "/ws", {}, {"q": "quoted value"}),
    ],
)
def test_connection_info_from_request(
    target: str, headers: list[tuple[str, str]], path: str, query: dict[str, str], cookies: dict[str, str]
) -> None:
    info = ConnectionInfo.from_request(target, headers, client="127.0.0.1")
    assert info.path == path
    assert dict(info.query) == query
    assert dict(info.cookies) == cookies
    assert info.client == "127.0.0.1"


@pytest.mark.parametrize(
    "header",
    [
        # A JSON-valued cookie (set by some other app on the same domain) ...
        '_ga=GA1.1.123; prefs={"a":1}; sid=abc',
        # ... or a cookie name outside RFC 6265's token characters ...
        "name@x=1; sid=abc",
        # ... must not hide the cookies that follow it: browsers send all of them.
        "theme=dark mode; sid=abc",
    ],
)
def test_one_odd_cookie_does_not_hide_the_others(header: str) -> None:
    info = ConnectionInfo.from_request("/ws", [("Cookie", header)])
    assert info.cookies.get("sid") == "abc", dict(info.cookies)


def test_connection_info_headers_are_lower_case_and_repeated_ones_joined() -> None:
    info = ConnectionInfo.from_request(
        "/", [("X-Thing", "a"), ("x-thing", "b"), ("User-Agent", "test")]
    )
    assert info.headers == {"x-thing": "a, b", "user-agent": "test"}


def test_malformed_cookie_header_does_not_break_the_session() -> None:
    info = ConnectionInfo.from_request("/", [("Cookie", 'bad"cookie\\; =; x')])
    assert isinstance(info.cookies, dict)


# -- dispatch -----------------------------------------------------------------------


def test_params_reach_the_handler() -> None:
    c = Client(counter_setup)
    assert c.send("inc", {"by": 5})["d"] == {"display": {"0": "5"}}
    assert c.html("display") == '<p data-rc="display">5</p>'


def test_on_action_as_a_dict_of_handlers() -> None:
    def setup(writer_id: Any) -> Any:
        count = Count(0)

        def add(params: dict[str, Any]) -> None:
            count.value += params["n"]

        def refuse(params: dict[str, Any]) -> None:
            raise UnknownAction("refuse")

        def page() -> Any:
            return div(component("display", lambda: p(count.value)))

        return page, {"add": add, "refuse": refuse}

    c = Client(setup)
    # Dict keys are the actions: no element needs to bind them.
    assert c.send("add", {"n": 3})["d"] == {"display": {"0": "3"}}
    reply = c.send("missing")
    assert reply["e"]["code"] == "unknown_action" and "missing" in reply["e"]["message"]
    reply = c.send("refuse")
    assert reply["e"]["code"] == "unknown_action"
    assert c.send("add", {"n": 1})["d"] == {"display": {"0": "4"}}


def test_handler_raising_unknown_action() -> None:
    def setup(writer_id: Any) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            raise UnknownAction(action)

        return (lambda: button("x", data_action="x")), on_action

    reply = Client(setup).send("x")
    assert reply["e"]["code"] == "unknown_action"


def test_only_actions_bound_on_the_current_page_are_accepted() -> None:
    calls: list[str] = []

    @reactive
    class Flags:
        shown: bool = False

    flags = Flags()

    def setup(writer_id: Any) -> Any:
        def page() -> Any:
            return div(
                button("show", data_action="show"),
                component("extra", lambda: flags.shown and button("secret", data_action="secret")),
                input_(data_oninput="typed"),
                input_(data_onchange="changed"),
                form(data_onsubmit="submitted"),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            calls.append(action)
            if action in ("show", "hide"):
                flags.shown = action == "show"

        return page, on_action

    c = Client(App(session_setup=setup, actions=["hide"]))
    for action in ("typed", "changed", "submitted"):
        assert "e" not in c.send(action)
    assert c.send("secret")["e"]["code"] == "unknown_action"
    assert c.send("show")["d"]["extra"]
    assert "e" not in c.send("secret")
    # "hide" is bound by no element, but the App lists it.
    assert "e" not in c.send("hide")
    assert c.send("secret")["e"]["code"] == "unknown_action"
    assert c.send("data-action")["e"]["code"] == "unknown_action"
    assert calls == ["typed", "changed", "submitted", "show", "secret", "hide"]


@pytest.mark.parametrize("mapping", [False, True], ids=["function", "mapping"])
def test_rweb_actions_are_the_frameworks_and_never_reach_the_pages_on_action(mapping: bool) -> None:
    """A name with rweb.protocol.FRAMEWORK_ACTION_PREFIX, bound on the page or not, goes to the session's
    framework_actions (rweb.flash's dismissal, set for live pages), else it is unknown."""
    calls: list[str] = []

    def page() -> Any:
        return div(button("go", data_action="go"), button("x", data_action="rweb_own"))

    def on_action(action: str, params: dict[str, Any]) -> None:
        calls.append(action)

    session = Session(page, {"go": lambda params: calls.append("go")} if mapping else on_action, 1)
    session.mount()
    assert session.dispatch("rweb_own", {})[1][0] == ErrorCode.UNKNOWN_ACTION  # type: ignore[index]
    answered: list[dict[str, Any]] = []

    class Answers:
        def framework_handler(self, action: str) -> Any:
            return answered.append if action == "rweb_own" else None

    session.framework_actions = Answers()
    assert session.dispatch("rweb_own", {"n": 1}) == ({}, None)
    assert session.dispatch("go", {}) == ({}, None)
    assert session.dispatch("rweb_other", {})[1][0] == ErrorCode.UNKNOWN_ACTION  # type: ignore[index]
    assert answered == [{"n": 1}] and calls == ["go"]


def test_handler_error_still_sends_what_was_written(caplog: pytest.LogCaptureFixture) -> None:
    def setup(writer_id: Any) -> Any:
        count = Count(0)

        def on_action(action: str, params: dict[str, Any]) -> None:
            count.value += 1
            if action == "boom":
                raise ZeroDivisionError("oops")

        page = lambda: div(  # noqa: E731
            component("display", lambda: p(count.value)),
            button("i", data_action="inc"),
            button("b", data_action="boom"),
        )
        return page, on_action

    caplog.set_level(logging.WARNING, logger="rweb")
    c = Client(setup)
    reply = c.send("boom")
    assert reply["e"]["code"] == "handler_error"
    assert "ZeroDivisionError" in reply["e"]["message"]
    assert reply["d"] == {"display": {"0": "1"}}
    records = [r for r in caplog.records if r.name.startswith("rweb")]
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in records)
    assert c.send("inc")["d"] == {"display": {"0": "2"}}


# -- shared records and pushes ---------------------------------------------------------


def shared_setup(room: Any) -> Any:
    def setup(writer_id: Any) -> Any:
        mine = Count(0)

        def page() -> Any:
            return div(
                component("room", lambda: ul([li(m) for m in room.items])),
                component("mine", lambda: p(mine.value)),
                button("say", data_action="say"),
                button("mine", data_action="mine"),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "say":
                room.items.append(f"{writer_id}: {params['text']}")
            else:
                mine.value += 1

        return page, on_action

    return setup


@reactive
class Room:
    items: Any


def test_a_write_in_one_session_pushes_to_the_other() -> None:
    room = Room([])
    setup = shared_setup(room)
    a = Client(setup, writer_id="a")
    b = Client(setup, writer_id="b")
    reply = a.send("say", {"text": "<hi>"})
    assert set(reply["d"]) == {"room"}
    assert "a: &lt;hi&gt;" in a.html("room")
    assert a.pushes == [] and b.pushes == []  # B's push waits for the event loop
    b.run_pending()
    assert len(b.pushes) == 1
    push = b.pushes[0]
    assert push["t"] == "p" and set(push["d"]) == {"room"} and "e" not in push
    assert b.html("room") == a.html("room")
    # A's own writes never come back to A as a push.
    a.run_pending()
    assert a.pushes == []
    # A session-local write reaches only its own session.
    assert set(b.send("mine")["d"]) == {"mine"}
    a.run_pending()
    assert a.pushes == []
    assert "<p data-rc=\"mine\">0</p>" in a.html()


def test_several_writes_outside_a_dispatch_coalesce_into_one_push() -> None:
    room = Room([])
    c = Client(shared_setup(room))
    room.items.append("x")
    room.items.append("y")
    room.items.append("z")
    c.run_pending()
    assert len(c.pushes) == 1
    assert c.html("room") == '<ul data-rc="room"><li>x</li><li>y</li><li>z</li></ul>'
    c.run_pending()
    assert len(c.pushes) == 1


def test_a_reply_that_already_carried_the_change_leaves_no_push() -> None:
    room = Room([])
    c = Client(shared_setup(room))
    room.items.append("outside")  # schedules a push ...
    reply = c.send("mine")  # ... but this dispatch flushes it first
    assert set(reply["d"]) == {"room", "mine"}
    c.run_pending()
    assert c.pushes == []


def test_a_closed_session_gets_no_pushes_and_drops_its_subscriptions() -> None:
    room = Room([])
    a = Client(shared_setup(room))
    b = Client(shared_setup(room))
    b.close()
    a.send("say", {"text": "after close"})
    b.run_pending()
    assert b.pushes == []
    readers = room.items._subs
    assert len(readers) == 1  # only A's "room" component still reads the list


def test_push_carries_render_errors() -> None:
    @reactive
    class Flag:
        on: bool = False

    flag = Flag()

    def setup(writer_id: Any) -> Any:
        def bad() -> Any:
            if flag.on:
                raise RuntimeError("pushed render failed")
            return span("fine")

        return (lambda: div(component("bad", bad), component("ok", lambda: span(str(flag.on))))), {}

    c = Client(setup)
    flag.on = True
    c.run_pending()
    (push,) = c.pushes
    assert push["e"]["code"] == "render_error"
    assert set(push["d"]) == {"ok"}


# -- against the real server -----------------------------------------------------------


def conn_setup(writer_id: Any, conn: ConnectionInfo) -> Any:
    if conn.query.get("fail") == "1":
        raise PermissionError("setup refused on purpose")
    count = Count(0)

    def page() -> Any:
        return div(
            p("path=", conn.path),
            p("x=", conn.query.get("x", "-")),
            p("sid=", conn.cookies.get("sid", "-")),
            p("theme=", conn.cookies.get("theme", "-")),
            p("ua=", conn.headers.get("user-agent", "-")),
            component("display", lambda: div(span("Count: "), span(count.value))),
            button("+", data_action="inc"),
        )

    def on_action(action: str, params: dict[str, Any]) -> None:
        count.value += 1

    return page, on_action


def test_real_server_passes_cookies_query_and_headers(wire: Any) -> None:
    async def main(url: str) -> None:
        headers = {"Cookie": "sid=abc123; theme=<dark>"}
        async with wire.connect(url + "?x=1&y=2", additional_headers=headers, user_agent_header="ua/1") as ws:
            init = await wire.recv(ws)
            root = init["c"]["root"]["d"]
            # Without a page URL in the join, the page is "/" and the socket's query is its query.
            assert "/" in root and "1" in root and "abc123" in root and "ua/1" in root
            assert "&lt;dark&gt;" in root  # cookie values are escaped like any text
            assert (await wire.click(ws))["d"]["display"] == {"0": "1"}

    with serve(conn_setup) as srv:
        wire.run(main(srv.ws_url))


def test_real_server_setup_error_closes_only_that_socket(
    wire: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from websockets.exceptions import ConnectionClosed

    caplog.set_level(logging.WARNING, logger="rweb")

    async def main(url: str) -> None:
        async with wire.connect(url) as good:
            await wire.recv(good)
            assert (await wire.click(good))["d"]["display"] == {"0": "1"}
            async with wire.connect(url + "?fail=1") as bad:
                msg = await wire.recv(bad)
                assert msg["e"]["code"] == "setup_error"
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(bad.recv(), 10)
                assert bad.close_code == 1011
            assert any("setup refused" in r.getMessage() for r in caplog.records)
            assert (await wire.click(good))["d"]["display"] == {"0": "2"}
        async with wire.connect(url) as again:
            await wire.recv(again)
            assert (await wire.click(again))["d"]["display"] == {"0": "1"}

    with serve(conn_setup) as srv:
        wire.run(main(srv.ws_url))


def test_real_server_root_render_error_closes_the_socket(wire: Any) -> None:
    from websockets.exceptions import ConnectionClosed

    def setup(writer_id: Any) -> Any:
        def page() -> Any:
            raise ValueError("root is broken")

        return page, {}

    async def main(url: str) -> None:
        async with wire.connect(url) as ws:
            msg = await wire.recv(ws)
            assert msg["t"] == "r" and msg["e"]["code"] == "render_error"
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)

    with serve(setup) as srv:
        wire.run(main(srv.ws_url))


def test_real_server_pushes_between_sessions_and_from_server_writes(wire: Any) -> None:
    room = Room([])

    async def main(srv: Any) -> None:
        url = srv.ws_url
        async with wire.connect(url) as a, wire.connect(url) as b:
            await wire.recv(a)
            await wire.recv(b)
            reply = await wire.click(a, "say", params={"text": "hello"})
            assert set(reply["d"]) == {"room"}
            push = await wire.recv(b)
            assert push["t"] == "p" and "hello" in push["d"]["room"]["d"][0]
            # A write on the server's own loop (a timer, say) pushes to both.
            srv.call(lambda: room.items.append("tick"))
            for ws in (a, b):
                push = await wire.recv(ws)
                assert push["t"] == "p" and "tick" in str(push["d"]["room"])
            # And replies keep flowing normally afterwards.
            assert set((await wire.click(b, "mine"))["d"]) == {"mine"}
            assert set((await wire.click(a, "mine"))["d"]) == {"mine"}

    with serve(shared_setup(room)) as srv:
        wire.run(main(srv))
        # Once the sockets are gone, their sessions stop reading the shared list.
        subs: Any = None
        for _ in range(100):  # bounded: the disconnects are processed asynchronously
            subs = srv.call(lambda: len(room.items._subs))
            if subs == 0:
                break
            asyncio.run(asyncio.sleep(0.05))
        assert subs == 0
