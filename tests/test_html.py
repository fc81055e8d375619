"""The HTML builder: elements, attributes, children, escaping, raw markup."""

from __future__ import annotations

import functools
from typing import Any

import pytest

import rweb
from rweb import html, raw
from rweb import render as R
from rweb.html import (
    Element,
    a,
    br,
    button,
    component,
    del_,
    div,
    escape,
    img,
    input_,
    label,
    li,
    p,
    span,
    to_html,
    ul,
)
from rweb.protocol import expand_statics
from rweb.render import View

XSS_TEXT = "<script>alert('x')</script> & \"q\""
XSS_TEXT_ESCAPED = (
    "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot;"
)
XSS_ATTR = '" onmouseover="alert(1)" x=\'<'


def page_html(fn: Any) -> str:
    """What the renderer (not to_html) produces for a page: statics and dyns joined."""
    view = View(fn)
    out = view.mount()["root"]
    s, d = expand_statics(out["s"]), out["d"]
    parts = [s[0]]
    for i, v in enumerate(d):
        parts.append(v)
        parts.append(s[i + 1])
    return "".join(parts)


# -- elements -----------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    "a abbr article aside b blockquote body button canvas code dd details dialog div dl dt "
    "em fieldset figure footer form h1 h2 h3 h4 h5 h6 head header html i iframe label legend "
    "li main nav ol option p pre section select small span strong style sub summary sup table "
    "tbody td template textarea tfoot th thead title tr u ul video".split(),
)
def test_every_standard_element_is_a_function(tag: str) -> None:
    build = getattr(html, tag)
    text = html.raw("x") if tag in ("script", "style") else "x"  # raw text only there: see below
    assert to_html(build(text)) == f"<{tag}>x</{tag}>"


@pytest.mark.parametrize(
    ("fn", "tag"),
    [("del_", "del"), ("object_", "object"), ("map_", "map"), ("input_", "input")],
)
def test_keyword_and_builtin_names_get_a_trailing_underscore(fn: str, tag: str) -> None:
    assert getattr(html, fn)().tag == tag
    if tag != "del":  # ``del`` is a keyword; the others are importable by name too
        assert getattr(html, tag) is getattr(html, fn)


def test_star_import_does_not_shadow_builtins() -> None:
    for name in ("input", "map", "object"):
        assert name not in html.__all__
    for name in ("input_", "map_", "object_", "del_", "div"):
        assert name in html.__all__


@pytest.mark.parametrize("tag", ["area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"])
def test_void_elements_render_without_closing_tag(tag: str) -> None:
    build = getattr(html, tag)
    assert to_html(build()) == f"<{tag}>"


def test_void_elements_in_a_rendered_page() -> None:
    out = page_html(lambda: div(input_(value="<x>", disabled=True), br(), img(src="a.png", alt="")))
    assert out == '<div data-rc="root"><input value="&lt;x&gt;" disabled><br><img src="a.png" alt=""></div>'


@pytest.mark.parametrize("build", [input_, br, img, html.hr, html.meta])
def test_void_elements_reject_children(build: Any) -> None:
    with pytest.raises(TypeError, match="void"):
        build("child")


def test_a_void_element_shows_no_children_however_it_was_made() -> None:
    # Element(...) takes children for a void element; no walk shows them (one text child included).
    for kids in [("x",), ("x", "y"), (span("x"),)]:
        assert to_html(div(Element("br", kids, {}, True))) == "<div><br></div>"
        assert page_html(lambda kids=kids: div(Element("br", kids, {}, True))) == '<div data-rc="root"><br></div>'


def test_element_repr_and_structure() -> None:
    el = div("a", span("b"), id="x")
    assert isinstance(el, Element)
    assert el.tag == "div" and el.attrs == {"id": "x"} and len(el.children) == 2
    assert "div" in repr(el)
    assert el.__html__() == '<div id="x">a<span>b</span></div>'


def test_element_functions_build_what_the_constructor_builds() -> None:
    # The element functions skip Element.__init__ for speed: every slot must still be set.
    for built, made in [
        (div("a", 1, id="x"), Element("div", ("a", 1), {"id": "x"})),
        (br(), Element("br", (), {}, True)),
        (input_(type="text", value="v"), Element("input", (), {"type": "text", "value": "v"}, True)),
    ]:
        assert type(built) is Element
        assert {k: getattr(built, k) for k in Element.__slots__} == {
            k: getattr(made, k) for k in Element.__slots__
        }


