"""Streams (rweb.stream): rows rendered once, sent as ops, kept by the browser; in-process."""

from __future__ import annotations

from typing import Any

import pytest

from rweb import App, Conn, reactive
from rweb.html import component, div, li, span
from rweb.testing import Client, TestClient


@reactive
class Label:
    text: str


def app_with(limit: int | None = None, initial: int = 3) -> App:
    app = App("s", actions=("add", "top", "put", "drop", "edit", "reset", "label", "many", "bad"))

    @app.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        rows = conn.stream("rows", lambda r: li(r["text"], class_="row"), key=lambda r: r["id"],
                           tag="ul", limit=limit, id="list")
        rows.extend({"id": i, "text": f"row {i}"} for i in range(initial))
        bad_rows = conn.stream("bad", lambda r: r, key=str)  # a row that is text, not an element
        label = Label("a")
        n = [initial]

        def add(p: dict[str, Any]) -> None:
            rows.append({"id": n[0], "text": f"row {n[0]}"})
            n[0] += 1

        return (lambda: div(component("label", lambda: span(label.text)), rows)), {
            "add": add,
            "top": lambda p: rows.prepend({"id": "top", "text": "top"}),
            "put": lambda p: rows.insert({"id": "mid", "text": "mid"}, at=1),
            "drop": lambda p: rows.delete(int(p["id"]), by_key=True),
            "edit": lambda p: rows.update({"id": int(p["id"]), "text": "<edited>"}),
            "reset": lambda p: rows.reset([{"id": "x", "text": "x"}]),
            "label": lambda p: setattr(label, "text", p["text"]),
            "many": lambda p: rows.extend({"id": f"m{i}", "text": "m"} for i in range(int(p["n"]))),
            "bad": lambda p: bad_rows.append("oops"),
        }

    return app


def texts(client: Client) -> list[str]:
    import re

    return re.findall(r'<li data-key="[^"]*" class="row">([^<]*)</li>', client.html())


def test_the_first_paint_shows_the_setups_rows_inline() -> None:
    body = TestClient(app_with()).get("/").text
    assert '<ul data-stream="rows" id="list"><li data-key="0" class="row">row 0</li>' in body
    assert body.count('class="row"') == 3


def test_the_live_page_gets_its_rows_as_ops_after_a_reset() -> None:
    c = Client(app_with(), "/")
    (stream,) = [d for k, d in c.effects if k == "stream" and d["name"] == "rows"]
    assert stream["name"] == "rows" and stream["ops"][0] == ["r"] and len(stream["ops"]) == 4
    assert '<ul data-stream="rows" id="list"></ul>' in str(c.init["c"])  # the rows are not in the page
    assert texts(c) == ["row 0", "row 1", "row 2"]


def test_ops_travel_alone_and_a_re_render_does_not_resend_rows() -> None:
    c = Client(app_with(), "/")
    reply = c.send("add")
    assert reply.get("d") in (None, {}) and reply["fx"] == [["stream", {"name": "rows", "ops": [
        ["i", "3", '<li data-key="3" class="row">row 3</li>', -1]]}]]
    c.send("top")
    c.send("put")
    assert texts(c) == ["top", "mid", "row 0", "row 1", "row 2", "row 3"]
    c.send("edit", {"id": 1})  # in place, escaped
    assert texts(c)[3] == "&lt;edited&gt;"
    c.send("drop", {"id": 2})
    assert texts(c) == ["top", "mid", "row 0", "&lt;edited&gt;", "row 3"]
    reply = c.send("label", {"text": "b"})  # the component holding the stream re-renders: no rows in it
    assert "row" not in str(reply["d"]) and "fx" not in reply
    assert len(texts(c)) == 5
    c.send("reset")
    assert texts(c) == ["x"]


def test_one_action_sends_its_ops_in_one_effect() -> None:
    c = Client(app_with(), "/")
    reply = c.send("many", {"n": 50})
    assert len(reply["fx"]) == 1 and len(reply["fx"][0][1]["ops"]) == 50


def test_limit_keeps_the_last_rows() -> None:
    c = Client(app_with(limit=-3), "/")
    for _ in range(4):
        c.send("add")
    assert texts(c) == ["row 4", "row 5", "row 6"]
    assert c.effects[-1][1]["limit"] == -3


def test_a_row_must_be_one_element() -> None:
    c = Client(app_with(), "/")
    reply = c.send("bad")
    assert reply["e"]["code"] == "handler_error"


def test_a_resumed_session_keeps_its_rows() -> None:
    app = app_with()
    c = Client(app, "/")
    c.send("add")
    c.lose()
    d = c.resume()
    assert d.init["resumed"] is True and not [k for k, _ in d.effects if k == "stream"]
    d.streams = c.streams  # the browser keeps the rows it had
    assert texts(d) == ["row 0", "row 1", "row 2", "row 3"]


def test_bad_arguments_are_refused() -> None:
    app = App("s")

    @app.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        with pytest.raises(ValueError):
            conn.stream("x", lambda r: li(r), key=str, tag="u l")
        with pytest.raises(ValueError):
            conn.stream("x", lambda r: li(r), key=str, limit=0)
        with pytest.raises(ValueError):
            conn.stream("", lambda r: li(r), key=str)
        return (lambda: div("ok")), {}

    assert "ok" in Client(app, "/").html()
