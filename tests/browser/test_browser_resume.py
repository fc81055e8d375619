"""Sessions that survive a lost connection: the client rejoins with its resume token.

The connection is dropped the hard way (``TcpProxy.cut()``: no close frame,
the server lives on), so the server keeps the session for its grace period
and the browser gets it back: the same state, and every action applied
exactly once, whether it was queued while disconnected, answered before the
cut, or applied with its reply lost on the way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from browser_apps import BUTTONS, counter_setup
from conftest import PW_TIMEOUT_MS, TcpProxy
from playwright.sync_api import Page

from rweb.testing import Served, serve

DISPLAY = '[data-rc="display"]'
TIMEOUT_S = PW_TIMEOUT_MS / 1000

# Before any page script: the rweb:fresh events, and the actions sent on any socket, in order.
RECORDER = """
window.__fresh = [];
addEventListener("rweb:fresh", (e) => window.__fresh.push({resent: e.detail.resent}));
window.__sent = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (typeof data === "string" && data.includes('"action"')) window.__sent.push(data);
  return send.call(this, data);
};
"""

STATUS = """(() => {
    const el = document.getElementById('rweb-status');
    return {down: document.documentElement.classList.contains('rweb-disconnected'),
            shown: !!el && getComputedStyle(el).display !== 'none', text: el ? el.textContent : null};
})()"""


@dataclass
class Resumable:
    page: Page
    server: Served
    proxy: TcpProxy

    def count(self) -> str | None:
        return self.page.evaluate("(s) => document.querySelector(s)?.textContent ?? null", DISPLAY)

    def wait_count(self, n: int) -> None:
        self.page.wait_for_function(
            "([s, t]) => document.querySelector(s)?.textContent === t",
            arg=[DISPLAY, f"Count: {n}"],
            timeout=PW_TIMEOUT_MS,
        )

    def click_to(self, n: int) -> None:
        """Click + (connected) until the count is ``n``."""
        while True:
            text = self.count() or ""
            now = int(text.rsplit(" ", 1)[-1])
            if now == n:
                return
            self.page.click(BUTTONS["inc"])
            self.wait_count(now + 1)

    def socket(self) -> Any:
        return self.page.evaluate_handle("window.rweb._socket")

    def wait_reconnected(self, old: Any) -> None:
        """A new socket's init arrived (``old``: the socket before the drop)."""
        self.page.wait_for_function(
            "(s) => window.rweb.connected && window.rweb._socket !== null && window.rweb._socket !== s",
            arg=old,
            timeout=PW_TIMEOUT_MS,
        )

    def wait_down(self) -> None:
        self.page.wait_for_function(
            "document.documentElement.classList.contains('rweb-disconnected')", timeout=PW_TIMEOUT_MS
        )

    def join_token(self) -> str | None:
        """The resume token the current socket joined with."""
        return self.page.evaluate("new URL(window.rweb._socket.url).searchParams.get('tok')")

    def fresh(self) -> list[dict[str, Any]]:
        return self.page.evaluate("window.__fresh")


