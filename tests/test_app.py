"""The runtime layer: routes, joins, live navigation, effects, hooks, the registry and the scheduler.

In-process tests drive :class:`rweb.connection.Connection` directly (bytes in,
bytes out); the scheduler and registry tests run the real server and a real
WebSocket client.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

import rweb
from rweb import App, Conn, ConnectionInfo, Redirect, reactive
from rweb.html import button, component, div, p, span
from rweb.live.connection import Connection
from rweb.protocol import Join, assemble
from rweb.testing import Page, serve


@reactive
class Count:
    value: int


def make_app() -> tuple[App, list[str]]:
    """Two reactive pages, one with a params hook, a refusing page, a plain page."""
    events: list[str] = []
    app = App("Shop")

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        count = Count(0)
        events.append(f"setup / live={conn.live}")
        conn.on_close(lambda: events.append("closed /"))

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "inc":
                count.value += 1
            elif action == "go":
                conn.navigate(f"/items/{params['id']}")
            elif action == "away":
                conn.redirect("https://example.org/", external=True)
            elif action == "cookie":
                conn.set_cookie("flavour", "oat")

        return (
            lambda: div(
                component("n", lambda: span(count.value)),
                button("+", data_action="inc"),
                button("go", data_action="go"),
                button("away", data_action="away"),
                button("cookie", data_action="cookie"),
            ),
            on_action,
        )

    @app.page("/items/{item_id:int}", title="Item")
    def item(writer_id: Any, conn: Conn) -> Any:
        shown = Count(conn.params["item_id"])
        clicks = Count(0)
        events.append(f"setup item {conn.params['item_id']}")

        @conn.on_params
        def params(params: dict[str, Any], query: Any) -> None:
            shown.value = params["item_id"]

        def on_action(action: str, params: dict[str, Any]) -> None:
            clicks.value += 1

        return (
            lambda: div(
                component("item", lambda: span("item ", shown.value)),
                component("clicks", lambda: span(clicks.value)),
                button("+", data_action="click"),
            ),
            on_action,
        )

    @app.page("/private")
    def private(writer_id: Any, conn: Conn) -> Any:
        if conn.cookies.get("user") != "ann":
            raise Redirect("/login")
        return (lambda: p("hello ann")), {}

    @app.get("/about")
    def about(request: rweb.Request) -> str:
        return "<p>about</p>"

    return app, events


class Tab:
    """One in-process socket: the page's components as the browser keeps them."""

    def __init__(self, app: App, url: str = "/", cookies: dict[str, str] | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.scheduled: list[Callable[[], None]] = []
        info = ConnectionInfo(path="/ws", query={"url": url}, cookies=cookies or {})
        self.conn = Connection(app, 7, info, lambda b: self.sent.append(json.loads(b)), self.scheduled.append)
        raw, self.ok = self.conn.open()
        self.init = json.loads(raw)
        self.comps: dict[str, Any] = dict(self.init.get("c", {}))
        self.ref = 0

    def send(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.ref += 1
        reply = json.loads(self.conn.receive(json.dumps({**msg, "ref": self.ref})))
        assert reply["ref"] == self.ref
        if reply["t"] == "init":
            self.comps = dict(reply["c"])
        else:
            for name, patch in reply.get("d", {}).items():
                if patch is None:
                    self.comps.pop(name, None)
                elif "s" in patch:
                    self.comps[name] = patch
                else:
                    for k, v in patch.items():
                        self.comps[name]["d"][int(k)] = v
        return reply

    def click(self, action: str, **params: Any) -> dict[str, Any]:
        return self.send({"action": action, "params": params})

    def nav(self, url: str) -> dict[str, Any]:
        return self.send({"t": "nav", "url": url})

    def html(self) -> str:
        return assemble(self.comps)

    def run_pending(self) -> None:
        while self.scheduled:
            self.scheduled.pop(0)()


# -- joins -----------------------------------------------------------------------


def test_the_join_url_picks_the_page_and_its_parameters() -> None:
    app, events = make_app()
    tab = Tab(app, "/items/3?x=1")
    assert tab.ok and "item 3" in tab.html()
    assert events == ["setup item 3"]


def test_join_without_url_is_the_root_page_with_the_socket_query() -> None:
    assert Join.from_socket_query("") == Join("/")
    assert Join.from_socket_query("x=1") == Join("/?x=1")
    assert Join.from_socket_query("url=%2Fitems%2F3%3Fq%3D1") == Join("/items/3?q=1")


def test_join_to_an_unknown_page_is_not_found_and_closes() -> None:
    app, _ = make_app()
    tab = Tab(app, "/nowhere")
    assert not tab.ok
    assert tab.init["e"]["code"] == "not_found"
    assert app.sessions == {}


def test_a_page_that_refuses_the_session_redirects_the_browser() -> None:
    app, _ = make_app()
    tab = Tab(app, "/private")
    assert not tab.ok
    assert tab.init["fx"] == [["nav", {"url": "/login", "mode": "load"}]]
    assert Tab(app, "/private", cookies={"user": "ann"}).ok


def test_setup_is_told_whether_it_runs_for_the_first_paint_or_live() -> None:
    app, events = make_app()
    response = asyncio.run(app.handle_http(rweb.Request("GET", "/")))
    assert response.status == 200 and b'data-rc="root"' in response.body
    Tab(app, "/")
    assert events == ["setup / live=False", "setup / live=True"]


def test_first_paint_of_a_refusing_page_is_a_303() -> None:
    app, _ = make_app()
    response = asyncio.run(app.handle_http(rweb.Request("GET", "/private")))
    assert response.status == 303 and response.header("location") == "/login"


# -- live navigation ---------------------------------------------------------------


def test_navigating_to_another_page_mounts_its_session_and_ends_the_old_one() -> None:
    app, events = make_app()
    page = Page(app, "/")
    page.click("button[data-action=inc]")
    assert page.text("[data-rc=n]") == "1"
    [reply] = page.navigate("/items/5")
    assert reply["t"] == "init" and reply["url"] == "/items/5" and reply["title"] == "Item"
    assert page.text("[data-rc=item]") == "item 5" and not page.exists("[data-rc=n]")
    assert events[-2:] == ["closed /", "setup item 5"]
    [reply] = page.navigate("/")
    assert reply["t"] == "init"
    assert page.text("[data-rc=n]") == "0"  # a fresh session


def test_a_patch_to_the_same_page_keeps_the_session_and_calls_its_params_hook() -> None:
    app, events = make_app()
    page = Page(app, "/items/1")
    page.click("button[data-action=click]")
    [reply] = page.navigate("/items/2")
    assert reply["t"] == "r" and reply["d"] == {"item": {"0": "2"}}
    assert page.text("[data-rc=item]") == "item 2" and page.text("[data-rc=clicks]") == "1"
    assert events == ["setup item 1"]


def test_navigating_to_a_plain_page_tells_the_browser_to_load_it() -> None:
    app, _ = make_app()
    tab = Tab(app, "/")
    reply = tab.nav("/about")
    assert reply["fx"] == [["nav", {"url": "/about", "mode": "load"}]]
    assert "+" in tab.html()  # the session goes on until the browser leaves


@pytest.mark.parametrize("url", ["//evil.example/x", "https://evil.example/", "items", 42])
def test_a_nav_to_anything_but_an_app_path_is_refused(url: Any) -> None:
    app, _ = make_app()
    tab = Tab(app, "/")
    reply = tab.nav(url)
    assert reply["e"]["code"] == "bad_message"
    assert tab.click("inc")["d"] == {"n": {"0": "1"}}  # the session is intact


def test_navigate_from_a_handler_is_an_effect_on_the_reply() -> None:
    app, _ = make_app()
    tab = Tab(app, "/")
    reply = tab.click("go", id=9)
    assert reply["fx"] == [["nav", {"url": "/items/9", "mode": "push"}]]
    tab.run_pending()
    assert tab.sent == []  # the reply carried it: nothing more is pushed


def test_redirect_to_another_site_from_a_handler() -> None:
    app, _ = make_app()
    tab = Tab(app, "/")
    assert tab.click("away")["fx"] == [["nav", {"url": "https://example.org/", "mode": "load"}]]


def test_navigate_refuses_urls_outside_the_app() -> None:
    conn = Conn(App("x"), ConnectionInfo(), live=True)
    with pytest.raises(ValueError):
        conn.navigate("https://evil.example/")
    with pytest.raises(ValueError):
        conn.redirect("javascript:alert(1)")


# -- cookies from a live session ------------------------------------------------------


def test_a_cookie_set_in_a_live_session_is_redeemed_once_over_http() -> None:
    app, _ = make_app()
    tab = Tab(app, "/")
    reply = tab.click("cookie")
    [(kind, data)] = reply["fx"]
    assert kind == "cookie" and data["url"] == "/_rweb/cookie"
    assert "oat" not in data["token"]  # encrypted: JavaScript never sees an HttpOnly value
    ok = asyncio.run(app.handle_http(rweb.Request("POST", "/_rweb/cookie", body=data["token"].encode())))
    assert ok.status == 204
    assert ok.header("set-cookie") == "flavour=oat; Path=/; Secure; HttpOnly; SameSite=Lax"
    again = asyncio.run(app.handle_http(rweb.Request("POST", "/_rweb/cookie", body=data["token"].encode())))
    assert again.status == 403
    t = data["token"]
    forged = t[:40] + ("A" if t[40] != "A" else "B") + t[41:]
    bad = asyncio.run(app.handle_http(rweb.Request("POST", "/_rweb/cookie", body=forged.encode())))
    assert bad.status == 403


def test_a_cookie_token_from_another_app_secret_is_refused() -> None:
    a, _ = make_app()
    b = App("other")
    token = a.cookie_token(["k=v; Path=/"])
    assert asyncio.run(b.redeem_cookie_token(token)) is None
    assert asyncio.run(a.redeem_cookie_token(token)) == ["k=v; Path=/"]


def test_a_cookie_set_during_the_first_paint_rides_on_the_response() -> None:
    app = App("x")

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        if not conn.live:
            conn.set_cookie("seen", "1", max_age=60)
        return (lambda: p("hi")), {}

    response = asyncio.run(app.handle_http(rweb.Request("GET", "/")))
    assert ("Set-Cookie", "seen=1; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax") in response.headers


# -- hooks and the registry --------------------------------------------------------------


def test_session_hooks_and_the_registry() -> None:
    app, _ = make_app()
    seen: list[tuple[str, Any, str]] = []
    app.on_session_start(lambda c: seen.append(("start", c.writer_id, c.path)))
    app.on_session_end(lambda c: seen.append(("end", c.writer_id, c.path)))
    tab = Tab(app, "/")
    assert app.sessions[7] is tab.conn
    tab.nav("/items/1")
    assert app.sessions[7] is tab.conn
    tab.conn.close()
    tab.conn.close()  # twice is harmless
    assert app.sessions == {}
    assert seen == [("start", 7, "/"), ("end", 7, "/"), ("start", 7, "/items/1"), ("end", 7, "/items/1")]


def test_a_hook_that_raises_is_logged_and_does_not_stop_the_session(caplog: pytest.LogCaptureFixture) -> None:
    app, _ = make_app()

    @app.on_session_start
    def boom(conn: Conn) -> None:
        raise RuntimeError("hook")

    tab = Tab(app, "/")
    assert tab.ok and tab.click("inc")["d"] == {"n": {"0": "1"}}
    assert any("start hook raised" in r.getMessage() for r in caplog.records)


def test_a_session_whose_setup_takes_no_conn_keeps_no_headers() -> None:
    app = App("t", lambda w: ((lambda: p("x")), {}))
    info = ConnectionInfo(path="/ws", headers={"user-agent": "x" * 1000})
    c = Connection(app, 1, info, lambda b: None, lambda f: None)
    c.open()
    assert c.conn is None and app.sessions[1] is c
    c.close()
    assert app.sessions == {}


# -- the scheduler, through the real server ------------------------------------------


def test_in_session_from_another_thread_pushes_to_that_browser(wire: Any) -> None:
    app = App("clock")
    counts: dict[Any, Count] = {}

    @app.page("/")
    def home(writer_id: Any) -> Any:
        counts[writer_id] = c = Count(0)
        return (lambda: div(component("n", lambda: span(c.value)))), {}

    with serve(app) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url + "?url=" + quote("/")) as ws:
                await wire.recv(ws)
                [wid] = list(srv.call(lambda: list(app.sessions)))

                def write(conn: Conn) -> None:
                    counts[conn.writer_id].value += 5

                done = threading.Event()

                def worker() -> None:
                    assert app.in_session(wid, write)
                    assert not app.in_session("nobody", write)
                    done.set()

                threading.Thread(target=worker).start()
                push = await wire.recv(ws)
                assert done.wait(5)
                assert push == {"t": "p", "d": {"n": {"0": "5"}}}

        wire.run(main())
    assert app.sessions == {}


def test_call_soon_before_serving_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        App("x").call_soon(lambda: None)


def test_writer_ids_are_unique_across_workers() -> None:
    app = App("x")
    loop = asyncio.new_event_loop()
    try:
        app.bind(loop, worker_index=1, workers=3)
        assert [app.next_writer_id() for _ in range(3)] == [1, 4, 7]
    finally:
        loop.close()


# -- pub/sub ---------------------------------------------------------------------------


def test_local_pubsub_delivers_in_order_and_unsubscribes(caplog: pytest.LogCaptureFixture) -> None:
    ps = App("x").pubsub
    got: list[Any] = []
    off = ps.subscribe("room", lambda t, m: got.append((t, m)))
    ps.subscribe("room", lambda t, m: 1 / 0)
    ps.publish("room", {"n": 1})
    ps.publish("other", 2)
    off()
    off()
    ps.publish("room", 3)
    assert got == [("room", {"n": 1})]
    assert ps.subscribers("room") == 1
    assert any("subscriber" in r.getMessage() for r in caplog.records)


def test_a_navigation_to_a_page_whose_setup_fails_loads_it_for_real() -> None:
    app, _ = make_app()

    @app.page("/broken")
    def broken(writer_id: Any) -> Any:
        raise RuntimeError("db down")

    tab = Tab(app, "/")
    reply = tab.nav("/broken")
    assert reply["e"]["code"] == "setup_error" and "db down" not in json.dumps(reply)
    assert reply["fx"] == [["nav", {"url": "/broken", "mode": "load"}]]


def test_a_cookie_set_live_is_seen_by_the_next_page() -> None:
    app, _ = make_app()
    tab = Tab(app, "/")
    conn = app.sessions[7].conn
    conn.set_cookie("user", "ann")
    tab.run_pending()
    assert tab.nav("/private")["t"] == "init" and "hello ann" in tab.html()
    app.sessions[7].conn.clear_cookie("user")
    assert tab.nav("/private")["fx"] == [["nav", {"url": "/login", "mode": "load"}]]


# -- the socket's Origin ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, "a.example:8080", None, True),  # no browser
        ("http://a.example:8080", "a.example:8080", None, True),
        ("https://A.example:8080", "a.example:8080", None, True),
        ("https://evil.example", "a.example:8080", None, False),
        ("http://a.example", "a.example:8080", None, False),  # another port is another origin
        ("null", "a.example:8080", None, False),
        ("file://", "a.example", None, False),
        ("https://evil.example", "a.example", ["https://evil.example"], True),
        ("https://x.example.com", "a", ["https://*.example.com"], True),
        ("https://example.com", "a", ["https://*.example.com"], False),
        ("http://x.example.com", "a", ["https://*.example.com"], False),
        ("null", "a", ["*"], True),
    ],
)
def test_origin_check(origin: str | None, host: str, allowed: list[str] | None, ok: bool) -> None:
    app = App("x", allowed_origins=allowed)
    headers = {"host": host} | ({"origin": origin} if origin is not None else {})
    assert app.origin_allowed(headers) is ok


