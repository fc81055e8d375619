"""Keyed lists and the morph: rows keep their DOM nodes when others come and go."""

from __future__ import annotations

from rweb import reactive
from rweb.html import button, component, div, li, span, ul


@reactive
class Items:
    ids: list
    next_id: int


def list_setup(writer_id):
    items = Items([1, 2, 3], 4)

    def row(i):
        return lambda: li(
            span(f"item {i}"), button("x", data_action="remove", data_param_id=str(i))
        )

    def render_page():
        return div(
            # Keyed by component: each row is its own component.
            component(
                "rows", lambda: ul([component(f"row-{i}", row(i)) for i in items.ids], id="rows")
            ),
            # Keyed by data-key, no components.
            component(
                "plain",
                lambda: ul([li(f"plain {i}", data_key=str(i)) for i in items.ids], id="plain"),
            ),
            button("prepend", id="prepend", data_action="prepend"),
            button("rotate", id="rotate", data_action="rotate"),
        )

    def on_action(action, params):
        match action:
            case "prepend":
                items.ids.insert(0, items.next_id)
                items.next_id += 1
            case "rotate":
                items.ids.append(items.ids.pop(0))
            case "remove":
                items.ids.remove(int(params["id"]))

    return render_page, on_action


TAG = """for (const el of document.querySelectorAll('#rows > li, #plain > li'))
    el.__tag = el.textContent.match(/\\d+/)[0];"""
STATE = """['#rows', '#plain'].map(sel => [...document.querySelectorAll(sel + ' > li')]
    .map(el => [el.textContent.match(/\\d+/)[0], el.__tag || null]))"""


def _rows(ids, tagged):
    return [[str(i), str(i) if i in tagged else None] for i in ids]


def test_keyed_rows_keep_their_nodes(open_app):
    app = open_app(list_setup)
    page = app.page
    page.evaluate(TAG)

    app.click_and_wait("#prepend")  # insert at the top
    assert page.evaluate(STATE) == [_rows([4, 1, 2, 3], {1, 2, 3})] * 2
    page.evaluate(TAG)

    app.click_and_wait('[data-action="remove"][data-param-id="4"]')  # remove at the top
    assert page.evaluate(STATE) == [_rows([1, 2, 3], {1, 2, 3})] * 2

    app.click_and_wait('[data-action="remove"][data-param-id="2"]')  # remove in the middle
    assert page.evaluate(STATE) == [_rows([1, 3], {1, 3})] * 2

    app.click_and_wait("#rotate")  # move
    assert page.evaluate(STATE) == [_rows([3, 1], {1, 3})] * 2


def test_morph_in_the_page(open_app):
    """The morph itself, on hand-made markup (window.rweb.morph)."""
    app = open_app(list_setup)
    got = app.page.evaluate(
        r"""(() => {
        const host = document.createElement('div');
        document.body.appendChild(host);
        host.innerHTML = '<div id="m"><p class="a">one</p><input id="i" value="x"><b>bold</b>tail</div>';
        const m = host.firstChild, p = m.querySelector('p'), inp = m.querySelector('input');
        inp.value = 'typed';
        const out = [];
        // Attributes: change, add, remove; text: changed in place.
        window.rweb.morph(m, '<div id="m" title="t"><p class="b">two</p><input id="i" value="x"><b>bold</b>tail</div>');
        out.push(m.querySelector('p') === p, p.className, p.textContent, m.title, inp.value);
        // A different tag replaces the node; an unfocused input follows a changed value attribute.
        window.rweb.morph(m, '<div id="m"><span>two</span><input id="i" value="y"><b>bold</b>tail</div>');
        out.push(m.firstChild.nodeName, m.querySelector('input') === inp, inp.value);
        // Keyed by id: reordering moves, not rebuilds.
        window.rweb.morph(m, '<div id="m"><b>bold</b><input id="i" value="y"></div>');
        out.push(m.querySelector('input') === inp, m.innerHTML);
        host.remove();
        return out;
    })()"""
    )
    assert got == [
        True,
        "b",
        "two",
        "t",
        "typed",
        "SPAN",
        True,
        "y",
        True,
        '<b>bold</b><input id="i" value="y">',
    ]
