"""Form state in a real browser: focus and caret survive updates, inputs and forms send values."""

from __future__ import annotations

import json

from rweb import reactive
from rweb.html import (
    button,
    component,
    div,
    form,
    input_,
    label,
    option,
    pre,
    select,
    span,
    textarea,
)


@reactive
class State:
    n: int
    text: str
    flag: bool
    choice: str
    last: str


def focus_setup(writer_id):
    st = State(0, "", False, "", "")

    def render_page():
        return div(
            # Not re-rendered by "inc": a plain input outside any changing component.
            input_(id="outside", type="text"),
            component("count", lambda: span(f"n={st.n}")),
            # Re-rendered by "inc": the input's class changes, its value attribute does not.
            component(
                "editor",
                lambda: div(
                    input_(id="inside", type="text", class_=f"n{st.n}"),
                    textarea("", id="notes", class_=f"n{st.n}"),
                    span(st.n),
                ),
            ),
            button("+", id="inc", data_action="inc"),
        )

    def on_action(action, params):
        if action == "inc":
            st.n += 1

    return render_page, on_action


def _focus_type_and_place_caret(page, selector, text, caret):
    page.click(selector)
    page.wait_for(f"document.activeElement === document.querySelector({selector!r})")
    page.type(text)
    page.evaluate(f"document.querySelector({selector!r}).setSelectionRange({caret}, {caret})")


def _state(page, selector):
    return page.evaluate(
        f"""(() => {{
            const el = document.querySelector({selector!r});
            return {{focused: document.activeElement === el, value: el.value,
                     start: el.selectionStart, end: el.selectionEnd, tagged: el.__tag === 1,
                     cls: el.className}};
        }})()"""
    )


def test_focus_caret_and_value_survive_an_update_elsewhere(open_app):
    app = open_app(focus_setup)
    page = app.page
    _focus_type_and_place_caret(page, "#outside", "hello world", 5)
    page.evaluate("document.querySelector('#outside').__tag = 1")
    for i in range(1, 4):
        page.evaluate("window.rweb.send('inc')")  # keeps focus where it is
        assert app.text('[data-rc="count"]') == f"n={i}"
    assert _state(page, "#outside") == {
        "focused": True,
        "value": "hello world",
        "start": 5,
        "end": 5,
        "tagged": True,
        "cls": "",
    }


def test_focused_input_inside_a_rerendered_component_keeps_its_state(open_app):
    app = open_app(focus_setup)
    page = app.page
    _focus_type_and_place_caret(page, "#inside", "abcdef", 2)
    page.evaluate("document.querySelector('#inside').__tag = 1")
    page.evaluate("window.rweb.send('inc')")
    page.evaluate("window.rweb.send('inc')")
    assert app.text('[data-rc="editor"] span') == "2"
    state = _state(page, "#inside")
    # The attributes follow the server; focus, caret and what was typed stay.
    assert state == {
        "focused": True,
        "value": "abcdef",
        "start": 2,
        "end": 2,
        "tagged": True,
        "cls": "n2",
    }

    # The same for a textarea.
    _focus_type_and_place_caret(page, "#notes", "line one", 4)
    page.evaluate("document.querySelector('#notes').__tag = 1")
    page.evaluate("window.rweb.send('inc')")
    assert _state(page, "#notes") == {
        "focused": True,
        "value": "line one",
        "start": 4,
        "end": 4,
        "tagged": True,
        "cls": "n3",
    }
    # The unfocused input kept what the user typed: the server never rendered a value for it.
    assert page.evaluate("document.querySelector('#inside').value") == "abcdef"


def echo_setup(writer_id):
    st = State(0, "", False, "", "")

    def render_page():
        return div(
            component(
                "editor",
                lambda: div(
                    input_(id="text", type="text", value=st.text, data_oninput="typed"),
                    input_(id="flag", type="checkbox", checked=st.flag, data_onchange="flag"),
                    select(
                        option("-", value=""),
                        option("Red", value="red", selected=st.choice == "red"),
                        option("Blue", value="blue", selected=st.choice == "blue"),
                        id="choice",
                        data_onchange="choose",
                    ),
                ),
            ),
            component("echo", lambda: pre(json.dumps([st.text, st.flag, st.choice]), id="echo")),
            button("Clear", id="clear", data_action="clear"),
        )

    def on_action(action, params):
        match action:
            case "typed":
                st.text = params["value"]
            case "flag":
                st.flag = params["checked"]
            case "choose":
                st.choice = params["value"]
            case "clear":
                st.text, st.flag, st.choice = "", False, ""

    return render_page, on_action


