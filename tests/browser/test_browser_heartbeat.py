"""A socket that goes silent (a black hole, no close) is noticed by the client's heartbeat and replaced."""

from __future__ import annotations

from typing import Any

from browser_apps import counter_setup
from conftest import PW_TIMEOUT_MS, TcpProxy
from playwright.sync_api import BrowserContext

from rweb.testing import serve


def test_a_silent_socket_is_dropped_and_the_page_reconnects(pw_context: BrowserContext) -> None:
    pw_context.add_init_script("window.rwebConfig = {heartbeat: 800, heartbeatWait: 800}")
    page = pw_context.new_page()
    with serve(counter_setup) as srv, TcpProxy(srv.port) as proxy:
        page.goto(proxy.url)
        page.wait_for_function("window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)
        page.click("text=+")
        page.wait_for_function("document.querySelector('[data-rc=display]').textContent === 'Count: 1'")
        first: Any = page.evaluate_handle("window.rweb._socket")
        proxy.freeze()  # the TCP connection stays open; nothing arrives any more
        # heartbeat (0.8 s) + wait (0.8 s): the client gives up on that socket and connects anew.
        page.wait_for_function(
            "(s) => window.rweb.connected && window.rweb._socket !== s", arg=first, timeout=PW_TIMEOUT_MS
        )
        assert page.evaluate("__rweb_events.filter(e => e.type === 'rweb:connected').length") == 2
        # The new socket took the session over (the server still thought the old one alive):
        # the count goes on from 1, it does not start again.
        assert page.text_content("[data-rc=display]") == "Count: 1"  # a fresh session would show 0
        page.click("text=+")
        page.wait_for_function("document.querySelector('[data-rc=display]').textContent === 'Count: 2'")
