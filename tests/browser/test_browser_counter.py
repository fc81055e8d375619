"""The counter in a real browser: real clicks, minimal DOM updates, errors."""

from __future__ import annotations

from browser_apps import BUTTONS, Counter, counter_setup

from rweb.html import button, component, div, span


def test_counter_clicks_update_display_and_keep_buttons(open_app):
    app = open_app(counter_setup)
    page = app.page
    assert app.text('[data-rc="display"]') == "Count: 0"
    # Tag the buttons' DOM nodes: a morph that rebuilt them would lose the tags.
    page.evaluate(
        "for (const b of document.querySelectorAll('button[data-action]')) b.__tag = b.dataset.action"
    )

    for action, expected in (("inc", 1), ("inc", 2), ("inc", 3), ("dec", 2)):
        app.click_and_wait(BUTTONS[action])
        assert app.text('[data-rc="display"]') == f"Count: {expected}"

    assert (
        page.evaluate("document.querySelector('[data-rc=\"display\"]').textContent") == "Count: 2"
    )
    assert page.evaluate(
        "[...document.querySelectorAll('button[data-action]')].map(b => b.__tag || null)"
    ) == ["inc", "dec", "reset"]
    # The replies patched only the display component, one slot each.
    replies = page.evaluate("__rweb_events.filter(e => e.type === 'rweb:update' && e.t === 'r')")
    assert len(replies) == 4
    assert all(r["components"] == ["display"] for r in replies)
    assert page.evaluate("window.rweb.components.display.d").count("2") == 1


def test_init_does_not_replace_the_server_rendered_page(open_app):
    app = open_app(counter_setup)
    page = app.page
    # Every element inside the root is still the node the HTML parser made.
    assert page.evaluate(
        '[...document.querySelectorAll(\'[data-rc="root"], [data-rc="root"] *\')]'
        ".every(el => el.__server_rendered === true)"
    )
    # ... and the init morph changed nothing at all.
    assert page.evaluate("window.__mutations") == []
    assert page.evaluate("__rweb_events.map(e => e.type)")[:2] == ["rweb:connected", "rweb:update"]
    assert sorted(page.evaluate("Object.keys(window.rweb.components)")) == ["display", "root"]


def test_a_click_changes_only_the_text_node(open_app):
    app = open_app(counter_setup)
    page = app.page
    page.evaluate("window.__mutations.length = 0")
    app.click_and_wait(BUTTONS["inc"])
    muts = page.evaluate("window.__mutations")
    # The button carries the class rweb-loading until the reply: its class attribute comes
    # and goes; the reply itself changes one text node.
    loading = {"type": "attributes", "target": "BUTTON", "added": 0, "removed": 0, "attr": "class"}
    assert muts == [
        loading,
        {"type": "characterData", "target": "#text", "added": 0, "removed": 0, "attr": None},
        loading,
    ]
    # rweb-loading is gone: the button has the kit's classes only, as rendered.
    assert page.evaluate("document.querySelector('[data-action=inc]').className") == "ui-btn ui-btn-primary"


def test_error_replies_raise_an_event_and_leave_the_page_working(open_app):
    app = open_app(counter_setup)
    page = app.page
    reply = page.evaluate("window.rweb.send('no-such-action', {})")
    assert reply["t"] == "r"
    assert reply["e"]["code"] == "unknown_action"
    errors = page.evaluate("__rweb_events.filter(e => e.type === 'rweb:error')")
    assert errors == [
        {
            "type": "rweb:error",
            "t": "r",
            "components": None,
            "code": "unknown_action",
            "ref": reply["ref"],
        }
    ]
    assert any(kind == "warning" and "unknown_action" in text for kind, text in page.console)
    app.click_and_wait(BUTTONS["inc"])
    assert app.text('[data-rc="display"]') == "Count: 1"


def test_send_resolves_with_the_reply_after_the_dom_update(open_app):
    app = open_app(counter_setup)
    got = app.page.evaluate(
        """(async () => {
            const r1 = await window.rweb.send('inc');
            const t1 = document.querySelector('[data-rc="display"]').textContent;
            const r2 = await window.rweb.send('inc', {});
            const t2 = document.querySelector('[data-rc="display"]').textContent;
            return [r1.ref, t1, r2.ref, t2];
        })()"""
    )
    assert got[1] == "Count: 1" and got[3] == "Count: 2"
    assert got[2] == got[0] + 1


def test_a_write_in_one_tab_is_pushed_to_another(open_app, browser):
    shared = Counter(0)

    def setup(writer_id):
        def render_page():
            return div(
                component("display", lambda: div(span("Count: "), span(shared.value))),
                button("+", data_action="inc"),
            )

        def on_action(action, params):
            shared.value += 1

        return render_page, on_action

    app = open_app(setup)
    other = browser.new_page()
    try:
        other.navigate(app.url)
        other.wait_for("window.rweb && window.rweb.connected", 10)
        app.click_and_wait(BUTTONS["inc"])
        other.wait_for(
            "document.querySelector('[data-rc=\"display\"]').textContent === 'Count: 1'", 5
        )
        # A write from outside any session (a timer, say) reaches both tabs.
        app.server.call(lambda: setattr(shared, "value", 10))
        for p in (app.page, other):
            p.wait_for(
                "document.querySelector('[data-rc=\"display\"]').textContent === 'Count: 10'", 5
            )
        assert other.exceptions == []
    finally:
        other.close()


def click_setup(writer_id):
    from rweb.html import a, pre

    last = Counter(0)
    seen = []

    def render_page():
        return div(
            a(
                "go",
                href="#moved",
                id="link",
                data_action="go",
                data_param_item_id="7",
                data_param_x="y",
            ),
            div(span("inner", id="inner"), data_action="row", data_param_row="3"),
            component("seen", lambda: pre(f"{last.value} {seen[-1] if seen else ''}", id="seen")),
        )

    def on_action(action, params):
        seen.append(f"{action}:{sorted(params.items())}")
        last.value += 1

    return render_page, on_action


def test_click_sends_data_params_and_links_do_not_navigate(open_app):
    app = open_app(click_setup)
    page = app.page
    app.click_and_wait("#link")
    assert app.text("#seen") == "1 go:[('item-id', '7'), ('x', 'y')]"
    assert page.evaluate("location.hash") == ""
    app.click_and_wait("#inner")  # a click inside the bound element
    assert app.text("#seen") == "2 row:[('row', '3')]"