@pytest.fixture
def resumable(pw_page: Page) -> Iterator[Callable[..., Resumable]]:
    """``resumable(app_or_setup, **app_options)``: serve it behind a TcpProxy, load it, wait for init."""
    pw_page.add_init_script(RECORDER)
    with ExitStack() as stack:

        def opener(app: Any = counter_setup, **opts: Any) -> Resumable:
            srv = stack.enter_context(serve(app, **opts))
            proxy = stack.enter_context(TcpProxy(srv.port))
            pw_page.goto(proxy.url)
            pw_page.wait_for_function("window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)
            return Resumable(pw_page, srv, proxy)

        yield opener


def counting(applied: list[str]) -> Callable[[Any], Any]:
    """The seed's counter, recording each action the server applies in ``applied``."""

    def setup(writer_id: Any) -> Any:
        render_page, on_action = counter_setup(writer_id)

        def act(action: str, params: dict[str, Any]) -> None:
            applied.append(action)
            on_action(action, params)

        return render_page, act

    return setup


def wait_until(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {TIMEOUT_S:.0f} s waiting for {what}")
        time.sleep(0.02)


def test_a_lost_connection_resumes_the_same_session(resumable) -> None:
    app = resumable()
    page = app.page
    app.click_to(3)
    first = app.socket()
    assert app.join_token() is None  # a page load joins without a token

    app.proxy.cut()
    app.wait_reconnected(first)
    token = app.join_token()
    assert token  # the reconnect presented the session's token...
    assert app.count() == "Count: 3"  # ... and got the same session back
    assert app.fresh() == []
    assert page.evaluate(STATUS) == {"down": False, "shown": False, "text": ""}
    assert page.evaluate("__rweb_events.filter(e => e.type === 'rweb:connected').length") == 2
    app.page.click(BUTTONS["inc"])
    app.wait_count(4)

    # A token resumes once: the resume's init carried a new one, which the next drop presents.
    second = app.socket()
    app.proxy.cut()
    app.wait_reconnected(second)
    assert app.join_token() not in (None, token)
    assert app.count() == "Count: 4" and app.fresh() == []

    # The token lives in memory only: not in the address bar, not in any storage.
    assert "tok" not in page.url
    stored = page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])"
    )
    assert token not in stored

    # A new page load is a new session, as before.
    page.reload()
    page.wait_for_function("window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)
    assert app.join_token() is None
    assert app.count() == "Count: 0"


def test_clicks_while_disconnected_are_queued_shown_and_applied_once(resumable) -> None:
    app = resumable()
    page = app.page
    app.click_to(1)
    first = app.socket()

    app.proxy.refusing = True  # the reconnects fail until the clicks are in
    app.proxy.cut()
    app.wait_down()
    page.click(BUTTONS["inc"])
    page.click(BUTTONS["inc"])
    assert page.evaluate("window.rweb.pending") == 2
    status = page.evaluate(STATUS)
    assert status["shown"] and status["text"] == "Reconnecting\u2026 (2 pending)"
    classes = page.evaluate(
        "[...document.querySelectorAll('button')].map(b => b.classList.contains('rweb-pending'))"
    )
    assert classes == [True, False, False]  # +, -, Reset
    time.sleep(0.5)  # a few failed attempts: nothing is lost meanwhile
    assert page.evaluate("window.rweb.pending") == 2
    assert app.count() == "Count: 1"

    app.proxy.refusing = False
    app.wait_reconnected(first)
    app.wait_count(3)
    page.wait_for_function("window.rweb.pending === 0", timeout=PW_TIMEOUT_MS)
    assert page.evaluate("document.querySelectorAll('.rweb-pending').length") == 0
    assert page.evaluate("document.querySelector('[data-action=inc]').className") == "ui-btn ui-btn-primary"
    assert page.evaluate(STATUS) == {"down": False, "shown": False, "text": ""}
    assert app.fresh() == []
    time.sleep(0.3)  # nothing else arrives: each click was applied once
    assert app.count() == "Count: 3"


def test_the_queue_is_bounded(resumable) -> None:
    app = resumable()
    page = app.page
    first = app.socket()
    app.proxy.refusing = True
    app.proxy.cut()
    app.wait_down()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    refused = page.evaluate(
        """async () => {
            window.__queued = [];
            for (let i = 0; i < 100; i++) window.__queued.push(window.rweb.send('inc'));
            return await window.rweb.send('inc');
        }"""
    )
    assert refused is None
    assert page.evaluate("window.rweb.pending") == 100
    assert any("dropped" in m for m in messages)
    assert page.evaluate(STATUS)["text"] == "Reconnecting\u2026 (100 pending)"

    app.proxy.refusing = False
    app.wait_reconnected(first)
    app.wait_count(100)
    replies = page.evaluate("Promise.all(window.__queued).then(rs => rs.map(r => r && r.ref))")
    assert replies == sorted(replies) and len(set(replies)) == 100  # in order, their own refs


def test_an_action_applied_whose_reply_was_lost_is_not_applied_again(resumable) -> None:
    applied: list[str] = []
    app = resumable(counting(applied))
    page = app.page
    app.click_to(2)
    first = app.socket()
    # The socket delivers nothing more to the client: the next reply is lost.
    page.evaluate("window.rweb._socket.onmessage = () => {}")
    waiting = page.evaluate("() => { window.__p = window.rweb.send('inc'); return window.rweb.pending; }")
    assert waiting == 1
    wait_until(lambda: len(applied) == 3, "the server to apply the action")
    app.proxy.cut()
    app.wait_reconnected(first)
    app.wait_count(3)  # in the resumed page
    assert page.evaluate("window.__p") is None  # applied before the cut: dropped, not sent again
    assert page.evaluate("window.rweb.pending") == 0
    time.sleep(0.3)
    assert app.count() == "Count: 3"
    assert applied == ["inc"] * 3
    assert app.fresh() == []


def test_an_action_lost_on_the_way_is_sent_again_with_its_ref(resumable) -> None:
    applied: list[str] = []
    app = resumable(counting(applied))
    page = app.page
    app.click_to(2)
    first = app.socket()
    app.proxy.freeze()  # what the client sends now never reaches the server
    page.evaluate("() => { window.__p = window.rweb.send('inc'); }")
    frame = page.evaluate("window.__sent[window.__sent.length - 1]")
    time.sleep(0.2)
    assert applied == ["inc", "inc"]
    app.proxy.cut()
    app.wait_reconnected(first)
    app.wait_count(3)
    # Sent again as it was, with its ref; its reply resolved send()'s promise.
    assert page.evaluate("(f) => window.__sent.filter(x => x === f).length", frame) == 2
    reply = page.evaluate("window.__p")
    assert reply is not None and reply["t"] == "r" and reply["ref"] == json.loads(frame)["ref"]
    assert page.evaluate("window.rweb.pending") == 0
    time.sleep(0.3)
    assert app.count() == "Count: 3"
    assert applied == ["inc"] * 3


@pytest.mark.parametrize("attempt", range(5))
def test_a_cut_right_after_sending_applies_the_action_once(resumable, attempt: int) -> None:
    """Whichever side of the cut the action lands on (the race is real: run it a few times)."""
    app = resumable()
    page = app.page
    app.click_to(1)
    first = app.socket()
    page.evaluate("() => { window.__p = window.rweb.send('inc'); }")
    app.proxy.cut()
    app.wait_reconnected(first)
    app.wait_count(2)
    page.wait_for_function("window.rweb.pending === 0", timeout=PW_TIMEOUT_MS)
    time.sleep(0.3)
    assert app.count() == "Count: 2"
    assert app.fresh() == []


def test_a_session_the_server_no_longer_has_starts_fresh(resumable) -> None:
    app = resumable()
    page = app.page
    app.click_to(3)
    first = app.socket()
    app.proxy.refusing = True
    app.proxy.cut()
    app.wait_down()
    page.evaluate("window.rweb._token = 'not-a-token'")  # as if the server had restarted
    page.click(BUTTONS["inc"])
    page.click(BUTTONS["inc"])
    assert page.evaluate(STATUS)["text"] == "Reconnecting\u2026 (2 pending)"

    app.proxy.refusing = False
    app.wait_reconnected(first)
    assert app.join_token() == "not-a-token"
    page.wait_for_function("window.__fresh.length === 1", timeout=PW_TIMEOUT_MS)
    assert app.fresh() == [{"resent": 2}]
    app.wait_count(2)  # a new session (0) and the two clicks, sent to it
    page.wait_for_function("window.rweb.pending === 0", timeout=PW_TIMEOUT_MS)
    assert page.evaluate("document.querySelectorAll('.rweb-pending').length") == 0
    # The new session's token is kept for the next drop, which resumes it.
    second = app.socket()
    app.proxy.cut()
    app.wait_reconnected(second)
    assert app.join_token() not in (None, "not-a-token")
    assert app.count() == "Count: 2"
    assert len(app.fresh()) == 1


def test_a_session_past_its_grace_period_starts_fresh(resumable) -> None:
    app = resumable(counter_setup, resume_grace=0.3)
    page = app.page
    app.click_to(2)
    first = app.socket()
    app.proxy.refusing = True
    app.proxy.cut()
    app.wait_down()
    time.sleep(0.8)  # the server gives up on the session
    page.click(BUTTONS["inc"])
    app.proxy.refusing = False
    app.wait_reconnected(first)
    page.wait_for_function("window.__fresh.length === 1", timeout=PW_TIMEOUT_MS)
    assert app.fresh() == [{"resent": 1}]
    app.wait_count(1)


def test_without_resuming_nothing_is_queued(resumable) -> None:
    app = resumable(counter_setup, resume_grace=0)  # the server sends no token: as before
    page = app.page
    app.click_to(1)
    first = app.socket()
    app.proxy.refusing = True
    app.proxy.cut()
    app.wait_down()
    page.click(BUTTONS["inc"])
    assert page.evaluate("window.rweb.send('inc')") is None
    assert page.evaluate("window.rweb.pending") == 0
    assert page.evaluate(STATUS)["text"] == "Reconnecting\u2026"
    assert page.evaluate("document.querySelectorAll('.rweb-pending').length") == 0
    app.proxy.refusing = False
    app.wait_reconnected(first)
    assert app.join_token() is None
    assert app.count() == "Count: 0"
    assert app.fresh() == []
