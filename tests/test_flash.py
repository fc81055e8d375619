"""Flash messages (rweb.flash, docs/flash.md), in-process: through the real app, connection and wire.

A flash set by a plain handler rides in a signed cookie to the next page's
first paint, which deletes it and hands the messages to its live session;
one set in a live session shows in the page's region, is dismissed by its
button, and goes on once through a live navigation or a redirect.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from rweb import App, Conn, Redirect, RedirectResponse, Request, ui
from rweb.flash import DISMISS_ACTION, Flash, Flashes, dump, flash_cookie_name, flash_group, load
from rweb.html import a, button, div, h1
from rweb.protocol import JOIN_FLASH_PARAM, Join
from rweb.signing import Signer
from rweb.testing import Client, Page, TestClient

SECRET = "s" * 32
META = re.compile(r'<meta name="rweb-flash" content="([^"]*)">')


def make_app(*, mapping: bool = False, **options: Any) -> App:
    """A login handler that flashes, pages that show flashes (plain and kit), a guarded page."""
    app = App("Flash", secret_key=SECRET, **options)
    seen: list[str] = []
    app.state = seen  # type: ignore[attr-defined]

    @app.post("/login")
    def login(request: Request) -> RedirectResponse:
        request.flash("success", "Signed in")
        return RedirectResponse("/home")

    @app.post("/twice")
    def twice(request: Request) -> RedirectResponse:
        request.flash("info", "One")
        request.flash("error", "Two")
        return RedirectResponse("/home")

    def guard(conn: Conn) -> str:
        if conn.cookies.get("user") != "ann":
            conn.flash("error", "Sign in first")
            raise Redirect("/home")
        return "ann"

    @app.page("/home")
    def home(writer_id: Any, conn: Conn) -> Any:
        def render() -> Any:
            return div(
                h1("Home"),
                flash_group(conn),
                button("Save", id="save", data_action="save"),
                button("Bad", id="bad", data_action="bad"),
                button("Away", id="away", data_action="away"),
                button("Leave", id="leave", data_action="leave"),
                a("Other", id="other", href="/other", data_navigate=True),
                a("Private", id="private", href="/private", data_navigate=True),
            )

        def save(params: Any) -> None:
            conn.flash("success", "Saved")

        def bad(params: Any) -> None:
            conn.flash("error", "That failed")

        def away(params: Any) -> None:
            conn.flash("info", "Moved along")
            conn.navigate("/other")

        def leave(params: Any) -> None:
            conn.flash("warning", "Loaded anew")
            conn.redirect("/other")

        handlers = {"save": save, "bad": bad, "away": away, "leave": leave}
        if mapping:
            return render, handlers

        def on_action(action: str, params: dict[str, Any]) -> None:
            seen.append(action)
            handlers[action](params)  # a KeyError for any action this page does not know

        return render, on_action

    @app.page("/other")
    def other(writer_id: Any, conn: Conn) -> Any:
        def render() -> Any:
            return ui.shell(h1("Other"), a("Home", id="home", href="/home", data_navigate=True), flash=conn)

        return render, {}

    @app.page("/private", auth=guard)
    def private(writer_id: Any, conn: Conn) -> Any:
        return (lambda: div(h1("Private"))), {}

    return app


def shown(page: Page) -> list[str]:
    """The flash messages the page shows, plain or kit, in order."""
    return [t.replace("\u00d7", "").strip() for t in page.texts(".rweb-flash, .ui-toast-text")]


# -- a plain handler's flash, through the redirect ----------------------------------------------


def test_a_handlers_flash_rides_a_signed_short_lived_httponly_cookie() -> None:
    tc = TestClient(make_app())
    r = tc.post("/login")
    assert r.status == 303 and r.location == "/home"
    cookie = r.cookie("rweb_flash")
    assert cookie is not None
    assert cookie.httponly and cookie.samesite == "Lax" and cookie.max_age == 60 and cookie.path == "/"
    assert not cookie.secure
    assert load(Signer(SECRET), cookie.value) == (Flash("success", "Signed in"),)
    assert load(Signer("another secret, 32 bytes long..."), cookie.value) == ()


def test_over_https_the_cookie_is_host_prefixed_and_secure() -> None:
    tc = TestClient(make_app(), "https://app.example")
    r = tc.post("/login", headers={"origin": "https://app.example"})
    cookie = r.cookie("__Host-rweb_flash")
    assert cookie is not None and cookie.secure and cookie.httponly and cookie.path == "/"
    page = tc.page("/home")
    assert shown(page) == ["Signed in"]
    assert "__Host-rweb_flash" not in tc.cookies


def test_the_next_first_paint_shows_it_deletes_the_cookie_and_hands_it_to_the_live_session() -> None:
    tc = TestClient(make_app())
    tc.post("/login")
    assert "rweb_flash" in tc.cookies
    r = tc.get("/home")
    assert "Signed in" in r.text
    # At load it sits beside the live region (content there at load is not announced); the live
    # session's first render below moves it in, where a screen reader reads it.
    status = re.search(r'<div role="status"[^>]*>(.*?)</div>', r.text)
    assert status is not None and "Signed in" not in status.group(1)
    assert re.search(r'class="rweb-flash-static"[^>]*>.*Signed in', r.text)
    assert r.cookie("rweb_flash") is not None and r.cookie("rweb_flash").max_age == 0  # type: ignore[union-attr]
    assert "rweb_flash" not in tc.cookies
    token = META.search(r.text)
    assert token is not None
    # The live session gets the messages from the join, not from the cookie (deleted by now).
    page = Page(tc.live("/home", flash=token.group(1).replace("&amp;", "&")))
    assert shown(page) == ["Signed in"]
    assert page.attr("#rweb-flash > [role=status]", "aria-live") == "polite"
    # A reload: the cookie is gone, and the page has nothing to show.
    again = tc.get("/home")
    assert "Signed in" not in again.text and META.search(again.text) is None
    assert shown(tc.page("/home")) == []


def test_testclient_page_loads_the_first_paint_when_a_flash_cookie_waits() -> None:
    tc = TestClient(make_app())
    tc.post("/twice")
    page = tc.page("/home")
    assert shown(page) == ["One", "Two"]
    assert page.text("#rweb-flash > [role=alert]").startswith("Two")  # an error: announced at once
    assert shown(tc.page("/home")) == []  # not twice


def test_a_tampered_or_expired_flash_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    tc = TestClient(app)
    forged = dump(Signer("not the app's secret key at all"), [Flash("info", "Forged")])
    tc.cookies.set("rweb_flash", forged)
    r = tc.get("/home")
    assert "Forged" not in r.text and "rweb_flash" not in tc.cookies  # ignored, and deleted

    tc.post("/login")
    import rweb.signing

    later = rweb.signing.time.time() + 61
    monkeypatch.setattr(rweb.signing.time, "time", lambda: later)
    assert "Signed in" not in tc.get("/home").text


def test_a_forged_join_token_shows_nothing_and_the_join_word_is_not_the_pages_query() -> None:
    app = make_app()
    forged = dump(Signer("not the app's secret key at all"), [Flash("info", "Forged")])
    page = Page(Client(app, "/home", flash=forged))
    assert shown(page) == []
    # A token of the app, but not a flash's (the CSRF token's signature, say): refused too.
    page = Page(Client(app, "/home", flash=app.signer.sign("csrf:" + "0" * 32)))
    assert shown(page) == []
    join = Join.from_query({JOIN_FLASH_PARAM: "t", "q": "1"})
    assert join.flash == "t" and join.url == "/?q=1"


def test_request_flash_refuses_unknown_kinds() -> None:
    request = Request("POST", "/x")
    with pytest.raises(ValueError, match="flash kind"):
        request.flash("danger", "no such kind")
    with pytest.raises(TypeError):
        request.flash("info", 3)  # type: ignore[arg-type]
    assert request.flash_out is None


# -- a live session's flash ------------------------------------------------------------------


@pytest.mark.parametrize("mapping", [False, True], ids=["function", "mapping"])
def test_a_live_flash_shows_and_its_button_dismisses_it_without_the_pages_handler(mapping: bool) -> None:
    app = make_app(mapping=mapping)
    page = TestClient(app).page("/home")
    assert shown(page) == []
    page.click("#save")
    page.click("#bad")
    assert shown(page) == ["Saved", "That failed"]
    assert page.text("#rweb-flash > [role=alert]").startswith("That failed")
    assert page.attr("#rweb-flash [role=status] button", "aria-label") == "Dismiss: Saved"
    page.click("#rweb-flash [role=status] button")
    assert shown(page) == ["That failed"]
    assert DISMISS_ACTION not in app.state  # type: ignore[attr-defined]  # the framework answered it


@pytest.mark.parametrize("mapping", [False, True], ids=["function", "mapping"])
def test_the_framework_answers_a_dismissal_and_the_session_keeps_the_pages_own_on_action(mapping: bool) -> None:
    """No wrapping of the page's on_action, messages shown or not: the session answers DISMISS_ACTION."""
    calls: list[str] = []

    def on_action(action: str, params: dict[str, Any]) -> None:
        calls.append(action)

    handlers = {"go": lambda params: calls.append("go")}
    app = App("Flash", secret_key=SECRET)

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        conn.flash("info", "Hello")
        conn.flash("error", "Oops")
        return (lambda: div(flash_group(conn), button("Go", data_action="go"))), handlers if mapping else on_action

    session = app.session(1)
    html = str(session.mount())
    assert "Hello" in html and "Oops" in html
    assert (session.handlers is handlers) if mapping else (session.on_action is on_action)
    patches, error = session.dispatch(DISMISS_ACTION, {"id": "rweb-flash-1"})
    assert error is None and "rweb-flash" in patches and "Hello" not in str(patches)
    assert session.dispatch("go", {}) == ({}, None)
    assert calls == ["go"]


