"""rweb.testing: the live Client on multi-page apps, and the in-process HTTP TestClient."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from rweb import App, Conn, ConnectionInfo, Redirect, Request, reactive
from rweb.dom import parse_html
from rweb.html import a, button, component, div, form, input_, p, span
from rweb.http import HTMLResponse, HTTPError, JSONResponse, RedirectResponse, Response
from rweb.protocol import assemble
from rweb.testing import Client, CookieJar, Page, SetCookie, TestClient, TestResponse


@reactive
class Count:
    value: int


def shop() -> tuple[App, list[str]]:
    """Pages (one with a params hook, one refusing without a cookie) and plain handlers."""
    events: list[str] = []
    app = App("Shop")

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        count = Count(0)
        events.append(f"setup / live={conn.live}")
        conn.on_close(lambda: events.append("close /"))

        def on_action(action: str, params: dict[str, Any]) -> None:
            match action:
                case "inc":
                    count.value += 1
                case "go":
                    conn.navigate(f"/items/{params['id']}")
                case "go-replace":
                    conn.navigate(f"/items/{params['id']}", replace=True)
                case "away":
                    conn.redirect("https://example.org/", external=True)
                case "login":
                    conn.set_cookie("user", params["name"])
                case "cookie-then-leave":
                    conn.set_cookie("user", params["name"])
                    conn.redirect("/private")

        return (
            lambda: div(
                component("n", lambda: span(count.value)),
                p("q=", conn.query.get("q", "-"), " user=", conn.cookies.get("user", "-")),
                p("ua=", conn.headers.get("user-agent", "-"), " origin=", conn.headers.get("origin", "-")),
                a("item 1", href="/items/1", data_navigate=True),
                button("+", data_action="inc"),
            ),
            {
                "inc": lambda params: on_action("inc", params),
                "go": lambda params: on_action("go", params),
                "go-replace": lambda params: on_action("go-replace", params),
                "away": lambda params: on_action("away", params),
                "login": lambda params: on_action("login", params),
                "cookie-then-leave": lambda params: on_action("cookie-then-leave", params),
            },
        )

    @app.page("/items/{item_id:int}", title="Item")
    def item(writer_id: Any, conn: Conn) -> Any:
        shown = Count(conn.params["item_id"])
        events.append(f"setup item {conn.params['item_id']}")

        @conn.on_params
        def params(params: Mapping[str, Any], query: Any) -> None:
            shown.value = params["item_id"]

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "next":
                conn.patch(f"/items/{shown.value + 1}")
            elif action == "home":
                conn.navigate("/")

        return (
            lambda: div(component("item", lambda: span("item ", shown.value))),
            {"next": lambda ps: on_action("next", ps), "home": lambda ps: on_action("home", ps)},
        )

    @app.page("/private")
    def private(writer_id: Any, conn: Conn) -> Any:
        if conn.cookies.get("user") != "ann":
            raise Redirect("/login")
        return (lambda: p("hello ", conn.cookies["user"])), {}

    @app.page("/broken")
    def broken(writer_id: Any) -> Any:
        raise KeyError("nope")

    @app.get("/about")
    def about(request: Request) -> str:
        return "<p>about</p>"

    return app, events


# -- Client: joins -------------------------------------------------------------------------


def test_client_joins_the_page_at_url_with_its_query() -> None:
    app, events = shop()
    c = Client(app, "/items/3?x=1")
    assert c.ok and c.url == "/items/3?x=1"
    assert c.html() == '<div data-rc="root"><span data-rc="item">item 3</span></div>'
    assert events == ["setup item 3"]
    page = Page(app, "/?q=a+b")
    assert page.texts("div > p")[0] == "q=a b user=-"


def test_client_sends_cookies_and_headers_on_the_socket() -> None:
    app, _ = shop()
    page = Page(app, "/", cookies={"user": "ann"}, headers={"User-Agent": "pytest/1"})
    # Like a browser's socket, it carries the page's Origin.
    assert page.texts("div > p") == ["q=- user=ann", "ua=pytest/1 origin=http://testserver"]
    assert Client(app, "/private", cookies={"user": "ann"}).html() == '<p data-rc="root">hello ann</p>'


def test_client_still_drives_a_bare_session_setup_and_a_given_info() -> None:
    def setup(writer_id: Any, conn: Conn) -> Any:
        return (lambda: p(conn.path, " ", conn.query.get("x", "-"), " ", writer_id)), {}

    assert Client(setup, writer_id=5).html() == '<p data-rc="root">/ - 5</p>'
    # The socket's own info, as a transport would build it: without a url, the page is "/".
    c = Client(setup, info=ConnectionInfo(path="/ws", query={"x": "1"}))
    assert c.html() == '<p data-rc="root">/ 1 1</p>' and c.url == "/?x=1"
    c = Client(setup, info=ConnectionInfo(path="/ws", query={"url": "/?x=2"}))
    assert c.html() == '<p data-rc="root">/ 2 1</p>'


def test_html_is_the_protocol_assembly() -> None:
    app, _ = shop()
    c = Client(app)
    assert c.html() == assemble(c.components)
    assert c.html("n") == assemble(c.components, "n") == '<span data-rc="n">0</span>'
    import rweb.testing

    assert not hasattr(rweb.testing.Client, "_html")


def test_a_join_refused_with_a_redirect_is_recorded_not_raised() -> None:
    app, _events = shop()
    c = Client(app, "/private")
    assert not c.ok and c.closed
    assert c.redirected_to == "/login" and c.loaded == ["/login"]
    assert c.effects == [("nav", {"url": "/login", "mode": "load"})]
    with pytest.raises(RuntimeError, match=r"closed.*/login"):
        c.send("inc")


@pytest.mark.parametrize(("url", "code"), [("/broken", "setup_error"), ("/nowhere", "not_found")])
def test_a_join_refused_with_an_error_raises(url: str, code: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="rweb")
    app, _ = shop()
    with pytest.raises(RuntimeError, match=code):
        Client(app, url)


def test_client_refuses_a_url_outside_the_app() -> None:
    app, _ = shop()
    for url in ("https://example.org/", "//evil/x", "items"):
        with pytest.raises(ValueError):
            Client(app, url)


# -- Client: navigation ------------------------------------------------------------------


def test_navigate_to_another_page_replaces_the_components() -> None:
    app, events = shop()
    c = Client(app)
    c.send("inc")
    reply = c.navigate("/items/2")
    assert reply["t"] == "init" and reply["url"] == "/items/2" and reply["title"] == "Item"
    assert set(c.components) == {"root", "item"}  # the home page's "n" is gone
    assert c.html("item") == '<span data-rc="item">item 2</span>'
    assert c.url == "/items/2" and c.title == "Item" and c.history == ["/", "/items/2"]
    assert events == ["setup / live=True", "close /", "setup item 2"]


def test_navigate_within_a_page_with_on_params_patches_it() -> None:
    app, events = shop()
    c = Client(app, "/items/1")
    reply = c.navigate("/items/5")
    assert reply["t"] == "r" and reply["d"] == {"item": {"1": "5"}}
    assert events == ["setup item 1"]  # the same session
    assert c.navigate("/items/6", replace=True)["d"] == {"item": {"1": "6"}}
    assert c.history == ["/items/1", "/items/6"]


def test_back_and_forward_navigate_live() -> None:
    app, _events = shop()
    c = Client(app)
    c.navigate("/items/1")
    c.navigate("/items/2")
    assert c.back()["d"] == {"item": {"1": "1"}} and c.url == "/items/1"
    assert c.back()["t"] == "init" and c.url == "/" and "n" in c.components
    assert c.forward()["t"] == "init" and c.url == "/items/1"
    # A new entry drops the forward ones.
    c.navigate("/items/9")
    assert c.history == ["/", "/items/1", "/items/9"]
    with pytest.raises(IndexError):
        c.forward()


def test_server_navigation_effects_are_followed_like_the_browser() -> None:
    app, events = shop()
    c = Client(app)
    reply = c.send("go", {"id": 7})
    assert reply["fx"] == [["nav", {"url": "/items/7", "mode": "push"}]]
    assert c.effects == [("nav", {"url": "/items/7", "mode": "push"})]
    assert c.url == "/items/7" and c.history == ["/", "/items/7"]
    assert c.html("item") == '<span data-rc="item">item 7</span>'
    # conn.patch: the same page with other parameters keeps its session.
    c.send("next")
    assert c.url == "/items/8" and c.html("item") == '<span data-rc="item">item 8</span>'
    assert events.count("setup item 7") == 1 and "setup item 8" not in events
    c.send("home")
    assert c.url == "/" and "n" in c.components
    c.send("go-replace", {"id": 2})
    assert c.history == ["/", "/items/7", "/items/8", "/items/2"]
    assert len(c.replies) == 8  # 4 actions, 4 navs sent by following effects


def test_live_navigation_from_a_page_without_conn_keeps_the_socket_cookies() -> None:
    app, _ = shop()

    @app.page("/plain")
    def plain(writer_id: Any) -> Any:
        return (lambda: p("plain")), {}

    c = Client(app, "/plain", cookies={"user": "ann"})
    c.navigate("/private")
    assert c.ok and not c.closed and c.html() == '<p data-rc="root">hello ann</p>'


def test_a_load_effect_ends_the_session() -> None:
    app, events = shop()
    c = Client(app)
    c.send("away")
    assert c.loaded == ["https://example.org/"] and c.redirected_to == "https://example.org/"
    assert c.closed and events[-1] == "close /"
    c = Client(app)
    c.navigate("/about")  # not a reactive page: the browser loads it
    assert c.redirected_to == "/about" and c.closed


def test_cookie_effects_are_redeemed_into_the_jar() -> None:
    app, _ = shop()
    c = Client(app)
    c.send("login", {"name": "ann"})
    (kind, data), = c.effects
    assert kind == "cookie" and data["url"] == "/_rweb/cookie"
    assert c.cookies["user"] == "ann"
    attrs = c.cookies.attributes("user")
    assert attrs is not None and attrs.httponly and attrs.secure and attrs.samesite == "Lax"
    # A token is good once.
    assert c.http.post(data["url"], content=data["token"]).status == 403


def test_cookies_are_set_before_a_load_that_needs_them() -> None:
    app, _ = shop()
    http = TestClient(app)
    c = http.live("/")
    c.send("cookie-then-leave", {"name": "ann"})
    assert c.redirected_to == "/private" and http.cookies["user"] == "ann"
    assert http.get("/private").status == 200
    assert http.live("/private").html() == '<p data-rc="root">hello ann</p>'


def test_a_navigation_loop_fails_instead_of_hanging() -> None:
    app = App("loop")

    @app.page("/a")
    def page_a(writer_id: Any, conn: Conn) -> Any:
        if conn.live:
            conn.navigate("/b")  # on mount: the init carries the effect
        return (lambda: p("a")), {}

    @app.page("/b")
    def page_b(writer_id: Any, conn: Conn) -> Any:
        conn.navigate("/a")
        return (lambda: p("b")), {}

    with pytest.raises(RuntimeError, match="navigation loop"):
        Client(app, "/a")


# -- Client: the event loop's work ----------------------------------------------------------


def test_run_pending_runs_in_session_and_call_soon_for_the_app() -> None:
    app, _ = shop()
    a1 = Client(app, writer_id="a")
    b1 = Client(app, writer_id="b")
    assert set(app.sessions) == {"a", "b"}
    seen: list[Any] = []

    def bump(conn: Conn) -> None:
        seen.append(conn.writer_id)

    assert app.in_session("b", bump) is True
    assert app.in_session("zz", bump) is False
    app.call_soon(seen.append, "soon")
    assert seen == []
    assert a1.run_pending() == 2  # the queue is the app's: b's work runs too
    assert seen == ["b", "soon"]
    a1.close()
    b1.close()
    assert app.sessions == {}


def test_effects_pushed_to_any_client_are_followed_by_run_pending() -> None:
    app, _ = shop()
    a1 = Client(app, writer_id="a")
    b1 = Client(app, writer_id="b")
    app.in_session("b", lambda conn: conn.navigate("/items/5"))
    a1.run_pending()  # the loop is the app's: b's push arrives, and b follows it
    assert b1.url == "/items/5" and b1.html("item") == '<span data-rc="item">item 5</span>'
    assert a1.url == "/" and b1.pushes[-1]["fx"] == [["nav", {"url": "/items/5", "mode": "push"}]]


def test_pushes_from_in_session_reach_the_client() -> None:
    app = App("clock")
    counts: dict[Any, Count] = {}

    @app.page("/")
    def home(writer_id: Any) -> Any:
        counts[writer_id] = Count(0)
        return (lambda: div(component("n", lambda: span(counts[writer_id].value)))), {}

    c = Client(app, writer_id=9)

    def tick(conn: Any) -> None:
        counts[9].value += 1

    app.in_session(9, tick)
    app.in_session(9, tick)
    c.run_pending()
    assert [m["d"] for m in c.pushes] == [{"n": {"0": "1"}}, {"n": {"0": "2"}}]
    assert c.html("n") == '<span data-rc="n">2</span>'


def test_reset_and_focus_are_effects_of_the_reply_or_a_push() -> None:
    app = App("todo")
    painted: list[bool] = []

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        # During the first paint there is no browser to ask: both do nothing.
        conn.focus("#text")
        conn.reset("#new")
        painted.append(conn.live)

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "add":
                conn.reset("form#new")
                conn.focus("#new input[name=text]")
            elif action == "bad":
                conn.focus("  ")

        return (
            lambda: div(
                form(input_(name="text", id="text"), data_action="add", id="new"),
                button("?", data_action="bad"),
            )
        ), on_action

    assert TestClient(app).get("/").status == 200
    c = Client(app)
    assert painted == [False, True]
    # The live setup's effects ride on the init.
    assert c.effects == [("focus", {"selector": "#text"}), ("reset", {"selector": "#new"})]
    reply = c.send("add")
    assert reply["fx"] == [
        ["reset", {"selector": "form#new"}],
        ["focus", {"selector": "#new input[name=text]"}],
    ]
    assert c.effects[2:] == [
        ("reset", {"selector": "form#new"}),
        ("focus", {"selector": "#new input[name=text]"}),
    ]
    assert c.send("bad")["e"]["code"] == "handler_error"
    # Outside a handler: a push carries them.
    app.in_session(c.writer_id, lambda conn: conn.focus("#text"))
    c.run_pending()
    assert c.pushes[-1]["fx"] == [["focus", {"selector": "#text"}]]


def test_close_runs_the_session_end_hooks() -> None:
    app, _events = shop()
    ended: list[Any] = []
    app.on_session_end(lambda conn: ended.append((conn.writer_id, conn.path)))
    with Client(app, "/items/4", writer_id=3):
        pass
    assert ended == [(3, "/items/4")]


# -- TestClient: requests and responses -----------------------------------------------------


def api() -> App:
    app = App("api")

    @app.get("/echo")
    def echo(request: Request) -> Any:
        return {
            "method": request.method,
            "path": request.path,
            "query": request.query.multi_items(),
            "headers": dict(request.headers),
            "cookies": request.cookies,
            "body": request.body.decode(),
        }

    for method in ("POST", "PUT", "PATCH", "DELETE"):
        app.route("/echo", [method], name=f"echo-{method}")(echo)

    @app.post("/form")
    def form(request: Request) -> Any:
        return {"fields": request.form().multi_items()}

    @app.post("/json")
    def json_body(request: Request) -> Any:
        return JSONResponse({"got": request.json()}, 201)

    @app.get("/async")
    async def slow(request: Request) -> str:
        await asyncio.sleep(0)
        return "<p>waited</p>"

    @app.get("/boom")
    def boom(request: Request) -> Any:
        raise ValueError("secret internals")

    @app.get("/teapot")
    def teapot(request: Request) -> Any:
        raise HTTPError(418, "short and stout")

    @app.get("/cookies/set")
    def set_cookies(request: Request) -> Response:
        r = Response(b"", 204)
        r.set_cookie("sid", "abc")
        r.set_cookie("theme", "dark", httponly=False, max_age=3600)
        r.set_cookie("scoped", "1", path="/cookies/deep")
        return r

    @app.get("/cookies/clear")
    def clear_cookies(request: Request) -> Response:
        r = Response(b"", 204)
        r.delete_cookie("sid")
        r.headers.append(("Set-Cookie", "theme=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"))
        return r

    @app.get("/cookies/deep/x")
    def deep(request: Request) -> Any:
        return request.cookies

    def redirect(request: Request) -> Response:
        return RedirectResponse("/echo?from=" + str(request.path_params["code"]), request.path_params["code"])

    app.route("/redirect/{code:int}", ["GET", "POST"])(redirect)

    @app.get("/away")
    def away(request: Request) -> Response:
        return RedirectResponse("https://example.org/", external=True)

    @app.get("/loop")
    def loop(request: Request) -> Response:
        return RedirectResponse("/loop", 302)

    @app.get("/refuse")
    def refuse(request: Request) -> Any:
        raise Redirect("/echo")

    @app.get("/page")
    def page(request: Request) -> HTMLResponse:
        return HTMLResponse("<p>é</p>", headers={"X-A": "1"})

    return app


def test_get_with_params_headers_and_defaults() -> None:
    http = TestClient(api())
    r = http.get("/echo?a=1", params={"b": "x y", "c": [1, 2]}, headers={"X-Thing": "t"})
    assert isinstance(r, TestResponse) and r.status == 200
    got = r.json()
    assert got["method"] == "GET" and got["path"] == "/echo"
    assert got["query"] == [["a", "1"], ["b", "x y"], ["c", "1"], ["c", "2"]]
    assert got["headers"]["host"] == "testserver" and got["headers"]["x-thing"] == "t"
    assert "origin" not in got["headers"]  # a GET, like a browser's navigation
    assert r.header("content-type") == "application/json"
    assert r.url == "/echo?a=1&b=x+y&c=1&c=2"


def test_post_sends_a_form_json_or_raw_content_with_the_origin() -> None:
    http = TestClient(api())
    r = http.post("/form", data={"name": "Ann & co", "tags": ["a", "b"]})
    assert r.json() == {"fields": [["name", "Ann & co"], ["tags", "a"], ["tags", "b"]]}
    r = http.post("/json", json={"x": [1, 2]})
    assert r.status == 201 and r.json() == {"got": {"x": [1, 2]}}
    got = http.post("/echo", content="raw text").json()
    assert got["body"] == "raw text" and got["headers"]["origin"] == "http://testserver"
    assert got["headers"]["content-length"] == "8"
    # A header given as None is not sent.
    got = http.put("/echo", headers={"Origin": None}).json()
    assert got["method"] == "PUT" and "origin" not in got["headers"]
    assert http.patch("/echo").json()["method"] == "PATCH"
    assert http.delete("/echo").json()["method"] == "DELETE"
    with pytest.raises(TypeError):
        http.post("/form", data={"a": "1"}, json={"b": 2})


def test_head_answers_headers_only() -> None:
    http = TestClient(api())
    r = http.head("/page")
    assert r.status == 200 and r.body == b"" and r.header("x-a") == "1"


def test_text_json_and_header_helpers() -> None:
    http = TestClient(api())
    r = http.get("/page")
    assert r.text == "<p>é</p>" and r.header("X-A") == "1" and r.header("missing", "d") == "d"
    assert r.header_list("content-type") == ["text/html; charset=utf-8"]


def test_async_handlers_run_without_threads() -> None:
    http = TestClient(api())
    r = http.get("/async")
    assert r.status == 200 and r.text == "<p>waited</p>"
    http.close()
    assert http.get("/async").status == 200  # a closed client makes a new loop when used again


def test_errors_are_pages_without_internals(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="rweb")
    http = TestClient(api())
    assert http.get("/nowhere").status == 404
    r = http.post("/page")
    assert r.status == 405 and r.header("allow") == "GET, HEAD"
    r = http.get("/boom")
    assert r.status == 500 and "secret internals" not in r.text and "ref " in r.text
    assert any("secret internals" in str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)
    r = http.get("/teapot")
    assert r.status == 418 and "short and stout" in r.text
    r = http.get("/refuse")
    assert r.status == 303 and r.location == "/echo"


def test_a_body_over_the_limit_is_refused() -> None:
    http = TestClient(App("small", max_body_size=10))
    assert http.post("/anything", content=b"x" * 11).status == 413


def test_used_inside_a_running_loop_it_says_what_to_do() -> None:
    http = TestClient(api())

    async def inside() -> None:
        with pytest.raises(RuntimeError, match="handle_http"):
            http.get("/echo")

    asyncio.run(inside())


def test_pytest_does_not_collect_the_test_client_classes() -> None:
    assert TestClient.__test__ is False and TestResponse.__test__ is False


# -- TestClient: redirects ------------------------------------------------------------------------


def test_redirects_are_returned_or_followed() -> None:
    http = TestClient(api())
    r = http.get("/redirect/302")
    assert r.status == 302 and r.location == "/echo?from=302" and r.is_redirect
    r = http.get("/redirect/302", follow_redirects=True)
    assert r.status == 200 and r.json()["query"] == [["from", "302"]]
    assert [h.status for h in r.history] == [302] and r.url == "/echo?from=302"


@pytest.mark.parametrize(("code", "method", "body"), [(303, "GET", ""), (302, "GET", ""), (307, "POST", "x"), (308, "POST", "x")])
def test_a_post_redirect_keeps_or_drops_the_method_like_browsers(code: int, method: str, body: str) -> None:
    http = TestClient(api(), follow_redirects=True)
    got = http.post(f"/redirect/{code}", content="x").json()
    assert got["method"] == method and got["body"] == body


def test_redirects_to_other_sites_and_loops_are_not_followed() -> None:
    http = TestClient(api(), follow_redirects=True)
    r = http.get("/away")
    assert r.status == 303 and r.location == "https://example.org/"
    with pytest.raises(RuntimeError, match="redirects"):
        http.get("/loop")
    with pytest.raises(ValueError):
        http.get("https://example.org/echo")
    assert http.get("http://testserver/echo").status == 200


# -- TestClient: cookies -------------------------------------------------------------------------------


def test_the_jar_keeps_cookies_and_sends_them_back() -> None:
    http = TestClient(api())
    r = http.get("/cookies/set")
    assert r.cookies == {"sid": "abc", "theme": "dark", "scoped": "1"}
    sid = r.cookie("sid")
    assert isinstance(sid, SetCookie)
    assert sid.httponly and sid.secure and sid.samesite == "Lax" and sid.path == "/"
    theme = r.cookie("theme")
    assert theme is not None and not theme.httponly and theme.max_age == 3600
    assert http.cookies.as_dict() == {"scoped": "1", "sid": "abc", "theme": "dark"}
    # Path scoping: "scoped" only goes under /cookies/deep.
    assert http.get("/echo").json()["cookies"] == {"sid": "abc", "theme": "dark"}
    assert http.get("/cookies/deep/x").json() == {"scoped": "1", "sid": "abc", "theme": "dark"}
    # Per-request cookies are added (and win) for that request only.
    assert http.get("/echo", cookies={"sid": "other"}).json()["cookies"]["sid"] == "other"
    assert http.cookies["sid"] == "abc"


def test_max_age_zero_and_past_expires_delete_cookies() -> None:
    http = TestClient(api(), cookies={"keep": "me"})
    http.get("/cookies/set")
    r = http.get("/cookies/clear")
    assert r.cookies == {"sid": "", "theme": "gone"}
    assert "sid" not in http.cookies and "theme" not in http.cookies
    assert http.get("/echo").json()["cookies"] == {"keep": "me"}


def test_cookie_jar_rules() -> None:
    jar = CookieJar()
    jar.store(SetCookie("a", "1", path="/x"))
    jar.store(SetCookie("a", "2", path="/"))
    assert jar.for_path("/x/y") == {"a": "1"} and jar.for_path("/xy") == {"a": "2"}
    assert jar.header("/x") == "a=1"  # the longer path first, one value per name
    # Without a Path, the default is the request's directory.
    jar.update_from([("Set-Cookie", "b=3")], "/docs/page")
    assert jar.for_path("/docs/other") == {"a": "2", "b": "3"} and "b" not in jar.for_path("/")
    jar.store(SetCookie("c", "4", max_age=-1))
    assert "c" not in jar
    jar.delete("a", path="/x")
    assert jar["a"] == "2"
    jar.clear()
    assert not jar and len(jar) == 0
    assert SetCookie.parse("no-equals-sign") is None
    parsed = SetCookie.parse('q="quoted"; Domain=.Example.org; Partitioned; Max-Age=bad')
    assert parsed is not None and parsed.value == "quoted" and parsed.domain == "example.org"
    assert parsed.partitioned and parsed.max_age is None


# -- TestClient + Client ---------------------------------------------------------------------------------


def test_log_in_over_http_then_open_the_live_page() -> None:
    app, _ = shop()

    @app.post("/login")
    def login(request: Request) -> Response:
        r = RedirectResponse("/private")
        r.set_cookie("user", request.form()["name"])
        return r

    http = TestClient(app)
    assert http.get("/private").location == "/login"
    assert http.live("/private").redirected_to == "/login"
    r = http.post("/login", data={"name": "ann"}, follow_redirects=True)
    assert r.status == 200 and "hello ann" in r.text
    live = http.live("/private")
    assert live.ok and live.html() == '<p data-rc="root">hello ann</p>'
    assert live.cookies is http.cookies


def test_live_sessions_get_fresh_writer_ids_and_close_with_the_client() -> None:
    app, _events = shop()
    with TestClient(app) as http:
        one, two = http.live("/"), http.live("/items/1")
        assert one.writer_id != two.writer_id
        assert len(app.sessions) == 2
    assert app.sessions == {} and one.closed and two.closed


def test_a_handler_reaches_a_live_session_through_the_app() -> None:
    app = App("notify")
    counts: dict[Any, Count] = {}

    @app.page("/")
    def home(writer_id: Any) -> Any:
        counts[writer_id] = Count(0)
        return (lambda: div(component("n", lambda: span(counts[writer_id].value)))), {}

    @app.post("/notify/{writer_id:int}")
    def notify(request: Request) -> Any:
        wid = request.path_params["writer_id"]

        def bump(conn: Any) -> None:
            counts[wid].value += 1

        return {"delivered": app.in_session(wid, bump)}

    http = TestClient(app)
    page = http.page("/")
    assert http.post(f"/notify/{page.client.writer_id}").json() == {"delivered": True}
    assert http.post("/notify/12345").json() == {"delivered": False}
    assert page.text("[data-rc=n]") == "0"  # the push waits for the loop
    [push] = page.run_pending()
    assert push["d"] == {"n": {"0": "1"}} and page.text("[data-rc=n]") == "1"


def test_the_first_paint_and_the_live_page_agree() -> None:
    app, _ = shop()
    http = TestClient(app)
    first = http.get("/items/3")
    live = http.page("/items/3")
    assert live.html() in first.text
    # The same tree, parsed: the first paint's root is the live page's.
    [root] = parse_html(first.text).select("[data-rc=root]")
    assert root.to_html() == live.find("[data-rc=root]").to_html()


# -- the clock the app reads ------------------------------------------------------------


@reactive
class Shown:
    time: str
    ticks: int


def clock_app() -> App:
    """The page shows app.clock's time (at render and on each tick) and counts the ticks of a 1 s timer."""
    app = App("clock")

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        shown = Shown(app.clock.now().strftime("%Y-%m-%d %H:%M:%S"), 0)

        def tick() -> None:
            shown.time = app.clock.now().strftime("%Y-%m-%d %H:%M:%S")
            shown.ticks += 1

        if conn.live:
            conn.every(1, tick)
        return (
            lambda: div(
                component("time", lambda: span(shown.time, id="time")),
                component("ticks", lambda: span(shown.ticks, id="ticks")),
            )
        ), {}

    return app


