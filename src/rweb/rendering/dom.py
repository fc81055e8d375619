"""A small DOM and a CSS selector subset, for tests that look at pages (``rweb.testing.Page``).

``parse_html(markup)`` builds a tree of :class:`Element` and :class:`Text`
nodes with the standard library's :mod:`html.parser`:

- tag and attribute names are lowercased; character references are decoded
  in text and in attribute values; the first of two same-named attributes wins;
- void elements (``br``, ``input``, ``img`` ...) have no children and no end
  tag; ``<x/>`` closes ``x`` whatever it is (as in SVG; an HTML parser would
  leave a ``<div/>`` open);
- an end tag closes the innermost open element of that name (and those
  inside it); an end tag with none open is ignored;
- end tags that HTML lets out are implied: a ``<p>`` is closed by the start
  of a block (``div``, ``ul``, ``p``, ``h1`` ...), an ``<li>`` by the next
  ``<li>`` of its list, ``<dt>``/``<dd>``, ``<option>``/``<optgroup>``,
  ``<tr>``, ``<td>``/``<th>`` by their next siblings;
- a newline right after ``<textarea>`` or ``<pre>`` is dropped, as HTML does;
- ``<script>`` and ``<style>`` content is raw text.

Selectors (``select(root, "ul > li.done")``, ``Element.select``,
``Element.matches``) are a well-defined subset of CSS:

- simple selectors: ``*``, a type (``li``), ``#id``, ``.class``, ``[attr]``,
  ``[attr=v]``, ``[attr^=v]``, ``[attr$=v]``, ``[attr*=v]``, ``[attr~=v]``
  (values bare identifiers or quoted with ``'`` or ``"``), and the
  pseudo-classes ``:first-child``, ``:last-child``, ``:nth-child(An+B)``
  (``3``, ``odd``, ``even``, ``2n+1`` ...) and ``:not(compound)``;
- combinators: descendant (whitespace) and child (``>``);
- selector lists: ``a, b`` (results in document order, each element once).

Anything else (``+``, ``~``, ``|=``, ``:hover``, ``::before``, a case flag
``[a=b i]`` ...) raises ``ValueError`` saying what is not supported.  Type
and attribute names match case-insensitively, values and classes exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser

__all__ = [
    "Document",
    "Element",
    "Node",
    "Selector",
    "Text",
    "compile_selector",
    "parse_html",
    "select",
]

VOID = frozenset(
    "area base br col embed hr img input keygen link meta param source track wbr".split()
)
RAW_TEXT = frozenset(("script", "style"))
# Start tags that close an open <p> (HTML's "close a p element" list).
CLOSES_P = frozenset(
    """address article aside blockquote details dialog div dl fieldset figcaption figure footer
    form h1 h2 h3 h4 h5 h6 header hgroup hr main menu nav ol p pre section table ul""".split()
)
# Elements that bound the search for an open <p> ("button scope").
P_SCOPE = frozenset("applet button caption html marquee object table td template th".split())
# tag -> rules (the tags it closes, with what is inside them; the tags that stop the search)
IMPLIED: dict[str, tuple[tuple[frozenset[str], frozenset[str]], ...]] = {
    "li": ((frozenset(("li",)), frozenset(("ul", "ol", "menu"))),),
    "dt": ((frozenset(("dt", "dd")), frozenset(("dl",))),),
    "dd": ((frozenset(("dt", "dd")), frozenset(("dl",))),),
    "option": ((frozenset(("option",)), frozenset(("select", "datalist", "optgroup"))),),
    "optgroup": (
        (frozenset(("option",)), frozenset(("select", "datalist", "optgroup"))),
        (frozenset(("optgroup",)), frozenset(("select",))),
    ),
    "tr": ((frozenset(("tr",)), frozenset(("table", "thead", "tbody", "tfoot"))),),
    "td": ((frozenset(("td", "th")), frozenset(("tr", "table"))),),
    "th": ((frozenset(("td", "th")), frozenset(("tr", "table"))),),
    "thead": ((frozenset(("thead", "tbody", "tfoot")), frozenset(("table",))),),
    "tbody": ((frozenset(("thead", "tbody", "tfoot")), frozenset(("table",))),),
    "tfoot": ((frozenset(("thead", "tbody", "tfoot")), frozenset(("table",))),),
}
_SPACE = re.compile(r"[ \t\n\f\r]+")


# -- the tree -------------------------------------------------------------------------


class Node:
    """A node of the tree: an :class:`Element` or a :class:`Text`."""

    parent: Element | None = None

    @property
    def text(self) -> str:
        raise NotImplementedError

    def to_html(self) -> str:
        raise NotImplementedError


class Text(Node):
    """A run of text (character references decoded)."""

    def __init__(self, data: str) -> None:
        self.data = data

    @property
    def text(self) -> str:
        return self.data

    def to_html(self) -> str:
        parent = self.parent
        if parent is not None and parent.tag in RAW_TEXT:
            return self.data
        return escape(self.data, quote=False)

    def __repr__(self) -> str:
        return f"Text({self.data!r})"


@dataclass(eq=False)
class Element(Node):
    """An element: ``tag`` (lowercase), ``attrs`` (in source order), ``children``.

    The fields ``value``, ``checked`` and ``selected`` hold what a user
    changed (``None``: nothing, the attributes say); :mod:`rweb.testing`
    keeps them, as a browser keeps a control's state apart from its markup.
    """

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    parent: Element | None = field(default=None, repr=False)
    value: str | None = field(default=None, repr=False)
    checked: bool | None = field(default=None, repr=False)
    selected: bool | None = field(default=None, repr=False)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The attribute ``name`` (lowercase), or ``default``."""
        return self.attrs.get(name, default)

    def has(self, name: str) -> bool:
        return name in self.attrs

    @property
    def id(self) -> str | None:
        return self.attrs.get("id")

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    @property
    def elements(self) -> list[Element]:
        """The child elements (text left out)."""
        return [c for c in self.children if isinstance(c, Element)]

    @property
    def text(self) -> str:
        """All the text inside, as ``textContent`` gives it."""
        return "".join(c.text for c in self.children)

    def iter(self) -> Iterator[Element]:
        """The elements inside, in document order (not this one)."""
        stack = list(reversed(self.elements))
        while stack:
            el = stack.pop()
            yield el
            stack.extend(reversed(el.elements))

    def ancestors(self) -> Iterator[Element]:
        """The parent, its parent ... up to the document."""
        el = self.parent
        while el is not None:
            yield el
            el = el.parent

    def select(self, selector: str | Selector) -> list[Element]:
        """The elements inside that match, in document order."""
        return select(self, selector)

    def select_one(self, selector: str | Selector) -> Element | None:
        found = self.select(selector)
        return found[0] if found else None

    def matches(self, selector: str | Selector) -> bool:
        sel = compile_selector(selector) if isinstance(selector, str) else selector
        return sel.matches(self)

    def closest(self, selector: str | Selector) -> Element | None:
        """This element or its nearest ancestor that matches (as the DOM's ``closest``)."""
        sel = compile_selector(selector) if isinstance(selector, str) else selector
        el: Element | None = self
        while el is not None and not isinstance(el, Document):
            if sel.matches(el):
                return el
            el = el.parent
        return None

    def to_html(self) -> str:
        """The element re-serialized (its attributes as they are now)."""
        attrs = "".join(
            f' {k}="{escape(v)}"' if v != "" else f" {k}" for k, v in self.attrs.items()
        )
        if self.tag in VOID:
            return f"<{self.tag}{attrs}>"
        inner = "".join(c.to_html() for c in self.children)
        return f"<{self.tag}{attrs}>{inner}</{self.tag}>"

    @property
    def inner_html(self) -> str:
        return "".join(c.to_html() for c in self.children)

    def __repr__(self) -> str:
        html = self.to_html()
        if len(html) > 80:
            html = html[:77] + "..."
        return f"<Element {html}>"


