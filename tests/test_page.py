"""rweb.testing.Page: selectors and user steps over the real session, sent as rweb.js sends them."""

from __future__ import annotations

from typing import Any

import pytest

from rweb import App, Conn, reactive
from rweb.html import (
    a,
    button,
    component,
    div,
    fieldset,
    form,
    input_,
    label,
    legend,
    li,
    option,
    p,
    select,
    span,
    textarea,
    ul,
)
from rweb.testing import Client, Page, PageError, TestClient


@reactive
class State:
    count: int
    query: str
    note: str


@reactive
class Feed:
    lines: list


def make_app() -> tuple[App, list[tuple[str, dict[str, Any]]], Feed]:
    """A page with every binding rweb.js knows; ``sent`` records each action and its params."""
    sent: list[tuple[str, dict[str, Any]]] = []
    feed = Feed([])
    app = App("Page test")

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        state = State(0, "", "")

        def render() -> Any:
            return div(
                component("display", lambda: p("Count: ", span(state.count, id="count"))),
                button("+", id="inc", data_action="inc", data_param_by="2"),
                button(span("icon", class_="icon"), " nested", id="nested", data_action="inc"),
                button("off", id="off", data_action="inc", disabled=True),
                fieldset(legend(button("in legend", id="legend-btn", data_action="inc")), button("x", id="in-fs", data_action="inc"), disabled=True),
                span("plain", id="plain"),
                button("broken", id="broken", data_action="nope"),
                input_(name="q", id="q", value=state.query, data_oninput="search", data_debounce="300"),
                component("echo", lambda: p(state.query, id="echo")),
                input_(type="checkbox", id="flag", data_onchange="flag", data_param_which="f"),
                select(option("Red", value="r"), option("Green", value="g"), option("Blue"), id="color", data_onchange="color"),
                form(
                    input_(name="name", value="ann"),
                    input_(type="checkbox", name="tags", value="a", checked=True),
                    input_(type="checkbox", name="tags", value="b"),
                    input_(type="checkbox", name="tags", value="c", checked=True),
                    input_(type="checkbox", name="agree"),
                    input_(type="radio", name="size", value="s", checked=True),
                    input_(type="radio", name="size", value="l"),
                    select(option("one", value="1"), option("two", value="2", selected=True), option("three", value="3", selected=True), name="many", multiple=True),
                    select(option("A"), option("B"), name="single"),
                    textarea("\nfirst line", name="text"),
                    input_(type="file", name="upload"),
                    input_(name="off", value="x", disabled=True),
                    input_(type="submit", name="op", value="save", id="save"),
                    button("Delete", name="op", value="delete", id="delete"),
                    button("Plain", type="button", id="plain-btn"),
                    id="edit",
                    data_onsubmit="edit",
                    data_param_form="edit",
                ),
                input_(name="outside", value="o", form="edit"),
                form(input_(name="title", id="title"), id="live", data_onchange="validate"),
                form(input_(name="x"), button("Go", id="real-go"), id="real", action="/elsewhere"),
                ul(*[li(t, class_="line") for t in feed.lines], id="feed"),
                a("item 2", href="/items/2", id="to-2", data_navigate=True),
                a(span("replace"), href="/items/3?x=1", id="to-3", data_navigate="replace"),
                a("away", href="/about", id="plain-link"),
                a("out", href="https://example.org/", id="other-site", data_navigate=True),
                label("note:", textarea(state.note, name="note", id="note")),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            sent.append((action, params))
            if action == "inc":
                state.count += int(params.get("by", 1))
            elif action == "search":
                state.query = params["value"]
            elif action == "say":
                feed.lines.append(params["text"])
            elif action == "note":
                state.note = params["text"]

        return render, {
            name: (lambda n: lambda params: on_action(n, params))(name)
            for name in ("inc", "search", "flag", "color", "edit", "validate", "say", "note")
        }

    @app.page("/items/{n:int}", title="Item")
    def item(writer_id: Any, conn: Conn) -> Any:
        return (lambda: div(p(f"item {conn.params['n']}", id="item"), a("home", href="/", id="home", data_navigate=True))), {}

    return app, sent, feed


@pytest.fixture
def page() -> Page:
    app, _, _ = make_app()
    return Page(app)


# -- queries ----------------------------------------------------------------------------


def test_queries_find_text_attributes_and_counts() -> None:
    app, _, _ = make_app()
    page = Page(app)
    assert page.text("#count") == "0" and page.text("p:first-child") == "Count: 0"
    assert page.attr("#inc", "data-param-by") == "2" and page.attr("#inc", "title") is None
    assert page.exists("#edit") and not page.exists("#nothing")
    assert page.count("form#edit input[type=checkbox][name=tags]") == 3
    assert [el.id for el in page.find_all("a[data-navigate]")] == ["to-2", "to-3", "other-site"]
    assert page.html("#count") == '<span id="count">0</span>'
    assert page.html() == page.client.html()
    assert page.value("[name=text]") == "first line"  # the newline after <textarea> is dropped
    assert page.selected("[name=many]") == ["2", "3"] and page.selected("[name=single]") == ["A"]
    assert page.is_checked("[name=size][value=s]") and not page.is_checked("[name=agree]")


def test_no_match_and_several_matches_name_the_selector_and_show_the_page(page: Page) -> None:
    with pytest.raises(PageError, match=r"no element matches '#nope' on /\n<div data-rc=\"root\"><p"):
        page.text("#nope")
    with pytest.raises(PageError, match=r"3 elements match 'input\[name=tags\]', one was expected:\n  <Element <input"):
        page.click("input[name=tags]")
    with pytest.raises(ValueError, match=r"the '\+' combinator is not supported"):
        page.find("p + p")


# -- clicks ------------------------------------------------------------------------------


def test_click_sends_the_action_with_its_params_and_applies_the_reply() -> None:
    app, sent, _ = make_app()
    page = Page(app)
    (reply,) = page.click("#inc")
    assert sent == [("inc", {"by": "2"})] and reply["d"] == {"display": {"0": "2"}}
    assert page.text("#count") == "2"
    page.click("#nested .icon")  # the closest ancestor with data-action, as rweb.js finds it
    assert sent[-1] == ("inc", {}) and page.text("#count") == "3"


def test_what_cannot_be_clicked_says_why(page: Page) -> None:
    with pytest.raises(PageError, match=r"'#off' is disabled: a browser does not click it"):
        page.click("#off")
    with pytest.raises(PageError, match=r"'#in-fs' is disabled"):
        page.click("#in-fs")  # in a disabled fieldset
    page.click("#legend-btn")  # ... but not in its first legend
    with pytest.raises(PageError, match=r"'#plain' .* has no action binding"):
        page.click("#plain")
    with pytest.raises(PageError, match=r"has no action binding"):
        page.click("#plain-btn")  # type=button: it submits nothing
    with pytest.raises(PageError, match=r"would load '/about' for real"):
        page.click("#plain-link")
    with pytest.raises(PageError, match=r"#real-go.*no data-action nor data-onsubmit"):
        page.click("#real-go")
    with pytest.raises(PageError, match=r"sent 'nope': the server answered with an error 'unknown_action'"):
        page.click("#broken")


def test_errors_can_be_replies_instead() -> None:
    app, _, _ = make_app()
    page = Page(app, raise_errors=False)
    (reply,) = page.click("#broken")
    assert reply["e"]["code"] == "unknown_action"


# -- fields ----------------------------------------------------------------------------------


def test_fill_sends_oninput_with_the_value_and_keeps_what_was_typed() -> None:
    app, sent, _ = make_app()
    page = Page(app)
    (reply,) = page.fill("#q", "héllo <b>")
    assert sent == [("search", {"value": "héllo <b>"})] and "echo" in reply["d"]
    assert page.text("#echo") == "héllo <b>" and page.value("#q") == "héllo <b>"
    page.fill("#note", "typed")  # no binding: only remembered
    assert sent[-1][0] == "search" and page.value("#note") == "typed"


def test_a_checkbox_sends_value_and_checked_and_a_select_its_value() -> None:
    app, sent, _ = make_app()
    page = Page(app)
    page.check("#flag")
    assert sent == [("flag", {"which": "f", "value": "on", "checked": True})]
    assert page.check("#flag") == [] and len(sent) == 1  # already on: no click
    page.uncheck("#flag")
    assert sent[-1] == ("flag", {"which": "f", "value": "on", "checked": False})
    page.select("#color", "Blue")  # by label when no value matches; no value attribute: its text
    assert sent[-1] == ("color", {"value": "Blue"}) and page.value("#color") == "Blue"
    assert page.select("#color", "Blue") == []  # no change, no event
    with pytest.raises(PageError, match=r"no option 'pink' \(there are 'r', 'g', 'Blue'\)"):
        page.select("#color", "pink")
    with pytest.raises(PageError, match=r"check\('#q'\) takes an input of type checkbox or radio"):
        page.check("#q")
    with pytest.raises(PageError, match=r"type checkbox: use check\(\)"):
        page.fill("#flag", "x")
    with pytest.raises(PageError, match=r"the control is disabled"):
        page.fill("[name=off]", "x")


def test_a_form_with_onchange_sends_its_fields_and_the_target() -> None:
    app, sent, _ = make_app()
    page = Page(app)
    page.fill("#title", "Hi")
    assert sent == [("validate", {"title": "Hi", "_target": "title"})]


# -- forms ------------------------------------------------------------------------------------


EDIT_FIELDS = {
    "form": "edit",
    "name": "ann",
    "tags": ["a", "c"],
    "size": "s",
    "many": ["2", "3"],
    "single": "A",
    "text": "first line",
    "upload": "",
    "outside": "o",
}


def test_submit_sends_the_fields_as_formdata_gives_them() -> None:
    app, sent, _ = make_app()
    page = Page(app)
    page.submit("#edit")
    assert sent == [("edit", EDIT_FIELDS)]
    assert list(sent[0][1]) == list(EDIT_FIELDS)  # in document order, data-param-* first


def test_submit_carries_what_was_filled_ticked_and_chosen_and_given_values() -> None:
    app, sent, _ = make_app()
    page = Page(app)
    page.fill("#edit [name=name]", "bob")
    page.uncheck("[name=tags][value=a]")
    page.check("[name=agree]")
    page.check("[name=size][value=l]")  # the other radio of the group goes off
    page.select("[name=many]", ["1"])
    page.submit("#edit [name=text]", {"text": "given", "single": "B"})
    assert sent[-1] == (
        "edit",
        {**EDIT_FIELDS, "name": "bob", "tags": "c", "agree": "on", "size": "l", "many": "1", "text": "given", "single": "B"},
    )
    with pytest.raises(PageError, match=r"the form has no field 'nme' \(its fields: 'agree', 'many', 'name', 'off', 'op', 'outside', 'single', 'size', 'tags', 'text', 'upload'\)$"):
        page.submit("#edit", {"nme": "x"})


def test_a_submit_button_sends_its_name_and_value() -> None:
    app, sent, _ = make_app()
    page = Page(app)
    page.click("#delete")
    page.click("#save")
    assert sent == [("edit", {**EDIT_FIELDS, "op": "delete"}), ("edit", {**EDIT_FIELDS, "op": "save"})]


# -- navigation and pushes ------------------------------------------------------------------


def test_follow_links_live_and_refuse_the_others() -> None:
    app, _, _ = make_app()
    page = Page(app)
    (reply,) = page.follow("#to-2")
    assert reply["t"] == "init" and page.url == "/items/2" and page.text("#item") == "item 2"
    assert page.title == "Item"
    page.click("#home")  # a click on a data-navigate link follows it
    assert page.url == "/" and page.text("#count") == "0"
    page.follow("#to-3 span")
    assert page.url == "/items/3?x=1" and page.client.history == ["/", "/items/2", "/items/3?x=1"]
    page.back()
    assert page.text("#item") == "item 2"
    page.navigate("/")
    with pytest.raises(PageError, match=r"is not in an a\[data-navigate\] link"):
        page.follow("#plain-link")
    with pytest.raises(PageError, match=r"goes to another site"):
        page.follow("#other-site")


def test_pushes_from_another_session_arrive_with_run_pending() -> None:
    app, _, _ = make_app()
    ann, bob = Page(app, writer_id="ann"), Page(app, writer_id="bob")
    ann.client.send("say", {"text": "hello"})
    assert bob.count("#feed li") == 0  # the push waits for the loop
    (push,) = bob.run_pending()
    assert push["t"] == "p" and bob.texts("#feed .line") == ["hello"]
    assert bob.pushes[-1] is push and bob.run_pending() == []


def test_page_from_a_test_client_carries_its_cookies() -> None:
    app = App("Cookies")

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        return (lambda: p("user=", conn.cookies.get("user", "-"), id="who")), {}

    with TestClient(app) as http:
        http.cookies.set("user", "ann")
        page = http.page("/")
        assert page.text("#who") == "user=ann" and page.client in http._live


def test_page_wraps_an_open_client() -> None:
    app, _, _ = make_app()
    client = Client(app)
    page = Page(client)
    client.send("inc")  # sent around the page: the page still sees the reply
    assert page.text("#count") == "1"
    with pytest.raises(TypeError):
        Page(client, "/")


# -- the browser's morph: what the user typed survives a re-render ----------------------


def test_typed_values_survive_a_re_render_unless_the_server_changes_them() -> None:
    app, _, _ = make_app()
    page = Page(app)
    page.fill("#note", "mine")
    page.click("#inc")  # a re-render that leaves the note's markup alone
    assert page.value("#note") == "mine"
    page.client.send("note", {"text": "server's"})  # the markup changes: the value follows
    assert page.value("#note") == "server's"
    page.fill("#q", "abc")
    page.client.send("search", {"value": "zzz"})  # the value attribute changed, but the user is in the field
    assert page.value("#q") == "abc" and page.attr("#q", "value") == "zzz"


# -- an example app, and an app under a root path ------------------------------------------


def test_the_multi_page_example_by_its_links_and_buttons() -> None:
    from examples_loader import load_example

    app = load_example("multi_page").build_app()
    with TestClient(app) as http:
        page = http.page("/")
        page.click("#inc")
        assert page.text("#count") == "1"
        page.follow("#nav-item")
        assert page.url == "/items/1" and page.text("#page") == "Item 1"
        page.click("#like")
        page.click("#next")  # a data-navigate link: the same session, the likes stay
        assert page.url == "/items/2" and page.text("#likes") == "1"
        page.click("#server-next")  # conn.patch
        page.click("#next-replace")
        assert page.client.history == ["/", "/items/1", "/items/2", "/items/4"]
        page.follow("#prev")
        assert page.text("#page") == "Item 3"
        page.click("#nav-members")  # refused without the cookie: the browser loads /about
        assert page.redirected_to == "/about" and page.closed
        page = http.page("/")
        page.click("#join")  # the cookie (over HTTP), then the members' page for real
        assert http.cookies["member"] == "yes" and page.redirected_to == "/members"
        assert http.page("/members").text("#welcome") == "Welcome, member."


def test_links_under_a_root_path() -> None:
    app = App("Mounted", root_path="/shop")

    @app.page("/", name="home")
    def home(writer_id: Any) -> Any:
        return (
            lambda: div(
                a("two", href=app.url_for("item", n=2), id="two", data_navigate=True),
                a("out", href="/elsewhere", id="outside", data_navigate=True),
                a("anchor", href="#top", id="anchor", data_navigate=True),
            )
        ), {}

    @app.page("/items/{n:int}", name="item")
    def item(writer_id: Any, conn: Conn) -> Any:
        return (lambda: p(f"item {conn.params['n']}", id="item")), {}

    page = Page(app)
    assert page.attr("#two", "href") == "/shop/items/2"
    assert page.follow("#anchor") == [] and page.client.history == ["/"]
    with pytest.raises(PageError, match=r"is outside the app \(root '/shop'\)"):
        page.follow("#outside")
    page.follow("#two")
    assert page.url == "/items/2" and page.text("#item") == "item 2"
