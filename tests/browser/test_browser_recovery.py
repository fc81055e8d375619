"""Form recovery: what the user typed survives a reconnect, resumed or fresh.

The connection is dropped the hard way (``TcpProxy.cut()``). Typing while it
is down reaches the server once, as the field's latest value; a debounced
value not sent yet is sent after the resume; a resumed session that has seen
everything gets nothing again; a fresh session gets every bound field the
user changed, and the fields of a form only sent on submit keep what was
typed in them through the new page's morph.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import PW_TIMEOUT_MS, TcpProxy
from playwright.sync_api import Page

from rweb import reactive
from rweb.html import button, component, div, form, input_, option, pre, select, textarea
from rweb.testing import Served, serve

TIMEOUT_S = PW_TIMEOUT_MS / 1000

# Before any page script: rweb:recovered events, and the actions sent on any socket.
RECORDER = """
window.__recovered = [];
addEventListener("rweb:recovered", (e) => window.__recovered.push({
  fresh: e.detail.fresh,
  fields: e.detail.fields.map((f) => ({name: f.name, action: f.action, resent: f.resent, restored: f.restored})),
}));
window.__fresh = 0;
addEventListener("rweb:fresh", () => window.__fresh++);
window.__sent = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (typeof data === "string" && data.includes('"action"')) window.__sent.push(JSON.parse(data).action);
  return send.call(this, data);
};
"""


@reactive
class Fields:
    text: str
    query: str
    flag: bool
    choice: str
    size: str
    user: str  # the user of the last login: the login form shows it (value="...")
    login: str  # the last login's params, as JSON
    logins: int  # the login form's key: a new session renders a new element


def fields_setup(applied: list[str], states: list[Fields]) -> Callable[[Any], Any]:
    """A page with bound fields (echoed in #echo) and a login form only sent on submit;
    every action the server applies is appended to ``applied``, each session's state to
    ``states``."""

    def setup(writer_id: Any) -> Any:
        st = Fields("", "", False, "", "s", "", "", 0)
        states.append(st)

        def render_page() -> Any:
            return div(
                component(
                    "editor",
                    lambda: div(
                        input_(id="text", type="text", value=st.text, data_oninput="typed"),
                        input_(id="q", type="search", data_oninput="search", data_debounce="4000"),
                        input_(id="flag", type="checkbox", checked=st.flag, data_onchange="flag"),
                        select(
                            option("-", value=""),
                            option("Red", value="red", selected=st.choice == "red"),
                            option("Blue", value="blue", selected=st.choice == "blue"),
                            id="choice",
                            data_onchange="choose",
                        ),
                        *[
                            input_(type="radio", name="size", value=v, id=f"size-{v}",
                                   checked=st.size == v, data_onchange="size")
                            for v in ("s", "m", "l")
                        ],
                    ),
                ),
                component(
                    "echo",
                    lambda: pre(json.dumps([st.text, st.query, st.flag, st.choice, st.size]), id="echo"),
                ),
                component(
                    "login",
                    lambda: div(
                        div(
                            form(
                                input_(name="user", id="user", type="text", value=st.user),
                                input_(name="password", id="password", type="password"),
                                textarea("", name="note", id="note"),
                                input_(name="remember", id="remember", type="checkbox"),
                                button("Log in", id="go", type="submit"),
                                data_onsubmit="login",
                            ),
                            data_key=f"login-{st.logins}",
                        )
                    ),
                ),
                component("result", lambda: pre(st.login, id="result")),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            applied.append(action)
            match action:
                case "typed":
                    st.text = params["value"]
                case "search":
                    st.query = params["value"]
                case "flag":
                    st.flag = params["checked"]
                case "choose":
                    st.choice = params["value"]
                case "size":
                    if params["checked"]:
                        st.size = params["value"]
                case "login":
                    st.logins += 1
                    st.user = params["user"]
                    st.login = json.dumps(params, sort_keys=True)

        return render_page, on_action

    return setup


@dataclass
class Live:
    page: Page
    server: Served
    proxy: TcpProxy
    applied: list[str]
    states: list[Fields]

    def echo(self) -> list[Any]:
        return json.loads(self.page.evaluate("document.querySelector('#echo').textContent"))

    def wait_echo(self, index: int, value: Any) -> None:
        self.page.wait_for_function(
            "([i, v]) => JSON.stringify(JSON.parse(document.querySelector('#echo').textContent)[i])"
            " === JSON.stringify(v)",
            arg=[index, value],
            timeout=PW_TIMEOUT_MS,
        )

    def value(self, selector: str) -> Any:
        return self.page.evaluate(
            "(s) => { const el = document.querySelector(s);"
            " return el.type === 'checkbox' || el.type === 'radio' ? el.checked : el.value; }",
            selector,
        )

    def socket(self) -> Any:
        return self.page.evaluate_handle("window.rweb._socket")

    def cut(self) -> Any:
        """Drop the connection and keep the reconnects failing; the socket before the drop."""
        old = self.socket()
        self.proxy.refusing = True
        self.proxy.cut()
        self.page.wait_for_function(
            "document.documentElement.classList.contains('rweb-disconnected')", timeout=PW_TIMEOUT_MS
        )
        return old

    def reconnect(self, old: Any) -> None:
        """Let the reconnects through; wait for the new socket's init."""
        self.proxy.refusing = False
        self.page.wait_for_function(
            "(s) => window.rweb.connected && window.rweb._socket !== null && window.rweb._socket !== s",
            arg=old,
            timeout=PW_TIMEOUT_MS,
        )

    def sent(self) -> list[str]:
        return self.page.evaluate("window.__sent")

    def recovered(self) -> list[dict[str, Any]]:
        return self.page.evaluate("window.__recovered")

    def settle(self) -> None:
        """Every action answered, and a little time for anything else to arrive."""
        self.page.wait_for_function("window.rweb.pending === 0", timeout=PW_TIMEOUT_MS)
        time.sleep(0.3)


@pytest.fixture
def live(pw_page: Page) -> Iterator[Callable[..., Live]]:
    pw_page.add_init_script(RECORDER)
    with ExitStack() as stack:

        def opener(**opts: Any) -> Live:
            applied: list[str] = []
            states: list[Fields] = []
            srv = stack.enter_context(serve(fields_setup(applied, states), **opts))
            proxy = stack.enter_context(TcpProxy(srv.port))
            pw_page.goto(proxy.url)
            pw_page.wait_for_function("window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)
            return Live(pw_page, srv, proxy, applied, states)

        yield opener


def test_typing_while_disconnected_reaches_the_server_once(live) -> None:
    app = live()
    page = app.page
    page.click("#text")
    page.keyboard.type("ab")
    app.wait_echo(0, "ab")
    assert app.applied == ["typed", "typed"]

    old = app.cut()
    page.keyboard.type("cdef")  # four input events while down
    assert app.value("#text") == "abcdef"
    assert page.evaluate("window.rweb.pending") == 1  # one action for the field: its latest value
    app.reconnect(old)
    app.wait_echo(0, "abcdef")  # the server has it: it renders it in #echo
    app.settle()
    assert app.applied == ["typed"] * 3  # exactly one action after the resume
    assert app.sent().count("typed") == 3
    assert app.value("#text") == "abcdef"
    assert page.evaluate("window.__fresh") == 0


def test_a_debounced_value_not_sent_yet_is_sent_after_the_resume(live) -> None:
    app = live()
    page = app.page
    page.click("#q")
    page.keyboard.type("rweb")  # debounced for 4 s: nothing is sent yet (no change event either)
    old = app.cut()
    assert page.evaluate("window.rweb.pending") == 0
    app.reconnect(old)
    back = time.monotonic()
    app.wait_echo(1, "rweb")
    assert time.monotonic() - back < 3  # sent at the resume, not when the debounce fires
    app.settle()
    assert app.applied == ["search"]
    assert app.recovered() == [
        {"fresh": False, "fields": [{"name": "q", "action": "search", "resent": True, "restored": False}]}
    ]
    time.sleep(0.2)
    assert app.applied == ["search"]


def test_a_resumed_session_that_has_everything_gets_nothing_again(live) -> None:
    app = live()
    page = app.page
    page.click("#text")
    page.keyboard.type("hi")
    app.wait_echo(0, "hi")
    page.click("#flag")
    app.wait_echo(2, True)
    page.select_option("#choice", "blue")
    app.wait_echo(3, "blue")
    page.click("#size-l")
    app.wait_echo(4, "l")
    page.fill("#user", "carol")  # unbound: only sent on submit
    page.fill("#note", "a note")
    applied = list(app.applied)
    sent = len(app.sent())

    old = app.cut()
    app.reconnect(old)
    app.settle()
    assert app.applied == applied  # nothing applied again...
    assert len(app.sent()) == sent  # ... nor sent
    assert app.recovered() == []
    assert [app.value(s) for s in ("#text", "#flag", "#choice", "#size-l", "#user", "#note")] == [
        "hi", True, "blue", True, "carol", "a note",
    ]


def test_a_fresh_session_gets_what_the_user_typed(live) -> None:
    app = live()
    page = app.page
    # A login: the server now renders value="alice" in the login form.
    page.fill("#user", "alice")
    page.click("#go")
    page.wait_for_function("document.querySelector('#result').textContent.includes('alice')")
    # Bound fields, sent while connected.
    page.click("#text")
    page.keyboard.type("abc")
    app.wait_echo(0, "abc")
    page.click("#flag")
    app.wait_echo(2, True)
    page.select_option("#choice", "blue")
    app.wait_echo(3, "blue")
    page.click("#size-m")
    app.wait_echo(4, "m")
    # The login form again: typed, not submitted (unbound fields).
    page.fill("#user", "bob")
    page.fill("#password", "secret")
    page.fill("#note", "remember me")
    page.check("#remember")
    page.evaluate("document.querySelector('#user').__tag = 1")

    old = app.cut()
    page.focus("#text")  # (the banner covers it)
    page.keyboard.press("End")
    page.keyboard.type("!")  # while down: queued
    page.evaluate("document.activeElement.blur()")  # no field keeps its value by having focus
    page.evaluate("window.rweb._token = 'not-a-token'")  # as if the server had restarted
    del app.applied[:]
    app.reconnect(old)
    page.wait_for_function("window.__fresh === 1", timeout=PW_TIMEOUT_MS)
    app.wait_echo(0, "abc!")
    app.settle()
    # The new session got each bound field once, with what the page shows.
    assert app.echo() == ["abc!", "", True, "blue", "m"]
    assert sorted(app.applied) == ["choose", "flag", "size", "typed"]
    # The login form kept what was typed, though the new page renders another element for
    # it (another data-key), with value="" for #user.
    assert page.evaluate("document.querySelector('#user').getAttribute('value')") == ""
    assert page.evaluate("document.querySelector('#user').__tag") is None  # a new element
    assert [app.value(s) for s in ("#user", "#password", "#note", "#remember")] == [
        "bob", "secret", "remember me", True,
    ]
    (event,) = app.recovered()
    assert event["fresh"] is True
    by_name = {f["name"]: f for f in event["fields"]}
    # #text too: the new page renders value="" there; its queued action carries "abc!".
    assert {n for n, f in by_name.items() if f["restored"] and not f["resent"]} == {
        "text", "user", "password", "note", "remember",
    }
    assert by_name["user"]["action"] is None
    assert {n for n, f in by_name.items() if f["resent"]} == {"flag", "choice", "size"}  # text was queued

    page.click("#go")
    page.wait_for_function("document.querySelector('#result').textContent.includes('bob')")
    assert json.loads(page.evaluate("document.querySelector('#result').textContent")) == {
        "note": "remember me", "password": "secret", "remember": "on", "user": "bob",
    }


def test_a_value_the_server_changed_while_away_is_not_overwritten(live) -> None:
    app = live()
    page = app.page
    page.click("#text")
    page.keyboard.type("mine")
    app.wait_echo(0, "mine")
    page.evaluate("document.activeElement.blur()")
    old = app.cut()
    # While the socket is away the server changes the field (a timer, another tab's write).
    st = app.states[-1]  # the live session's (the first paint had its own)
    assert st.text == "mine"
    app.server.loop.call_soon_threadsafe(setattr, st, "text", "theirs")
    time.sleep(0.2)
    del app.applied[:]
    app.reconnect(old)
    app.wait_echo(0, "theirs")
    app.settle()
    assert app.value("#text") == "theirs"  # the user's older value was not put back...
    assert app.applied == []  # ... nor sent
    assert app.recovered() == []
    assert page.evaluate("window.__fresh") == 0
