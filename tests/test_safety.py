"""Safety of what the renderer emits: escaping, URLs and attribute names, limits.

- Escaping: hypothesis builds arbitrary trees of text and attribute values;
  parsed back with ``html.parser``, the output has exactly the elements built,
  the text and the attribute values given (the page renderer, assembled from
  statics and dynamics as the browser does, and ``to_html``).
- URLs and attribute names: script-running URL schemes and ``on*`` handlers
  are refused at render time (``render_error`` for a page's component).
- Limits: a tree nested deeper than ``MAX_DEPTH`` (or components deeper than
  ``MAX_COMPONENT_DEPTH``) is a ``TooDeepError``, never a crashed worker.

The compiled build runs this file; the last test runs it again on the
plain-Python build (in a subprocess, from a copy of the package without extensions).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rweb
from rweb import ConnectionInfo, raw, reactive, render
from rweb import html as H
from rweb.core import _build
from rweb.html import (
    Element,
    UnsafeAttributeError,
    UnsafeURLError,
    a,
    button,
    check_url,
    component,
    div,
    form,
    iframe,
    img,
    input_,
    object_,
    source,
    span,
    to_html,
    url_scheme,
)
from rweb.protocol import assemble
from rweb.render import MAX_COMPONENT_DEPTH, MAX_DEPTH, RenderError, TooDeepError, View
from rweb.testing import Client, Served, serve

ROOT = Path(__file__).resolve().parent.parent
PLAIN_RUN = "RWEB_SAFETY_PLAIN"  # set when this file runs again on the plain-Python build
FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def page_html(fn: Any) -> str:
    """A page's HTML as the browser builds it: the statics and dynamics of every component, assembled."""
    view = View(fn)
    try:
        return assemble(view.mount())
    finally:
        view.close()


def nested(n: int, leaf: Any = "x", wrap: Any = div) -> Any:
    """``wrap(wrap(...wrap(leaf)))``, n deep, built without recursion."""
    tree = leaf
    for _ in range(n):
        tree = wrap(tree)
    return tree


def mount_error(fn: Any) -> RenderError:
    with pytest.raises(RenderError) as info:
        View(fn).mount()
    return info.value


def test_this_run_is_the_build_it_claims() -> None:
    if os.environ.get(PLAIN_RUN):
        assert not rweb.COMPILED and render.__file__.endswith(".py")


# -- escaping: property tests ----------------------------------------------------------