def test_a_flash_goes_on_through_one_live_navigation_and_dismissed_ones_do_not() -> None:
    tc = TestClient(make_app())
    page = tc.page("/home")
    page.click("#save")
    page.click("#bad")
    page.click("#rweb-flash [role=alert] button")  # dismissed: stays behind
    page.click("#other")
    assert page.url == "/other" and shown(page) == ["Saved"]
    assert page.exists(".ui-flashes [role=status] .ui-toast-success")
    page.click("#home")  # handed to /other, shown there: it does not go on again
    assert page.url == "/home" and shown(page) == []


def test_a_flash_then_navigate_in_one_handler_shows_on_the_next_page() -> None:
    page = TestClient(make_app()).page("/home")
    page.click("#away")
    assert page.url == "/other" and shown(page) == ["Moved along"]


def test_a_flash_goes_on_through_a_live_redirect_by_its_cookie() -> None:
    tc = TestClient(make_app())
    page = tc.page("/home")
    page.click("#save")
    page.click("#leave")
    assert page.redirected_to == "/other"
    assert "rweb_flash" in tc.cookies  # set through the cookie effect before the load
    assert shown(tc.page("/other")) == ["Saved", "Loaded anew"]


def test_a_guards_redirect_carries_its_flash_on_the_first_paint_and_in_a_live_navigation() -> None:
    tc = TestClient(make_app())
    r = tc.get("/private")
    assert r.status == 303 and r.location == "/home" and r.cookie("rweb_flash") is not None
    assert shown(tc.page("/home")) == ["Sign in first"]

    page = tc.page("/home")
    page.click("#private")  # the guard refuses the live navigation: a load, its flash in the cookie
    assert page.redirected_to == "/home"
    assert shown(tc.page("/home")) == ["Sign in first"]


