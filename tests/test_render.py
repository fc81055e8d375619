"""Rendering: statics/dyns, per-component re-render, minimal patches, component lifecycle.

Pages are driven in-process through the real wire protocol with
``rweb.testing.Client`` (Connection + Session + View, no socket); ``client.html()``
is the page as the browser would rebuild it from the messages.
"""

from __future__ import annotations

import gc
import json
import random
import re
from collections import Counter as Tally
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rweb
from rweb import App, RDict, RList, reactive
from rweb import render as R
from rweb.core.diff import CRef
from rweb.html import Element, Markup, b, button, component, div, li, p, raw, span, to_html, ul
from rweb.live.connection import Connection
from rweb.protocol import expand_statics
from rweb.reactive import subscribers
from rweb.render import RenderError, View
from rweb.sessions.session import ConnectionInfo
from rweb.testing import Client


@reactive
class Counter:
    value: int


@reactive
class Pair:
    a: int = 0
    b: int = 0


@reactive
class Item:
    id: int
    text: str


@reactive
class Todos:
    items: Any
    title: str = "Todos"


def rebuild(comp: dict[str, Any]) -> str:
    s, d = expand_statics(comp["s"]), comp["d"]
    out = [s[0]]
    for i, v in enumerate(d):
        out.append(v if isinstance(v, str) else f"<<{v['c']}>>")
        out.append(s[i + 1])
    return "".join(out)


def action_page(fn: Any) -> Any:
    """session_setup whose on_action runs ``fn(action, params)`` (all actions accepted)."""

    def setup(writer_id: Any) -> Any:
        return fn()

    return setup


# -- init message shape --------------------------------------------------------


def test_init_has_root_and_components_as_statics_and_dyns(counter_example: Any) -> None:
    c = Client(counter_example.session_setup)
    assert c.init["t"] == "init"
    comps = c.init["c"]
    assert set(comps) == {"root", "display"}
    for comp in comps.values():
        assert set(comp) == {"s", "d"}
        statics = expand_statics(comp["s"])  # a run of empty statics goes as its length
        assert len(statics) == len(comp["d"]) + 1
        assert all(isinstance(x, str) for x in statics)
    assert {"c": "display"} in comps["root"]["d"]
    assert comps["display"]["d"] == ["0"]
    display = rebuild(comps["display"])
    assert display == '<div data-rc="display"><span>Count: </span><span>0</span></div>'
    assert rebuild(comps["root"]).startswith('<div data-rc="root" class="ui-shell">')  # the kit's page shell
    assert "<h1>RWeb Counter</h1>" in rebuild(comps["root"])
    page = c.html()
    assert page.count('data-rc="root"') == 1 and page.count('data-rc="display"') == 1
    assert '<span>Count: </span><span>0</span>' in page
    assert page.count("data-action=") == 3


def test_a_root_that_is_not_an_element_is_wrapped() -> None:
    c = Client(lambda w: (lambda: ["a", span("b")], lambda a, p: None))
    assert c.html() == '<div data-rc="root">a<span>b</span></div>'


def test_client_html_matches_to_html_of_the_same_tree() -> None:
    def tree() -> Any:
        return div(p("x < y"), ul([li(i, class_="row") for i in range(3)]), button("b", disabled=True))

    c = Client(lambda w: (tree, lambda a, p: None))
    assert c.html() == to_html(tree()).replace("<div>", '<div data-rc="root">', 1)


# -- minimal patches -----------------------------------------------------------


def test_counter_click_reply_is_a_tiny_slot_patch(counter_example: Any) -> None:
    info = ConnectionInfo()
    conn = Connection(App(session_setup=counter_example.session_setup), 1, info, lambda b: None, lambda f: None)
    conn.open()
    for _ in range(5):
        conn.receive(b'{"action":"inc","params":{}}')
    reply = conn.receive(b'{"action":"inc","params":{}}')
    assert reply == b'{"t":"r","d":{"display":{"0":"6"}}}'
    assert len(reply) < 64


def test_changed_attribute_patches_only_its_slot() -> None:
    state = Pair()

    def page() -> Any:
        return div(button("go", class_=f"n{state.a}", data_action="x"), span("static"))

    def on_action(action: str, params: dict[str, Any]) -> None:
        state.a += 1

    c = Client(lambda w: (page, on_action))
    reply = c.send("x")
    (patch,) = reply["d"].values()
    assert reply["d"].keys() == {"root"}
    assert list(patch.values()) == [' class="n1"']
    assert 'class="n1"' in c.html()


def test_a_render_kept_elsewhere_is_never_changed_by_the_next() -> None:
    state = Pair()
    view = View(lambda: component("row", lambda: li(span(f"a{state.a}"), span(f"b{state.b}"))))
    view.mount()
    comp = view.comps["row"]
    held = comp.dyns  # as a patch, a snapshot or a shared render holds one
    seen = list(held)
    state.a = 1
    assert view.flush()["row"] == {"0": "a1"}
    assert held == seen  # the next render did not write into it
    assert comp.dyns == ["a1", "b0"]
    del held
    mine = comp.dyns  # held by the component (and this test, below: not during the flush)
    ident = id(mine)
    del mine
    state.b = 2
    assert view.flush()["row"] == {"1": "b2"}
    assert comp.dyns == ["a1", "b2"]
    if rweb.COMPILED:  # a list nothing else holds takes the new values in place (View._settle)
        assert id(comp.dyns) == ident


