"""A page written with templates (rweb.html.Template) in Chromium: the same page as with element functions.

The todo page of benchmarks/todo_app.py, both ways: the browser shows the same rows
before and after the same clicks, and a click on a template's literal
``data-action`` toggles its row in place (the row's DOM node kept: a morph, not a
rebuild).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import PW_TIMEOUT_MS, LiveApp

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from todo_app import todo_app  # beside the benchmarks (the path above)

ROWS = """[...document.querySelectorAll('li[data-key]')].map(el => [
    el.getAttribute('data-key'), el.className, el.querySelector('input').checked,
    el.querySelector('span').textContent])"""


def _rows_after_clicks(live: LiveApp, keys: list[str]) -> Any:
    page = live.page
    for key in keys:
        done = page.evaluate(f"document.querySelector('li[data-key=\"{key}\"] input').checked")
        page.click(f'li[data-key="{key}"] input')
        page.wait_for_function(
            f"() => document.querySelector('li[data-key=\"{key}\"] input').checked === {str(not done).lower()}"
            f" && document.querySelector('li[data-key=\"{key}\"]').classList.contains('done') === {str(not done).lower()}",
            timeout=PW_TIMEOUT_MS,
        )
    return page.evaluate(ROWS)


def test_the_template_page_behaves_as_the_element_page(pw_open: Callable[..., LiveApp]) -> None:
    clicks = ["4", "0", "4", "99", "7"]
    seen = []
    for style in ("elements", "template"):
        live = pw_open(todo_app(style))
        row = live.page.evaluate_handle("document.querySelector('li[data-key=\"4\"]')")
        seen.append(_rows_after_clicks(live, clicks))
        # The row toggled three times is the node the first paint made: patched in place.
        assert live.page.evaluate("(el) => el.isConnected && el.getAttribute('data-key') === '4'", row)
    assert seen[0] == seen[1]
    assert len(seen[0]) == 100
    assert seen[0][4] == ["4", "", False, "Write the report, part 5"]
    assert seen[0][7] == ["7", "done", True, "Write the report, part 8"]
