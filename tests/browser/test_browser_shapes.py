"""Rows of one shape sent "like" one another: the browser builds what the test client builds.

The same steps (inserts alone and in threes, shape changes, a removal) go to
the page in Chromium and to an in-process ``rweb.testing.Page``; after each,
the browser client's store of components equals the Python codec's, and the
rows the browser shows equal the Page's.
"""

from __future__ import annotations

import json
from typing import Any

from shapes_app import STEPS, rows_setup

from rweb.render import LIKE
from rweb.testing import Client, Page

ROWS = """[...document.querySelectorAll('#rows > li')].map(el => [
    el.getAttribute('data-rc'), el.getAttribute('data-key'), el.getAttribute('class'),
    el.querySelector('input').checked, el.querySelector('span').textContent,
    !!el.querySelector('.badge')])"""


def _page_rows(page: Page) -> list[list[Any]]:
    return [
        [el.get("data-rc"), el.get("data-key"), el.get("class"), el.select("input")[0].has("checked"),
         el.select("span")[0].text, bool(el.select(".badge"))]
        for el in page.find_all("#rows > li")
    ]


def _likes(msg: dict[str, Any]) -> int:
    comps = msg.get("c") if msg.get("t") == "init" else msg.get("d")
    return sum(1 for p in (comps or {}).values() if isinstance(p, dict) and LIKE in p)


def test_rows_sent_like_one_another_render_as_the_test_client_builds_them(open_app):
    app = open_app(rows_setup)
    page = Page(Client(rows_setup))
    likes = _likes(page.client.init)
    assert likes == 3  # the first message shares the rows' statics

    def same() -> None:
        assert app.page.evaluate("window.rweb.components") == page.client.components
        assert app.page.evaluate(ROWS) == _page_rows(page)

    same()
    for action, params in STEPS:
        n = app.updates()
        app.page.evaluate(f"window.rweb.send({json.dumps(action)}, {json.dumps(params)})")
        app.page.wait_for(f"window.__rweb_updates > {n}", 5, f"(after {action} {params})")
        likes += _likes(page.client.send(action, params))
        same()
    assert likes >= 8  # inserts and shape changes went "like" another