def test_shape_change_sends_the_whole_component() -> None:
    state = Pair()

    def page() -> Any:
        return div(span("on") if state.a else None, button("t", data_action="t"))

    def on_action(action: str, params: dict[str, Any]) -> None:
        state.a = 1 - state.a

    c = Client(lambda w: (page, on_action))
    assert "<span>on</span>" not in c.html()
    reply = c.send("t")
    assert set(reply["d"]["root"]) == {"s", "d"}
    assert "<span>on</span>" in c.html()
    reply = c.send("t")
    assert set(reply["d"]["root"]) == {"s", "d"}
    assert "<span>on</span>" not in c.html()


# -- plans: a render of the last shape refills the last statics ------------------------------------


def _with_rc(tree: Any, rc: str = "root") -> str:
    """``to_html(tree)`` as the page shows it: the component's ``data-rc`` on its root element."""
    return to_html(tree).replace(f"<{tree.tag}", f'<{tree.tag} data-rc="{rc}"', 1)


def _show(trees: list[Any]) -> None:
    """One page shows ``trees`` in turn; after each click the browser's HTML is that of the tree."""
    at = Counter(value=0)

    def page() -> Any:
        return div(component("shown", lambda: trees[at.value]), button("next", data_action="next"))

    c = Client(lambda w: (page, lambda a, p: setattr(at, "value", at.value + 1)))
    for i, tree in enumerate(trees):
        if i:
            c.send("next")
        want = _with_rc(tree, "shown").replace("<b>in</b>", '<b data-rc="inner">in</b>')  # (a component in it)
        assert c.html("shown") == want, tree


def test_a_tree_of_the_last_shape_is_walked_along_its_plan(elements_as_written: None) -> None:
    state = Pair()

    def row() -> Any:
        return li(span(f"n{state.a}"), b(state.b), None, class_="on" if state.a % 2 else None, data_key="k")

    view = View(lambda: component("row", row))
    view.mount()
    comp = view.comps["row"]
    statics = comp.statics
    plan = R.plan_for(statics)
    assert plan is not None and plan[1][0] == "li" and plan[2] is statics  # kept with its statics
    assert comp.plan is plan  # and held by the component: no lookup at its next render
    for n in range(1, 4):
        state.a = n
        patch = view.flush()["row"]
        assert "s" not in patch and patch["0"] == ("" if n % 2 == 0 else ' class="on"') and patch["2"] == f"n{n}"
        assert comp.statics is statics and comp.plan is plan
    assert rebuild({"s": comp.statics, "d": comp.dyns}) == _with_rc(row(), "row")
    view.close()


def test_a_held_plan_follows_its_components_statics(monkeypatch: pytest.MonkeyPatch, elements_as_written: None) -> None:
    # A component holds its statics' plan; whatever changes its statics, the plan it renders along
    # is theirs: equal statics that are another tuple (another session's, a restored page's) keep
    # it, other statics (a tree of another shape) get theirs.
    state = Pair()
    walked: list[str] = []
    if not rweb.COMPILED:  # plain Python: count the full walks too (compiled, they are C calls)
        markup = R._markup
        monkeypatch.setattr(R, "_markup", lambda tree, *a: walked.append("walk") or markup(tree, *a))

    def row() -> Any:
        if state.b % 2:
            return li(b("odd"), span(state.a), data_key="k")
        return li(span(state.a), data_key="k")

    view = View(lambda: component("row", row))
    view.mount()
    comp = view.comps["row"]
    even, plan = comp.statics, comp.plan
    comp.statics = tuple(list(even))  # equal, not the same tuple
    state.a = 1
    walked.clear()
    assert view.flush()["row"] == {"1": "1"}
    assert comp.plan is plan and not walked  # along the plan it held
    state.b = 1  # another shape: walked, and its own plan held
    assert "s" in view.flush()["row"]
    assert comp.plan is not plan and comp.plan[2] == comp.statics and comp.plan[1][4][0][0] == "b"
    state.b = 2  # the first shape again: the plan kept for it, from the table
    walked.clear()
    state.a = 2
    assert "s" in view.flush()["row"]
    assert comp.plan is plan and comp.statics == even
    assert rebuild({"s": comp.statics, "d": comp.dyns}) == _with_rc(row(), "row")
    if not rweb.COMPILED:
        assert walked == ["walk"]  # the tree of another shape than the last statics' is walked
    state.a = 3
    walked.clear()
    assert view.flush()["row"] == {"1": "3"} and not walked
    view.close()


def test_plans_give_what_a_full_walk_gives() -> None:
    # Same shapes with other values; another tag, count, void flag or child kind at one place;
    # other keys at the same count (their own names); children a plan does not cover.
    img_ = Element("img", ("never shown",), {"alt": "a"}, True)
    _show([
        div(span("a"), 1, None, class_="x", title="t"),
        div(span("b<"), 2, True, class_=None, title=3),
        div(span(raw("<i>r</i>")), 2.5, False, class_=True, title="t"),
        div(p("c"), 3, None, class_="x", title="t"),  # another tag
        div(p("c"), 3, "now text", class_="x", title="t"),  # nothing -> a value
        div(p("c", id="i"), 3, "t", class_="x", title="t"),  # an attribute more, below
        div(p("c", id="i"), 3, "t", id="k", data_x="y"),  # other keys, the same count
        div(p("c", id="j"), 4, "u", id="k2", data_x=None),
        div(img_, [span(1), span(2)], "t", id="k"),  # a list: not planned
        div(img_, [span(1), span(2), span(3)], "t", id="k"),
        div(img_, component("inner", lambda: b("in")), "t", id="k"),  # a component: not planned
        div(Element("img", (), {"alt": "b"}, True), "t", id="k"),
        div(Element("img", ("x",), {}, True), "t", id="k"),  # void: its one text child is not shown
        div(Element("img", ("y",), {}, True), "u", id="k"),
        div(Element("img", (), {"alt": "b"}, False), "t", id="k"),  # the same tag, not void
        div(Element("img", (), {"alt": "c"}, False), "t", id="k"),
    ])


