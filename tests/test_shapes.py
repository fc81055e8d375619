"""Rows of one shape share their statics on the wire (docs/protocol.md, "Rows of one shape").

A page whose list rows are components of one template sends that template's
statics once per message: the first row whole, the others "like" it
(``{"sl": "row-0", "<slot>": value}``); a row inserted alone is sent like a
sibling the browser holds.  The codec (rweb.codec, used by rweb.testing and
the bench) rebuilds exactly what the unshared form gives.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from rweb import reactive
from rweb.codec import apply_message, apply_patches, page_html
from rweb.html import button, component, div, input_, label, li, span, ul
from rweb.protocol import Key, assemble, encode_init
from rweb.render import LIKE, View
from rweb.testing import Client, Page, TestClient

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

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


def _likes(msg: dict[str, Any]) -> int:
    comps = msg.get("c") if msg.get("t") == "init" else msg.get("d")
    return sum(1 for p in (comps or {}).values() if isinstance(p, dict) and LIKE in p)


def test_the_render_writes_the_protocols_word() -> None:
    assert LIKE == Key.LIKE.value


def test_the_codec_rebuilds_what_the_unshared_form_gives() -> None:
    """Two views of one page, one sharing statics: after every step the codec's stores are the same."""
    shared_render, shared_act = rows_setup()
    plain_render, plain_act = rows_setup()
    shared, plain = View(shared_render), View(plain_render)
    shared.share = True
    a: dict[str, dict[str, Any]] = {}
    b: dict[str, dict[str, Any]] = {}
    first = shared.mount()
    assert sum(1 for p in first.values() if LIKE in p) == 3  # 5 rows, 2 shapes: 3 sent like another
    apply_message(a, orjson.loads(encode_init(first)))
    apply_message(b, orjson.loads(encode_init(plain.mount())))
    assert a == b
    likes = 0
    for action, params in STEPS:
        shared_act(action, params)
        plain_act(action, params)
        sp, pp = shared.flush(), plain.flush()
        likes += sum(1 for p in sp.values() if p is not None and LIKE in p)
        apply_patches(a, orjson.loads(orjson.dumps(sp)))
        apply_patches(b, orjson.loads(orjson.dumps(pp)))
        assert a == b, action
        assert assemble(a) == assemble(b)
    assert likes >= 5  # the inserts and the shape changes went "like" another


def test_a_like_entry_is_applied_after_the_component_it_names() -> None:
    """Whatever the order of the message's keys (JS puts integer-like names first)."""
    comps: dict[str, dict[str, Any]] = {}
    apply_patches(comps, {
        "7": {"sl": "a", "1": "b"},
        "a": {"s": ['<li data-rc="a">', "", "</li>"], "d": ["x", "y"]},
    })
    assert comps["7"] == {"s": ['<li data-rc="7">', "", "</li>"], "d": ["x", "b"]}
    assert comps["a"]["d"] == ["x", "y"]  # a copy: the model is not changed


def test_rows_of_one_shape_share_their_statics_in_the_first_message() -> None:
    c = Client(rows_setup)
    assert _likes(c.init) == 3
    plain = TestClient(c.app).get("/").text  # the HTTP first paint: never shared
    assert c.html() in plain


def test_the_test_client_and_page_follow_every_step() -> None:
    """The in-process client (and a Page over it) against the unshared render, step by step."""
    page = Page(Client(rows_setup))
    ref_render, ref_act = rows_setup()
    ref = View(ref_render)
    ref.mount()
    likes = 0
    for action, params in STEPS:
        reply = page.client.send(action, params)
        likes += _likes(reply)
        ref_act(action, params)
        ref.flush()
        expect = assemble({n: {"s": c.statics, "d": [v.wire if hasattr(v, "wire") else v for v in c.dyns]}
                           for n, c in ref.comps.items()})
        assert page.client.html() == expect
        assert [el.get("data-key") for el in page.find_all("#rows > li")] == _keys(ref)
    assert likes >= 5


def _keys(view: View) -> list[str]:
    root = view.comps["root"]
    return [str(view.comps[v.name].name).removeprefix("row-") for v in root.dyns if hasattr(v, "wire")]


def test_the_counter_is_sent_as_before() -> None:
    """A page without two components of one shape: the init and the click's reply are unchanged."""
    from rweb import reactive as rx

    @rx
    class Counter:
        n: int

    def setup(writer_id: Any) -> Any:
        c = Counter(0)
        return (lambda: div(button("+", data_action="inc"), component("display", lambda: span(str(c.n))))), \
            (lambda action, params: setattr(c, "n", c.n + 1))

    client = Client(setup)
    assert client.init["c"]["display"] == {"s": ['<span data-rc="display">', "</span>"], "d": ["0"]}
    assert client.send("inc")["d"] == {"display": {"0": "1"}}


def test_the_todo_pages_first_message() -> None:
    """100 keyed rows: 37.1 KB before the rows shared their statics; now under 17 KB (Phoenix: 10.6)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from todo_app import todo_app
    finally:
        sys.path.remove(str(BENCHMARKS))
    app = todo_app()
    c = Client(app)
    size = len(orjson.dumps(c.init))
    assert _likes(c.init) == 99
    assert size < 17_000, size
    assert c.html() in TestClient(app).get("/").text


@pytest.mark.parametrize("name", ["row-1", ODD, "7"])
def test_the_rc_of_any_name_is_swapped(name: str) -> None:
    from rweb.codec import like

    model = {"s": ['<li data-rc="m" class="a">', "</li>"], "d": ["z"]}
    built = like(model, "m", name, {"sl": "m"})
    html = assemble({"r": built}, "r")
    from rweb.html import escape

    assert html == f'<li data-rc="{escape(name)}" class="a">z</li>'
    assert page_html({"r": built}, {}, "r") == html