def test_a_flash_set_by_the_setup_shows_once_on_the_live_page() -> None:
    app = App("x", secret_key=SECRET)

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        conn.flash("info", "Welcome")
        return (lambda: div(flash_group(conn))), {}

    tc = TestClient(app)
    tc.cookies.set("rweb_flash", dump(app.signer, [Flash("success", "Signed in")]))
    r = tc.get("/")
    assert r.text.count(">Welcome <button") == 1 and ">Signed in <button" in r.text
    # The join carries only what the cookie brought; the live setup makes "Welcome" again.
    token = META.search(r.text)
    assert token is not None and load(app.signer, token.group(1)) == (Flash("success", "Signed in"),)
    assert shown(Page(tc.live("/", flash=token.group(1)))) == ["Signed in", "Welcome"]


def test_flashes_keep_the_newest_and_refuse_unknown_kinds() -> None:
    flashes = Flashes()
    for i in range(7):
        flashes.add("info", f"m{i}")
    assert [f.message for f in flashes.messages()] == ["m2", "m3", "m4", "m5", "m6"]
    with pytest.raises(ValueError, match="flash kind"):
        flashes.add("danger", "x")
    flashes.clear("info")
    assert not flashes


def test_the_cookie_names_and_the_kits_region() -> None:
    assert flash_cookie_name("https") == "__Host-rweb_flash" and flash_cookie_name("http") == "rweb_flash"
    flashes = Flashes([Flash("error", "Nope"), Flash("info", "Hi")])
    from rweb.html import to_html

    out = to_html(div(ui.flash(flashes)))
    assert 'role="alert"' in out and 'role="status"' in out and 'data-hook="UiToasts"' in out
    assert "ui-toast-danger" in out and 'aria-label="Dismiss: Nope"' in out