_LEAVES = st.one_of(st.sampled_from(["x", "<y>", "", "&"]), st.integers(-3, 3), st.none(), st.booleans(),
                    st.just(1.5), st.just(raw("<i>m</i>")))
_VALUES = st.sampled_from([None, False, True, "a", "b<\"&", 7])


def _elements(children: Any) -> Any:
    # Element(...) itself: a void one may be given children (not rendered), and any tag may be void.
    return st.builds(
        lambda tag, attrs, kids, void: Element(tag, tuple(kids), attrs, void),
        st.sampled_from(["div", "span", "b"]),
        st.dictionaries(st.sampled_from(["class_", "id", "data_action", "href"]), _VALUES, max_size=2),
        st.lists(children, max_size=3),
        st.sampled_from([False, False, False, True]),
    )


_TREES = st.recursive(_LEAVES, lambda kids: st.one_of(_elements(kids), st.lists(kids, max_size=2)), max_leaves=12)


_LEAF_POOL = ["x", "<y>", "", 0, 5, None, True, False, 1.5, raw("<i>m</i>")]
_VALUE_POOL = [None, False, True, "a", "b<\"&", 7]


_KEY_POOL = ["class_", "id", "data_action", "href"]


def _revalue(node: Any, rng: random.Random, rekey: bool = False) -> Any:
    """``node`` with other values: its elements' tags and attribute keys kept (``rekey``: as many
    keys, drawn again: the same statics), every attribute value and leaf drawn again (a leaf may
    become nothing, or nothing a leaf: the same shape or not)."""
    if type(node) is Element:
        kids = tuple(_revalue(c, rng, rekey) for c in node.children)
        keys = rng.sample(_KEY_POOL, len(node.attrs)) if rekey else list(node.attrs)
        return Element(node.tag, kids, {k: rng.choice(_VALUE_POOL) for k in keys}, node.void)
    if type(node) is list:
        return [_revalue(c, rng, rekey) for c in node]
    return rng.choice(_LEAF_POOL)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_elements(_TREES), min_size=1, max_size=3), st.lists(st.integers(0, 2**32), min_size=2, max_size=8))
def test_any_sequence_of_trees_shows_as_its_last_tree(shapes: list[Any], seeds: list[int]) -> None:
    # A few shapes, each shown again with other values: the same shape often, another one sometimes.
    trees = []
    for seed in seeds:
        rng = random.Random(seed)
        trees.append(_revalue(shapes[rng.randrange(len(shapes))], rng))
    _show(trees)


def _actions_of(node: Any) -> set[str]:
    """The actions a tree binds, as a full walk finds them: its elements' ``data-action`` values
    (not None, True or False; a number as its text), a void element's children not rendered."""
    if type(node) is Element:
        got = {str(v) for k, v in node.attrs.items() if k == "data_action" and v is not None and type(v) is not bool}
        if not node.void:
            for c in node.children:
                got |= _actions_of(c)
        return got
    if type(node) is list:
        return set().union(*map(_actions_of, node)) if node else set()
    return set()


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_elements(_TREES), min_size=1, max_size=3), st.lists(st.integers(0, 2**32), min_size=2, max_size=8),
       st.integers(1, 3))
def test_the_actions_a_render_binds_are_its_trees(shapes: list[Any], seeds: list[int], pages: int) -> None:
    # Along a plan, a render's actions come from its action attributes' slots (made again when one
    # changes): whatever the sequence of values, keys and shapes, and with other pages (other
    # sessions) rendering the same statics in between, a component binds exactly its tree's actions.
    at = [0] * pages
    trees: list[Any] = []
    for seed in seeds:
        rng = random.Random(seed)
        trees.append(_revalue(shapes[rng.randrange(len(shapes))], rng, rekey=rng.random() < 0.5))
    views = []
    for k in range(pages):
        view = View(lambda k=k: component("shown", lambda: trees[at[k] % len(trees)]))
        view.mount()
        views.append(view)
    rng = random.Random(seeds[0])
    for _ in range(3 * len(trees)):
        k = rng.randrange(pages)
        at[k] += rng.randrange(1, 3)
        comp = views[k].comps["shown"]
        comp.invalidate()
        views[k].flush()
        tree = trees[at[k] % len(trees)]
        assert set(comp.actions or ()) == _actions_of(tree), tree
        assert rebuild({"s": comp.statics, "d": comp.dyns}) == _with_rc(tree, "shown")
    for view in views:
        view.close()


def test_an_action_attribute_that_gives_way_to_another_key_takes_its_action_along() -> None:
    # The same statics (an attribute's name is in its slot), the action's slot filled by another key.
    state = Pair()

    def row() -> Any:
        return li("x", data_action="go") if state.a % 2 == 0 else li("x", id="go")

    view = View(lambda: component("row", row))
    view.mount()
    comp = view.comps["row"]
    statics = comp.statics
    for n, want in ((1, None), (2, frozenset({"go"})), (3, None)):
        state.a = n
        view.flush()
        assert comp.statics is statics and comp.actions == want, n
    view.close()


def test_same_value_write_sends_an_empty_reply_and_renders_nothing() -> None:
    state = Pair()
    renders = Tally()

    def display() -> Any:
        renders["display"] += 1
        return span(state.a)

    def page() -> Any:
        renders["root"] += 1
        return div(component("display", display), button("s", data_action="same"))

    def on_action(action: str, params: dict[str, Any]) -> None:
        state.a = 0

    c = Client(lambda w: (page, on_action))
    before = dict(renders)
    reply = c.send("same")
    assert reply["d"] == {}
    assert "e" not in reply
    assert dict(renders) == before


