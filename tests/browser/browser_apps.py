"""Apps shared by the browser tests."""

from __future__ import annotations

from rweb import reactive
from rweb.html import button, component, div, h1, span


@reactive
class Counter:
    value: int


def counter_setup(writer_id):
    counter = Counter(0)

    def render_page():
        return div(
            h1("RWeb Counter"),
            component("display", lambda: div(span("Count: "), span(counter.value))),
            div(
                button("+", data_action="inc"),
                button("-", data_action="dec"),
                button("Reset", data_action="reset"),
            ),
        )

    def on_action(action, params):
        match action:
            case "inc":
                counter.value += 1
            case "dec":
                counter.value -= 1
            case "reset":
                counter.value = 0

    return render_page, on_action


BUTTONS = {
    "inc": '[data-action="inc"]',
    "dec": '[data-action="dec"]',
    "reset": '[data-action="reset"]',
}
