"""Templates (rweb.html.Template): markup compiled once, holes filled at each render.

A template renders exactly what the same tree of element functions renders (its
literal attributes as statics, not slots), checks what it is given as an element
checks its attributes and children, and is refused when compiled if its source
puts a hole where escaping cannot make it safe.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rweb.render
from rweb import App, component, raw, reactive
from rweb.html import (
    Filled,
    Template,
    TemplateError,
    UnsafeAttributeError,
    UnsafeURLError,
    a,
    button,
    div,
    input_,
    label,
    li,
    p,
    span,
    to_html,
    ul,
)
from rweb.protocol import encode_init
from rweb.render import TooDeepError, View
from rweb.testing import serve

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

ROW = Template(
    "<li class={cls} data-key={key}><label><input type=checkbox checked={done} data-action=toggle "
    "data-param-id={key}><span>{title}</span></label>"
    '<button aria-label="Delete" data-action="delete" data-param-id={key}>x</button></li>'
)


def row_elements(cls: Any, key: Any, done: Any, title: Any) -> Any:
    return li(
        label(input_(type="checkbox", checked=done, data_action="toggle", data_param_id=key), span(title)),
        button("x", aria_label="Delete", data_action="delete", data_param_id=key),
        class_=cls,
        data_key=key,
    )


@pytest.mark.parametrize(
    "values",
    [
        {"cls": "done", "key": "7", "done": True, "title": "Write the report"},
        {"cls": None, "key": 3, "done": False, "title": 'a <b> & "c"'},
        {"cls": 'x" onclick="y', "key": "&lt;", "done": None, "title": span("inner", class_="i")},
        {"cls": False, "key": "k", "done": True, "title": [span("a"), "b", 4, None, raw("<i>r</i>")]},
    ],
)
def test_a_template_renders_what_the_same_elements_render(values: dict[str, Any]) -> None:
    assert to_html(ROW(**values)) == to_html(row_elements(**values))


def test_literal_text_and_attributes_are_written_out_escaped_whatever_their_spelling() -> None:
    t = Template("<p title='a &amp; \"b\"' data-x=1>1 &lt; 2 &amp; 3 > 2 &#65;</p>")
    assert to_html(t()) == '<p title="a &amp; &quot;b&quot;" data-x="1">1 &lt; 2 &amp; 3 &gt; 2 A</p>'
    # Script and style text is not decoded by browsers: kept as written, and it takes no hole.
    assert to_html(Template("<style>p > a {{ color: red }}</style>")()) == "<style>p > a { color: red }</style>"


def test_void_and_self_closed_elements() -> None:
    t = Template("<div><br><input value={v}/><span/></div>")
    assert to_html(t(v="x")) == '<div><br><input value="x"><span></span></div>'


@pytest.mark.parametrize(
    ("source", "error", "says"),
    [
        ("<li>{x}", TemplateError, "<li> is never closed"),
        ("<ul><li></ul>", TemplateError, "</ul> where </li> was expected"),
        ("</p>", TemplateError, "closes no open element"),
        ("<{tag}></div>", TemplateError, "cannot name an element"),
        ("<div {attrs}></div>", TemplateError, "not for attributes"),
        ("<div class='a {x}'></div>", TemplateError, "an attribute's whole value"),
        ("<div>{x}</div {y}>", TemplateError, "{y} stands where no value goes"),
        ("<div><!-- {x} --></div>", TemplateError, "no placeholder in a comment"),
        ("<script>var x = {x}</script>", TemplateError, "no placeholder in text browsers do not decode"),
        ("<style>{x}</style>", TemplateError, "no placeholder in text browsers do not decode"),
        ("<p>{x!r}</p>", TemplateError, "no format spec or conversion"),
        ("<p>{x:>4}</p>", TemplateError, "no format spec or conversion"),
        ("<p>{x.y}</p>", TemplateError, "a placeholder is a name"),
        ("<p>{}</p>", TemplateError, "a placeholder is a name"),
        ("<p>{</p>", TemplateError, "literal braces"),
        ("<br></br>", TemplateError, "void element"),
        ("<!DOCTYPE html><p></p>", TemplateError, "no declarations"),
        ("<p class=a class=b></p>", TemplateError, "given twice"),
        ("<p>\ue000</p>", TemplateError, "U+E000"),
        ("<button onclick='go()'>x</button>", UnsafeAttributeError, "event-handler attribute 'onclick' refused"),
        ("<a href='javascript:alert(1)'>x</a>", UnsafeURLError, "unsafe URL"),
        ("<iframe srcdoc='<p>x</p>'></iframe>", UnsafeAttributeError, "srcdoc"),
    ],
)
def test_a_source_that_cannot_be_made_safe_is_refused_when_compiled(source: str, error: type, says: str) -> None:
    with pytest.raises(error) as exc:
        Template(source)
    assert says in str(exc.value)


def test_attribute_holes_are_checked_at_render_as_an_elements_attributes() -> None:
    link = Template("<a href={url}>{text}</a>")
    assert to_html(link(url="/x?a=1&b=2", text="go")) == '<a href="/x?a=1&amp;b=2">go</a>'
    with pytest.raises(UnsafeURLError):
        to_html(link(url="javascript:alert(1)", text="go"))
    assert to_html(link(url=raw("javascript:void(0)"), text="go")) == '<a href="javascript:void(0)">go</a>'
    with pytest.raises(UnsafeAttributeError):
        to_html(Template("<iframe srcdoc={doc}></iframe>")(doc="<p>"))


def test_values_must_name_every_hole_and_no_other() -> None:
    with pytest.raises(TypeError, match=r"missing done, key, title \(it takes cls, done, key, title\)"):
        ROW(cls="a")
    with pytest.raises(TypeError, match="missing key; unexpected kee"):  # as many values: found out at the call
        ROW(cls="a", kee="1", done=True, title="t")
    with pytest.raises(TypeError, match="missing key; unexpected kee"):  # through a dict: the same check
        ROW(**{"cls": "a", "kee": "1", "done": True, "title": "t"})
    assert isinstance(ROW(cls="a", key="1", done=True, title="t"), Filled)
    # One made by hand, not by a template, is refused (compiled, it crashed the process): a TypeError,
    # or in plain Python the AttributeError of its slots never set.
    with pytest.raises((TypeError, AttributeError), match=r"made by calling its Template|has no attribute"):
        to_html(Filled.__new__(Filled))
    with pytest.raises((TypeError, AttributeError), match=r"made by calling its Template|has no attribute"):
        to_html(ul(Filled.__new__(Filled)))
    assert to_html(Template("<hr>")()) == "<hr>"


def test_holes_count_towards_the_depth_limit() -> None:
    deep = Template("<div><div><div>{inner}</div></div></div>")
    old = rweb.render.MAX_DEPTH
    rweb.render.MAX_DEPTH = 6
    try:
        assert to_html(deep(inner=span("ok"))) == "<div><div><div><span>ok</span></div></div></div>"
        with pytest.raises(TooDeepError):
            to_html(deep(inner=span(span(span("too deep")))))
    finally:
        rweb.render.MAX_DEPTH = old


@reactive
class Item:
    title: str
    done: bool


def _todo_view() -> tuple[View, list[Item]]:
    items = [Item(f"item {i}", i == 1) for i in range(3)]
    page = Template("<ul id=list>{rows}</ul><p>{n} items</p>")

    def row(i: int) -> Any:
        def render() -> Any:
            it = items[i]
            return ROW(cls="done" if it.done else None, key=str(i), done=it.done, title=it.title)

        return component(f"row-{i}", render)

    return View(lambda: page(rows=[row(i) for i in range(len(items))], n=len(items))), items


def test_a_component_re_renders_only_the_holes_that_changed() -> None:
    view, items = _todo_view()
    first = view.mount()
    assert first["row-1"]["s"][0] == '<li data-rc="row-1"'  # data-rc on the template's one element
    assert first["root"]["s"][0] == '<div data-rc="root"><ul id="list">'  # two elements: wrapped
    assert view.actions == {"toggle", "delete"}  # literal actions bind, as data-action=... does
    items[1].done = False
    assert view.flush() == {"row-1": {"0": "", "2": ""}}
    items[2].title = "<renamed>"
    assert view.flush() == {"row-2": {"4": "&lt;renamed&gt;"}}
    assert view.flush() == {}


@reactive
class Choice:
    cls: str = "a"
    act: str = "go"
    href: str = "/a"


def test_attribute_holes_re_rendered_take_each_value_and_still_bind_their_actions() -> None:
    # Filled again and again (values met before, values new, an action's and a URL's among them):
    # each render gives what a fresh one gives, and binds the action it names.
    state = Choice()
    tpl = Template("<a class={cls} data-action={act} href={href}>x</a>")
    view = View(lambda: component("b", lambda: tpl(cls=state.cls, act=state.act, href=state.href)))
    view.mount()
    for cls, act, href in [("b", "stop", "/b"), ("a", "go", "/a"), ("a", "stop", "/b"), ("<c>", "go", "/a")]:
        state.cls, state.act, state.href = cls, act, href
        view.flush()
        fresh = View(lambda: component("b", lambda: tpl(cls=state.cls, act=state.act, href=state.href)))
        fresh.mount()
        assert view.comps["b"].dyns == fresh.comps["b"].dyns
        assert view.actions == fresh.actions == {act}
    state.href = "javascript:alert(1)"
    view.flush()  # refused, as the first time: the component keeps its last render
    assert view.comps["b"].dyns == fresh.comps["b"].dyns


def test_rows_of_one_template_share_their_statics_on_the_wire() -> None:
    view, _ = _todo_view()
    view.share = True
    init = encode_init(view.mount())
    assert init.count(b"aria-label") == 1  # sent with the first row only; the others are "like" it


def test_the_todo_page_in_either_style_sends_the_same_page() -> None:
    """benchmarks/todo_app.py written with templates renders the page its element style renders."""
    from todo_app import todo_app

    from rweb.testing import Page

    pages = [Page(todo_app(style)) for style in ("elements", "template")]
    for pg in pages:
        pg.click('li[data-key="4"] input')
    rows = [[(el.get("class"), el.select("input")[0].has("checked"), el.select("span")[0].text)
             for el in pg.find_all("li")] for pg in pages]
    assert rows[0] == rows[1]
    assert rows[0][4] == ("done", True, "Write the report, part 5")  # 3 was done: 4 toggled on
    assert len(rows[0]) == 100


def test_the_first_paint_over_http_is_the_template_page() -> None:
    from todo_app import todo_app

    from rweb.testing import TestClient

    body = TestClient(todo_app("template")).get("/").text
    assert body.count('<li data-rc="row-') == 100
    assert '<li data-rc="row-0" class="done" data-key="0">' in body  # data-rc on the row's own element
    assert 'data-action="toggle" data-param-id="99"><span>Write the report, part 100</span>' in body


def test_a_template_page_over_a_real_socket(wire: Any) -> None:
    app = App("t")
    counter = Template("<div><button data-action=inc>+</button><output>{n}</output></div>")

    @app.page("/")
    def home(writer_id: Any) -> Any:
        box = _Box(0)

        def on_action(action: str, params: dict[str, Any]) -> None:
            box.n += 1

        return (lambda: counter(n=box.n)), on_action

    with serve(app) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url) as ws:
                init = await wire.recv(ws)
                assert init["t"] == "init"
                assert (await wire.click(ws, "inc"))["d"] == {"root": {"0": "1"}}
                unknown = await wire.ask(ws, {"action": "nope", "params": {}})
                assert unknown["e"]["code"] == "unknown_action", unknown  # only what the page binds is answered
                assert (await wire.click(ws, "inc"))["d"] == {"root": {"0": "2"}}

        wire.run(main())


@reactive
class _Box:
    n: int


def test_a_template_is_a_node_anywhere_an_element_is() -> None:
    badge = Template("<b>{n}</b>")
    assert to_html(ul(li(badge(n=1)), [badge(n=2)], a(badge(n=3), href="/"))) == (
        '<ul><li><b>1</b></li><b>2</b><a href="/"><b>3</b></a></ul>'
    )
    assert badge(n=raw("<i>x</i>")).__html__() == "<b><i>x</i></b>"


# A template whose holes each take one slot (an attribute, or text: a string, number or markup) is
# filled again along the plan its component holds (rweb.render._refill: its statics kept, each
# hole's last value remembered on the template, which every page shares); any other value in a
# text hole walks it in full.
PLANNED = Template(
    "<li class={cls} data-key={key}><a data-action={act} href={href}>{text}</a><span>{more}</span></li>"
)
_TEXTS: list[Any] = ["a", "b", 'x <y> & "z"', "", "a", 7, 2.5, None, True, raw("<i>r</i>"), span("el"), [span("l"), "t"]]
_ATTRS: list[Any] = ["a", "b", 'q"<', "", None, True, False, 3]
_ACTS: list[Any] = ["go", "stop", None, "go"]
_HREFS: list[Any] = ["/a", "/b", "#top", None]


def _planned(values: dict[str, Any]) -> Filled:
    return PLANNED(**values)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 2**32), min_size=2, max_size=10), st.integers(1, 3))
def test_a_template_filled_along_its_plan_renders_as_a_fresh_page(seeds: list[int], pages: int) -> None:
    # Pages (sessions) re-render one template's component with values drawn again and again: text,
    # numbers, markup, elements and lists in the text holes (these walk in full), the same text as
    # another page's, attributes present, absent and numbers.  Each render shows and binds what a
    # fresh page given the same values shows and binds.
    def draw(rng: random.Random) -> dict[str, Any]:
        return {"cls": rng.choice(_ATTRS), "key": rng.choice(_ATTRS), "act": rng.choice(_ACTS),
                "href": rng.choice(_HREFS), "text": rng.choice(_TEXTS), "more": rng.choice(_TEXTS)}

    first = draw(random.Random(seeds[0]))
    shown = [first] * pages
    views = []
    for k in range(pages):
        view = View(lambda k=k: component("t", lambda: _planned(shown[k])))
        view.mount()
        views.append(view)
    for seed in seeds:
        rng = random.Random(seed)
        k = rng.randrange(pages)
        shown[k] = draw(rng)
        comp = views[k].comps["t"]
        comp.invalidate()
        views[k].flush()
        now = shown[k]
        fresh = View(lambda now=now: component("t", lambda: _planned(now)))
        fresh.mount()
        want = fresh.comps["t"]
        assert (comp.statics, comp.dyns) == (want.statics, want.dyns), shown[k]
        assert views[k].actions == fresh.actions, shown[k]
        fresh.close()
    for view in views:
        view.close()


def test_a_template_holds_its_plan_while_its_holes_take_one_slot_each() -> None:
    values = {"cls": "a", "key": "1", "act": "go", "href": "/a", "text": "t", "more": "m"}
    view = View(lambda: component("t", lambda: _planned(values)))
    view.mount()
    comp = view.comps["t"]
    assert comp.plan is not None and comp.plan[1] is PLANNED and comp.plan[2] is comp.statics
    statics = comp.statics
    values["text"] = "u"
    comp.invalidate()  # (a plain dict: not tracked)
    assert view.flush() == {"t": {"4": "u"}}
    assert comp.plan[1] is PLANNED and comp.statics is statics
    # Numbers and markup are one slot's text too (the counter's `span(counter.value)`): refilled.
    for more, shown in ((7, "7"), (2.5, "2.5"), (raw("<i>r</i>"), "<i>r</i>"), (8, "8")):
        values["more"] = more
        comp.invalidate()
        assert view.flush() == {"t": {"5": shown}}
        assert comp.plan[1] is PLANNED and comp.statics is statics, more
    values["more"] = span("el")  # a hole holding an element: its statics are the element's too
    comp.invalidate()
    assert "s" in view.flush()["t"]
    assert comp.plan is None
    values["more"] = "m"
    comp.invalidate()
    view.flush()
    assert comp.plan is not None and comp.plan[1] is PLANNED and comp.statics == statics
    view.close()


# Whole numbers at the edges of a C long (the compiled build writes those that fit with Cython's
# formatter, render._int_text) and past them: each way a number reaches a slot shows str(n).
EDGES = [0, 7, -1, -5, 9, 10, 99, 100, 2**31, -(2**31), 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**30, -(10**30)]


@pytest.mark.usefixtures("elements_as_written")  # the element component walks its plan (_replay)
def test_whole_numbers_show_as_str_in_every_kind_of_slot() -> None:
    badge = Template('<b class="c">{n}</b>')
    at = {"i": 0}
    view = View(lambda: div(
        component("tpl", lambda: badge(n=EDGES[at["i"]])),  # a template's hole (_refill)
        component("el", lambda: p(span(EDGES[at["i"]]), EDGES[at["i"]])),  # a leaf and a child (_replay)
    ))
    view.mount()
    for i, n in enumerate(EDGES):
        assert to_html(span(n)) == f"<span>{n}</span>"  # the walk (_walk, _element's leaf)
        assert to_html([n, "x", n]) == f"{n}x{n}"
        at["i"] = i
        view.comps["tpl"].invalidate()
        view.comps["el"].invalidate()
        view.flush()
        assert view.comps["tpl"].dyns == [str(n)], n
        assert view.comps["el"].dyns == [str(n), str(n)], n
    # Refilled and replayed along their plans, not walked in full.
    assert view.comps["tpl"].plan is not None and view.comps["el"].plan is not None
    view.close()


def test_pages_share_a_template_plan() -> None:
    # One plan per statics (a row of one name on every page), not one tuple per component.
    values = {"cls": "a", "key": "1", "act": "go", "href": "/a", "text": "t", "more": "m"}
    views = [View(lambda: component("t", lambda: _planned(values))) for _ in range(3)]
    for view in views:
        view.mount()
    plans = {id(view.comps["t"].plan) for view in views}
    assert len(plans) == 1 and views[0].comps["t"].plan is not None
    for view in views:
        view.close()