# -- per-field tracking ----------------------------------------------------------


def test_a_write_re_renders_exactly_the_components_that_read_the_field() -> None:
    state = Pair()
    renders = Tally()

    def comp(name: str, read: Any) -> Any:
        def fn() -> Any:
            renders[name] += 1
            return span(read())

        return component(name, fn)

    def page() -> Any:
        renders["root"] += 1
        return div(
            comp("ca", lambda: state.a),
            comp("cb", lambda: state.b),
            comp("cab", lambda: state.a + state.b),
            comp("none", lambda: "constant"),
            button("a", data_action="a"),
            button("b", data_action="b"),
        )

    def on_action(action: str, params: dict[str, Any]) -> None:
        if action == "a":
            state.a += 1
        else:
            state.b += 10

    c = Client(lambda w: (page, on_action))
    assert renders == {"root": 1, "ca": 1, "cb": 1, "cab": 1, "none": 1}
    reply = c.send("a")
    assert set(reply["d"]) == {"ca", "cab"}
    assert reply["d"]["ca"] == {"0": "1"} and reply["d"]["cab"] == {"0": "1"}
    assert renders == {"root": 1, "ca": 2, "cb": 1, "cab": 2, "none": 1}
    reply = c.send("b")
    assert set(reply["d"]) == {"cb", "cab"}
    assert reply["d"]["cab"] == {"0": "11"}
    assert renders == {"root": 1, "ca": 2, "cb": 2, "cab": 3, "none": 1}
    assert '<span data-rc="cab">11</span>' in c.html()


def test_one_record_read_by_several_components_and_several_records() -> None:
    counter = Counter(0)
    other = Counter(100)

    def page() -> Any:
        return div(
            component("x1", lambda: span(counter.value)),
            component("x2", lambda: span(counter.value * 2)),
            component("y", lambda: span(other.value)),
            button("i", data_action="inc"),
            button("o", data_action="other"),
        )

    def on_action(action: str, params: dict[str, Any]) -> None:
        if action == "inc":
            counter.value += 1
        else:
            other.value += 1
            counter.value += 1

    c = Client(lambda w: (page, on_action))
    assert c.send("inc")["d"] == {"x1": {"0": "1"}, "x2": {"0": "2"}}
    assert c.send("other")["d"] == {"x1": {"0": "2"}, "x2": {"0": "4"}, "y": {"0": "101"}}


def test_nested_records_re_render_their_readers() -> None:
    @reactive
    class Profile:
        name: str

    @reactive
    class User:
        profile: Any

    first = Profile("ann")
    user = User(first)

    def page() -> Any:
        return div(component("name", lambda: span(user.profile.name)), button("x", data_action="x"))

    def on_action(action: str, params: dict[str, Any]) -> None:
        match params["op"]:
            case "rename":
                user.profile.name = params["v"]
            case "replace":
                user.profile = Profile(params["v"])
            case "old":
                first.name = params["v"]

    c = Client(lambda w: (page, on_action))
    assert c.send("x", {"op": "rename", "v": "bob"})["d"] == {"name": {"0": "bob"}}
    assert c.send("x", {"op": "replace", "v": "cy"})["d"] == {"name": {"0": "cy"}}
    # The old profile is no longer read by anything on the page.
    assert c.send("x", {"op": "old", "v": "zed"})["d"] == {}
    assert "<span data-rc=\"name\">cy</span>" in c.html()


LIST_OPS: list[tuple[str, Any]] = [
    ("append", lambda lst: lst.append("d")),
    ("insert", lambda lst: lst.insert(1, "x")),
    ("pop", lambda lst: lst.pop()),
    ("remove", lambda lst: lst.remove("b")),
    ("setitem", lambda lst: lst.__setitem__(0, "z")),
    ("delitem", lambda lst: lst.__delitem__(0)),
    ("clear", lambda lst: lst.clear()),
    ("sort", lambda lst: lst.sort(reverse=True)),
    ("extend", lambda lst: lst.extend(["e", "f"])),
    ("reverse", lambda lst: lst.reverse()),
]


@pytest.mark.parametrize(("name", "op"), LIST_OPS, ids=[n for n, _ in LIST_OPS])
def test_list_mutations_re_render_readers(name: str, op: Any) -> None:
    todos = Todos(["a", "b", "c"])
    expected = ["a", "b", "c"]

    def page() -> Any:
        return div(
            component("list", lambda: ul([li(t) for t in todos.items])),
            component("title", lambda: p(todos.title)),
            button("m", data_action="mutate"),
        )

    c = Client(lambda w: (page, lambda a, p: op(todos.items)))
    reply = c.send("mutate")
    op(expected)
    assert set(reply["d"]) == {"list"}
    assert c.html("list") == '<ul data-rc="list">' + "".join(f"<li>{t}</li>" for t in expected) + "</ul>"


DICT_OPS: list[tuple[str, Any]] = [
    ("set", lambda d: d.__setitem__("k2", "v2")),
    ("del", lambda d: d.__delitem__("k")),
    ("pop", lambda d: d.pop("k")),
    ("update", lambda d: d.update({"k": "new", "k3": "v3"})),
    ("setdefault", lambda d: d.setdefault("k4", "v4")),
    ("clear", lambda d: d.clear()),
]


