"""Live navigation in a real browser (Playwright on Debian's Chromium), against
examples/multi_page.py: pages change over the socket without a reload, the
history and the title follow, plain pages and redirects load for real, and a
cookie set from a live session reaches the browser."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import PW_TIMEOUT_MS, LiveApp
from examples_loader import load_example

from rweb import App, Conn, Redirect
from rweb.html import button, component, div, p, span
from rweb.web.client_script import client_version

example = load_example("multi_page")

# Set on `window` by a test: it survives live navigations, a real page load drops it.
MARK = "window.__marker = 'still here'"
MARKED = "window.__marker === 'still here'"


@pytest.fixture
def shop(pw_open: Any) -> LiveApp:
    """The example app (a fresh one per test) at ``/``, connected, with the marker set."""
    live: LiveApp = pw_open(example.build_app())
    live.page.evaluate(MARK)
    return live


def wait_text(live: LiveApp, selector: str, text: str) -> None:
    live.page.wait_for_function(
        "([s, t]) => document.querySelector(s)?.textContent === t",
        arg=[selector, text],
        timeout=PW_TIMEOUT_MS,
    )


def wait_path(live: LiveApp, path: str) -> None:
    live.page.wait_for_url(live.url(path), timeout=PW_TIMEOUT_MS)


def navs(live: LiveApp) -> list[dict[str, Any]]:
    return live.page.evaluate("window.__rweb_navs")


def marked(live: LiveApp) -> bool:
    return bool(live.page.evaluate(MARKED))


def history_length(live: LiveApp) -> int:
    return int(live.page.evaluate("history.length"))


def banner_shown(live: LiveApp) -> str | None:
    """The path of a page of this tab that showed the disconnected banner, if any."""
    return live.page.evaluate("sessionStorage.getItem('rweb-was-down')")


def sessions(live: LiveApp) -> int:
    return int(live.server.call(lambda: len(live.server.app.sessions)))


# -- between reactive pages ---------------------------------------------------------


def test_links_change_the_page_both_ways_without_a_reload(shop: LiveApp) -> None:
    page = shop.page
    assert page.title() == "Counter"
    n = history_length(shop)

    page.click("#nav-item")
    wait_text(shop, "#page", "Item 1")
    assert shop.path == "/items/1"
    assert page.title() == "Item"
    assert history_length(shop) == n + 1
    assert marked(shop), "the link reloaded the page"
    assert navs(shop)[-1] == {"url": "/items/1", "kind": "mount", "current": True, "t": "init"}
    # The new page's components replaced the old ones.
    assert sorted(page.evaluate("Object.keys(window.rweb.components)")) == ["item", "likes", "root"]

    page.click("#nav-home")
    wait_text(shop, "#page", "Counter")
    assert shop.path == "/"
    assert page.title() == "Counter"
    assert marked(shop)
    assert history_length(shop) == n + 2
    # One socket all along, one live session at a time.
    connects = page.evaluate("__rweb_events.filter(e => e.type === 'rweb:connected').length")
    assert connects == 1
    assert sessions(shop) == 1
    # The new page works.
    shop.page.click("#inc")
    wait_text(shop, "#count", "1")


def test_back_and_forward_show_the_right_page(shop: LiveApp) -> None:
    page = shop.page
    page.click("#nav-item")
    wait_text(shop, "#page", "Item 1")
    page.click("#next")
    wait_text(shop, "#page", "Item 2")
    assert shop.path == "/items/2"

    page.go_back()
    wait_text(shop, "#page", "Item 1")
    assert shop.path == "/items/1"
    page.go_back()
    wait_text(shop, "#page", "Counter")
    assert shop.path == "/"
    assert page.title() == "Counter"
    page.go_forward()
    wait_text(shop, "#page", "Item 1")
    assert page.title() == "Item"
    page.go_forward()
    wait_text(shop, "#page", "Item 2")
    assert shop.path == "/items/2"
    assert marked(shop), "back / forward reloaded the page"
    kinds = [(n["url"], n["kind"]) for n in navs(shop)]
    assert kinds == [
        ("/items/1", "mount"),
        ("/items/2", "patch"),
        ("/items/1", "patch"),
        ("/", "mount"),
        ("/items/1", "mount"),
        ("/items/2", "patch"),
    ]


def test_a_page_mounted_again_gets_a_new_session(shop: LiveApp) -> None:
    page = shop.page
    for n in (1, 2, 3):
        page.click("#inc")
        wait_text(shop, "#count", str(n))
    page.click("#nav-item")
    wait_text(shop, "#page", "Item 1")
    page.click("#like")
    wait_text(shop, "#likes", "1")
    page.click("#nav-home")
    wait_text(shop, "#page", "Counter")
    assert shop.text("#count") == "0"
    page.click("#nav-item")
    wait_text(shop, "#page", "Item 1")
    assert shop.text("#likes") == "0"
    assert marked(shop)


def test_a_patch_keeps_the_session(shop: LiveApp) -> None:
    page = shop.page
    page.click("#nav-item")
    wait_text(shop, "#page", "Item 1")
    page.click("#like")
    wait_text(shop, "#likes", "1")
    page.click("#like")
    wait_text(shop, "#likes", "2")

    page.click("#next")  # a data-navigate link to the same page: conn.on_params
    wait_text(shop, "#page", "Item 2")
    assert shop.path == "/items/2"
    assert shop.text("#likes") == "2"
    assert navs(shop)[-1]["kind"] == "patch"

    page.click("#server-next")  # conn.patch() from a handler
    wait_text(shop, "#page", "Item 3")
    assert shop.path == "/items/3"
    assert shop.text("#likes") == "2"

    n = history_length(shop)
    page.click("#next-replace")  # data-navigate="replace"
    wait_text(shop, "#page", "Item 4")
    assert shop.path == "/items/4"
    assert history_length(shop) == n

    page.go_back()  # item 4 replaced item 3: back is item 2
    wait_text(shop, "#page", "Item 2")
    assert shop.text("#likes") == "2"
    assert marked(shop)
    # The components of the item page were patched, never mounted again.
    assert [n["kind"] for n in navs(shop)] == ["mount", "patch", "patch", "patch", "patch"]


def test_conn_navigate_from_a_handler(shop: LiveApp) -> None:
    page = shop.page
    n = history_length(shop)
    page.click("#open-item")  # on_action calls conn.navigate("/items/1")
    wait_text(shop, "#page", "Item 1")
    assert shop.path == "/items/1"
    assert page.title() == "Item"
    assert history_length(shop) == n + 1
    page.click("#go-home")  # conn.navigate("/")
    wait_text(shop, "#page", "Counter")
    assert shop.path == "/"
    assert marked(shop)
    page.go_back()
    wait_text(shop, "#page", "Item 1")


def test_scroll_goes_to_the_top_on_a_new_page_and_stays_on_a_patch(pw_open: Any) -> None:
    live: LiveApp = pw_open(example.build_app(), "/items/1")
    page = live.page
    page.evaluate("document.body.style.minHeight = '5000px'; window.scrollTo(0, 800)")
    assert page.evaluate("window.scrollY") == 800
    reply = page.evaluate("window.rweb.navigate('/items/2')")
    assert reply["t"] == "r"
    assert live.text("#page") == "Item 2"
    assert page.evaluate("window.scrollY") == 800
    reply = page.evaluate("window.rweb.navigate('/')")
    assert reply["t"] == "init" and reply["title"] == "Counter"
    assert live.text("#page") == "Counter"
    assert page.evaluate("window.scrollY") == 0
    # Back: the item page again, where it was scrolled.
    page.go_back()
    wait_text(live, "#page", "Item 2")
    page.wait_for_function("window.scrollY === 800", timeout=PW_TIMEOUT_MS)


def test_a_later_navigation_supersedes_one_in_flight(shop: LiveApp) -> None:
    page = shop.page
    got = page.evaluate(
        """async () => {
            const first = window.rweb.navigate('/items/1');
            const second = window.rweb.navigate('/items/2');
            const [a, b] = await Promise.all([first, second]);
            return [a.t, b.t, location.pathname, document.title];
        }"""
    )
    # Both replies arrive in order (the second patches the page the first mounted);
    # the page shows the second, with the title of the page the first mounted.
    assert got == ["init", "r", "/items/2", "Item"]
    assert shop.text("#page") == "Item 2"
    assert [(n["url"], n["current"]) for n in navs(shop)] == [("/items/1", False), ("/items/2", True)]
    # Only the navigation that won got a history entry.
    page.go_back()
    wait_text(shop, "#page", "Counter")
    assert shop.path == "/"


def test_a_reconnect_joins_the_page_shown(shop: LiveApp) -> None:
    page = shop.page
    page.click("#nav-item")
    wait_text(shop, "#page", "Item 1")
    page.click("#next")
    wait_text(shop, "#page", "Item 2")
    page.evaluate("window.rweb._socket.close()")
    page.wait_for_function(
        "__rweb_events.filter(e => e.type === 'rweb:connected').length === 2 && window.rweb.connected",
        timeout=PW_TIMEOUT_MS,
    )
    assert shop.text("#page") == "Item 2"
    assert page.evaluate("window.rweb.url") == "/items/2"
    assert sorted(page.evaluate("Object.keys(window.rweb.components)")) == ["item", "likes", "root"]
    page.click("#like")
    wait_text(shop, "#likes", "1")
    assert marked(shop)


# -- real page loads ------------------------------------------------------------------


def test_links_to_a_plain_page_load_it(shop: LiveApp) -> None:
    page = shop.page
    page.click("#nav-about")  # data-navigate, but /about is no reactive page
    wait_path(shop, "/about")
    page.wait_for_selector("#page")
    assert shop.text("#page") == "About"
    assert page.title() == "About"
    assert not marked(shop), "the plain page was not loaded for real"
    assert banner_shown(shop) is None
    page.go_back()
    wait_path(shop, "/")
    shop.wait_connected()
    assert shop.text("#page") == "Counter"

    page.evaluate(MARK)
    page.click("#plain-about")  # a plain link
    wait_path(shop, "/about")
    page.wait_for_selector("#page")
    assert shop.text("#page") == "About"
    assert not marked(shop)


def test_modified_clicks_and_disconnected_links_are_left_to_the_browser(shop: LiveApp) -> None:
    page = shop.page
    with page.context.expect_page(timeout=PW_TIMEOUT_MS) as popup:
        page.click("#nav-item", modifiers=["Shift"])  # a new window
    popup.value.close()
    assert shop.path == "/"
    assert navs(shop) == []
    # Disconnected: the link loads its page for real. (The "Disconnected" banner
    # covers the links at the top: the click is dispatched on the link itself.)
    page.evaluate("window.rweb.disconnect()")
    page.dispatch_event("#nav-item", "click", {"button": 0})
    wait_path(shop, "/items/1")
    shop.wait_connected()
    assert shop.text("#page") == "Item 1"
    assert not marked(shop)


def test_a_redirecting_page_on_first_load(pw_open: Any) -> None:
    live: LiveApp = pw_open(example.build_app(), "/members", connected=False)
    wait_path(live, "/about")
    assert live.text("#page") == "About"


def test_a_redirecting_page_on_live_navigation(shop: LiveApp) -> None:
    page = shop.page
    n = history_length(shop)
    page.click("#nav-members")  # its setup raises Redirect("/about")
    wait_path(shop, "/about")
    page.wait_for_selector("#page")
    assert shop.text("#page") == "About"
    assert not marked(shop)
    assert banner_shown(shop) is None
    # /members got no history entry: back is the counter.
    assert history_length(shop) == n + 1
    page.go_back()
    wait_path(shop, "/")
    shop.wait_connected()
    assert shop.text("#page") == "Counter"


def test_a_page_refusing_the_live_session_sends_the_browser_away(pw_open: Any) -> None:
    app = App("refusing")

    @app.page("/")
    def home(writer_id: int, conn: Conn) -> Any:
        if conn.live:  # the first paint passes; the socket's join is refused
            raise Redirect("/about")

        def render_page() -> Any:
            return div(p("first paint", id="page"))

        return render_page, {}

    @app.get("/about")
    def about(request: Any) -> str:
        return '<!DOCTYPE html><html><head><title>About</title></head><body><h1 id="page">About</h1></body></html>'

    live: LiveApp = pw_open(app, "/", connected=False)
    wait_path(live, "/about")
    live.page.wait_for_selector("#page")
    assert live.text("#page") == "About"
    assert banner_shown(live) is None  # the socket closed after the init: no banner
    # The refused page's history entry was replaced.
    live.page.go_back()
    assert live.page.evaluate("location.href") == "about:blank"


# -- cookies -------------------------------------------------------------------------------


def cookie_app() -> App:
    app = App("cookies")

    @app.page("/")
    def home(writer_id: int, conn: Conn) -> Any:
        def render_page() -> Any:
            return div(
                component("seen", lambda: p("k=", span(conn.cookies.get("k", "-"), id="seen"))),
                button("Remember", data_action="remember", id="remember"),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            conn.set_cookie("k", "v")

        return render_page, on_action

    @app.get("/echo")
    def echo(request: Any) -> dict[str, str]:
        return dict(request.cookies)

    return app


def test_a_cookie_set_from_a_live_session(pw_open: Any) -> None:
    live: LiveApp = pw_open(cookie_app())
    page = live.page
    assert live.text("#seen") == "-"
    reply = page.evaluate("window.rweb.send('remember')")
    assert [kind for kind, _ in reply["fx"]] == ["cookie"]
    assert page.evaluate("window.rweb.cookiesSet()") is True
    assert page.evaluate("window.__rweb_cookies.map(c => [c.ok, c.status])") == [[True, 204]]
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert "k" in cookies, f"the cookie was not set: {page.context.cookies()}"
    assert cookies["k"]["value"] == "v"
    assert cookies["k"]["httpOnly"] is True
    assert "k=" not in page.evaluate("document.cookie")  # HttpOnly: scripts never see it
    # Sent on the next requests: plain HTTP, and the page's next load and socket.
    assert page.evaluate("fetch('/echo').then(r => r.json())") == {"k": "v"}
    live.goto("/")
    assert live.text("#seen") == "v"


def test_a_member_cookie_then_a_page_load(shop: LiveApp) -> None:
    page = shop.page
    page.click("#join")  # set_cookie("member", "yes") then redirect("/members")
    wait_path(shop, "/members")
    page.wait_for_selector("#welcome")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["member"]["value"] == "yes" and cookies["member"]["httpOnly"] is True
    page.reload()
    page.wait_for_selector("#welcome")
    shop.wait_connected()
    page.click("#leave")  # clear_cookie("member") then redirect("/about")
    wait_path(shop, "/about")
    assert "member" not in {c["name"] for c in page.context.cookies()}


# -- pages without the meta tags --------------------------------------------------------


def test_a_page_without_the_meta_tags_joins_the_legacy_way(pw_open: Any) -> None:
    app = App("legacy")

    @app.page("/")
    def home(writer_id: int, conn: Conn) -> Any:
        def render_page() -> Any:
            return div(p("q=", span(conn.query.get("q", "-"), id="q")))

        return render_page, {}

    @app.get("/custom")
    def custom(request: Any) -> str:
        return (
            '<!DOCTYPE html><html><head><script src="/_rweb/rweb.js" defer></script></head>'
            '<body><div data-rc="root"><p>q=<span id="q">?</span></p></div></body></html>'
        )

    live: LiveApp = pw_open(app, "/custom?q=7")
    # The socket went to /ws with the page's query: the page at / with q=7.
    assert live.text("#q") == "7"


# -- mounted under a prefix ------------------------------------------------------------


@pytest.fixture
def mounted_base() -> Iterator[str]:
    """examples/multi_page.py mounted at /shop in a Starlette app under uvicorn (loopback)."""
    uvicorn = pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    from starlette.applications import Starlette
    from starlette.routing import Mount

    import rweb

    site = Starlette(routes=[Mount("/shop", app=rweb.asgi(example.build_app()))])
    server = uvicorn.Server(uvicorn.Config(site, log_level="warning", lifespan="off"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_under_a_prefix_urls_keep_the_root_path(pw_page: Any, mounted_base: str) -> None:
    page = pw_page
    texts = "(t) => document.querySelector('#page')?.textContent === t"
    page.goto(mounted_base + "/shop/")
    page.wait_for_function("window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)
    assert page.evaluate("[window.rweb.root, window.rweb.url]") == ["/shop", "/"]
    assert page.evaluate("window.rweb._socket.url") == (
        mounted_base.replace("http:", "ws:") + "/shop/ws?url=%2F&vsn=" + client_version()  # the join's client version
    )
    page.evaluate(MARK)
    page.click("#nav-item")
    page.wait_for_function(texts, arg="Item 1", timeout=PW_TIMEOUT_MS)
    page.click("#next")
    page.wait_for_function(texts, arg="Item 2", timeout=PW_TIMEOUT_MS)
    assert page.evaluate("[location.pathname, window.rweb.url]") == ["/shop/items/2", "/items/2"]
    page.go_back()
    page.wait_for_function(texts, arg="Item 1", timeout=PW_TIMEOUT_MS)
    assert page.evaluate("location.pathname") == "/shop/items/1"
    # A reconnect joins the page shown, within the app (with the session's resume token after it).
    page.evaluate("window.rweb._socket.close()")
    page.wait_for_function(
        "window.rweb.connected && window.rweb._socket.url.split('&tok=')[0].endsWith('/shop/ws?url=%2Fitems%2F1')",
        timeout=PW_TIMEOUT_MS,
    )
    assert page.evaluate(MARKED)
    # A plain page: loaded for real, at its rooted URL.
    page.click("#nav-about")
    page.wait_for_url(mounted_base + "/shop/about", timeout=PW_TIMEOUT_MS)
    page.wait_for_selector("#page")
    assert page.title() == "About"


def test_under_a_prefix_effects_keep_the_root_path(pw_page: Any, mounted_base: str) -> None:
    page = pw_page
    page.goto(mounted_base + "/shop/")
    page.wait_for_function("window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)
    page.click("#nav-members")  # its setup raises Redirect("/about"): a path within the app
    page.wait_for_url(mounted_base + "/shop/about", timeout=PW_TIMEOUT_MS)
    page.wait_for_selector("#page")
    assert page.title() == "About"
    # A cookie (POST /shop/_rweb/cookie), then conn.redirect("/members").
    page.goto(mounted_base + "/shop/")
    page.wait_for_function("window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)
    page.click("#join")
    page.wait_for_url(mounted_base + "/shop/members", timeout=PW_TIMEOUT_MS)
    page.wait_for_selector("#welcome")
    assert {c["name"]: c["value"] for c in page.context.cookies()}.get("member") == "yes"
