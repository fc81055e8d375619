"""rweb.dom: the HTML parser and the CSS selector subset, on hand-checked documents."""

from __future__ import annotations

import re

import pytest

from rweb.dom import Element, Text, compile_selector, parse_html, select

# Hand-checked: the ids each selector below matches were worked out by reading this.
SHOP = """
<div id="page" class="shop main">
  <h1 id="title">Shop &amp; more</h1>
  <ul id="items" class="list">
    <li id="i1" class="item done" data-key="k-1"><a id="l1" href="/items/1" data-navigate>One</a></li>
    <li id="i2" class="item" data-key="k-2"><a id="l2" href="/items/2?x=1&amp;y=2">Two</a>
    <li id="i3" class="item done special" data-key="k-3"><span id="s3">Three <b id="b3">!</b></span>
    <li id="i4" class="item" lang="en-GB" title="a &quot;quoted&quot; title">Four
  </ul>
  <p id="p1">First<p id="p2">Second <br id="br"> line
  <form id="f" data-onsubmit="save">
    <input id="name" name="name" value="it&#39;s">
    <input id="agree" type=checkbox name=agree checked>
    <select id="sel" name="sel"><option id="o1" value="1">One<option id="o2" selected>Two</select>
    <textarea id="ta" name="ta">
keep &lt;this&gt;</textarea>
  </form>
  <div id="nested"><div id="inner"><p id="deep">x</p></div></div>
</div>
"""

HAND_CHECKED = [
    ("li", ["i1", "i2", "i3", "i4"]),
    ("#i2", ["i2"]),
    (".done", ["i1", "i3"]),
    ("li.item.done", ["i1", "i3"]),
    ("ul > li > a", ["l1", "l2"]),
    ("ul a", ["l1", "l2"]),
    ("#page > p", ["p1", "p2"]),
    ("#page > div > div > p", ["deep"]),
    ("#page p", ["p1", "p2", "deep"]),
    ("div div p", ["deep"]),
    ("div > p", ["p1", "p2", "deep"]),
    ("[data-navigate]", ["l1"]),
    ("a[href^='/items/']", ["l1", "l2"]),
    ('a[href$="y=2"]', ["l2"]),
    ("[href*='?x=']", ["l2"]),
    ("[class~=special]", ["i3"]),
    ("[class~=spec]", []),
    ("[class=item]", ["i2", "i4"]),
    ("[lang=en-GB]", ["i4"]),
    ('[title="a \\"quoted\\" title"]', ["i4"]),
    ("li:first-child", ["i1"]),
    ("li:last-child", ["i4"]),
    ("li:nth-child(2)", ["i2"]),
    ("li:nth-child(odd)", ["i1", "i3"]),
    ("li:nth-child(2n)", ["i2", "i4"]),
    ("li:nth-child(-n+2)", ["i1", "i2"]),
    ("li:nth-child(n+3)", ["i3", "i4"]),
    ("li:not(.done)", ["i2", "i4"]),
    ("li:not([data-key=k-2]):not(.special)", ["i1", "i4"]),
    ("#items *:first-child", ["i1", "l1", "l2", "s3", "b3"]),
    ("b, h1, #i1", ["title", "i1", "b3"]),  # document order, not the list's
    ("li, .item", ["i1", "i2", "i3", "i4"]),  # each element once
    ("LI#I1", []),  # ids match exactly ...
    ("LI#i1", ["i1"]),  # ... type selectors whatever the case
    ("[ID=i1]", ["i1"]),
    ("form input[type=checkbox]", ["agree"]),
    ("option", ["o1", "o2"]),
    ("#sel > option", ["o1", "o2"]),
    ("#d\\65 ep", ["deep"]),  # a CSS escape: \65 is "e"
]


@pytest.fixture(scope="module")
def shop() -> Element:
    return parse_html(SHOP)