@pytest.mark.parametrize(("name", "op"), DICT_OPS, ids=[n for n, _ in DICT_OPS])
def test_dict_mutations_re_render_readers(name: str, op: Any) -> None:
    todos = Todos({"k": "v"})
    expected = {"k": "v"}

    def page() -> Any:
        return div(
            component("dict", lambda: ul([li(k, "=", v) for k, v in todos.items.items()])),
            component("title", lambda: p(todos.title)),
            button("m", data_action="mutate"),
        )

    c = Client(lambda w: (page, lambda a, p: op(todos.items)))
    assert isinstance(todos.items, RDict)
    reply = c.send("mutate")
    op(expected)
    assert set(reply["d"]) == {"dict"}
    rows = "".join(f"<li>{k}=${v}</li>".replace("$", "") for k, v in expected.items())
    assert c.html("dict") == f'<ul data-rc="dict">{rows}</ul>'


def test_assigning_a_new_list_re_renders_and_old_list_is_forgotten() -> None:
    todos = Todos(["a"])
    old = todos.items

    def page() -> Any:
        return div(component("list", lambda: ul([li(t) for t in todos.items])), button("x", data_action="x"))

    def on_action(action: str, params: dict[str, Any]) -> None:
        if params.get("replace"):
            todos.items = ["new"]
        else:
            old.append("stale")

    c = Client(lambda w: (page, on_action))
    assert set(c.send("x", {"replace": True})["d"]) == {"list"}
    assert isinstance(todos.items, RList)
    assert c.send("x")["d"] == {}
    assert c.html("list") == '<ul data-rc="list"><li>new</li></ul>'


# -- parents and children --------------------------------------------------------


def test_parent_re_render_keeps_clean_children_and_re_renders_changed_ones() -> None:
    state = Pair()
    renders = Tally()

    def page() -> Any:
        renders["root"] += 1
        label = f"label {state.a}"  # a plain value captured by the child below

        def same() -> Any:
            renders["same"] += 1
            return span("child reads b: ", state.b)

        def captured() -> Any:
            renders["captured"] += 1
            return span(label)

        return div(
            p(state.a),
            component("same", same),
            component("captured", captured),
            button("a", data_action="a"),
        )

    def on_action(action: str, params: dict[str, Any]) -> None:
        state.a += 1

    c = Client(lambda w: (page, on_action))
    assert renders == {"root": 1, "same": 1, "captured": 1}
    reply = c.send("a")
    assert renders == {"root": 2, "same": 1, "captured": 2}
    assert set(reply["d"]) == {"root", "captured"}
    assert reply["d"]["captured"] == {"0": "label 1"}
    assert "label 1" in c.html()


def test_child_with_equal_default_arguments_is_not_re_rendered() -> None:
    state = Pair()
    renders = Tally()

    def page() -> Any:
        return div(
            p(state.a),
            [component(f"row-{i}", lambda i=i: renders.update([i]) or li(i)) for i in range(3)],
            button("a", data_action="a"),
        )

    c = Client(lambda w: (page, lambda a, p: setattr(state, "a", state.a + 1)))
    assert renders == {0: 1, 1: 1, 2: 1}
    reply = c.send("a")
    assert set(reply["d"]) == {"root"}
    assert renders == {0: 1, 1: 1, 2: 1}


@reactive
class Task:
    title: str
    done: bool


def test_a_component_with_arguments_renders_again_only_for_a_write_or_other_arguments() -> None:
    state = Pair()
    items = [Task(f"item {i}", False) for i in range(3)]
    renders = Tally()

    def row(item: Task, n: int) -> Any:  # one function for every row: the row's record its argument
        renders[item.title] += 1
        return li(item.title, " done" if item.done else "", data_n=n)

    def page() -> Any:
        return div(
            p(state.a),
            # Row 2's second argument is a new string at each render: equal, but not the same object.
            [component(f"row-{i}", row, item, i if i < 2 else f"b={state.b}") for i, item in enumerate(items)],
            button("a", data_action="a"),
            button("done", data_action="done"),
        )

    def on_action(action: str, params: dict[str, Any]) -> None:
        if action == "a":
            state.a += 1
        elif action == "done":
            items[int(params["i"])].done = True

    c = Client(lambda w: (page, on_action))
    assert renders == {"item 0": 1, "item 1": 1, "item 2": 1}
    assert '<li data-rc="row-0" data-n="0">item 0</li>' in c.html()
    reply = c.send("a")  # the parent renders again: the same function over the same objects
    assert renders == {"item 0": 1, "item 1": 1, "item 2": 2}  # row 2 rendered (to the same markup)
    assert set(reply["d"]) == {"root"}
    reply = c.send("done", {"i": "1"})  # a write to what a row read: that row, alone
    assert set(reply["d"]) == {"row-1"}
    assert renders == {"item 0": 1, "item 1": 2, "item 2": 2}
    assert "item 1 done" in c.html()
    items[0], items[1] = items[1], items[0]  # other records at the same places: they render
    reply = c.send("a")
    assert set(reply["d"]) >= {"row-0", "row-1"}
    assert renders == {"item 0": 2, "item 1": 3, "item 2": 3}
    assert to_html(component("x", row, items[0], 7)) == '<li data-n="7">item 1 done</li>'


def test_component_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="args must be a tuple"):
        rweb.html.Component("x", len, [1])  # type: ignore[arg-type]
    assert component("x", len, "abc").args == ("abc",)
    assert component("x", len).args == ()


def test_dirty_child_of_a_re_rendering_parent_renders_once() -> None:
    state = Pair()
    renders = Tally()

    def child() -> Any:
        renders["child"] += 1
        return span(state.b)

    def page() -> Any:
        renders["root"] += 1
        return div(p(state.a), component("child", child), button("x", data_action="both"))

    def on_action(action: str, params: dict[str, Any]) -> None:
        state.a += 1
        state.b += 1

    c = Client(lambda w: (page, on_action))
    reply = c.send("both")
    assert renders == {"root": 2, "child": 2}
    assert reply["d"] == {"root": {"0": "1"}, "child": {"0": "1"}}


