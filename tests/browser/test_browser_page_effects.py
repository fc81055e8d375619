"""The DOM effects (conn.reset, conn.focus, conn.exec_js) in Chromium: what rweb.testing.Page must match.

The same app and expectations as tests/test_page_effects.py (Page).
"""

from __future__ import annotations

from typing import Any

from conftest import PW_TIMEOUT_MS, LiveApp
from page_effects_app import AFTER_JS, BEFORE_CLEAR, CLEARED, UNTOUCHED, build


def fields(live: LiveApp) -> dict[str, Any]:
    return live.page.evaluate(
        "() => ({name: document.querySelector('#name').value, agree: document.querySelector('#agree').checked,"
        " size: document.querySelector('#size').value})"
    )


def box(live: LiveApp) -> dict[str, Any]:
    return live.page.evaluate(
        "() => { const b = document.querySelector('#box');"
        " return {box_class: b.getAttribute('class'), box_title: b.getAttribute('title'),"
        " hint_hidden: document.querySelector('#hint').hidden, shy_hidden: document.querySelector('#shy').hidden}; }"
    )


def settle(live: LiveApp) -> None:
    live.page.wait_for_function("() => window.rweb.pending === 0", timeout=PW_TIMEOUT_MS)


def test_reset_gives_the_fields_what_the_server_rendered(pw_open: Any) -> None:
    live = pw_open(build())
    live.page.fill("#name", "typed")
    live.page.check("#agree")
    live.page.select_option("#size", "s")
    assert fields(live) == BEFORE_CLEAR
    live.page.click("#clear")
    live.page.wait_for_function("() => document.querySelector('#name').value === 'start'", timeout=PW_TIMEOUT_MS)
    assert fields(live) == CLEARED


def test_focus_moves_the_users_focus(pw_open: Any) -> None:
    live = pw_open(build())
    live.page.click("#focus")
    live.page.wait_for_function("() => document.activeElement.id === 'other'", timeout=PW_TIMEOUT_MS)


def test_js_commands_change_the_dom_and_a_patch_elsewhere_keeps_them(pw_open: Any) -> None:
    live = pw_open(build())
    assert box(live) == UNTOUCHED
    live.page.click("#js")
    live.page.wait_for_function("() => document.querySelector('#hint').hidden", timeout=PW_TIMEOUT_MS)
    assert box(live) == AFTER_JS
    live.page.click("#bump")
    live.page.wait_for_function("() => document.querySelector('#count').textContent === '1'", timeout=PW_TIMEOUT_MS)
    settle(live)
    assert box(live) == AFTER_JS