class Document(Element):
    """The root of a parsed tree (not an element of the page: selectors never match it)."""

    def __init__(self) -> None:
        super().__init__("#document")

    def to_html(self) -> str:
        return self.inner_html


def _append(parent: Element, node: Node) -> None:
    node.parent = parent
    parent.children.append(node)


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doc = Document()
        self.stack: list[Element] = [self.doc]

    def _close_to(self, index: int) -> None:
        del self.stack[index:]

    def _implied(self, tag: str) -> None:
        stack = self.stack
        if tag in CLOSES_P:
            for i in range(len(stack) - 1, 0, -1):
                t = stack[i].tag
                if t == "p":
                    self._close_to(i)
                    break
                if t in P_SCOPE:
                    break  # a <p> outside this boundary stays open
        for closes, bounds in IMPLIED.get(tag, ()):
            for i in range(len(stack) - 1, 0, -1):
                t = stack[i].tag
                if t in closes:
                    self._close_to(i)
                    break
                if t in bounds:
                    break

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        self._implied(tag)
        values: dict[str, str] = {}
        for k, v in attrs:
            values.setdefault(k, "" if v is None else v)
        el = Element(tag, values)
        _append(self.stack[-1], el)
        if tag not in VOID and not closed:
            self.stack.append(el)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                self._close_to(i)
                return

    def handle_data(self, data: str) -> None:
        parent = self.stack[-1]
        if parent.tag in ("textarea", "pre") and not parent.children and data.startswith("\n"):
            data = data[1:]
        if not data:
            return
        last = parent.children[-1] if parent.children else None
        if isinstance(last, Text):
            last.data += data
        else:
            _append(parent, Text(data))