def test_oninput_and_onchange_send_values(open_app):
    app = open_app(echo_setup)
    page = app.page
    echo = "JSON.parse(document.querySelector('#echo').textContent)"

    page.click("#text")
    page.evaluate("document.querySelector('#text').__tag = 1")
    page.type("Hello, rweb")  # one input event, one message, one echo per character
    page.wait_for(f"{echo}[0] === 'Hello, rweb'", 5)
    sent = page.evaluate(
        "__rweb_events.filter(e => e.type === 'rweb:update' && e.t === 'r').length"
    )
    assert sent == len("Hello, rweb")
    state = _state(page, "#text")
    assert state["focused"] and state["tagged"] and state["value"] == "Hello, rweb"
    assert state["start"] == len("Hello, rweb")

    page.click("#flag")
    page.wait_for(f"{echo}[1] === true", 5)
    assert page.evaluate("document.querySelector('#flag').checked") is True

    page.evaluate(
        "(() => { const s = document.querySelector('#choice'); s.value = 'blue';"
        " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )
    page.wait_for(f"{echo}[2] === 'blue'", 5)

    # The server clears everything: the unfocused controls follow its new attributes.
    app.click_and_wait("#clear")
    assert page.evaluate(echo) == ["", False, ""]
    assert page.evaluate(
        "[document.querySelector('#text').value, document.querySelector('#flag').checked,"
        " document.querySelector('#choice').value, document.querySelector('#text').__tag === 1]"
    ) == ["", False, "", True]


def form_setup(writer_id):
    st = State(0, "", False, "", "")

    def render_page():
        return div(
            form(
                label("Title", input_(name="title", id="title", type="text")),
                input_(type="checkbox", name="tag", value="a", checked=True),
                input_(type="checkbox", name="tag", value="b", id="tag-b"),
                input_(type="checkbox", name="tag", value="c", checked=True),
                select(
                    option("one", value="1"), option("two", value="2", selected=True), name="pick"
                ),
                textarea("some\ntext", name="body"),
                input_(type="hidden", name="secret", value="s3"),
                button("Save", id="save", type="submit"),
                data_action="save",
                data_param_list_id="42",
                id="f",
            ),
            component("result", lambda: pre(st.last, id="result")),
        )

    def on_action(action, params):
        if action == "save":
            st.n += 1
            st.last = json.dumps({"n": st.n, **params}, sort_keys=True)

    return render_page, on_action


def test_form_submit_sends_fields(open_app):
    app = open_app(form_setup)
    page = app.page
    page.evaluate("window.__same_document = true")
    result = "JSON.parse(document.querySelector('#result').textContent || 'null')"

    page.click("#title")
    page.type("My title")
    page.click("#tag-b")
    app.click_and_wait("#save")
    got = page.evaluate(result)
    assert got == {
        "n": 1,
        "list-id": "42",
        "title": "My title",
        "tag": ["a", "b", "c"],
        "pick": "2",
        "body": "some\ntext",
        "secret": "s3",
    }

    # Enter in a text field submits too; the page never navigates.
    page.click("#title")
    page.type("!")
    page.press("Enter")
    page.wait_for(f"{result}?.n === 2", 5)
    assert page.evaluate(result)["title"] == "My title!"
    assert page.evaluate("window.__same_document") is True


def debounce_setup(writer_id):
    st = State(0, "", False, "", "")

    def render_page():
        return div(
            input_(id="q", type="search", data_oninput="search", data_debounce="150"),
            component("echo", lambda: pre(f"{st.n} {st.text}", id="echo")),
        )

    def on_action(action, params):
        st.n += 1
        st.text = params["value"]

    return render_page, on_action


def test_debounced_input_sends_once_typing_pauses(open_app):
    app = open_app(debounce_setup)
    page = app.page
    page.click("#q")
    page.type("rweb")  # a few ms between keys
    n = page.wait_for(
        "(([n, t]) => t === 'rweb' && +n)(document.querySelector('#echo').textContent.split(' '))",
        5,
    )
    assert n < 4  # fewer messages than keys (1 unless this machine stalls for 150 ms)
    page.type("!")
    page.wait_for(f"document.querySelector('#echo').textContent === '{n + 1} rweb!'", 5)
