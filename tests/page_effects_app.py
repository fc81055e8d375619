"""One app whose actions ask for the DOM effects (reset, focus, js), and the steps a user takes on it.

tests/test_page_effects.py runs the steps on rweb.testing.Page and
tests/browser/test_browser_page_effects.py on Chromium: both must see what
:data:`EXPECTED` says after each step.
"""

from __future__ import annotations

from typing import Any

from rweb import JS, App, Conn, reactive
from rweb.html import button, component, div, form, input_, option, select, span


@reactive
class State:
    n: int = 0


def build() -> App:
    app = App("page-effects")

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        st = State()

        def on_action(action: str, params: dict[str, Any]) -> None:
            match action:
                case "clear":  # the server renders the same values: only the effect clears the fields
                    conn.reset("#f")
                case "focus":
                    conn.focus("#other")
                case "js":
                    conn.exec_js(
                        JS()
                        .add_class("b c", to="#box")
                        .remove_class("a", to="#box")
                        .set_attr("title", "set", to="#box")
                        .hide(to="#hint")
                        .show(to="#shy")
                    )
                case "bump":  # a patch of another component: #box keeps what the commands did
                    st.n += 1

        return (
            lambda: div(
                form(
                    input_(id="name", name="name", type="text", value="start"),
                    input_(id="agree", name="agree", type="checkbox"),
                    select(option("S", value="s"), option("M", value="m", selected=True), id="size", name="size"),
                    id="f",
                ),
                input_(id="other", type="text", value=""),
                div("box", id="box", class_="a"),
                span("hint", id="hint"),
                span("shy", id="shy", hidden=True),
                component("count", lambda: span(str(st.n), id="count")),
                button("Clear", id="clear", data_action="clear"),
                button("Focus", id="focus", data_action="focus"),
                button("JS", id="js", data_action="js"),
                button("Bump", id="bump", data_action="bump"),
            ),
            on_action,
        )

    return app


# What the page shows after each step: the fields' state, the focused element, #box's and the spans' attributes.
BEFORE_CLEAR = {"name": "typed", "agree": True, "size": "s"}
CLEARED = {"name": "start", "agree": False, "size": "m"}
AFTER_JS = {"box_class": "b c", "box_title": "set", "hint_hidden": True, "shy_hidden": False}
UNTOUCHED = {"box_class": "a", "box_title": None, "hint_hidden": False, "shy_hidden": True}