def test_keyed_rows_insert_at_top_sends_only_the_new_row_and_the_parent() -> None:
    todos = Todos([Item(i, f"item {i}") for i in range(5)])
    renders = Tally()
    next_id = [100]

    def row(item: Item) -> Any:
        def fn() -> Any:
            renders[item.id] += 1
            return li(item.text, data_action="noop")

        return component(f"row-{item.id}", fn)

    def page() -> Any:
        return div(
            component("list", lambda: ul([row(it) for it in todos.items])),
            button("add", data_action="add"),
        )

    def on_action(action: str, params: dict[str, Any]) -> None:
        if action == "add":
            todos.items.insert(0, Item(next_id[0], "fresh <b>"))
            next_id[0] += 1
        elif action == "edit":
            todos.items[params["i"]].text = params["text"]
        elif action == "reverse":
            todos.items.reverse()

    app = App(session_setup=lambda w: (page, on_action), actions=["edit", "reverse"])
    c = Client(app)
    assert renders == dict.fromkeys(range(5), 1)
    reply = c.send("add")
    assert set(reply["d"]) == {"list", "row-100"}
    # Sent like the row the browser holds beside it (its statics once: docs/protocol.md), but for its text.
    assert reply["d"]["row-100"] == {"sl": "row-0", "0": "fresh &lt;b&gt;"}
    refs = [v["c"] for v in reply["d"]["list"]["d"] if isinstance(v, dict)]
    assert refs == ["row-100", "row-0", "row-1", "row-2", "row-3", "row-4"]
    assert renders == {**dict.fromkeys(range(5), 1), 100: 1}
    order = re.findall(r'data-rc="(row-\d+)"', c.html())
    assert order == refs
    # Editing one row re-renders that row only.
    reply = c.send("edit", {"i": 3, "text": "changed"})
    assert reply["d"] == {"row-2": {"0": "changed"}}
    # Reordering re-renders no row: only the parent's references move.
    before = dict(renders)
    reply = c.send("reverse")
    assert set(reply["d"]) == {"list"}
    assert dict(renders) == before
    assert re.findall(r'data-rc="(row-\d+)"', c.html()) == refs[::-1]


def test_removed_components_are_sent_as_null_and_stop_being_tracked() -> None:
    todos = Todos([Item(1, "one"), Item(2, "two")])
    renders = Tally()
    removed: list[Item] = []

    def row(item: Item) -> Any:
        def fn() -> Any:
            renders[item.id] += 1
            return li(item.text, button("x", data_action=f"del-{item.id}"))

        return component(f"row-{item.id}", fn)

    def page() -> Any:
        return div(component("list", lambda: ul([row(it) for it in todos.items])))

    def on_action(action: str, params: dict[str, Any]) -> None:
        if action == "del-1":
            removed.append(todos.items.pop(0))
        elif action == "poke":
            removed[0].text = "poked"

    c = Client(App(session_setup=lambda w: (page, on_action), actions=["poke"]))
    reply = c.send("del-1")
    assert reply["d"]["row-1"] is None
    assert "row-1" not in c.components and "one" not in c.html()
    before = dict(renders)
    reply = c.send("poke")
    assert reply["d"] == {}
    assert "e" not in reply
    assert dict(renders) == before
    assert subscribers(removed[0], "text") == 0  # no subscriber left on the removed row's field
    # Its action is gone from the page with it.
    assert c.send("del-1")["e"]["code"] == "unknown_action"


def test_a_dirty_row_removed_in_the_same_action_is_not_rendered() -> None:
    """One action edits a row and removes it: the list renders first (it is higher) and takes
    the row out, so the row, dirty but gone, neither renders nor reads its record again."""
    todos = Todos([Item(1, "one"), Item(2, "two")])
    renders = Tally()

    def row(item: Item) -> Any:
        def fn() -> Any:
            renders[item.id] += 1
            return li(item.text)

        return component(f"row-{item.id}", fn)

    def page() -> Any:
        return div(component("list", lambda: ul([row(it) for it in todos.items])), button("x", data_action="x"))

    def on_action(action: str, params: dict[str, Any]) -> None:
        first = todos.items[0]
        first.text = "edited"  # the row is dirty first
        todos.items.pop(0)  # then its list

    c = Client(lambda w: (page, on_action))
    first = todos.items[0]
    before = renders[1]
    reply = c.send("x")
    assert reply["d"]["row-1"] is None
    assert renders[1] == before
    assert subscribers(first, "text") == 0
    assert "one" not in c.html() and "edited" not in c.html()


def test_removing_a_parent_removes_its_children() -> None:
    state = Pair(a=1)

    def page() -> Any:
        inner = component("inner", lambda: span(state.b))
        return div(state.a and component("outer", lambda: div(inner)), button("x", data_action="x"))

    c = Client(lambda w: (page, lambda a, p: setattr(state, "a", 0)))
    assert {"outer", "inner"} <= set(c.components)
    reply = c.send("x")
    assert reply["d"]["outer"] is None and reply["d"]["inner"] is None
    assert c.send("x")["d"] == {}
    assert subscribers(state, "b") == 0


# -- component names ---------------------------------------------------------------


def test_component_name_used_twice_in_one_parent_fails_the_mount() -> None:
    def page() -> Any:
        return div(component("x", lambda: "1"), component("x", lambda: "2"))

    session = App(session_setup=lambda w: (page, lambda a, p: None)).session(1)
    with pytest.raises(RenderError, match="used twice"):
        session.mount()


