"""Flash messages in Chromium (rweb.flash, docs/flash.md): the real client against the real server.

A login form posts over HTTP; its handler flashes and redirects; the next
page shows the message from its first paint on, in a live region, and its
live session keeps it (the join carries it: the cookie is gone by then).
The messages are dismissed by a click and from the keyboard, one set in the
live session goes on through a live navigation, a reload shows nothing
again, and axe-core finds nothing wrong with a page showing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from axe import axe_violations, require_axe
from conftest import PW_TIMEOUT_MS, LiveApp

from rweb import App, Conn, HTMLResponse, RedirectResponse, Request, ui
from rweb.html import button, form, h1, input_, label, main, p, to_html

USER_COOKIE = "user"


def make_app() -> App:
    app = App("Flash", secret_key="k" * 32, assets=ui.ASSETS)

    @app.get("/login")
    def login_form(request: Request) -> HTMLResponse:
        return HTMLResponse(
            "<!DOCTYPE html><html lang='en'><head><title>Sign in</title></head><body>"
            + to_html(main(
                h1("Sign in"),
                form(
                    label("Name", for_="name"), input_(id="name", name="name"),
                    button("Sign in", type="submit"),
                    method="post", action="/login",
                ),
            ))
            + "</body></html>"
        )

    @app.post("/login")
    def login(request: Request) -> RedirectResponse:
        name = request.form().get("name", "")
        request.flash("success", f"Signed in as {name}")
        response = RedirectResponse("/home")
        response.set_cookie(USER_COOKIE, name, secure=False)
        return response

    def guard(conn: Conn) -> str:
        return conn.cookies.get(USER_COOKIE) or "nobody"

    def nav() -> Any:
        return ui.navbar(
            "Flash",
            ui.nav_link("Home", "/home", data_navigate=True, id="to-home"),
            ui.nav_link("Other", "/other", data_navigate=True, id="to-other"),
        )

    @app.page("/home", title="Home", auth=guard)
    def home(writer_id: Any, conn: Conn) -> Any:
        def render() -> Any:
            return ui.shell(
                h1("Home"),
                p("Hello, ", conn.user),
                ui.button("Save", id="save", data_action="save"),
                ui.button("Fail", id="fail", variant="danger", data_action="fail"),
                navbar=nav(),
                flash=conn,
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "save":
                conn.flash("info", "Saved")
            elif action == "fail":
                conn.flash("error", "That did not work")

        return render, on_action

    @app.page("/other", title="Other", auth=guard)
    def other(writer_id: Any, conn: Conn) -> Any:
        return (lambda: ui.shell(h1("Other"), navbar=nav(), flash=conn)), {}

    return app


def flash_texts(live: LiveApp) -> list[str]:
    return list(live.page.eval_on_selector_all(".ui-flashes .ui-toast-text", "els => els.map(e => e.textContent)"))


def wait_flashes(live: LiveApp, n: int) -> None:
    live.page.wait_for_function(
        f"document.querySelectorAll('.ui-flashes .ui-toast').length === {n}", timeout=PW_TIMEOUT_MS
    )


def log_in(pw_open: Callable[..., LiveApp]) -> LiveApp:
    live: LiveApp = pw_open(make_app(), "/login", connected=False)
    page = live.page
    page.fill("#name", "ann")
    with page.expect_navigation(timeout=PW_TIMEOUT_MS):
        page.click("button[type=submit]")
    page.wait_for_url(live.url("/home"), timeout=PW_TIMEOUT_MS)
    live.wait_connected()
    return live


def test_a_login_flash_survives_the_redirect_is_announced_and_is_dismissed(pw_open: Callable[..., LiveApp]) -> None:
    live = log_in(pw_open)
    page = live.page
    # Shown by the first paint, kept by the live session (its join carried it: the cookie is gone).
    assert page.evaluate("document.querySelector('.ui-flashes').__server_rendered === true")
    assert flash_texts(live) == ["Signed in as ann"]
    assert not [c for c in page.context.cookies() if "flash" in c["name"]]
    # What a screen reader meets: the message inside a status live region.
    tree = page.locator(".ui-flashes").aria_snapshot()
    assert "status" in tree and "Signed in as ann" in tree
    assert page.get_attribute(".ui-flashes [role=status]", "aria-live") == "polite"
    # The live session answers the dismiss button: the message goes (server-side: a re-render
    # would bring back one the browser alone hid).
    page.click(".ui-flashes .ui-toast button")
    wait_flashes(live, 0)
    page.click("#save")  # a re-render of the region: nothing comes back
    wait_flashes(live, 1)
    assert flash_texts(live) == ["Saved"]


def test_flashes_are_dismissed_from_the_keyboard_and_pass_axe(pw_open: Callable[..., LiveApp]) -> None:
    require_axe()
    live = log_in(pw_open)
    page = live.page
    page.click("#save")
    page.click("#fail")
    wait_flashes(live, 3)
    assert page.text_content(".ui-flashes [role=alert]") == "That did not work"
    assert axe_violations(live.page) == []
    # Enter on a dismiss button (reached from the keyboard); focus goes on to the next message.
    first = page.locator(".ui-flashes .ui-toast").first.locator("button")
    first.focus()
    page.keyboard.press("Enter")
    wait_flashes(live, 2)
    assert page.evaluate("document.activeElement.closest('.ui-toast') !== null")
    # Escape inside a message dismisses it.
    page.keyboard.press("Escape")
    wait_flashes(live, 1)
    page.locator(".ui-flashes .ui-toast button").first.focus()
    page.keyboard.press("Escape")
    wait_flashes(live, 0)


def test_a_flash_survives_a_live_navigation_and_a_reload_shows_none(pw_open: Callable[..., LiveApp]) -> None:
    live = log_in(pw_open)
    page = live.page
    page.evaluate("window.__same_document = true")
    page.click("#save")
    wait_flashes(live, 2)
    page.click("#to-other")
    page.wait_for_url(live.url("/other"), timeout=PW_TIMEOUT_MS)
    page.wait_for_function("document.querySelector('h1')?.textContent === 'Other'", timeout=PW_TIMEOUT_MS)
    assert page.evaluate("window.__same_document === true")  # a live navigation, not a load
    # "Saved" was set on /home: it goes on; "Signed in" was handed to /home and shown: it does not.
    assert flash_texts(live) == ["Saved"]
    page.reload()
    live.wait_connected()
    assert flash_texts(live) == []
    page.goto(live.url("/home"))
    live.wait_connected()
    assert flash_texts(live) == []


def test_a_new_session_after_the_socket_drops_does_not_show_the_flash_again(pw_open: Callable[..., LiveApp]) -> None:
    live = log_in(pw_open)
    page = live.page
    assert flash_texts(live) == ["Signed in as ann"]
    page.evaluate("window.__connects = 0; addEventListener('rweb:connected', () => window.__connects++)")
    page.evaluate("window.rweb._socket.close()")  # a close, not a loss: the session ends, a new one joins
    page.wait_for_function("window.__connects === 1 && window.rweb.connected", timeout=PW_TIMEOUT_MS)
    # The join carried the messages once (the page's first join): this one starts without them.
    assert flash_texts(live) == []
