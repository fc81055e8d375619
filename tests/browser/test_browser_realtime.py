"""Push without a click, in a real browser (Playwright on Debian's Chromium).

Against the real-time examples served by the real server on a loopback port:

- examples/clock.py: a timer (``conn.every``) updates the page by itself;
- examples/chat.py: two users in room A and one in room B, each in a browser
  context of their own (own cookies): messages reach their room only, the
  who-is-here lists follow joins, a closed tab leaves at once, and the message
  box is empty after sending;
- examples/rooms_push.py: a plain HTTP POST reaches the pages of one room.

Every wait is bounded (``PW_TIMEOUT_MS``, 10 s, unless said otherwise).
"""

from __future__ import annotations

import contextlib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from conftest import PW_RECORDER, PW_TIMEOUT_MS, LiveApp
from examples_loader import load_example

from rweb.testing import Served, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser as PWBrowser
    from playwright.sync_api import Page as PWPage




clock = load_example("clock")
chat = load_example("chat")
rooms_push = load_example("rooms_push")

TOKEN = "a-test-push-token"


def wait_text(live: LiveApp, selector: str, text: str, timeout: int = PW_TIMEOUT_MS) -> None:
    live.page.wait_for_function(
        "([s, t]) => document.querySelector(s)?.textContent === t",
        arg=[selector, text],
        timeout=timeout,
    )


def wait_contains(live: LiveApp, selector: str, text: str) -> None:
    live.page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.textContent ?? '').includes(t)",
        arg=[selector, text],
        timeout=PW_TIMEOUT_MS,
    )


def items(live: LiveApp, selector: str) -> list[str]:
    """The text of each ``<li>`` under ``selector``."""
    return live.page.evaluate(
        "(s) => Array.from(document.querySelectorAll(s + ' > li'), (li) => li.textContent)",
        selector,
    )


def wait_items(live: LiveApp, selector: str, want: list[str], timeout: int = PW_TIMEOUT_MS) -> None:
    live.page.wait_for_function(
        "([s, want]) => JSON.stringify(Array.from(document.querySelectorAll(s + ' > li'),"
        " (li) => li.textContent)) === JSON.stringify(want)",
        arg=[selector, want],
        timeout=timeout,
    )


# -- several users: one browser context each ----------------------------------------------------


class Users:
    """Opens pages of one served app, each in a new browser context (its own cookies)."""

    def __init__(self, browser: PWBrowser, server: Served, stack: contextlib.ExitStack) -> None:
        self.browser = browser
        self.server = server
        self.stack = stack
        self.errors: list[str] = []

    def open(self, path: str) -> LiveApp:
        context = self.browser.new_context()
        self.stack.callback(context.close)
        context.set_default_timeout(PW_TIMEOUT_MS)
        context.set_default_navigation_timeout(PW_TIMEOUT_MS)
        context.add_init_script(PW_RECORDER)
        page: PWPage = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        live = LiveApp(page, self.server)
        live.goto(path)
        return live


@pytest.fixture
def users(pw_browser: PWBrowser) -> Iterator[Callable[[Any], Users]]:
    """``users(app)``: serve ``app`` on a loopback port; ``.open(path)`` gives a new user's page."""
    with contextlib.ExitStack() as stack:
        made: list[Users] = []

        def start(app: Any) -> Users:
            u = Users(pw_browser, stack.enter_context(serve(app)), stack)
            made.append(u)
            return u

        yield start
        for u in made:
            assert not u.errors, f"uncaught exceptions in the pages: {u.errors}"


# -- the clock ---------------------------------------------------------------------------------


def test_the_clock_updates_by_itself(pw_open: Any) -> None:
    live: LiveApp = pw_open(clock.build_app())
    page = live.page
    first = live.text("#time")
    assert first
    # No click: the timer's push changes the time within a tick (1 s), and again.
    page.wait_for_function(
        "(t) => document.querySelector('#time').textContent !== t", arg=first, timeout=2500
    )
    second = live.text("#time")
    page.wait_for_function(
        "(t) => document.querySelector('#time').textContent !== t", arg=second, timeout=2500
    )
    assert len({first, second, live.text("#time")}) == 3
    # Each tick is one push carrying both components the timer wrote.
    pushes = page.evaluate(
        "__rweb_events.filter(e => e.type === 'rweb:update' && e.t === 'p').map(e => e.components)"
    )
    assert len(pushes) >= 2
    assert all(sorted(c) == ["clock", "pushes"] for c in pushes), pushes
    assert int(live.text("#pushes") or 0) >= 2
    assert (
        page.evaluate("__rweb_events.filter(e => e.type === 'rweb:update' && e.t === 'r').length")
        == 0
    )


def test_the_clock_stops_when_asked(pw_open: Any) -> None:
    live: LiveApp = pw_open(clock.build_app(interval=0.1))
    page = live.page
    page.wait_for_function(
        "Number(document.querySelector('#pushes').textContent) >= 2", timeout=PW_TIMEOUT_MS
    )
    reply = page.evaluate(
        "window.rweb.send('stop')"
    )  # as a click on #stop; resolves with the reply
    assert reply["t"] == "r" and "e" not in reply
    stopped = live.text("#pushes")
    time.sleep(0.5)  # five periods: no more pushes
    assert live.text("#pushes") == stopped


# -- the chat ---------------------------------------------------------------------------------------


def set_name(live: LiveApp, name: str) -> None:
    page = live.page
    page.fill("#name", name)
    page.click("#set-name")
    wait_text(live, "#me", name)