def test_component_name_used_twice_under_different_parents_fails_the_mount() -> None:
    def page() -> Any:
        return div(
            component("a", lambda: div(component("x", lambda: span("1")))),
            component("b", lambda: div(component("x", lambda: span("2")))),
        )

    session = App(session_setup=lambda w: (page, lambda a, p: None)).session(1)
    with pytest.raises(RenderError, match="used twice"):
        session.mount()


def test_component_name_reused_by_a_later_render_is_an_error() -> None:
    state = Pair()

    def page() -> Any:
        return div(
            component("a", lambda: div(component("x", lambda: span("from a")))),
            component("b", lambda: div(state.a and component("x", lambda: span("from b")))),
            button("t", data_action="t"),
        )

    c = Client(lambda w: (page, lambda a, p: setattr(state, "a", 1)))
    reply = c.send("t")
    html = c.html()
    assert html.count('data-rc="x"') == 1, html
    assert reply.get("e", {}).get("code") == "render_error"


@reactive
class Where:
    at: str = "a"


def moving_child() -> Any:
    return span("x")


@pytest.mark.parametrize(("start", "end"), [("a", "b"), ("b", "a")])
def test_a_component_can_move_between_parents_in_one_flush(start: str, end: str) -> None:
    where = Where(start)

    def holder(name: str) -> Any:
        return component(name, lambda: div(where.at == name and component("x", moving_child)))

    page = lambda: div(holder("a"), holder("b"), button("m", data_action="move"))  # noqa: E731
    c = Client(lambda w: (page, lambda a, p: setattr(where, "at", end)))
    assert re.search(f'data-rc="{start}"><span data-rc="x">', c.html())
    reply = c.send("move")
    assert "e" not in reply, reply
    html = c.html()
    assert html.count('data-rc="x"') == 1, html
    assert re.search(f'data-rc="{end}"><span data-rc="x">', html), html


def test_a_component_can_move_out_of_a_removed_parent() -> None:
    where = Where("a")

    def page() -> Any:
        return div(
            where.at == "a" and component("a", lambda: div(component("x", moving_child))),
            component("b", lambda: div(where.at == "b" and component("x", moving_child))),
            button("m", data_action="move"),
        )

    c = Client(lambda w: (page, lambda a, p: setattr(where, "at", "b")))
    reply = c.send("move")
    assert "e" not in reply, reply
    assert reply["d"]["a"] is None
    html = c.html()
    assert html.count('data-rc="x"') == 1 and 'data-rc="b"><span data-rc="x">' in html, html
    assert "x" in c.components and "a" not in c.components


def test_root_is_a_reserved_component_name() -> None:
    session = App(session_setup=lambda w: (lambda: div(component("root", lambda: "x")), None or {})).session(1)
    with pytest.raises(RenderError, match="reserved"):
        session.mount()


def test_a_page_whose_root_fails_does_not_open() -> None:
    def page() -> Any:
        raise ValueError("no page today")

    conn = Connection(App(session_setup=lambda w: (page, {})), 1, ConnectionInfo(), lambda b: None, lambda f: None)
    msg, ok = conn.open()
    assert not ok
    assert json.loads(msg)["e"]["code"] == "render_error"


# -- render errors -----------------------------------------------------------------


def test_failing_component_keeps_its_last_render_and_others_update() -> None:
    state = Pair()

    def fragile() -> Any:
        if state.b:
            raise RuntimeError("fragile broke")
        return span("fragile ok")

    def page() -> Any:
        return div(
            component("count", lambda: span(state.a)),
            component("fragile", fragile),
            button("x", data_action="x"),
        )

    def on_action(action: str, params: dict[str, Any]) -> None:
        state.a += 1
        state.b = params.get("b", state.b)

    c = Client(lambda w: (page, on_action))
    reply = c.send("x", {"b": 1})
    assert reply["e"]["code"] == "render_error"
    # The type and a reference to the log line; never the exception's text.
    assert "fragile" in reply["e"]["message"] and "RuntimeError (ref " in reply["e"]["message"]
    assert "fragile broke" not in reply["e"]["message"]
    assert reply["d"] == {"count": {"0": "1"}}
    assert "fragile ok" in c.html()
    reply = c.send("x")
    assert "e" not in reply and reply["d"] == {"count": {"0": "2"}}
    reply = c.send("x", {"b": 0})
    assert "e" not in reply
    assert reply["d"]["count"] == {"0": "3"}


def test_component_that_fails_on_first_render_gets_a_placeholder() -> None:
    def bad() -> Any:
        raise KeyError("missing")

    def page() -> Any:
        return div(component("ok", lambda: span("fine")), component("bad", bad))

    c = Client(lambda w: (page, {}))
    assert c.html("bad") == '<div data-rc="bad" data-rweb-error=""></div>'
    assert "fine" in c.html()


def test_a_component_that_writes_what_it_reads_does_not_loop_forever() -> None:
    state = Pair()

    def greedy() -> Any:
        state.b = state.b + 1  # invalidates itself every time it renders
        return span(state.b)

    view = View(lambda: div(component("greedy", greedy)))
    view.mount()  # returns: the number of render passes is bounded
    assert [e.component for e in view.errors] == ["greedy"]
    assert "invalidating" in str(view.errors[0])


def test_component_re_rendered_in_a_later_pass_of_the_mount_is_sent_whole() -> None:
    # "total" renders first; "derive" (rendered after it) writes a field that
    # "total" read, so "total" renders again in a second pass of the same flush.
    state = Pair(a=1)

    def derive() -> Any:
        state.b = state.a * 10
        return span("derived")

    def page() -> Any:
        return div(
            component("total", lambda: span(state.a, "+", state.b)),
            component("derive", derive),
            button("x", data_action="x"),
        )

    init = App(session_setup=lambda w: (page, {})).session(1).mount()
    assert set(init["total"]) == {"s", "d"}, init["total"]
    assert rebuild(init["total"]) == '<span data-rc="total">1+10</span>'