def test_a_socket_from_another_site_is_refused_by_the_real_server(wire: Any, caplog: pytest.LogCaptureFixture) -> None:
    from websockets.exceptions import InvalidStatus

    app, _ = make_app()
    with serve(app) as srv:

        async def main() -> None:
            host = f"127.0.0.1:{srv.port}"
            with pytest.raises(InvalidStatus) as exc:
                async with wire.connect(srv.ws_url, origin="https://evil.example"):
                    pass
            assert exc.value.response.status_code == 403
            async with wire.connect(srv.ws_url, origin=f"http://{host}") as ws:
                assert (await wire.recv(ws))["t"] == "init"

        wire.run(main())
    assert any("Origin 'https://evil.example' is not allowed" in r.getMessage() for r in caplog.records)


def test_join_and_nav_urls_are_percent_decoded_like_http_paths() -> None:
    app = App("x")

    @app.page("/t/{slug}")
    def t(writer_id: Any, conn: Conn) -> Any:
        slug = conn.params["slug"]
        return (lambda: p(slug)), {}

    tab = Tab(app, "/t/a%20b")
    assert "a b" in tab.html()
    tab.nav("/t/c%C3%A9")
    assert "cé" in tab.html()


def test_a_page_that_fails_to_render_after_a_nav_is_not_patched_later() -> None:
    app = App("x")
    hooked: list[Any] = []

    @app.page("/")
    def home(writer_id: Any) -> Any:
        return (lambda: p("home")), {}

    @app.page("/bad/{n}")
    def bad(writer_id: Any, conn: Conn) -> Any:
        conn.on_params(lambda params, q: hooked.append(params))

        def render() -> Any:
            raise RuntimeError("broken")

        return render, {}

    tab = Tab(app, "/")
    assert tab.nav("/bad/1")["e"]["code"] == "render_error"
    reply = tab.nav("/bad/2")  # mounts anew (and fails again): no hook on a page never shown
    assert reply["e"]["code"] == "render_error" and hooked == []
    assert tab.nav("/")["t"] == "init" and "home" in tab.html()