@pytest.mark.parametrize(("selector", "ids"), HAND_CHECKED)
def test_hand_checked_selectors(shop: Element, selector: str, ids: list[str]) -> None:
    assert [el.id for el in select(shop, selector)] == ids


def test_the_parser_closes_what_html_lets_out(shop: Element) -> None:
    ul = shop.select_one("#items")
    assert ul is not None and [c.id for c in ul.elements] == ["i1", "i2", "i3", "i4"]  # unclosed <li>
    assert [c.id for c in shop.select("#page > *")] == ["title", "items", "p1", "p2", "f", "nested"]
    assert shop.select_one("#br") is not None and shop.select_one("#br").children == []  # void
    p2 = shop.select_one("#p2")
    assert p2 is not None and p2.text.split() == ["Second", "line"]  # closed by the <form>
    sel = shop.select_one("#sel")
    assert sel is not None and [o.text for o in sel.elements] == ["One", "Two"]  # unclosed <option>


def test_entities_are_decoded_in_text_and_attributes(shop: Element) -> None:
    assert shop.select("#title")[0].text == "Shop & more"
    assert shop.select("#l2")[0].get("href") == "/items/2?x=1&y=2"
    assert shop.select("#name")[0].get("value") == "it's"
    assert shop.select("#i4")[0].get("title") == 'a "quoted" title'
    assert shop.select("#ta")[0].text == "keep <this>"  # and the newline after <textarea> goes
    assert shop.select("#agree")[0].get("checked") == "" and shop.select("#l1")[0].has("data-navigate")


def test_more_parsing_cases() -> None:
    doc = parse_html(
        "<div><p>a<div>b</div><table><tr><td>1<td>2<tr><td>3</table>"
        "<svg><path d='M0'/><circle/></svg><script>if (a < b && c) {}</script>"
        "<span>x</div>after<dl><dt>t<dd>d<dt>u</dl></div></span><p>last"
    )
    assert doc.to_html() == (
        "<div><p>a</p><div>b</div><table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>"
        '<svg><path d="M0"></path><circle></circle></svg><script>if (a < b && c) {}</script>'
        "<span>x</span></div>after<dl><dt>t</dt><dd>d</dd><dt>u</dt></dl><p>last</p>"
    )
    li = parse_html("<ul><li>a<ul><li>b<li>c</ul><li>d</ul>")
    assert [len(ul.elements) for ul in li.select("ul")] == [2, 2]
    groups = parse_html("<select><optgroup><option>a<option>b<optgroup><option>c</select>").select("optgroup")
    assert [[o.text for o in g.elements] for g in groups] == [["a", "b"], ["c"]]


# -- property-ish: each selector agrees with the rule it stands for, on every element --

DOCS = [
    SHOP,
    "<ul><li class='a b'>1</li><li class='b'>2<ol><li>x</li><li class='a'>y</li></ol></li><li>3</li></ul>",
    "<section><p id='x' data-v='abc'>t</p><p data-v='bcd'>u</p><p data-v=''>v</p><div><p data-v='ab c'>w</p></div></section>",
]


def elements(doc: str) -> list[Element]:
    return list(parse_html(doc).iter())


def index(el: Element) -> int:
    assert el.parent is not None
    return next(i for i, s in enumerate(el.parent.elements, 1) if s is el)


ATTR_RULES = {
    "^=": str.startswith,
    "$=": str.endswith,
    "*=": lambda v, x: x in v,
    "=": lambda v, x: v == x,
    "~=": lambda v, x: x in v.split(),
}


