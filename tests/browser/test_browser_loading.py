"""Pending and loading states in a real browser (Playwright on Debian's Chromium): rweb-loading,
data-disable-with, data-throttle and the page's rweb-busy, while the server holds an action."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import PW_TIMEOUT_MS, LiveApp, TcpProxy

from rweb import App, reactive
from rweb.html import button, component, div, form, input_, span
from rweb.testing import serve

WAIT = 10.0  # the longest a held action waits for the test to let it go (s)


@reactive
class St:
    saves: int
    label: str


@dataclass
class Gate:
    """Holds the server's slow handlers until the test opens it."""

    opened: threading.Event = field(default_factory=threading.Event)
    hits: list[str] = field(default_factory=list)

    async def wait(self) -> None:
        deadline = time.monotonic() + WAIT
        while not self.opened.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)


def build(gate: Gate) -> App:
    app = App("loading")

    @app.page("/")
    def home(writer_id: Any) -> Any:
        st = St(0, "Save")

        async def on_action(action: str, params: dict[str, Any]) -> None:
            gate.hits.append(action + ":" + str(params.get("value", "")))
            match action:
                case "save" | "submit":
                    await gate.wait()
                    st.saves += 1
                    st.label = f"Save ({st.saves})"
                case "fail":
                    await gate.wait()
                    raise RuntimeError("no luck")
                case "fast" | "hit" | "typed":
                    st.saves += 1

        return (
            lambda: div(
                component("n", lambda: span(str(st.saves), id="n")),
                component(
                    "tools",
                    lambda: div(
                        button(st.label, id="save", data_action="save", data_disable_with="Saving…"),
                        button("Fail", id="fail", data_action="fail", data_disable_with="Trying…"),
                        button("Plain", id="plain", data_action="save"),
                        button("Fast", id="fast", data_action="fast"),
                        button("Hit", id="hit", data_action="hit", data_throttle="400"),
                        input_(id="q", type="text", data_oninput="typed", data_throttle="400"),
                    ),
                ),
                form(
                    input_(name="title", id="title", type="text"),
                    button(st.label, id="submit", type="submit", data_disable_with="Sending…"),
                    data_action="submit",
                    id="f",
                ),
            ),
            on_action,
        )

    return app


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.opened.set()  # never leave a handler waiting


STATE = """(s) => { const el = document.querySelector(s);
  return {loading: el.classList.contains('rweb-loading'), disabled: el.disabled,
          text: el.textContent, cls: el.getAttribute('class')}; }"""


def state(live: LiveApp, selector: str) -> dict[str, Any]:
    return live.page.evaluate(STATE, selector)


def wait_js(live: LiveApp, expr: str, arg: Any = None) -> None:
    live.page.wait_for_function(expr, arg=arg, timeout=PW_TIMEOUT_MS)


def test_a_slow_action_shows_loading_and_disable_with_until_its_reply(pw_open: Any, gate: Gate) -> None:
    live = pw_open(build(gate))
    assert state(live, "#save") == {"loading": False, "disabled": False, "text": "Save", "cls": None}
    live.page.click("#save")
    wait_js(live, "() => document.querySelector('#save').classList.contains('rweb-loading')")
    assert state(live, "#save") == {"loading": True, "disabled": True, "text": "Saving…", "cls": "rweb-loading"}
    # A click on the disabled button sends nothing more.
    live.page.evaluate("document.querySelector('#save').click()")
    # An element without data-disable-with is only marked.
    live.page.click("#plain")
    wait_js(live, "() => document.querySelector('#plain').classList.contains('rweb-loading')")
    assert state(live, "#plain")["disabled"] is False
    gate.opened.set()
    wait_js(live, "() => document.querySelector('#n').textContent === '2'")
    # The reply changed the label: the button shows the server's new one, enabled.
    assert state(live, "#save") == {"loading": False, "disabled": False, "text": "Save (2)", "cls": None}
    assert state(live, "#plain") == {"loading": False, "disabled": False, "text": "Plain", "cls": None}
    assert gate.hits == ["save:", "save:"]


def test_an_error_reply_restores_the_element(pw_open: Any, gate: Gate) -> None:
    live = pw_open(build(gate))
    live.page.click("#fail")
    wait_js(live, "() => document.querySelector('#fail').textContent === 'Trying…'")
    assert state(live, "#fail") == {"loading": True, "disabled": True, "text": "Trying…", "cls": "rweb-loading"}
    gate.opened.set()
    wait_js(live, "() => __rweb_events.some(e => e.type === 'rweb:error' && e.code === 'handler_error')")
    assert state(live, "#fail") == {"loading": False, "disabled": False, "text": "Fail", "cls": None}