def say(live: LiveApp, text: str) -> None:
    page = live.page
    page.fill("#text", text)
    page.press("#text", "Enter")  # submits the form: data-action="say" with its fields


def test_chat_rooms_messages_and_who_is_here(users: Callable[[Any], Users]) -> None:
    site = users(chat.build_app(rooms=("A", "B")))
    ann = site.open("/rooms/A")
    set_name(ann, "Ann")
    bob = site.open("/rooms/A")
    set_name(bob, "Bob <b>")  # text, never markup
    cy = site.open("/rooms/B")
    set_name(cy, "Cy")

    wait_items(ann, "#members", ["Ann (you)", "Bob <b>"])
    wait_items(bob, "#members", ["Ann", "Bob <b> (you)"])
    wait_items(cy, "#members", ["Cy (you)"])
    assert bob.page.evaluate("document.querySelectorAll('#members b').length") == 0

    say(ann, "hello from A")
    for live in (ann, bob):
        wait_contains(live, "#messages", "Ann: hello from A")
    # The box is empty again (a new element: the old one kept what was typed while focused).
    ann.page.wait_for_function(
        "document.querySelector('#text').value === ''", timeout=PW_TIMEOUT_MS
    )

    # Room B: once its own message has arrived, A's message is known not to have come.
    say(cy, "hello from B")
    wait_contains(cy, "#messages", "Cy: hello from B")
    assert len(items(cy, "#messages")) == 1
    assert "hello from A" not in (cy.text("#messages") or "")

    say(bob, "hi Ann")
    wait_contains(ann, "#messages", "Bob <b>: hi Ann")
    assert "hello from B" not in (ann.text("#messages") or "")
    assert "hello from B" not in (bob.text("#messages") or "")
    assert [t.split(" ", 1)[1] for t in items(ann, "#messages")] == [
        "Ann: hello from A",
        "Bob <b>: hi Ann",
    ]

    # Bob closes his tab: he leaves at once.
    t0 = time.monotonic()
    bob.page.close()
    wait_items(ann, "#members", ["Ann (you)"])
    assert time.monotonic() - t0 < 1.0, "the closed tab took more than a second to leave"
    assert items(cy, "#members") == ["Cy (you)"]


def test_chat_name_is_remembered_and_rooms_list_counts(users: Callable[[Any], Users]) -> None:
    site = users(chat.build_app(rooms=("A", "B")))
    lobby = site.open("/")
    wait_contains(lobby, "#rooms", "A (0 here)")
    dee = site.open("/rooms/A")
    set_name(dee, "Dée")
    wait_contains(lobby, "#rooms", "A (1 here)")  # the list follows presence, live

    # The name is kept in a cookie: a reload, or another room, knows it.
    dee.page.reload()
    dee.wait_connected()
    wait_text(dee, "#me", "Dée")
    dee.page.click("#all-rooms")  # data-navigate: this room's session ends
    wait_contains(dee, "#rooms", "B (0 here)")
    wait_contains(lobby, "#rooms", "A (0 here)")
    dee.page.click("#room-B")
    wait_text(dee, "#room", "Room B")
    wait_text(dee, "#me", "Dée")
    wait_items(dee, "#members", ["Dée (you)"])
    wait_contains(lobby, "#rooms", "B (1 here)")


# -- pushes from outside ----------------------------------------------------------------------------


def push(server: Served, room: str, text: str, token: str | None = TOKEN) -> tuple[int, str]:
    headers = {"X-Push-Token": token} if token is not None else {}
    request = urllib.request.Request(
        f"{server.url}push/{room}",
        data=urllib.parse.urlencode({"text": text}).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_post_reaches_the_pages_of_its_room_only(users: Callable[[Any], Users]) -> None:
    site = users(rooms_push.build_app(push_token=TOKEN, rooms=("A", "B")))
    lobby = site.open("/")
    a1, a2, b1 = site.open("/rooms/A"), site.open("/rooms/A"), site.open("/rooms/B")
    wait_text(a1, "#here", "2")
    wait_text(b1, "#here", "1")
    wait_contains(lobby, "#rooms", "Room A (2 here)")

    assert push(site.server, "A", "lunch <i>is</i> ready", token=None)[0] == 403
    assert push(site.server, "A", "lunch", token="wrong")[0] == 403
    assert push(site.server, "Z", "lunch")[0] == 404
    status, body = push(site.server, "A", "lunch <i>is</i> ready")
    assert status == 200 and '"published":true' in body.replace(" ", "")
    for live in (a1, a2):
        wait_contains(live, "#inbox", "lunch <i>is</i> ready")
        assert live.page.evaluate("document.querySelectorAll('#inbox i').length") == 0

    assert push(site.server, "B", "meeting in B")[0] == 200
    wait_contains(b1, "#inbox", "meeting in B")
    assert len(items(b1, "#inbox")) == 1  # A's push never came
    assert len(items(a1, "#inbox")) == 1 and len(items(a2, "#inbox")) == 1

    # Leaving: a2 goes to room B (live navigation), then closes its tab.
    a2.page.click("#room-B")
    wait_text(a2, "#room", "Room B")
    wait_text(a1, "#here", "1")
    wait_text(b1, "#here", "2")
    assert push(site.server, "A", "second")[0] == 200
    wait_contains(a1, "#inbox", "second")
    assert "second" not in (a2.text("#inbox") or "")
    t0 = time.monotonic()
    a2.page.close()
    wait_text(b1, "#here", "1")
    wait_contains(lobby, "#rooms", "Room B (1 here)")
    assert time.monotonic() - t0 < 1.0, "the closed tab took more than a second to leave"