def test_a_heartbeat_ping_is_answered_by_an_empty_reply() -> None:
    app, _ = make_app()
    tab = Tab(app, "/")
    assert tab.send({"t": "ping"}) == {"t": "r", "d": {}, "ref": 1}
    assert tab.send({"t": "pong"})["e"]["code"] == "bad_message"


def test_debug_mode_shows_the_exception_message_production_does_not(caplog: pytest.LogCaptureFixture) -> None:
    from rweb import render

    def setup(writer_id: Any) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            raise KeyError("token-abc123")

        return (lambda: div(button("x", data_action="x"))), on_action

    quiet = Tab(App("x", setup))
    msg = quiet.click("x")["e"]["message"]
    assert "KeyError (ref " in msg and "token-abc123" not in msg
    loud = Tab(App("x", setup, debug=True))
    shown = loud.click("x")["e"]["message"]
    assert "token-abc123" in shown and "Traceback" in shown and "in on_action" in shown
    # Debug mode is the app's, not the process's: an app without it still says nothing.
    assert not render.DEBUG
    assert "token-abc123" not in quiet.click("x")["e"]["message"]
    assert "token-abc123" not in Tab(App("x", setup)).click("x")["e"]["message"]


def test_debug_mode_covers_renders_and_the_first_paint() -> None:
    from rweb.testing import TestClient

    @reactive
    class Boom:
        on: bool = False

    def setup(writer_id: Any) -> Any:
        boom = Boom()

        def part() -> Any:
            if boom.on:
                raise ValueError("secret-render")
            return span("fine")

        def on_action(action: str, params: dict[str, Any]) -> None:
            boom.on = True

        return (lambda: div(component("part", part), button("x", data_action="x"))), on_action

    def broken(writer_id: Any) -> Any:
        raise RuntimeError("secret-setup")

    for debug in (False, True):
        app = App("x", setup, debug=debug)
        app.page("/broken")(broken)
        msg = Tab(app).click("x")["e"]["message"]
        assert ("secret-render" in msg) is debug, msg
        page = TestClient(app).get("/broken")
        assert page.status == 500 and ("secret-setup" in page.text) is debug