def parse_html(markup: str) -> Document:
    """Parse an HTML document or fragment into a tree."""
    builder = _Builder()
    builder.feed(markup)
    builder.close()
    return builder.doc


# -- selectors --------------------------------------------------------------------------

_ESC = r"(?:\\[0-9a-fA-F]{1,6}[ \t\n\r\f]?|\\[^0-9a-fA-F\n\r\f])"
_IDENT = rf"(?:-?(?:[A-Za-z_\u0080-\U0010ffff]|{_ESC})(?:[\w\-\u0080-\U0010ffff]|{_ESC})*|--(?:[\w\-\u0080-\U0010ffff]|{_ESC})*)"
_TOKEN = re.compile(
    rf"""
    (?P<ws>[ \t\n\r\f]+)
  | (?P<comma>,)
  | (?P<child>>)
  | (?P<unsupported_comb>[+~])
  | (?P<star>\*)
  | (?P<type>{_IDENT})
  | \#(?P<id>{_IDENT})
  | \.(?P<cls>{_IDENT})
  | \[(?P<attr>[^\]]*)\]
  | ::(?P<pseudo_el>[\w-]+)
  | :(?P<pseudo>[\w-]+)(?:\((?P<arg>(?:[^()]|\([^()]*\))*)\))?
    """,
    re.VERBOSE,
)
_ATTR = re.compile(
    rf"""\s*(?P<name>{_IDENT})\s*(?:(?P<op>[~^$*|]?=)\s*(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)'|(?P<bare>{_IDENT}))\s*(?P<rest>.*?))?\s*$""",
    re.DOTALL,
)
_NTH = re.compile(
    r"^\s*(?:(?P<odd>odd)|(?P<even>even)|(?P<a>[+-]?\d*)n\s*(?:(?P<bsign>[+-])\s*(?P<b>\d+))?|(?P<n>[+-]?\d+))\s*$",
    re.I,
)
_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n\r\f]?|(.))", re.DOTALL)

Test = Callable[[Element], bool]


