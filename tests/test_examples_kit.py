"""The examples on the component kit, in-process: each app links the kit, and the seed's counter still
answers a click with only the new number (its ``display`` component is plain ``rweb.html``).

The pages in Chromium (axe-core, light and dark) are tests/browser/test_browser_examples.py's.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from examples_loader import load_example

from rweb import App, ui
from rweb.live.connection import Connection
from rweb.sessions.session import ConnectionInfo
from rweb.testing import TestClient

counter = load_example("rweb_counter")


def test_a_counter_click_sends_the_number_alone_with_the_kit() -> None:
    # What the bench drives (benchmarks/click_instructions.py): the seed's setup, no assets.
    sent: list[bytes] = []
    conn = Connection(App("bench", counter.session_setup), 0, ConnectionInfo(), sent.append, lambda f: None)
    init, ok = conn.open()
    assert ok and b"ui-shell" in init and b"ui-btn" in init  # the page is the kit's ...
    assert b'"display":{"s":["<div data-rc=\\"display\\"><span>Count: </span><span>","</span></div>"],"d":["0"]}' in init
    replies = [conn.receive(b'{"action":"%s","params":{}}' % a) for a in (b"inc", b"inc", b"dec", b"reset")]
    # ... and a click's reply is the number alone (its one slot: "Count: " is a static, docs/templates.md).
    assert replies == [b'{"t":"r","d":{"display":{"0":"%d"}}}' % n for n in (1, 2, 1, 0)]


def _apps() -> list[tuple[str, Any, str]]:
    return [
        ("rweb_counter", counter.build_app(), "/"),
        ("multi_page", load_example("multi_page").build_app(), "/"),
        ("multi_page", load_example("multi_page").build_app(), "/about"),
        ("chat", load_example("chat").build_app(), "/rooms/general"),
        ("clock", load_example("clock").build_app(), "/"),
        ("rooms_push", load_example("rooms_push").build_app(push_token="t"), "/rooms/A"),
    ]


@pytest.mark.parametrize(("name", "app", "path"), _apps(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_example_page_links_the_kit_and_is_in_english(name: str, app: Any, path: str) -> None:
    http = TestClient(app)
    page = http.get(path)
    assert page.status == 200
    assert page.text.startswith('<!DOCTYPE html>\n<html lang="en"><head>')
    assert f'<link rel="stylesheet" href="{ui.STYLESHEET.path}">' in page.text
    assert re.search(r'<div (data-rc="root" )?class="ui-shell"', page.text)
    assert http.get(ui.STYLESHEET.path).status == 200
