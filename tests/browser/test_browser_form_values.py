"""Whose value wins in a form field (Playwright on Debian's Chromium): the server's in the reply
to the user's own action (a todo box empties after Enter), the user's against a push; and the
explicit conn.reset / conn.focus effects."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import PW_TIMEOUT_MS, LiveApp

from rweb import App, Conn, reactive
from rweb.html import button, component, div, form, input_, li, span, ul


@reactive
class Todos:
    items: list
    text: str  # the new todo's box, as the server has it
    note: str  # a field of the form only sent on submit
    pushes: int


def build(*, slow_typing: float = 0.0) -> tuple[App, list[Any]]:
    app = App("todos")
    sessions: list[Any] = []

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        st = Todos([], "", "", 0)
        sessions.append((writer_id, st))

        async def on_action(action: str, params: dict[str, Any]) -> None:
            match action:
                case "typed":
                    if slow_typing:
                        await asyncio.sleep(slow_typing)
                    st.text = params["value"]
                case "add":  # the bound box: the server's value is "" again
                    st.items = [*st.items, params["text"]]
                    st.text = ""
                case "add-plain":  # never bound: the server renders no other value, reset it
                    st.items = [*st.items, params["text"]]
                    conn.reset("#plain")
                    conn.focus("#other")
                case "edit":
                    conn.focus("#plain-text")

        return (
            lambda: div(
                component("list", lambda: ul([li(t) for t in st.items], id="items")),
                component("pushes", lambda: span(str(st.pushes), id="pushes")),
                component(
                    "new",
                    lambda: form(
                        input_(name="text", id="text", type="text", value=st.text, data_oninput="typed"),
                        input_(name="note", id="note", type="text", value=st.note),
                        button("Add", type="submit"),  # two text fields: Enter needs a button
                        data_action="add",
                        id="new",
                    ),
                ),
                form(
                    input_(name="text", id="plain-text", type="text", value=""),
                    data_action="add-plain",
                    id="plain",
                ),
                input_(id="other", type="text"),
                button("Edit", id="edit", data_action="edit"),
            ),
            on_action,
        )

    return app, sessions


def wait_js(live: LiveApp, expr: str, arg: Any = None) -> None:
    live.page.wait_for_function(expr, arg=arg, timeout=PW_TIMEOUT_MS)


def field(live: LiveApp, selector: str) -> dict[str, Any]:
    return live.page.evaluate(
        "(s) => { const el = document.querySelector(s);"
        " return {value: el.value, focused: document.activeElement === el}; }",
        selector,
    )


def test_the_todo_box_is_cleared_by_the_reply_to_enter(pw_open: Any) -> None:
    app, _ = build()
    live = pw_open(app)
    for n, todo in enumerate(["milk", "eggs"], 1):
        live.page.click("#text")
        live.page.keyboard.type(todo)
        live.page.keyboard.press("Enter")
        wait_js(live, "(n) => document.querySelectorAll('#items li').length === n", n)
        wait_js(live, "() => document.querySelector('#text').value === ''")
        assert field(live, "#text") == {"value": "", "focused": True}
    assert live.page.evaluate("[...document.querySelectorAll('#items li')].map(li => li.textContent)") == [
        "milk",
        "eggs",
    ]


def test_fast_typing_against_slow_replies_loses_nothing(pw_open: Any) -> None:
    # Each reply echoes the value of its own input, older than what the box shows by then:
    # a reply never takes back what was typed after its action.
    app, sessions = build(slow_typing=0.05)
    live = pw_open(app)
    live.page.click("#text")
    live.page.keyboard.type("hello rweb", delay=15)
    wait_js(live, "() => window.rweb.pending === 0")
    assert field(live, "#text") == {"value": "hello rweb", "focused": True}
    assert live.server.call(lambda: sessions[-1][1].text) == "hello rweb"


def push(live: LiveApp, sessions: list[Any], fn: Any) -> None:
    """Change the page's state from the server's side (as a timer would): one push."""
    writer_id, st = sessions[-1]
    before = int(live.text("#pushes") or 0)

    def change(conn: Any) -> None:
        fn(st)
        st.pushes += 1

    assert live.server.call(lambda: live.server.app.in_session(writer_id, change))
    wait_js(live, "(n) => document.querySelector('#pushes').textContent === String(n)", before + 1)


def test_a_push_never_overwrites_what_the_user_types(pw_open: Any) -> None:
    app, sessions = build()
    live = pw_open(app)
    # Typed into a field only sent on submit, then left: the server has not seen it.
    live.page.click("#note")
    live.page.keyboard.type("my note")
    # Typing into the bound box (each input sent and answered).
    live.page.click("#text")
    live.page.keyboard.type("abc")
    wait_js(live, "() => window.rweb.pending === 0")

    def overwrite(st: Todos) -> None:
        st.text = "from the server"
        st.note = "server note"

    push(live, sessions, overwrite)
    assert field(live, "#text") == {"value": "abc", "focused": True}
    assert field(live, "#note") == {"value": "my note", "focused": False}
    # The attributes followed: a reset gives the server's values.
    assert live.page.evaluate("document.querySelector('#note').defaultValue") == "server note"

    # A field whose state the server has seen follows a push once it is not focused.
    live.page.click("#other")
    push(live, sessions, lambda st: setattr(st, "text", "pushed"))
    assert field(live, "#text") == {"value": "pushed", "focused": False}


def test_conn_reset_and_focus(pw_open: Any) -> None:
    app, _ = build()
    live = pw_open(app)
    live.page.click("#edit")
    wait_js(live, "() => document.activeElement === document.querySelector('#plain-text')")
    live.page.keyboard.type("bread")
    live.page.keyboard.press("Enter")
    wait_js(live, "() => document.querySelectorAll('#items li').length === 1")
    # The server renders value="" before and after: only conn.reset empties the box.
    assert field(live, "#plain-text") == {"value": "", "focused": False}
    assert field(live, "#other")["focused"] is True
    assert live.text("#items li") == "bread"
