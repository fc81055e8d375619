"""Chromium follows a live ``conn.redirect`` by itself: to another site only when the app names it.

Two real servers on loopback ports (two origins): a page of the first asks
for a redirect to the second.  Without ``external=True`` (and without the host
in ``App(allowed_redirect_hosts=...)``) the action fails and the browser stays;
with it, or with the host listed, the browser loads the other site.
"""

from __future__ import annotations

import contextlib
from typing import Any

from conftest import PW_TIMEOUT_MS, LiveApp

from rweb import App, Conn
from rweb.html import button, div, p
from rweb.testing import serve


def other_site() -> App:
    app = App("elsewhere")

    @app.get("/landing")
    def landing(request: Any) -> str:
        return '<!DOCTYPE html><p id="landed">elsewhere</p>'

    return app


def leaving_app(target: str, allowed: list[str]) -> App:
    app = App("leaving", allowed_redirect_hosts=allowed)

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            conn.redirect(target, external=action == "external")

        return (
            lambda: div(
                p("home", id="home"),
                button("plain", id="plain", data_action="plain"),
                button("external", id="external", data_action="external"),
            )
        ), on_action

    return app


def test_a_redirect_to_another_site_needs_the_app_to_name_it(pw_open: Any) -> None:
    with contextlib.ExitStack() as stack:
        other = stack.enter_context(serve(other_site()))
        target = f"http://127.0.0.1:{other.port}/landing"
        live: LiveApp = pw_open(leaving_app(target, []))
        page = live.page
        page.click("#plain")  # refused: the action fails, the page stays
        page.wait_for_function(
            "window.__rweb_events.some((e) => e.type === 'rweb:error' && e.code === 'handler_error')",
            timeout=PW_TIMEOUT_MS,
        )
        assert page.url == live.url("/") and live.text("#home") == "home"
        page.click("#external")  # external=True: the browser goes
        page.wait_for_url(target, timeout=PW_TIMEOUT_MS)
        assert page.text_content("#landed") == "elsewhere"
        # A host the app lists: no external=True needed.
        listed: LiveApp = pw_open(leaving_app(target, [f"127.0.0.1:{other.port}"]))
        listed.page.click("#plain")
        listed.page.wait_for_url(target, timeout=PW_TIMEOUT_MS)
