"""The small apps whose socket transcripts are recorded (see record.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rweb import App, Conn, RList, reactive
from rweb.html import button, component, div, h1, input_, li, p, span, ul


@reactive
class Counter:
    value: int


@reactive
class Todos:
    items: list
    draft: str


def counter() -> tuple[App, str, list[dict[str, Any]]]:
    def setup(writer_id: Any) -> Any:
        c = Counter(0)

        def on_action(action: str, params: dict[str, Any]) -> None:
            c.value += {"inc": 1, "dec": -1}.get(action, 0)

        return (
            lambda: div(
                h1("RWeb Counter"),
                component("display", lambda: div(span("Count: "), span(c.value))),
                button("+", data_action="inc"),
                button("-", data_action="dec"),
            ),
            on_action,
        )

    app = App("counter", setup)
    inc = {"action": "inc", "params": {}}
    return app, "/", [inc, inc, {"action": "dec", "params": {}}, {"action": "nope", "params": {}}]


def todos() -> tuple[App, str, list[dict[str, Any]]]:
    def setup(writer_id: Any) -> Any:
        t = Todos([], "")

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "add" and params.get("text"):
                t.items.append(params["text"])
            elif action == "remove":
                t.items.pop(int(params["i"]))
            elif action == "top":
                t.items.insert(0, "first <b>bold</b> & \"quoted\"")

        def rows() -> Any:
            if not t.items:
                return p("Nothing to do", class_="empty")
            return ul([li(x, button("x", data_action="remove", data_param_i=str(i)), data_key=x)
                       for i, x in enumerate(t.items)])

        return (
            lambda: div(
                input_(name="text", value="", data_oninput="draft"),
                button("Add", data_action="add"),
                component("list", rows),
                component("count", lambda: span(len(t.items), " items")),
            ),
            on_action,
        )

    app = App("todos", setup, actions=["top"])
    return app, "/", [
        {"action": "add", "params": {"text": "milk"}},
        {"action": "add", "params": {"text": "eggs"}},
        {"action": "top", "params": {}},
        {"action": "remove", "params": {"i": "1"}},
        {"action": "remove", "params": {"i": "0"}},
        {"action": "remove", "params": {"i": "0"}},
    ]


def pages() -> tuple[App, str, list[dict[str, Any]]]:
    app = App("pages")

    @app.page("/", title="Home")
    def home(writer_id: Any) -> Any:
        c = Counter(0)

        def on_action(action: str, params: dict[str, Any]) -> None:
            c.value += 1

        return (lambda: div(h1("Home"), component("n", lambda: p(c.value)),
                            button("+", data_action="inc"))), on_action

    @app.page("/items/{n:int}", title="Item")
    def item(writer_id: Any, conn: Conn) -> Any:
        shown = Counter(conn.params["n"])
        conn.on_params(lambda params, q: setattr(shown, "value", params["n"]))
        return (lambda: div(h1("Item"), component("item", lambda: p("item ", shown.value)))), {}

    @app.get("/about")
    def about(request: Any) -> str:
        return "<p>about</p>"

    return app, "/", [
        {"action": "inc", "params": {}},
        {"t": "nav", "url": "/items/1"},
        {"t": "nav", "url": "/items/2"},
        {"t": "nav", "url": "/about"},
        {"t": "nav", "url": "/"},
    ]


APPS: dict[str, Callable[[], tuple[App, str, list[dict[str, Any]]]]] = {
    "counter": counter,
    "todos": todos,
    "pages": pages,
}

_ = RList  # the todo list's field holds an RList once assigned a list