def _unescape(ident: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            code = int(m.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        return m.group(2)

    return _ESCAPE.sub(repl, ident)


def _siblings(el: Element) -> list[Element]:
    return el.parent.elements if el.parent is not None else [el]


@dataclass(frozen=True)
class _Compound:
    tests: tuple[Test, ...]

    def __call__(self, el: Element) -> bool:
        return all(t(el) for t in self.tests)


@dataclass(frozen=True)
class _Complex:
    # compounds[0] combinators[0] compounds[1] ...: the last compound is the subject.
    compounds: tuple[_Compound, ...]
    combinators: tuple[str, ...]  # " " or ">"

    def matches(self, el: Element) -> bool:
        return self._match(el, len(self.compounds) - 1)

    def _match(self, el: Element, i: int) -> bool:
        if not self.compounds[i](el):
            return False
        if i == 0:
            return True
        parent = el.parent
        if self.combinators[i - 1] == ">":
            return (
                parent is not None
                and not isinstance(parent, Document)
                and self._match(parent, i - 1)
            )
        while parent is not None and not isinstance(parent, Document):
            if self._match(parent, i - 1):
                return True
            parent = parent.parent
        return False


@dataclass(frozen=True)
class Selector:
    """A compiled selector list (see :func:`compile_selector`)."""

    source: str
    alternatives: tuple[_Complex, ...]

    def matches(self, el: Element) -> bool:
        if isinstance(el, Document):
            return False
        return any(c.matches(el) for c in self.alternatives)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, what: str) -> ValueError:
        return ValueError(f"selector {self.source!r}: {what}")

    def parse(self) -> Selector:
        text = self.source
        if not text.strip():
            raise self.fail("empty selector")
        alternatives: list[_Complex] = []
        compounds: list[_Compound] = []
        combinators: list[str] = []
        tests: list[Test] = []
        pending: str | None = None  # a combinator waiting for its right side
        pos = 0

        def end_compound() -> None:
            nonlocal tests, pending
            if not tests:
                return
            if compounds:
                combinators.append(pending or " ")
            compounds.append(_Compound(tuple(tests)))
            tests = []
            pending = None

        def end_complex() -> None:
            nonlocal compounds, combinators
            end_compound()
            if not compounds or pending is not None:
                raise self.fail("a selector list item is empty or ends with a combinator")
            alternatives.append(_Complex(tuple(compounds), tuple(combinators)))
            compounds, combinators = [], []

        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise self.fail(f"unsupported syntax at {text[pos:]!r}")
            kind = m.lastgroup
            if kind == "arg":  # lastgroup names the innermost group that matched
                kind = "pseudo"
            pos = m.end()
            if kind == "ws":
                end_compound()
                continue
            if kind == "comma":
                end_complex()
                continue
            if kind == "child":
                if tests:
                    end_compound()
                if not compounds or pending is not None:
                    raise self.fail("'>' needs a selector on each side")
                pending = ">"
                continue
            if kind == "unsupported_comb":
                raise self.fail(
                    f"the {m.group()!r} combinator is not supported (only descendant and '>')"
                )
            if kind in ("star", "type") and tests:
                raise self.fail(f"a type selector must come first in a compound: {m.group()!r}")
            tests.append(self.simple(m, kind))
        end_complex()
        return Selector(self.source, tuple(alternatives))

    def simple(self, m: re.Match[str], kind: str | None) -> Test:
        if kind == "star":
            return lambda el: True
        if kind == "type":
            tag = _unescape(m.group("type")).lower()
            return lambda el: el.tag == tag
        if kind == "id":
            ident = _unescape(m.group("id"))
            return lambda el: el.attrs.get("id") == ident
        if kind == "cls":
            cls = _unescape(m.group("cls"))
            return lambda el: cls in el.attrs.get("class", "").split()
        if kind == "attr":
            return self.attribute(m.group("attr"))
        if kind == "pseudo_el":
            raise self.fail(f"pseudo-elements ('::{m.group('pseudo_el')}') are not supported")
        if kind == "pseudo":
            return self.pseudo(m.group("pseudo").lower(), m.group("arg"))
        raise self.fail(f"unsupported syntax {m.group()!r}")  # pragma: no cover

    def attribute(self, body: str) -> Test:
        m = _ATTR.match(body)
        if m is None:
            raise self.fail(
                f'unsupported attribute selector [{body}] (quote a value that is not an identifier: [a="1"])'
            )
        name = _unescape(m.group("name")).lower()
        op = m.group("op")
        if op is None:
            return lambda el: name in el.attrs
        if m.group("rest"):
            raise self.fail(
                f"attribute selector flags ({m.group('rest').strip()!r}) are not supported"
            )
        if op == "|=":
            raise self.fail("the '|=' attribute operator is not supported")
        raw = (
            m.group("dq")
            if m.group("dq") is not None
            else m.group("sq")
            if m.group("sq") is not None
            else m.group("bare")
        )
        value = _unescape(raw)

        def has(check: Callable[[str], bool]) -> Test:
            def test(el: Element) -> bool:
                v = el.attrs.get(name)
                return v is not None and check(v)

            return test

        if op == "=":
            return has(lambda v: v == value)
        if not value:  # CSS: an empty value never matches these
            return lambda el: False
        if op == "^=":
            return has(lambda v: v.startswith(value))
        if op == "$=":
            return has(lambda v: v.endswith(value))
        if op == "*=":
            return has(lambda v: value in v)
        # ~=
        if _SPACE.search(value):
            return lambda el: False
        return has(lambda v: value in _SPACE.split(v))

    def pseudo(self, name: str, arg: str | None) -> Test:
        if name in ("first-child", "last-child"):
            if arg is not None:
                raise self.fail(f":{name} takes no argument")
            if name == "first-child":
                return lambda el: _siblings(el)[0] is el
            return lambda el: _siblings(el)[-1] is el
        if name == "nth-child":
            if arg is None:
                raise self.fail(":nth-child needs an argument, e.g. :nth-child(2)")
            if " of " in f" {arg} ":
                raise self.fail(":nth-child(An+B of S) is not supported")
            a, b = self.nth(arg)

            def nth(el: Element) -> bool:
                index = next(i for i, s in enumerate(_siblings(el), 1) if s is el)
                if a == 0:
                    return index == b
                return (index - b) % a == 0 and (index - b) // a >= 0

            return nth
        if name == "not":
            if arg is None or not arg.strip():
                raise self.fail(":not needs a selector, e.g. :not(.done)")
            inner = _Parser(arg.strip()).parse()
            if len(inner.alternatives) != 1 or len(inner.alternatives[0].compounds) != 1:
                raise self.fail(":not takes one compound selector (no lists, no combinators)")
            compound = inner.alternatives[0].compounds[0]
            return lambda el: not compound(el)
        raise self.fail(
            f"the pseudo-class ':{name}' is not supported (only :first-child, :last-child, :nth-child(), :not())"
        )

    def nth(self, arg: str) -> tuple[int, int]:
        m = _NTH.match(arg)
        if m is None:
            raise self.fail(f":nth-child({arg}) is not An+B, odd or even")
        if m.group("odd"):
            return 2, 1
        if m.group("even"):
            return 2, 0
        if m.group("n") is not None:
            return 0, int(m.group("n"))
        a_text = m.group("a")
        a = 1 if a_text in ("", "+") else -1 if a_text == "-" else int(a_text)
        b = int(m.group("b") or 0) * (-1 if m.group("bsign") == "-" else 1)
        return a, b


_CACHE: dict[str, Selector] = {}


def compile_selector(selector: str) -> Selector:
    """Compile a selector list; ``ValueError`` names what is not supported."""
    sel = _CACHE.get(selector)
    if sel is None:
        sel = _Parser(selector).parse()
        if len(_CACHE) > 512:
            _CACHE.clear()
        _CACHE[selector] = sel
    return sel


def select(root: Element, selector: str | Selector) -> list[Element]:
    """The elements inside ``root`` (not ``root`` itself) that match, in document order."""
    sel = compile_selector(selector) if isinstance(selector, str) else selector
    return [el for el in root.iter() if sel.matches(el)]
