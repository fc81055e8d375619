"""Streams in Chromium: 10,000 rows the browser keeps, changed one op at a time (rweb.stream)."""

from __future__ import annotations

from typing import Any

from conftest import PW_TIMEOUT_MS, LiveApp

from rweb import App, Conn, reactive
from rweb.html import button, component, div, input_, li, span

ROWS = 10_000


@reactive
class Label:
    text: str


def stream_app(rows: int = ROWS, limit: int | None = None) -> App:
    app = App("stream")

    @app.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        items = conn.stream("items", lambda r: li(span(r["text"]), input_(name=f"f{r['id']}")),
                            key=lambda r: r["id"], tag="ul", limit=limit, id="items")
        items.extend({"id": i, "text": f"row {i}"} for i in range(rows))
        label = Label("start")
        n = [rows]

        def add(p: dict[str, Any]) -> None:
            items.append({"id": n[0], "text": f"row {n[0]}"})
            n[0] += 1

        def render() -> Any:
            return div(
                component("label", lambda: span(label.text, id="label")),
                items,
                button("add", id="add", data_action="add"),
                button("top", id="top", data_action="top"),
                button("edit", id="edit", data_action="edit"),
                button("drop", id="drop", data_action="drop"),
                button("label", id="relabel", data_action="label"),
                button("reset", id="reset", data_action="reset"),
            )

        return render, {
            "add": add,
            "top": lambda p: items.prepend({"id": "top", "text": "top"}),
            "edit": lambda p: items.update({"id": 5000, "text": "edited"}),
            "drop": lambda p: items.delete(1, by_key=True),
            "label": lambda p: setattr(label, "text", "relabelled"),
            "reset": lambda p: items.reset([{"id": "only", "text": "only"}]),
        }

    return app


def rows(live: LiveApp) -> int:
    return int(live.page.evaluate("document.querySelectorAll('#items > li').length"))


def wait(live: LiveApp, js: str) -> None:
    live.page.wait_for_function(js, timeout=PW_TIMEOUT_MS)


def test_ten_thousand_rows_change_one_at_a_time(pw_open: Any) -> None:
    live: LiveApp = pw_open(stream_app())
    wait(live, f"document.querySelectorAll('#items > li').length === {ROWS}")
    page = live.page
    assert page.evaluate("document.querySelector('#items > li').getAttribute('data-key')") == "0"

    # What the user typed into a row survives other rows' changes and a re-render of the page.
    page.fill('input[name="f3"]', "typed")
    page.click("#add")
    wait(live, f"document.querySelector('#items > li:last-child span')?.textContent === 'row {ROWS}'")
    page.click("#top")
    wait(live, "document.querySelector('#items > li span')?.textContent === 'top'")
    page.click("#edit")
    wait(live, "document.querySelector('#items > li[data-key=\"5000\"] span')?.textContent === 'edited'")
    page.click("#drop")
    wait(live, "document.querySelector('#items > li[data-key=\"1\"]') === null")
    assert rows(live) == ROWS + 1  # + added + top - dropped
    page.click("#relabel")
    wait(live, "document.getElementById('label')?.textContent === 'relabelled'")
    assert rows(live) == ROWS + 1  # the component holding the stream re-rendered: rows kept
    assert page.input_value('input[name="f3"]') == "typed"
    # Order: top, row 0, row 2, ...
    keys = page.evaluate("Array.from(document.querySelectorAll('#items > li')).slice(0, 3).map(e => e.dataset.key)")
    assert keys == ["top", "0", "2"]
    page.click("#reset")
    wait(live, "document.querySelectorAll('#items > li').length === 1")


def test_a_limit_keeps_the_newest_rows(pw_open: Any) -> None:
    live: LiveApp = pw_open(stream_app(rows=5, limit=-5))
    wait(live, "document.querySelectorAll('#items > li').length === 5")
    for _ in range(3):
        live.page.click("#add")
    wait(live, "document.querySelector('#items > li:last-child span')?.textContent === 'row 7'")
    keys = live.page.evaluate("Array.from(document.querySelectorAll('#items > li')).map(e => e.dataset.key)")
    assert keys == ["3", "4", "5", "6", "7"]


def test_a_reconnect_keeps_the_rows_or_starts_over(pw_open: Any) -> None:
    live: LiveApp = pw_open(stream_app(rows=3))
    wait(live, "document.querySelectorAll('#items > li').length === 3")
    live.page.click("#add")
    wait(live, "document.querySelectorAll('#items > li').length === 4")
    # A fresh session (a token nobody holds): the page's rows are the new setup's, not both.
    live.page.evaluate("window.rweb._token = 'nobody'")
    live.page.evaluate("window.rweb._socket.close(4000)")
    wait(live, "window.rweb.connected")
    wait(live, "document.querySelectorAll('#items > li').length === 3")
