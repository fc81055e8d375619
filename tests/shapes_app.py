"""A keyed list whose rows are components of two shapes (tests/test_shapes.py, the browser's test_browser_shapes.py)."""

from __future__ import annotations

from typing import Any

from rweb import reactive
from rweb.html import button, component, div, input_, label, li, span, ul

# Names that need escaping in data-rc, and "$&" (a replacement pattern in JS's String.replace).
ODD = 'q"&<>\'$&'


@reactive
class Rows:
    ids: list
    done: set
    next_id: int


def rows_setup(writer_id: Any = 1) -> Any:
    """A keyed list of row components: two shapes (a done row has a badge), names that need escaping."""
    rows = Rows([1, 2, 3, 4, ODD], {2}, 5)

    def row(i: Any) -> Any:
        def render() -> Any:
            done = i in rows.done
            return li(
                label(input_(type="checkbox", checked=done, data_action="toggle", data_param_id=str(i)),
                      span(f"row {i}")),
                span("done", class_="badge") if done else None,
                button("x", data_action="remove", data_param_id=str(i)),
                class_="done" if done else None,
                data_key=str(i),
            )

        return render

    def render_page() -> Any:
        return div(
            ul([component(f"row-{i}", row(i)) for i in rows.ids], id="rows"),
            button("add", id="add", data_action="add"),
            button("add3", id="add3", data_action="add3"),
        )

    def on_action(action: str, params: dict[str, Any]) -> None:
        if action == "toggle":
            key: Any = params["id"] if params["id"] == ODD else int(params["id"])
            rows.done = rows.done ^ {key}
        elif action == "remove":
            rows.ids = [i for i in rows.ids if str(i) != params["id"]]
        elif action == "add":  # one row, in the middle
            rows.ids = [*rows.ids[:2], rows.next_id, *rows.ids[2:]]
            rows.next_id += 1
        elif action == "add3":  # three rows at the top
            rows.ids = [rows.next_id, rows.next_id + 1, rows.next_id + 2, *rows.ids]
            rows.next_id += 3

    return render_page, on_action


# The steps every test below takes: (action, params).
STEPS: list[tuple[str, dict[str, Any]]] = [
    ("add", {}),  # an insert alone: like a sibling
    ("add3", {}),  # three inserts: like one another
    ("toggle", {"id": "3"}),  # a changed shape (the badge): like a sibling of that shape
    ("toggle", {"id": ODD}),
    ("remove", {"id": "2"}),
    ("toggle", {"id": "5"}),
    ("add", {}),
]