def test_a_form_submit_marks_the_form_and_disables_its_submit_buttons(pw_open: Any, gate: Gate) -> None:
    live = pw_open(build(gate))
    live.page.click("#title")
    live.page.keyboard.type("x")
    live.page.keyboard.press("Enter")
    wait_js(live, "() => document.querySelector('#f').classList.contains('rweb-loading')")
    # Enter submits through the default button: the submitter, marked as well.
    assert state(live, "#submit") == {"loading": True, "disabled": True, "text": "Sending…", "cls": "rweb-loading"}
    # Enter again: the form's default button is disabled, so the form is not submitted again.
    live.page.keyboard.press("Enter")
    gate.opened.set()
    wait_js(live, "() => document.querySelector('#n').textContent === '1'")
    assert state(live, "#submit") == {"loading": False, "disabled": False, "text": "Save (1)", "cls": None}
    assert state(live, "#f")["cls"] is None
    assert gate.hits == ["submit:"]


def test_throttle_sends_the_first_at_once_and_the_last_at_the_window_end(pw_open: Any, gate: Gate) -> None:
    live = pw_open(build(gate))
    # Ten clicks and six inputs within a few ms: one window of 400 ms each.
    live.page.evaluate(
        """() => { const b = document.querySelector('#hit'), q = document.querySelector('#q');
        for (let i = 0; i < 10; i++) b.click();
        for (const v of ['a', 'ab', 'abc', 'abcd', 'abcde', 'abcdef']) {
            q.value = v; q.dispatchEvent(new Event('input', {bubbles: true})); } }"""
    )
    sent_at_once = list(gate.hits)
    wait_js(live, "() => document.querySelector('#n').textContent === '4'")
    time.sleep(0.6)  # past the next window: nothing more comes
    assert live.text("#n") == "4"
    assert gate.hits == ["hit:", "typed:a", "hit:", "typed:abcdef"]
    assert len(sent_at_once) <= 2  # the trailing ones wait for the window's end


BUSY_EVENTS = """
window.__busy = [];
addEventListener('rweb:busy', () => __busy.push(['busy', performance.now()]));
addEventListener('rweb:idle', () => __busy.push(['idle', performance.now()]));
"""


def test_the_page_is_busy_only_after_the_delay(pw_context: Any, pw_open: Any, gate: Gate) -> None:
    pw_context.add_init_script("window.rwebConfig = {busyDelay: 400};" + BUSY_EVENTS)
    live = pw_open(build(gate))
    page = live.page
    for n in range(1, 4):  # fast actions: never busy
        page.click("#fast")
        wait_js(live, "(n) => document.querySelector('#n').textContent === String(n)", n)
    time.sleep(0.5)
    assert page.evaluate("__busy") == []
    assert page.evaluate("document.documentElement.className") == ""

    sent = page.evaluate("() => { document.querySelector('#save').click(); return performance.now(); }")
    wait_js(live, "() => document.documentElement.classList.contains('rweb-busy')")
    (kind, at), = page.evaluate("__busy")
    assert kind == "busy" and at - sent >= 390
    assert page.evaluate("getComputedStyle(document.querySelector('#rweb-busy')).display") == "block"
    gate.opened.set()
    wait_js(live, "() => __busy.length === 2")
    assert [k for k, _ in page.evaluate("__busy")] == ["busy", "idle"]
    assert page.evaluate("document.documentElement.className") == ""
    assert page.evaluate("getComputedStyle(document.querySelector('#rweb-busy')).display") == "none"


def test_busy_delay_below_zero_turns_it_off(pw_context: Any, pw_open: Any, gate: Gate) -> None:
    pw_context.add_init_script("window.rwebConfig = {busyDelay: -1};" + BUSY_EVENTS)
    live = pw_open(build(gate))
    live.page.click("#save")
    time.sleep(0.5)
    gate.opened.set()
    wait_js(live, "() => document.querySelector('#n').textContent === '1'")
    assert live.page.evaluate("[__busy, document.documentElement.className, !!document.querySelector('#rweb-busy')]") == [
        [],
        "",
        False,
    ]


def test_disable_with_lasts_until_the_reply_to_the_action_sent_again(pw_page: Any, gate: Gate) -> None:
    with serve(build(gate)) as srv, TcpProxy(srv.port) as proxy:
        page = pw_page
        page.goto(proxy.url)
        live = LiveApp(page, srv)
        live.wait_connected()
        first = page.evaluate_handle("window.rweb._socket")
        proxy.freeze()  # the click never reaches the server on this socket
        page.click("#save")
        assert state(live, "#save") == {"loading": True, "disabled": True, "text": "Saving…", "cls": "rweb-loading"}
        proxy.cut()
        wait_js(live, "() => document.querySelector('#save').classList.contains('rweb-pending')")
        assert state(live, "#save")["text"] == "Saving…"
        # Back: the action is sent again, and the server holds it.
        wait_js(live, "(s) => window.rweb.connected && window.rweb._socket !== s", first)
        deadline = time.monotonic() + WAIT
        while gate.hits != ["save:"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gate.hits == ["save:"]
        # rweb-pending, like rweb-loading, stays until the reply.
        now = state(live, "#save")
        assert sorted(now.pop("cls").split()) == ["rweb-loading", "rweb-pending"]
        assert now == {"loading": True, "disabled": True, "text": "Saving…"}
        gate.opened.set()
        wait_js(live, "() => document.querySelector('#n').textContent === '1'")
        assert state(live, "#save") == {"loading": False, "disabled": False, "text": "Save (1)", "cls": None}
