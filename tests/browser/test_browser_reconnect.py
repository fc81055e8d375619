"""Losing the WebSocket: the page says so, reconnects with backoff, and works again."""

from __future__ import annotations

import time

from browser_apps import BUTTONS, counter_setup

DISPLAY = '[data-rc="display"]'
STATUS = """(() => {
    const el = document.getElementById('rweb-status');
    return {cls: document.documentElement.classList.contains('rweb-disconnected'),
            shown: !!el && getComputedStyle(el).display !== 'none', text: el ? el.textContent : null};
})()"""


def _count_to(app, n):
    for _ in range(n):
        app.click_and_wait(BUTTONS["inc"])
    assert app.text(DISPLAY) == f"Count: {n}"


def test_reconnects_after_the_socket_drops(open_app):
    app = open_app(counter_setup)
    page = app.page
    _count_to(app, 2)
    page.evaluate("for (const b of document.querySelectorAll('button')) b.__tag = 1")

    page.evaluate("window.rweb._socket.close()")
    # The disconnected state was shown (it may already be over: the first retry is quick).
    page.wait_for("__rweb_events.some(e => e.type === 'rweb:disconnected')", 5)
    page.wait_for(
        "__rweb_events.filter(e => e.type === 'rweb:connected').length === 2 && window.rweb.connected",
        5,
    )
    assert page.evaluate(STATUS) == {"cls": False, "shown": False, "text": ""}
    # A new session: its init was morphed in, and the page works again.
    assert app.text(DISPLAY) == "Count: 0"
    app.click_and_wait(BUTTONS["inc"])
    assert app.text(DISPLAY) == "Count: 1"
    assert page.evaluate("[...document.querySelectorAll('button')].every(b => b.__tag === 1)")


def test_server_drop_shows_banner_drops_clicks_and_recovers(open_app):
    # Resuming off: the server sends no token, so the client queues nothing, as before.
    # (With resuming, the default, clicks are queued: test_browser_resume.py.)
    app = open_app(counter_setup, proxy=True, resume_grace=0)
    page = app.page
    proxy = app.proxy
    _count_to(app, 1)

    proxy.refusing = True
    proxy.cut()  # the server side of every connection goes away; reconnects fail
    page.wait_for("document.documentElement.classList.contains('rweb-disconnected')", 5)
    status = page.evaluate(STATUS)
    assert status["shown"] and status["text"].startswith("Reconnecting")
    assert page.evaluate("window.rweb.connected") is False

    # Clicks while disconnected are dropped, not queued.
    updates = app.updates()
    page.click(BUTTONS["inc"])
    assert page.evaluate("window.rweb.send('inc')") is None
    time.sleep(0.6)  # a few failed reconnect attempts (200 ms, then 400 ms, with jitter)
    assert page.evaluate(STATUS)["cls"] is True
    assert app.updates() == updates

    proxy.refusing = False
    page.wait_for("window.rweb.connected", 10, "(no reconnect after the server came back)")
    assert page.evaluate(STATUS) == {"cls": False, "shown": False, "text": ""}
    assert app.text(DISPLAY) == "Count: 0"  # a fresh session; the dropped clicks were not replayed
    app.click_and_wait(BUTTONS["inc"])
    assert app.text(DISPLAY) == "Count: 1"


def test_disconnect_and_connect_by_hand(open_app):
    app = open_app(counter_setup)
    page = app.page
    page.evaluate("window.rweb.disconnect()")
    page.wait_for("document.documentElement.classList.contains('rweb-disconnected')", 5)
    time.sleep(0.5)  # stays disconnected: no automatic reconnect after disconnect()
    assert page.evaluate("window.rweb.connected") is False
    assert page.evaluate("window.rweb._socket") is None
    assert page.evaluate(STATUS) == {"cls": True, "shown": True, "text": "Disconnected"}
    page.evaluate("window.rweb.connect()")
    page.wait_for("window.rweb.connected", 5)
    assert page.evaluate(STATUS)["cls"] is False
    app.click_and_wait(BUTTONS["inc"])
    assert app.text(DISPLAY) == "Count: 1"