def test_element_functions_take_every_way_of_calling() -> None:
    # Compiled, a call with its arguments in place is the type's vectorcall (html.pxd); a call
    # through a tuple and a dict (``*args, **kwargs``, functools.partial, map) is __call__.
    expect = Element("li", ("a", 2), {"class_": "c", "data_key": "k"})
    children, attrs = ("a", 2), {"class_": "c", "data_key": "k"}
    for built in [
        li("a", 2, class_="c", data_key="k"),
        li(*children, **attrs),
        functools.partial(li, "a", class_="c")(2, data_key="k"),
        html.ElementFactory.__call__(li, "a", 2, class_="c", data_key="k"),
    ]:
        assert {k: getattr(built, k) for k in Element.__slots__} == {k: getattr(expect, k) for k in Element.__slots__}
    # The attributes are read-only (an element is made anew for other ones), in the order given.
    first = div(id="x", class_="c")
    with pytest.raises(TypeError):
        first.attrs["id"] = "y"  # type: ignore[index]
    assert first.attrs == {"id": "x", "class_": "c"} and list(first.attrs) == ["id", "class_"] and div().attrs == {}
    assert (first.attr_keys, first.attr_values) == (("id", "class_"), ("x", "c"))
    assert Element("p", (), {"title": "t"}).attr_keys == ("title",)
    assert list(map(span, ["a", "b"]))[1].children == ("b",)
    assert (br(), br(**{})) and input_(*(), type="text").attrs == {"type": "text"}
    for call in (lambda: br("x"), lambda: br(*["x"], id="i"), lambda: functools.partial(br, "x")()):
        with pytest.raises(TypeError, match="void element"):
            call()
    for call in (lambda: html.script("x"), lambda: html.style("x", id="s"), lambda: html.script(*["x"])):
        with pytest.raises(TypeError, match="not escaped by browsers"):
            call()


def test_an_element_function_for_another_tag() -> None:
    my_map = html.ElementFactory("my-map")
    assert (my_map.tag, my_map.void, my_map.raw) == ("my-map", False, False)
    assert repr(my_map) == "<element function my-map>" and repr(div) == "<element function div>"
    assert to_html(my_map(span("x"), data_zoom=3)) == '<my-map data-zoom="3"><span>x</span></my-map>'
    assert html.ElementFactory("br").void and html.ElementFactory("style").raw
    for tag in ("", None, 3):
        with pytest.raises(TypeError, match="non-empty string"):
            html.ElementFactory(tag)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid HTML tag"):  # a tag that is no name is refused where it renders
        to_html(html.ElementFactory("x onclick=alert(1)")())


def test_an_element_function_made_without_init_is_refused_where_it_renders() -> None:
    blank = html.ElementFactory.__new__(html.ElementFactory)
    with pytest.raises((ValueError, AttributeError)):  # compiled: no tag (ValueError); plain: an unset slot
        to_html(blank("x"))


def test_an_element_made_without_init_is_refused_not_a_crash() -> None:
    # Compiled, its fields are NULL-checked only where the walks read them: an error, never a crash,
    # in a full walk and along a plan (a page whose component returns it after a good render).
    blank = Element.__new__(Element)
    with pytest.raises((TypeError, ValueError, AttributeError)):
        to_html(div(blank))
    with pytest.raises((TypeError, AttributeError)):
        blank.attrs  # noqa: B018
    shown = [span("a")]
    view = R.View(lambda: component("c", lambda: shown[0]))
    view.mount()
    shown[0] = blank
    view.comps["c"].invalidate()
    view.flush()  # the component's error is collected, and logged; the page keeps its last render
    assert [type(e) for e in view.errors] == [R.RenderError] and view.comps["c"].dyns == ["a"]
    view.close()


# -- children -----------------------------------------------------------------


def gen() -> Any:
    yield li("g1")
    yield li("g2")