def test_advance_moves_what_the_app_reads_and_its_timers() -> None:
    from datetime import datetime, timedelta

    app = clock_app()
    page = Page(app)
    first = datetime.strptime(page.text("#time"), "%Y-%m-%d %H:%M:%S")
    started = app.clock.time()
    pushes = page.advance(60)
    assert page.text("#ticks") == "60" and len(pushes) == 60
    assert datetime.strptime(page.text("#time"), "%Y-%m-%d %H:%M:%S") - first == timedelta(seconds=60)
    assert app.clock.time() == started + 60 and app.clock.monotonic() == 60
    # Each tick read the time at which it fired: second n shows first + n s.
    shown = [datetime.strptime(m["d"]["time"]["0"], "%Y-%m-%d %H:%M:%S") for m in pushes]
    assert shown == [first + timedelta(seconds=n) for n in range(1, 61)]


def test_the_virtual_wall_clock_can_be_set_and_is_aware() -> None:
    from datetime import UTC, datetime

    from rweb.clock import SYSTEM_CLOCK
    from rweb.testing import VirtualClock

    app = clock_app()
    assert app.clock is SYSTEM_CLOCK  # until a test client drives the app
    page = Page(app)
    clock = app.clock
    assert isinstance(clock, VirtualClock)
    clock.set(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    page.advance(10)
    assert clock.now(UTC) == datetime(2030, 1, 2, 3, 4, 15, tzinfo=UTC)
    assert clock.now().utcoffset() is not None  # the local zone, aware
    assert clock.monotonic() == 10  # set() moved the wall clock only
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2030, 1, 2))


def test_a_clock_of_the_apps_own_is_left_alone() -> None:
    from rweb.clock import Clock

    class Fixed(Clock):
        def time(self) -> float:  # type: ignore[override]
            return 1_000_000.0

    app = clock_app()
    app.clock = Fixed()
    page = Page(app)
    page.advance(5)
    assert app.clock.time() == 1_000_000.0 and page.text("#ticks") == "5"


def test_test_client_cookies_expire_on_the_virtual_clock() -> None:
    app = App("cookies")

    @app.get("/set")
    def set_cookie(request: Request) -> Response:
        response = HTMLResponse("ok")
        response.set_cookie("hint", "1", max_age=60)
        return response

    http = TestClient(app)
    http.get("/set")
    http.advance(59)
    assert http.cookies.get("hint") == "1"
    http.advance(1)
    assert http.cookies.get("hint") is None