@pytest.mark.parametrize("doc", DOCS)
def test_selectors_agree_with_their_definitions(doc: str) -> None:
    root = parse_html(doc)
    every = list(root.iter())
    ids = lambda sel: [id(e) for e in select(root, sel)]  # noqa: E731
    assert ids("*") == [id(e) for e in every]
    for tag in {e.tag for e in every}:
        assert ids(tag) == [id(e) for e in every if e.tag == tag]
        # :not is the complement; a list is the union in document order
        assert ids(f":not({tag})") == [id(e) for e in every if e.tag != tag]
        assert ids(f"{tag}, :not({tag})") == ids("*")
        # a child is a descendant; a descendant has a matching ancestor
        assert set(ids(f"* > {tag}")) <= set(ids(f"* {tag}"))
        assert ids(f"* > {tag}") == [id(e) for e in every if e.tag == tag and e.parent in every]
    for cls in {c for e in every for c in e.classes}:
        assert ids(f".{cls}") == [id(e) for e in every if cls in e.classes]
    for name in {k for e in every for k in e.attrs}:
        assert ids(f"[{name}]") == [id(e) for e in every if e.has(name)]
        for value in {e.attrs[name] for e in every if e.has(name)} | {"b", "ab"}:
            for op, rule in ATTR_RULES.items():
                empty_never = op != "=" and (not value or (op == "~=" and " " in value))
                want = [
                    id(e)
                    for e in every
                    if e.has(name) and not empty_never and rule(e.attrs[name], value)
                ]
                quoted = value.replace("\\", "\\\\").replace('"', '\\"')
                assert ids(f'[{name}{op}"{quoted}"]') == want, (name, op, value)
    n = len(every)
    for a, b in [(0, 1), (0, 2), (2, 0), (2, 1), (3, 2), (-1, 3), (1, 0), (1, 2)]:
        want = [id(e) for e in every if (index(e) == b if a == 0 else (index(e) - b) % a == 0 and (index(e) - b) // a >= 0)]
        assert ids(f":nth-child({a}n+{b})") == want, (a, b)
    assert ids(":first-child") == ids(":nth-child(1)") == [id(e) for e in every if index(e) == 1]
    assert ids(":last-child") == [id(e) for e in every if e.parent is not None and e.parent.elements[-1] is e]
    assert set(ids(":nth-child(odd)")) | set(ids(":nth-child(even)")) == set(ids("*")) and n


@pytest.mark.parametrize("doc", DOCS)
def test_serializing_and_parsing_again_gives_the_same_tree(doc: str) -> None:
    once = parse_html(doc).to_html()
    assert parse_html(once).to_html() == once


def test_matches_and_closest() -> None:
    doc = parse_html("<div data-action='x' id='d'><button id='b'><span id='s'>go</span></button></div>")
    span = doc.select_one("#s")
    assert span is not None and span.matches("div span") and not span.matches("div > span")
    assert span.closest("[data-action]") is doc.select_one("#d")
    assert span.closest("span") is span and span.closest("form") is None
    assert isinstance(span.children[0], Text) and span.text == "go"


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a + b", "the '+' combinator is not supported"),
        ("a ~ b", "the '~' combinator is not supported"),
        ("a:hover", "the pseudo-class ':hover' is not supported"),
        ("p::before", "pseudo-elements ('::before') are not supported"),
        ("[lang|=en]", "the '|=' attribute operator is not supported"),
        ("[a=b i]", "attribute selector flags ('i') are not supported"),
        ("[a=1]", "quote a value that is not an identifier"),
        ("", "empty selector"),
        ("a,,b", "a selector list item is empty"),
        ("a >", "ends with a combinator"),
        ("> a", "'>' needs a selector on each side"),
        ("#1", "unsupported syntax at '#1'"),
        (".a span*", "a type selector must come first"),
        (":nth-child(x)", ":nth-child(x) is not An+B"),
        (":nth-child(2 of .a)", "An+B of S) is not supported"),
        (":not(a b)", ":not takes one compound selector"),
        (":not(a, b)", ":not takes one compound selector"),
        (":first-child(2)", ":first-child takes no argument"),
        ("a { color: red }", "unsupported syntax at '{ color: red }'"),
    ],
)
def test_unsupported_syntax_is_a_value_error_saying_what(selector: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        compile_selector(selector)