class Events(HTMLParser):
    """The parser's view of a document: start tags with attributes, text, end tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[Any, ...]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        if self.events and self.events[-1][0] == "data":
            self.events[-1] = ("data", self.events[-1][1] + data)
        else:
            self.events.append(("data", data))

    def unknown_decl(self, data: str) -> None:  # pragma: no cover - would be markup
        self.events.append(("decl", data))

    def handle_comment(self, data: str) -> None:  # pragma: no cover - would be markup
        self.events.append(("comment", data))

    def handle_pi(self, data: str) -> None:  # pragma: no cover - would be markup
        self.events.append(("pi", data))

    def handle_decl(self, decl: str) -> None:  # pragma: no cover - would be markup
        self.events.append(("decl", decl))


def parse(markup: str) -> list[tuple[Any, ...]]:
    parser = Events()
    parser.feed(markup)
    parser.close()
    return parser.events


# A built tree: ("text", s) or ("el", tag, [(key, value), ...], [children], as_component).
TAGS = ["div", "span", "p", "b", "em", "ul", "li", "section", "label", "button"]
ATTR_KEYS = ["title", "class_", "id", "data_x", "aria_label", "alt", "value", "data_action"]
texts = st.text(max_size=30)
leaf_trees = st.builds(lambda s: ("text", s), texts)


def _element_trees(children: Any) -> Any:
    return st.builds(
        lambda tag, attrs, kids, comp: ("el", tag, attrs, kids, comp),
        st.sampled_from(TAGS),
        st.lists(st.tuples(st.sampled_from(ATTR_KEYS), texts), max_size=3, unique_by=lambda kv: kv[0]),
        st.lists(children, max_size=4),
        st.booleans(),
    )


trees = st.recursive(leaf_trees, _element_trees, max_leaves=25)
root_trees = _element_trees(trees).map(lambda t: (*t[:4], False))  # the root is the page


def build(tree: Any, names: Iterator[int], page: bool) -> Any:
    """The rweb tree for ``tree`` (components on the page only: to_html renders them inline alike)."""
    if tree[0] == "text":
        return tree[1]
    _, tag, attrs, kids, comp = tree
    name = f"c{next(names)}" if comp and page else None  # numbered in document order
    el = getattr(H, tag)(*[build(k, names, page) for k in kids], **dict(attrs))
    return el if name is None else component(name, lambda: el)


def expected(tree: Any, names: Iterator[int], page: bool, rc: str | None = None) -> list[tuple[Any, ...]]:
    """The parser events that the HTML of ``tree`` must give."""
    if tree[0] == "text":
        return [("data", tree[1])] if tree[1] else []
    _, tag, attrs, kids, comp = tree
    if comp and page and rc is None:
        rc = f"c{next(names)}"
    names_values = [(H.attr_name(k), v) for k, v in attrs]
    out: list[tuple[Any, ...]] = [("start", tag, ([("data-rc", rc)] if rc else []) + names_values)]
    for k in kids:
        for ev in expected(k, names, page):
            if ev[0] == "data" and out[-1][0] == "data":
                out[-1] = ("data", out[-1][1] + ev[1])
            else:
                out.append(ev)
    out.append(("end", tag))
    return out


@FAST
@given(root_trees)
def test_to_html_never_produces_markup_from_text_or_attribute_values(tree: Any) -> None:
    assert parse(to_html(build(tree, count(), page=False))) == expected(tree, count(), page=False)


@FAST
@given(root_trees)
def test_the_page_renderer_never_produces_markup_from_text_or_attribute_values(tree: Any) -> None:
    root = build(tree, count(), page=True)
    assert parse(page_html(lambda: root)) == expected(tree, count(), page=True, rc="root")


def build_template(tree: Any, names: Iterator[int], page: bool) -> Any:
    """:func:`build`, every element a :class:`~rweb.html.Template` whose attributes and children are holes."""
    if tree[0] == "text":
        return tree[1]
    _, tag, attrs, kids, comp = tree
    name = f"c{next(names)}" if comp and page else None  # numbered in document order, as build does
    holes = "".join(f" {H.attr_name(k)}={{a{i}}}" for i, (k, _) in enumerate(attrs))
    source = f"<{tag}{holes}>" + "".join(f"{{k{j}}}" for j in range(len(kids))) + f"</{tag}>"
    values = {f"a{i}": v for i, (_, v) in enumerate(attrs)}
    values.update({f"k{j}": build_template(kid, names, page) for j, kid in enumerate(kids)})
    node = H.Template(source)(**values)
    return node if name is None else component(name, lambda: node)


@FAST
@given(root_trees)
def test_templates_never_produce_markup_from_text_or_attribute_values(tree: Any) -> None:
    assert parse(to_html(build_template(tree, count(), page=False))) == expected(tree, count(), page=False)
    root = build_template(tree, count(), page=True)
    assert parse(page_html(lambda: root)) == expected(tree, count(), page=True, rc="root")


@FAST
@given(st.text(), st.text())
def test_one_text_and_one_attribute_value_round_trip(text: str, value: str) -> None:
    want = [("start", "p", [("title", value)]), *([("data", text)] if text else []), ("end", "p")]
    assert parse(to_html(H.p(text, title=value))) == want
    rc_want = [("start", "p", [("data-rc", "root"), ("title", value)]), *want[1:]]
    assert parse(page_html(lambda: H.p(text, title=value))) == rc_want


# -- URLs ---------------------------------------------------------------------------------

UNSAFE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\x00\x01 \tjavascript:alert(1)",
    "\njavascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\rscript:alert(1)",
    "javascript\t:alert(1)",
    "jav\x00ascript:alert(1)",  # browsers read no scheme there; refused anyway (err on the safe side)
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    " DATA:text/html,x",
    "data:image/svg+xml,<svg onload=alert(1)>",  # outside <img src>
    "file:///etc/passwd",
    "blob:https://example.com/uuid",
]

SAFE_URLS = [
    "",
    "/",
    "/items/3?q=1#top",
    "items/3",
    "./x",
    "../x",
    "#anchor",
    "?q=javascript:alert(1)",
    "/javascript:alert(1)",
    "./javascript:alert(1)",
    "javascript",  # a relative path
    "&#x6a;avascript:alert(1)",  # text: escaped, the browser sees '&#x6a;...' literally
    "java script:alert(1)",  # no scheme (a space)
    "\u200bjavascript:alert(1)",  # no scheme (not a letter first)
    "http://example.com/",
    "HTTPS://example.com/a?b=c",
    "//cdn.example.com/x.js",
    "mailto:someone@example.com",
    "tel:+33123456789",
]


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="unsafe URL"):
        check_url(url)
    with pytest.raises(UnsafeURLError):
        to_html(a("x", href=url))
    err = mount_error(lambda: div(a("x", href=url)))
    assert isinstance(err.cause, UnsafeURLError)
    assert "UnsafeURLError" in err.public and url not in err.public  # the browser is told the type only


@pytest.mark.parametrize("url", SAFE_URLS)
def test_safe_urls_render(url: str) -> None:
    check_url(url)
    out = to_html(a("x", href=url))
    assert parse(out) == [("start", "a", [("href", url)]), ("data", "x"), ("end", "a")]
    assert page_html(lambda: a("x", href=url)) == out.replace("<a", '<a data-rc="root"', 1)


def test_url_scheme_reads_what_a_browser_reads() -> None:
    assert url_scheme(" \x01JavaScript:x") == "javascript"
    assert url_scheme("java\t\nscript:x") == "javascript"
    assert url_scheme("java\tscript:alert('a:b')") == "javascript"  # the first colon ends the scheme
    assert url_scheme("c:/x") == "c"  # one letter is a scheme too
    assert url_scheme("HTTPS://x") == "https"
    assert url_scheme("web+app:x") == "web+app"
    assert url_scheme("/a:b") == url_scheme("a/b:c") == url_scheme("1a:b") == url_scheme(":x") == ""
    assert url_scheme("data:image/png;base64,AAAA") == url_scheme("data: Image/gif,x") == "data:image/"
    assert url_scheme("data:text/plain,x") == "data"


URL_PLACES = [
    (a, "href"),
    (H.area, "href"),
    (H.link, "href"),
    (H.base, "href"),
    (iframe, "src"),
    (H.script, "src"),
    (H.embed, "src"),
    (img, "src"),
    (H.video, "poster"),
    (H.video, "src"),
    (form, "action"),
    (button, "formaction"),
    (input_, "formaction"),
    (H.blockquote, "cite"),
    (H.q, "cite"),
    (H.del_, "cite"),
    (H.body, "background"),
    (H.html, "manifest"),
    (object_, "data"),
    (object_, "codebase"),
    (H.svg, "xlink:href"),
    (H.path, "href"),
    (a, "ping"),
    (img, "srcset"),
    (source, "srcset"),
    (H.link, "imagesrcset"),
    (img, "longdesc"),
    (img, "usemap"),
]


@pytest.mark.parametrize(("build_el", "attr"), URL_PLACES)
def test_every_url_attribute_is_checked(build_el: Any, attr: str) -> None:
    with pytest.raises(UnsafeURLError):
        to_html(build_el(**{attr: "javascript:alert(1)"}))
    with pytest.raises(UnsafeURLError):  # any case: HTML attribute names are case-insensitive
        to_html(build_el(**{attr.upper(): "javascript:alert(1)"}))
    assert "https://example.com/x" in to_html(build_el(**{attr: "https://example.com/x"}))
    # raw() is the escape hatch: a value the app's author vouches for.
    assert "javascript:void(0)" in to_html(build_el(**{attr: raw("javascript:void(0)")}))


def test_url_lists_are_checked_url_by_url() -> None:
    ok = "a.png 1x, https://cdn.example.com/b.png 2x,/c.png 300w"
    assert to_html(img(srcset=ok)) == f'<img srcset="{ok}">'
    bare = "/a.png 1x,https://cdn.example.com/b.png 2x,data:image/png;base64,AAAA 3x"  # no space after a comma
    assert to_html(img(srcset=bare)) == f'<img srcset="{bare}">'
    for bad in ("a.png 1x,javascript:alert(1) 2x", "a.png 1x, javascript:x", "javascript:x 1x"):
        with pytest.raises(UnsafeURLError):
            to_html(img(srcset=bad))
    assert to_html(a("x", ping="/p1 https://e.com/p2")) == '<a ping="/p1 https://e.com/p2">x</a>'
    with pytest.raises(UnsafeURLError):
        to_html(a("x", ping="/p1 javascript:x"))


def test_data_image_urls_only_where_an_image_is_shown() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    assert to_html(img(src=png)) == f'<img src="{png}">'
    assert to_html(source(srcset=png + " 1x")) == f'<source srcset="{png} 1x">'
    svg = "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>"
    assert "data:image/svg+xml" in to_html(img(src=svg))  # an image runs no script
    for el in (iframe(src=png), a("x", href=png), H.embed(src=png), object_(data=png), H.script(src=png)):
        with pytest.raises(UnsafeURLError, match="'data'"):
            to_html(el)
    with pytest.raises(UnsafeURLError):
        to_html(img(src="data:text/html,x"))


def test_data_is_a_url_on_object_only() -> None:
    assert to_html(div(data="javascript:x")) == '<div data="javascript:x"></div>'  # no URL there
    with pytest.raises(UnsafeURLError, match=r"<object data=\.\.\.>"):
        to_html(object_(data="javascript:x"))
    with pytest.raises(UnsafeURLError, match=r"<OBJECT data=\.\.\.>"):
        to_html(Element("OBJECT", (), {"DATA": "javascript:x"}))


def test_a_refused_url_says_where_it_was_what_it_was_and_what_is_allowed() -> None:
    with pytest.raises(UnsafeURLError) as info:
        to_html(iframe(src="javascript:alert(1)"))
    message = str(info.value)
    assert "<iframe src=...>" in message and "'javascript'" in message and "'javascript:alert(1)'" in message
    assert "allowed: relative URLs, http, https, mailto, tel" in message and "raw()" in message
    with pytest.raises(UnsafeURLError, match=r"<a href=\.\.\.>"):  # check_url's place by default
        check_url("vbscript:x")
    long = "javascript:" + "x" * 500  # a long one is cut, not copied whole into the log
    with pytest.raises(UnsafeURLError) as info:
        check_url(long)
    assert long[:30] in str(info.value) and long not in str(info.value) and len(str(info.value)) < 300


def test_non_string_values_are_checked_as_rendered() -> None:
    class Link:
        def __str__(self) -> str:
            return "javascript:alert(1)"

    with pytest.raises(UnsafeURLError):
        to_html(a("x", href=Link()))
    assert to_html(a("x", href=3)) == '<a href="3">x</a>'
    assert to_html(a("x", href=True)) == "<a href>x</a>"
    assert to_html(a("x", href=None)) == "<a>x</a>"


def test_the_allowed_schemes_are_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnsafeURLError, match="'sms'"):
        to_html(a("x", href="sms:+331234"))
    monkeypatch.setattr(H, "SAFE_URL_SCHEMES", H.SAFE_URL_SCHEMES | {"sms"})
    assert to_html(a("x", href="sms:+331234")) == '<a href="sms:+331234">x</a>'
    monkeypatch.setattr(H, "SAFE_URL_SCHEMES", frozenset({"https"}))
    assert to_html(a("x", href="https://e.com/")) == '<a href="https://e.com/">x</a>'
    with pytest.raises(UnsafeURLError, match="'http'"):
        to_html(a("x", href="http://e.com/"))


@reactive
class Profile:
    website: str
    clicks: int = 0


def test_user_data_from_an_action_is_checked_and_the_component_keeps_its_last_render() -> None:
    profile = Profile("https://example.com/")

    def setup(writer_id: Any) -> Any:
        def page() -> Any:
            return div(
                component("link", lambda: div(a("home page", href=profile.website))),
                component("clicks", lambda: span(profile.clicks)),
                button("save", data_action="save"),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "save":
                profile.website = params["website"]
                profile.clicks += 1

        return page, on_action

    c = Client(setup)
    before = c.html("link")
    reply = c.send("save", {"website": " JavaScript:alert(document.cookie)"})
    assert reply["e"]["code"] == "render_error"
    assert "UnsafeURLError" in reply["e"]["message"] and "cookie" not in reply["e"]["message"]
    assert c.html("link") == before  # the last render stays
    assert reply["d"] == {"clicks": {"0": "1"}}  # the rest of the page is updated
    reply = c.send("save", {"website": "/me"})
    assert "e" not in reply and 'href="/me"' in c.html("link")


# -- attribute names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["onclick", "onClick", "ONLOAD", "onmouseover", "on_click", "onerror_", "onfocus", "on"]
)
def test_event_handler_attributes_are_refused(key: str) -> None:
    with pytest.raises(UnsafeAttributeError, match="data-action"):
        to_html(div(**{key: "alert(1)"}))
    with pytest.raises(UnsafeAttributeError):  # a trusted value does not make the name safe
        to_html(div(**{key: raw("alert(1)")}))
    err = mount_error(lambda: div(**{key: "alert(1)"}))
    assert isinstance(err.cause, UnsafeAttributeError)


@pytest.mark.parametrize(
    "key",
    ["on click", "a b", 'x"', "x'", "a>b", "a/b", "a=b", "a<b", "a\x00b", "a\tb", "a\nb", "\x7f", "é", "a`b", "", "_"],
)
def test_attribute_names_that_are_not_names_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="attribute"):
        to_html(div(**{key: "v"}))
    assert key not in H._ATTR_NAMES


def test_rweb_binding_attributes_and_ordinary_names_stay_allowed() -> None:
    out = to_html(
        div(
            data_action="go", data_oninput="typed", data_onchange="changed", data_onsubmit="sent",
            data_param_item_id="7", data_on_click="x", style="color: red", aria_label="l",
            **{"xlink:href": "#icon", "@click": "open = true", "x.y": "1"},
        )
    )
    assert out == (
        '<div data-action="go" data-oninput="typed" data-onchange="changed" data-onsubmit="sent" '
        'data-param-item-id="7" data-on-click="x" style="color: red" aria-label="l" '
        'xlink:href="#icon" @click="open = true" x.y="1"></div>'
    )


def test_mixed_case_action_attributes_still_bind_their_action() -> None:
    view = View(lambda: div(button("go", **{"DATA-ACTION": "go"})))
    view.mount()
    assert view.actions == {"go"}


def test_srcdoc_takes_trusted_markup_only() -> None:
    with pytest.raises(UnsafeAttributeError, match="srcdoc"):
        to_html(iframe(srcdoc="<script>alert(1)</script>"))
    with pytest.raises(UnsafeAttributeError):
        to_html(iframe(SRCDOC="<p>hi</p>"))
    assert to_html(iframe(srcdoc=raw("<p>hi</p>"))) == '<iframe srcdoc="&lt;p&gt;hi&lt;/p&gt;"></iframe>'


@pytest.mark.parametrize("tag", ["img src=x onerror=alert(1)", "a>", "", "1a", "x/y", "é"])
def test_tag_names_that_are_not_names_are_refused(tag: str) -> None:
    with pytest.raises(ValueError, match="tag name"):
        to_html(Element(tag, (), {}))
    with pytest.raises(ValueError, match="tag name"):
        to_html(div(Element(tag, ("x",), {})))
    assert isinstance(mount_error(lambda: Element(tag, (), {"id": "x"})).cause, ValueError)
    assert to_html(Element("my-widget", ("x",), {})) == "<my-widget>x</my-widget>"


def test_the_attribute_name_cache_is_bounded() -> None:
    for i in range(H._ATTR_NAMES_MAX + 10):
        H.attr_name(f"data_n{i}")
        assert len(H._ATTR_NAMES) <= H._ATTR_NAMES_MAX
    assert to_html(div(data_action="x")) == '<div data-action="x"></div>'


@pytest.mark.skipif(rweb.COMPILED, reason="the compiled module keeps its cache private (the plain run checks it)")
def test_the_url_scheme_cache_is_bounded() -> None:
    for i in range(H._SCHEMES_MAX + 10):
        assert url_scheme(f"https://e.example/{i}") == "https"
        assert len(H._schemes) <= H._SCHEMES_MAX


@FAST
@given(st.text(alphabet=list("javscriptJAVSCRIPTdDtT:/# \t\n\r\x00\x01\x1f&;"), max_size=14))
def test_no_script_scheme_gets_through(url: str) -> None:
    # What a browser does before reading the scheme: strip leading and trailing
    # C0 controls and spaces, drop tabs and newlines.
    seen = "".join(ch for ch in url.strip("".join(map(chr, range(33)))) if ch not in "\t\n\r").lower()
    dangerous = seen.startswith(("javascript:", "vbscript:", "data:"))
    try:
        to_html(a("x", href=url))
    except UnsafeURLError:
        return
    assert not dangerous, repr(url)


# -- limits: how deep a tree may nest --------------------------------------------------------


def test_a_50000_deep_tree_is_refused_by_to_html() -> None:
    with pytest.raises(TooDeepError, match="too deep"):
        to_html(nested(50_000))


def test_the_limit_is_max_depth_levels() -> None:
    assert MAX_DEPTH == 512
    assert to_html(nested(MAX_DEPTH)).count("<div>") == MAX_DEPTH
    assert to_html(nested(MAX_DEPTH - 1, span("x"))).count("<span>") == 1  # a leaf counts too
    with pytest.raises(TooDeepError):
        to_html(nested(MAX_DEPTH + 1))
    with pytest.raises(TooDeepError):
        to_html(nested(MAX_DEPTH, span("x")))
    assert page_html(lambda: nested(MAX_DEPTH)).count("<div") == MAX_DEPTH
    with pytest.raises(RenderError):
        page_html(lambda: nested(MAX_DEPTH + 1))


def test_the_limit_is_a_module_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "MAX_DEPTH", 10)
    assert to_html(nested(10)).count("<div>") == 10
    with pytest.raises(TooDeepError, match="10 levels"):
        to_html(nested(11))
    assert isinstance(mount_error(lambda: nested(11)).cause, TooDeepError)


def test_a_50000_deep_page_fails_to_render_and_the_view_lives_on() -> None:
    deep = Profile("x")

    def page() -> Any:
        return div(
            component("deep", lambda: nested(50_000) if deep.clicks else div("shallow")),
            component("n", lambda: span(deep.website)),
        )

    view = View(page)
    view.mount()
    deep.clicks = 1
    deep.website = "y"
    patches = view.flush()
    assert patches == {"n": {"0": "y"}}  # "deep" keeps its last render
    (err,) = view.errors
    assert err.component == "deep" and isinstance(err.cause, TooDeepError)
    assert "TooDeepError" in err.public
    deep.clicks = 0  # it read clicks before failing: it renders again, as the browser still shows it
    assert view.flush() == {} and not view.errors
    assert mount_error(lambda: nested(50_000)).component == "root"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda n: nested(n, wrap=lambda t: [t]), id="lists"),
        pytest.param(lambda n: nested(n, wrap=lambda t: (t,)), id="tuples"),
        pytest.param(lambda n: nested(n, wrap=lambda t: (x for x in [t])), id="generators"),
        pytest.param(lambda n: nested(n, wrap=lambda t: div([t])), id="elements-in-lists"),
    ],
)
def test_deeply_nested_children_of_any_kind_are_refused(make: Any) -> None:
    with pytest.raises(TooDeepError):
        to_html(div(make(50_000)))
    err = mount_error(lambda: div(make(50_000)))
    assert isinstance(err.cause, TooDeepError)
    assert to_html(div(make(100))).count("x") == 1


def test_lazily_nested_generators_are_refused() -> None:
    def gen(n: int) -> Iterator[Any]:
        yield gen(n - 1) if n else "x"

    with pytest.raises(TooDeepError):
        to_html(div(gen(50_000)))
    assert to_html(div(gen(50))) == "<div>x</div>"


def test_objects_rendering_themselves_count_their_nesting() -> None:
    class Box:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __html__(self) -> str:
            return to_html(div(self.inner))

    assert to_html(nested(20, wrap=Box)) == "<div>" * 20 + "x" + "</div>" * 20
    with pytest.raises(TooDeepError):
        to_html(nested(50_000, wrap=Box))
    assert isinstance(mount_error(lambda: div(nested(50_000, wrap=Box))).cause, TooDeepError)


def test_element_subclasses_render_as_elements() -> None:
    class Card(Element):
        __slots__ = ()

    card = Card("div", ("x",), {"class_": "card"})
    assert to_html(card) == '<div class="card">x</div>'
    assert to_html(div(card)) == '<div><div class="card">x</div></div>'
    assert page_html(lambda: div(card)) == '<div data-rc="root"><div class="card">x</div></div>'


def chain(n: int, inner: Any = "x") -> Any:
    """Components nested n deep, each made when its parent renders."""

    def make(i: int) -> Any:
        if i == n:
            return inner
        return component(f"c{i}", lambda: div(make(i + 1)))

    return make(0)


def test_components_nested_10000_deep_are_refused() -> None:
    view = View(lambda: div(chain(10_000)))
    out = view.mount()  # the root renders; the component that went too deep fails
    (err,) = view.errors
    assert isinstance(err.cause, TooDeepError) and "MAX_COMPONENT_DEPTH" in str(err.cause)
    assert err.component == f"c{MAX_COMPONENT_DEPTH - 1}"  # the parent of the one too deep
    assert len(view.comps) == MAX_COMPONENT_DEPTH + 1
    assert 'data-rweb-error=""' in assemble(out)
    view.close()
    with pytest.raises(TooDeepError):
        to_html(chain(50_000))


def test_components_at_both_limits_render() -> None:
    # MAX_COMPONENT_DEPTH components, then elements up to MAX_DEPTH levels in all:
    # the most calls a render can nest, in either build.
    used = 1 + 2 * MAX_COMPONENT_DEPTH  # the root's <div>; each component and its <div>
    view = View(lambda: div(chain(MAX_COMPONENT_DEPTH, nested(MAX_DEPTH - used))))
    html = assemble(view.mount())
    assert not view.errors
    assert html.count("<div") == 1 + MAX_COMPONENT_DEPTH + MAX_DEPTH - used
    view.close()
    view = View(lambda: div(chain(MAX_COMPONENT_DEPTH, nested(MAX_DEPTH - used + 1))))
    view.mount()
    (err,) = view.errors
    assert err.component == f"c{MAX_COMPONENT_DEPTH - 1}" and isinstance(err.cause, TooDeepError)
    view.close()


def test_a_child_re_rendered_alone_keeps_its_place_in_the_depth() -> None:
    state = Profile("x")
    room = MAX_DEPTH - 3  # less the root's <div>, the component, its <div>

    def page() -> Any:
        return div(component("c", lambda: div(nested(room + state.clicks))))

    view = View(page)
    view.mount()
    assert not view.errors
    state.clicks = 1  # one level more: re-rendered alone, it fails as it does in place
    view.flush()
    (err,) = view.errors
    assert err.component == "c" and isinstance(err.cause, TooDeepError)
    view.close()
    view = View(page)
    view.mount()
    assert [e.component for e in view.errors] == ["c"]
    state.clicks = 0  # it read clicks before failing: it renders again, and now fits
    assert "s" in view.flush()["c"] and not view.errors
    view.close()


# -- through the real server ----------------------------------------------------------------


def deep_app_setup(writer_id: Any, conn: ConnectionInfo) -> Any:
    """``?deep`` pages are 50,000 levels deep; others have a counter and a component that can go deep."""
    state = Profile("x")
    if "deep" in conn.query:
        return (lambda: div(nested(50_000))), {}
    if "components" in conn.query:
        return (lambda: div(chain(10_000))), {}

    def page() -> Any:
        return div(
            component("count", lambda: span(state.clicks)),
            component("deep", lambda: nested(50_000) if state.website == "deep" else div("ok")),
            button("+", data_action="inc"),
            button("deep", data_action="deep"),
        )

    def on_action(action: str, params: dict[str, Any]) -> None:
        if action == "inc":
            state.clicks += 1
        elif action == "deep":
            state.website = "deep"

    return page, on_action


def http_get(srv: Served, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_deep_pages_through_the_real_server(wire: Any) -> None:
    with serve(deep_app_setup) as srv:
        status, body = http_get(srv, "/?deep=1")
        assert status == 500 and "failed to load" in body and "too deep" not in body
        status, body = http_get(srv, "/?components=1")
        assert status == 200 and 'data-rweb-error=""' in body
        status, body = http_get(srv, "/")
        assert status == 200 and '<div data-rc="deep">ok</div>' in body

        async def main() -> None:
            async with wire.connect(srv.ws_url) as other:
                assert (await wire.recv(other))["t"] == "init"
                assert (await wire.click(other, "inc"))["d"] == {"count": {"0": "1"}}
                async with wire.connect(srv.ws_url + "?deep=1") as ws:
                    msg = await wire.recv(ws)
                    assert msg["e"]["code"] == "render_error" and "RenderError" in msg["e"]["message"]
                async with wire.connect(srv.ws_url + "?components=1") as ws:
                    assert (await wire.recv(ws))["t"] == "init"
                async with wire.connect(srv.ws_url) as ws:
                    await wire.recv(ws)
                    reply = await wire.click(ws, "deep")
                    assert reply["e"]["code"] == "render_error" and "TooDeepError" in reply["e"]["message"]
                    assert reply["d"] == {}
                    assert (await wire.click(ws, "inc"))["d"] == {"count": {"0": "1"}}
                # The other session never noticed.
                assert (await wire.click(other, "inc"))["d"] == {"count": {"0": "2"}}

        wire.run(main())
        status, _ = http_get(srv, "/")
        assert status == 200


def test_unsafe_urls_through_the_real_server(wire: Any) -> None:
    def setup(writer_id: Any) -> Any:
        profile = Profile("/")

        def page() -> Any:
            return div(component("link", lambda: a("site", href=profile.website)), button("s", data_action="set"))

        def on_action(action: str, params: dict[str, Any]) -> None:
            profile.website = params["url"]

        return page, on_action

    with serve(setup) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url) as ws:
                await wire.recv(ws)
                bad = await wire.ask(ws, {"action": "set", "params": {"url": "java\tscript:alert(1)"}})
                assert bad["e"]["code"] == "render_error" and "UnsafeURLError" in bad["e"]["message"]
                good = await wire.ask(ws, {"action": "set", "params": {"url": "https://example.com/"}})
                assert "e" not in good and json.dumps(good["d"]).count("https://example.com/") == 1

        wire.run(main())


# -- the plain-Python build -----------------------------------------------------------------


@pytest.mark.skipif(bool(os.environ.get(PLAIN_RUN)), reason="this is the plain-Python run")
@pytest.mark.skipif(not rweb.COMPILED, reason="the plain-Python build is the one under test already")
def test_the_plain_python_build_passes_these_tests(tmp_path: Path) -> None:
    pure = _build.copy_plain_python(tmp_path / "src")
    env = {
        **os.environ,
        "PYTHONPATH": str(pure),
        "RWEB_EXPECT_COMPILED": "",
        PLAIN_RUN: "1",
        "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis"),  # not in tests/
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_safety.py"],
        cwd=ROOT / "tests", env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