CHILDREN: list[tuple[str, Any, str]] = [
    ("string", "hi", "hi"),
    ("int", 42, "42"),
    ("negative", -3, "-3"),
    ("float", 1.5, "1.5"),
    ("element", span("s"), "<span>s</span>"),
    ("list", ["a", span("b"), 1], "a<span>b</span>1"),
    ("tuple", ("a", "b"), "ab"),
    ("nested_lists", [["a", ["b"]], ("c",)], "abc"),
    ("generator", gen(), "<li>g1</li><li>g2</li>"),
    ("none", None, ""),
    ("true", True, ""),
    ("false", False, ""),
    ("empty_list", [], ""),
    ("conditional", [False and span("no"), True and span("yes")], "<span>yes</span>"),
]


@pytest.mark.parametrize(("name", "child", "expected"), CHILDREN, ids=[c[0] for c in CHILDREN])
def test_children_kinds(name: str, child: Any, expected: str) -> None:
    if name == "generator":
        child = gen()  # the module-level one is spent once a test consumed it (a rerun in the same process)
    assert to_html(div(child)) == f"<div>{expected}</div>"


@pytest.mark.parametrize(("name", "child", "expected"), CHILDREN, ids=[c[0] for c in CHILDREN])
def test_renderer_handles_children_like_to_html(name: str, child: Any, expected: str) -> None:
    if name == "generator":
        child = gen()  # the module-level one is spent once a test consumed it
    assert page_html(lambda: div(child)) == f'<div data-rc="root">{expected}</div>'


def test_list_comprehension_children() -> None:
    assert to_html(ul([li(i) for i in range(3)])) == "<ul><li>0</li><li>1</li><li>2</li></ul>"


def test_component_renders_inline_in_to_html() -> None:
    assert to_html(div(component("c", lambda: span("in")))) == "<div><span>in</span></div>"


@pytest.mark.parametrize("name", ["", None, 3])
def test_component_requires_a_non_empty_name(name: Any) -> None:
    with pytest.raises(TypeError):
        component(name, lambda: "x")


def test_component_requires_a_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        component("c", "not callable")  # type: ignore[arg-type]


# -- attributes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"data_action": "inc"}, ' data-action="inc"'),
        ({"class_": "btn"}, ' class="btn"'),
        ({"for_": "name"}, ' for="name"'),
        ({"aria_label": "Close"}, ' aria-label="Close"'),
        ({"http_equiv": "refresh"}, ' http-equiv="refresh"'),
        ({"disabled": True}, " disabled"),
        ({"disabled": False}, ""),
        ({"title": None}, ""),
        ({"tabindex": 3}, ' tabindex="3"'),
        ({"value": 0}, ' value="0"'),
        ({"value": ""}, ' value=""'),
        ({"id": "a", "class_": "b"}, ' id="a" class="b"'),
    ],
)
def test_attributes(attrs: dict[str, Any], expected: str) -> None:
    assert to_html(button("x", **attrs)) == f"<button{expected}>x</button>"
    assert page_html(lambda: button("x", **attrs)) == f'<button data-rc="root"{expected}>x</button>'


def test_label_for_and_input_attributes() -> None:
    out = to_html(label("Name", for_="n")) + to_html(input_(id="n", type="text", required=True))
    assert out == '<label for="n">Name</label><input id="n" type="text" required>'


@pytest.mark.parametrize("key", ["on click", 'x"', "a>b", "a/b", "a=b", "a'b", "-<"])
def test_invalid_attribute_names_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="attribute"):
        to_html(div(**{key: "v"}))
    with pytest.raises(Exception, match="attribute"):
        View(lambda: div(**{key: "v"})).mount()


# -- escaping -----------------------------------------------------------------


def test_escape_all_five_characters() -> None:
    assert escape("& < > \" '") == "&amp; &lt; &gt; &quot; &#x27;"
    assert escape("&amp;") == "&amp;amp;"  # escaping is not idempotent: no double-decoding tricks
    assert escape("plain") == "plain"


def test_text_is_escaped() -> None:
    assert to_html(p(XSS_TEXT)) == f"<p>{XSS_TEXT_ESCAPED}</p>"
    assert page_html(lambda: p(XSS_TEXT)) == f'<p data-rc="root">{XSS_TEXT_ESCAPED}</p>'


