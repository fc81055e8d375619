"""Rows of one shape share their statics on the wire (docs/protocol.md, "Rows of one shape").

A page whose list rows are components of one template sends that template's
statics once per message: the first row whole, the others "like" it
(``{"sl": "row-0", "<slot>": value}``); a row inserted alone is sent like a
sibling the browser holds.  The codec (rweb.codec, used by rweb.testing and
the bench) rebuilds exactly what the unshared form gives.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from shapes_app import ODD, STEPS, rows_setup

from rweb.html import button, component, div, span
from rweb.protocol import Key, assemble, encode_init
from rweb.render import LIKE, View
from rweb.testing import Client, Page, TestClient
from rweb.wire.codec import apply_message, apply_patches, page_html

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

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
    """Whatever the order of the message's keys (JS puts integer-like names first), chains included."""
    comps: dict[str, dict[str, Any]] = {}
    apply_patches(comps, {
        "7": {"sl": "8", "0": [9, "7", 1]},
        "8": {"sl": "a", "1": "b", "0": [9, "8", 1]},
        "a": {"s": ['<li data-rc="a">', "", "</li>"], "d": [' data-k="1"', "y"]},
    })
    assert comps["8"] == {"s": ['<li data-rc="8">', "", "</li>"], "d": [' data-k="8"', "b"]}
    assert comps["7"] == {"s": ['<li data-rc="7">', "", "</li>"], "d": [' data-k="7"', "b"]}
    assert comps["a"]["d"] == [' data-k="1"', "y"]  # a copy: the model is not changed


def test_a_slot_is_sent_as_a_delta_only_when_it_pays() -> None:
    from rweb.render import _delta

    assert _delta(' data-param-id="54"', ' data-param-id="57"') == [17, "7", 1]
    assert _delta("Write the report, part 1", "Write the report, part 13") == [24, "3"]
    assert _delta("Write", "Wrote") == "Wrote"  # too little shared
    assert _delta("été en juin, part 1", "été en juin, part 2") == "été en juin, part 2"  # not ASCII: sent whole
    assert _delta({"c": "x"}, "abc") == "abc"


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
    """100 keyed rows: 37,118 bytes before the rows shared their statics; 10,838 with rows of one shape, 10,529 with runs of empty statics as their length (Phoenix: 10.6 KB)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from todo_app import todo_app
    finally:
        sys.path.remove(str(BENCHMARKS))
    app = todo_app()
    c = Client(app)
    size = len(orjson.dumps(c.init))
    assert _likes(c.init) == 99
    assert size <= 10_600, size  # no bigger than Phoenix LiveView's (anchors.md)
    assert c.html() in TestClient(app).get("/").text


@pytest.mark.parametrize("name", ["row-1", ODD, "7"])
def test_the_rc_of_any_name_is_swapped(name: str) -> None:
    from rweb.wire.codec import like

    model = {"s": ['<li data-rc="m" class="a">', "</li>"], "d": ["z"]}
    built = like(model, "m", name, {"sl": "m"})
    html = assemble({"r": built}, "r")
    from rweb.html import escape

    assert html == f'<li data-rc="{escape(name)}" class="a">z</li>'
    assert page_html({"r": built}, {}, "r") == html


def test_a_resumed_page_shares_its_rows_statics_too() -> None:
    """The init answering a resume is built from the components as they are: shared the same way."""
    c = Client(rows_setup)
    c.send("add3")
    before = c.html()
    c.lose()
    back = c.resume()
    assert back.init.get("resumed") is True
    assert _likes(back.init) >= 3
    assert back.html() == before


@pytest.mark.parametrize(
    "statics",
    [("a",), ("", ""), ("<ul>", "", "", "", "</ul>"), ("a", "", "b", "", "", "c", "", "", ""), ("", "x", "")],
)
def test_runs_of_empty_statics_go_as_their_length_and_come_back(statics: tuple[str, ...]) -> None:
    from rweb.core.diff import wire_statics
    from rweb.protocol import expand_statics

    wire = wire_statics(statics)
    assert expand_statics(wire) == list(statics)
    runs = [x for x in wire if type(x) is int]
    assert all(n >= 2 for n in runs)  # a lone empty string stays a string
    assert sum(runs) + sum(1 for x in wire if type(x) is str) == len(statics)
    assert not any(a == "" and b == "" for a, b in itertools.pairwise(wire))