def test_a_plain_page_takes_its_flash_and_its_response_deletes_the_cookie() -> None:
    app = App("x", secret_key=SECRET)

    @app.post("/logout")
    def logout(request: Request) -> RedirectResponse:
        request.flash("info", "Signed out")
        return RedirectResponse("/login")

    @app.get("/login")
    def login_page(request: Request) -> str:
        shown = [f.message for f in request.take_flash()]
        if request.query.get("again"):
            request.flash("warning", "Try again")
        return ", ".join(shown) or "none"

    @app.get("/about")
    def about(request: Request) -> str:
        return "about"

    tc = TestClient(app)
    tc.post("/logout")
    assert tc.get("/about").text == "about" and "rweb_flash" in tc.cookies  # not taken: it waits
    assert tc.get("/login").text == "Signed out"
    assert "rweb_flash" not in tc.cookies
    assert tc.get("/login").text == "none"
    # Taken, and a new one flashed: only the new one goes on.
    tc.post("/logout")
    assert tc.get("/login?again=1").text == "Signed out"
    assert tc.get("/login").text == "Try again"


def test_over_https_a_live_redirect_sets_the_host_prefixed_cookie() -> None:
    tc = TestClient(make_app(), "https://app.example")
    page = tc.page("/home")
    page.click("#leave")
    assert page.redirected_to == "/other"
    stored = tc.cookies.attributes("__Host-rweb_flash")
    assert stored is not None and stored.secure and stored.httponly and stored.path == "/"
    assert "rweb_flash" not in tc.cookies
    assert shown(tc.page("/other")) == ["Loaded anew"]


def test_over_https_only_the_host_prefixed_cookie_is_read() -> None:
    app = make_app()
    token = dump(app.signer, [Flash("info", "From a sibling subdomain")])
    tc = TestClient(app, "https://app.example", cookies={"rweb_flash": token})
    assert "From a sibling subdomain" not in tc.get("/home").text
    # Over http (an app behind a proxy it does not trust), the live session's __Host- one is read too.
    tc = TestClient(app, cookies={"__Host-rweb_flash": token})
    r = tc.get("/home")
    assert "From a sibling subdomain" in r.text
    deletion = r.cookie("__Host-rweb_flash")
    assert deletion is not None and deletion.max_age == 0 and deletion.secure and deletion.path == "/"


def test_a_live_join_refused_by_the_guard_carries_its_flash_and_the_setups_cookies() -> None:
    app = App("x", secret_key=SECRET)

    def guard(conn: Conn) -> None:
        conn.flash("error", "Sign in first")
        conn.set_cookie("next", "private")  # lost before: the refusal sent only its load
        raise Redirect("/")

    @app.page("/private", auth=guard)
    def private(writer_id: Any, conn: Conn) -> Any:
        return (lambda: div("secret")), {}

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        return (lambda: div(flash_group(conn))), {}

    tc = TestClient(app)
    live = tc.live("/private")
    assert not live.ok and live.redirected_to == "/"
    assert [kind for kind, _ in live.effects] == ["cookie", "cookie", "nav"]
    assert tc.cookies.get("next") == "private"
    assert shown(Page(tc.live("/"))) == ["Sign in first"]


def test_under_asgi_at_a_sub_path_the_flash_survives_the_redirect() -> None:
    import asyncio

    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Mount

    import rweb

    outer = Starlette(routes=[Mount("/shop", app=rweb.asgi(make_app()))])

    async def visit() -> None:
        transport = httpx.ASGITransport(app=outer)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            r = await http.post("/shop/login")
            assert r.status_code == 303
            assert "Path=/;" in r.headers["set-cookie"]  # the whole site: the page may be anywhere under it
            page = await http.get("/shop/home")
            assert "Signed in" in page.text and META.search(page.text) is not None
            assert '<meta name="rweb-socket" content="/shop/ws">' in page.text
            assert "rweb_flash" not in http.cookies
            assert "Signed in" not in (await http.get("/shop/home")).text

    asyncio.run(visit())


def test_a_handler_that_raises_redirect_keeps_its_flash() -> None:
    app = make_app()

    @app.post("/bye")
    def bye(request: Request) -> None:
        request.flash("info", "Bye")
        raise Redirect("/home")

    tc = TestClient(app)
    r = tc.post("/bye")
    assert r.status == 303 and r.cookie("rweb_flash") is not None
    assert shown(tc.page("/home")) == ["Bye"]