# -- the constructor's forms ---------------------------------------------------------------------


def _one_page(writer_id: Any) -> Any:
    return (lambda: div(component("x", lambda: span("one page")))), {}


def test_the_kept_forms_make_the_same_one_page_app_without_a_warning() -> None:
    import warnings

    from rweb.testing import TestClient

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        apps = [App("One", _one_page), App(title="One", session_setup=_one_page), App("One")]
        apps[2].page("/")(_one_page)
        plain = App("Shop", max_body_size=10)  # the title, then keywords
    for app in apps:
        assert app.title == "One"
        assert "one page" in TestClient(app).get("/").text
    assert plain.title == "Shop" and plain.max_body_size == 10 and not plain.router.routes


def test_the_setup_first_form_still_works_with_a_deprecation_warning_naming_the_new_form() -> None:
    from rweb.testing import TestClient

    with pytest.warns(DeprecationWarning, match=r"write App\(title, session_setup\)") as caught:
        app = App(_one_page, "Old")  # type: ignore[arg-type]
    assert caught[0].filename == __file__  # it points at the caller's line
    assert app.title == "Old" and app.session_setup is _one_page
    assert "one page" in TestClient(app).get("/").text
    with pytest.warns(DeprecationWarning):
        assert App(_one_page).title == "rweb"  # type: ignore[arg-type]


def test_the_helpers_that_build_an_app_from_a_setup_use_the_kept_form(tmp_path: Any) -> None:
    import warnings

    from rweb.dev.runner import load_app
    from rweb.testing import Client, TestClient

    script = tmp_path / "one_page_app.py"
    script.write_text("def session_setup(writer_id):\n    return (lambda: 'x'), {}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert "one page" in TestClient(_one_page).get("/").text
        assert "one page" in Client(_one_page).html()
        with serve(_one_page, "served") as srv:
            assert srv.app.title == "served"
        assert load_app(str(script), "From rweb run").title == "From rweb run"  # rweb run app.py