def test_component_re_rendered_twice_in_one_dispatch_sends_all_its_changes() -> None:
    # "derive" is a child of "total", so it renders during total's render, after
    # total read b; its write to b makes total render again in a second pass.
    state = Pair(a=1, b=10)

    def derive() -> Any:
        state.b = state.a * 10
        return span("derived from ", state.a)

    def total() -> Any:
        return span(state.a, "+", state.b, component("derive", derive))

    def page() -> Any:
        return div(component("total", total), button("x", data_action="x"))

    c = Client(lambda w: (page, lambda a, p: setattr(state, "a", state.a + 1)))
    assert c.html("total").startswith('<span data-rc="total">1+10<')
    c.send("x")
    # Pass 1 changed slot 0 (a), pass 2 slot 2 (b): the browser must get both.
    assert c.html("total").startswith('<span data-rc="total">2+20<'), c.html("total")


def test_view_flush_with_nothing_dirty_returns_no_patches() -> None:
    view = View(lambda: div("static"))
    first = view.mount()
    assert first["root"]["d"] == [] and "static" in first["root"]["s"][0]  # (literal text: a static)
    assert view.flush() == {}
    assert not view.is_dirty
    view.close()
    assert view.comps == {}


def test_pages_share_one_copy_of_each_component_name() -> None:
    """Rows named per page (f"row-{i}") are held once for all pages: a worker holding thousands
    of pages keeps, and fetches, one string per name.  A str subclass is kept as it is."""

    class Name(str):
        pass

    def page() -> Any:
        return ul([component(f"row-{i}", lambda i=i: li(i)) for i in range(3)], component(Name("odd"), lambda: li("x")))

    one, two = View(page), View(page)
    one.mount()
    two.mount()
    for i in range(3):
        a, b = one.comps[f"row-{i}"], two.comps[f"row-{i}"]
        assert a is not b and a.name is b.name
    assert [n for n in one.root.children if n.startswith("row-")] == [one.comps[f"row-{i}"].name for i in range(3)]
    assert all(x is y for x, y in zip(one.root.children, two.root.children, strict=True) if type(x) is str)
    assert type(one.comps["odd"].name) is Name
    one.close()
    two.close()


def test_a_renders_dynamics_hold_no_containers_and_are_not_collected_compiled() -> None:
    """A render's dynamics are out of the cyclic collector (compiled build, View._settle):
    safe only while they hold strings and CRefs, which no cycle can go through.  Every kind
    of value a tree may hold is rendered here; a new kind that put a container in the
    dynamics would fail this test."""

    class Html:
        def __html__(self) -> str:
            return "<b>x</b>"

    state = Pair()

    def page() -> Any:
        return div(
            span(state.a), p(1.5), p("text"), p(Markup("<i>m</i>")), p(Html()), p(True), p(None),
            ul([li(i) for i in range(3)], (li(i) for i in range(2))),
            button("x", data_action="x", class_="on" if state.a else None, hidden=bool(state.a)),
            component("child", lambda: span(state.b)),
        )

    view = View(page)
    view.mount()
    state.a = 1
    view.flush()
    for c in view.comps.values():
        assert c.dyns and all(type(v) in (str, Markup, CRef) for v in c.dyns), c.dyns
        assert gc.is_tracked(c.dyns) is not rweb.COMPILED
    view.close()


def test_an_element_given_more_attribute_keys_than_values_fails_its_render_not_the_process() -> None:
    # An Element's attr_keys may be set from Python (its values, held with its children in one
    # tuple, may not): along a plan (compiled: indices unchecked), keys that outnumber the values
    # are refused before a value is read, and the full walk reports it.
    state = Pair()

    def row() -> Any:
        el = li("x", id="a", title=str(state.a))
        if state.a == 2:
            el = li("x", id="a")
            el.attr_keys = ("id", "title")  # the plan's count of keys, one value
        return el

    view = View(lambda: component("row", row))
    view.mount()
    state.a = 1
    assert view.flush() == {"row": {"1": ' title="1"'}}
    state.a = 2
    view.flush()
    assert view.errors and view.errors[0].component == "row"
    assert "2 attribute key(s) (attr_keys) for 1 value(s)" in str(view.errors[0])
    state.a = 3
    assert view.flush() == {"row": {"1": ' title="3"'}}
    view.close()


def test_an_elements_children_and_values_are_read_only() -> None:
    el = li("x", "y", id="a", title="t")
    assert el.children == ("x", "y") and el.attr_values == ("a", "t") and el.attr_keys == ("id", "title")
    assert li("x").attr_values == () and li(id="a").children == () and li().children == li().attr_values == ()
    assert el.attrs == {"id": "a", "title": "t"}
    for name in ("children", "attr_values"):
        with pytest.raises(AttributeError):
            setattr(el, name, ())


def test_no_list_the_collector_lists_has_empty_slots() -> None:
    # Compiled, a replay fills a list of empty (NULL) slots by index, and a render's list is kept
    # with its slots emptied for the next one: neither may reach Python, where gc.get_objects()
    # (memory tools use it) would hand it out and reading it would crash the process.
    state = Pair()

    def row() -> Any:
        return li(span(str(state.a)), "x", id=str(state.b), title="t")

    view = View(lambda: component("row", row))
    view.mount()
    for n in range(1, 6):
        state.a = n
        view.flush()
    # (A list's repr shows an empty slot as a bare <NULL>; reading it any other way would crash.)
    lists = [repr(o) for o in gc.get_objects() if type(o) is list]
    assert lists and not [r for r in lists if re.search(r"(\[|, )<NULL>", r)]
    view.close()