@pytest.mark.skipif(rweb.COMPILED, reason="the compiled module keeps its cache private (test_build runs this file on the plain build)")
def test_the_attribute_markup_cache_is_bounded() -> None:
    for i in range(R._SHARED_MAX + 10):
        assert to_html(div(title=f"t{i}")) == f'<div title="t{i}"></div>'
        assert R._attr_count <= R._SHARED_MAX
        assert sum(map(len, R._attr_table.values())) == R._attr_count
    # Emptied on the way: what comes after is escaped, and remembered, again.
    for _ in range(2):
        assert to_html(div(title='"<&', data_x="t3")) == '<div title="&quot;&lt;&amp;" data-x="t3"></div>'


def test_attribute_values_are_escaped() -> None:
    expected = (
        '<a href="&quot; onmouseover=&quot;alert(1)&quot; x=&#x27;&lt;">t</a>'
    )
    assert to_html(a("t", href=XSS_ATTR)) == expected
    assert page_html(lambda: a("t", href=XSS_ATTR)) == expected.replace("<a ", '<a data-rc="root" ', 1)


def test_no_payload_breaks_out_of_an_attribute() -> None:
    for payload in (XSS_ATTR, "'><img src=x onerror=alert(1)>", '"><script>x</script>'):
        out = to_html(div(title=payload))
        # Exactly the two quotes that delimit the value, and no raw angle brackets inside.
        assert out.count('"') == 2 and out.count("<") == 2 and out.count(">") == 2, out


def test_stringified_objects_are_escaped() -> None:
    class Evil:
        def __str__(self) -> str:
            return "<b>evil</b>"

    assert to_html(div(Evil())) == "<div>&lt;b&gt;evil&lt;/b&gt;</div>"
    assert to_html(div(title=Evil())) == '<div title="&lt;b&gt;evil&lt;/b&gt;"></div>'
    assert page_html(lambda: div(Evil())) == '<div data-rc="root">&lt;b&gt;evil&lt;/b&gt;</div>'


def test_str_subclasses_are_escaped() -> None:
    class Name(str):
        pass

    assert to_html(div(Name("<i>"))) == "<div>&lt;i&gt;</div>"
    assert page_html(lambda: div(Name("<i>"))) == '<div data-rc="root">&lt;i&gt;</div>'


def test_raw_is_inserted_verbatim() -> None:
    markup = raw("<em>trusted</em>")
    assert to_html(div(markup, "<em>")) == "<div><em>trusted</em>&lt;em&gt;</div>"
    assert page_html(lambda: div(markup)) == '<div data-rc="root"><em>trusted</em></div>'


def test_raw_in_an_attribute_value_is_still_escaped() -> None:
    assert to_html(div(title=raw('"x"'))) == '<div title="&quot;x&quot;"></div>'


def test_objects_with_dunder_html_are_trusted() -> None:
    class Widget:
        def __html__(self) -> str:
            return "<b>w</b>"

    assert to_html(div(Widget())) == "<div><b>w</b></div>"
    assert page_html(lambda: div(Widget())) == '<div data-rc="root"><b>w</b></div>'


def test_a_str_with_dunder_html_is_trusted_in_a_url_attribute_like_raw() -> None:
    class Safe(str):  # markupsafe.Markup's shape: a str that says it is HTML
        def __html__(self) -> str:
            return self

    assert to_html(a("x", href=Safe("javascript:void(0)"))) == '<a href="javascript:void(0)">x</a>'
    assert to_html(a("x", href=raw("javascript:void(0)"))) == '<a href="javascript:void(0)">x</a>'


def test_to_html_of_plain_values() -> None:
    assert to_html("a<b") == "a&lt;b"
    assert to_html(None) == ""
    assert to_html([div(), del_("x")]) == "<div></div><del>x</del>"


def test_script_and_style_take_only_raw_text() -> None:
    """Browsers do not decode entities in <script> and <style>: escaped text would break, raw text could
    end the element early.  rweb refuses plain text there rather than render something wrong."""
    from rweb.html import raw, script, style, to_html

    with pytest.raises(TypeError, match="not escaped by browsers"):
        script("if (a < b) {}")
    with pytest.raises(TypeError, match="not escaped by browsers"):
        style("a > b { color: red }")
    assert to_html(script(raw("if (a < b) {}"))) == "<script>if (a < b) {}</script>"
    assert to_html(script(src="/static/app.js")) == '<script src="/static/app.js"></script>'
    assert to_html(style(raw("a > b { color: red }"))) == "<style>a > b { color: red }</style>"
