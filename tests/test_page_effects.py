"""rweb.testing.Page applies the DOM effects (conn.reset, conn.focus, conn.exec_js) as rweb.js does.

The same app and expectations as tests/browser/test_browser_page_effects.py,
which runs them on Chromium.
"""

from __future__ import annotations

from typing import Any

from page_effects_app import AFTER_JS, BEFORE_CLEAR, CLEARED, UNTOUCHED, build

from rweb.testing import Page


def fields(page: Page) -> dict[str, Any]:
    return {"name": page.value("#name"), "agree": page.is_checked("#agree"), "size": page.selected("#size")[0]}


def box(page: Page) -> dict[str, Any]:
    return {
        "box_class": page.attr("#box", "class"),
        "box_title": page.attr("#box", "title"),
        "hint_hidden": page.find("#hint").has("hidden"),
        "shy_hidden": page.find("#shy").has("hidden"),
    }


def test_reset_gives_the_fields_what_the_server_rendered() -> None:
    page = Page(build())
    page.fill("#name", "typed")
    page.check("#agree")
    page.select("#size", "s")
    assert fields(page) == BEFORE_CLEAR
    page.click("#clear")
    assert fields(page) == CLEARED


def test_focus_moves_the_users_focus() -> None:
    page = Page(build())
    page.click("#focus")
    assert page.focused is page.find("#other")


def test_js_commands_change_the_dom_and_a_patch_elsewhere_keeps_them() -> None:
    page = Page(build())
    assert box(page) == UNTOUCHED
    page.click("#js")
    assert box(page) == AFTER_JS
    page.click("#bump")
    assert page.text("#count") == "1"
    assert box(page) == AFTER_JS
