"""HTML builder: every standard element as a function, escaping by default.

``div(*children, **attrs)`` builds an :class:`Element`.  Children may be
strings, numbers, elements, components, lists, tuples, generators, reactive
lists, or ``None`` / ``True`` / ``False`` (which render as nothing).

Attributes are Python-friendly: ``data_action="inc"`` becomes
``data-action="inc"``, a trailing underscore is dropped (``class_``, ``for_``),
``True`` renders a bare boolean attribute and ``False`` / ``None`` omit it.
Text and attribute values are always escaped; :func:`raw` marks trusted markup.

``component(name, fn)`` is the unit of re-rendering (see :mod:`rweb.render`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:
    _COMPILED = False

__all__ = [
    "Component",
    "Element",
    "ElementFactory",
    "Markup",
    "attr_name",
    "component",
    "escape",
    "raw",
    "to_html",
]


class Markup(str):
    """A string of trusted HTML that is inserted without escaping."""

    __slots__ = ()

    def __html__(self) -> str:
        return self


def raw(markup: str) -> Markup:
    """Mark ``markup`` as trusted HTML: it is inserted as is, never escaped."""
    return Markup(markup)


def escape(s: str) -> str:
    """Escape ``& < > " '`` (text and attribute values alike)."""
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    if '"' in s:
        s = s.replace('"', "&quot;")
    if "'" in s:
        s = s.replace("'", "&#x27;")
    return s


_ATTR_NAMES: dict[str, str] = {}
_VALID_ATTR_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:.@")


def attr_name(key: str) -> str:
    """Python keyword argument -> HTML attribute name (cached)."""
    name = _ATTR_NAMES.get(key)
    if name is None:
        name = key[:-1] if key.endswith("_") and len(key) > 1 else key
        name = name.replace("_", "-")
        if not name or not set(name) <= _VALID_ATTR_CHARS:
            raise ValueError(f"invalid HTML attribute name: {key!r}")
        _ATTR_NAMES[key] = name
    return name


class Element:
    """An HTML element: tag, attributes (Python-style keys) and children."""

    __slots__ = ("attrs", "children", "tag", "void")

    def __init__(self, tag: str, children: tuple[Any, ...], attrs: dict[str, Any], void: bool = False):
        self.tag = tag
        self.children = children
        self.attrs = attrs
        self.void = void

    def __repr__(self) -> str:
        return f"<Element {self.tag} attrs={self.attrs!r} children={len(self.children)}>"

    def __html__(self) -> str:
        return to_html(self)


class Component:
    """A named unit of re-rendering: ``fn`` is called with no arguments.

    The component re-renders only when a reactive field that its last render
    read has been written, or when the component that contains it re-renders.
    """

    __slots__ = ("fn", "name")

    def __init__(self, name: str, fn: Callable[[], Any]):
        if not isinstance(name, str) or not name:
            raise TypeError(f"component name must be a non-empty string, got {name!r}")
        if not callable(fn):
            raise TypeError(f"component {name!r}: fn must be callable, got {type(fn).__name__}")
        self.name = name
        self.fn = fn

    def __repr__(self) -> str:
        return f"<Component {self.name!r}>"


def component(name: str, fn: Callable[[], Any]) -> Component:
    """Declare the component ``name`` rendered by ``fn()``.

    A name may appear once per page; using it twice is an error at render time.
    """
    return Component(name, fn)


def to_html(node: Any) -> str:
    """Render a tree to an HTML string (components inline, untracked).

    One renderer: this is :func:`rweb.render.to_html`, the walkers that
    render pages.
    """
    from .render import to_html as render_to_html

    return render_to_html(node)


# ---------------------------------------------------------------------------
# Element functions.  Generated for every standard HTML element; ``del_`` and
# ``object_`` stand for ``<del>`` and ``<object>`` (the names are keywords or
# builtins in Python).

_VOID = frozenset(
    "area base br col embed hr img input link meta source track wbr".split()
)

_TAGS = """
a abbr address area article aside audio b base bdi bdo blockquote body br button canvas
caption cite code col colgroup data datalist dd del details dfn dialog div dl dt em embed
fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe
img input ins kbd label legend li link main map mark menu meta meter nav noscript object ol
optgroup option output p picture pre progress q rp rt ruby s samp script search section select
slot small source span strong style sub summary sup table tbody td template textarea tfoot th
thead time title tr track u ul var video wbr
svg path circle rect line polyline polygon g text
""".split()


class ElementFactory(Protocol):
    """``tag(*children, **attrs) -> Element``."""

    def __call__(self, *children: Any, **attrs: Any) -> Element: ...


# The element functions build an Element without calling Element.__init__ (one
# Python frame less per element of every render: -16% instructions for the counter's
# display component); keep them in step with __init__.  Compiled (see setup.py),
# they call _build instead, a C function that sets the Element's typed fields.
_new = Element.__new__
_COMPILED = not __file__.endswith(".py")


def _build(tag: str, children: tuple[Any, ...], attrs: dict[str, Any], void: bool) -> Element:
    el = Element.__new__(Element)  # Cython: the type's tp_new, no __init__
    el.tag = tag
    el.children = children
    el.attrs = attrs
    el.void = void
    return el


def _make(tag: str) -> ElementFactory:
    void = tag in _VOID

    if void:

        def build(*children: Any, **attrs: Any) -> Element:
            if children:
                raise TypeError(f"<{tag}> is a void element and takes no children")
            return _build(tag, (), attrs, True)

    elif _COMPILED:

        def build(*children: Any, **attrs: Any) -> Element:
            return _build(tag, children, attrs, False)

    else:

        def build(*children: Any, **attrs: Any) -> Element:
            el = _new(Element)
            el.tag = tag
            el.children = children
            el.attrs = attrs
            el.void = False
            return el

    build.__name__ = tag
    build.__qualname__ = tag
    build.__doc__ = f"Build a ``<{tag}>`` element."
    return build


# One function per element, spelled out so that editors and type checkers see them.
a: ElementFactory = _make("a")
abbr: ElementFactory = _make("abbr")
address: ElementFactory = _make("address")
area: ElementFactory = _make("area")
article: ElementFactory = _make("article")
aside: ElementFactory = _make("aside")
audio: ElementFactory = _make("audio")
b: ElementFactory = _make("b")
base: ElementFactory = _make("base")
bdi: ElementFactory = _make("bdi")
bdo: ElementFactory = _make("bdo")
blockquote: ElementFactory = _make("blockquote")
body: ElementFactory = _make("body")
br: ElementFactory = _make("br")
button: ElementFactory = _make("button")
canvas: ElementFactory = _make("canvas")
caption: ElementFactory = _make("caption")
cite: ElementFactory = _make("cite")
code: ElementFactory = _make("code")
col: ElementFactory = _make("col")
colgroup: ElementFactory = _make("colgroup")
data: ElementFactory = _make("data")
datalist: ElementFactory = _make("datalist")
dd: ElementFactory = _make("dd")
del_: ElementFactory = _make("del")
details: ElementFactory = _make("details")
dfn: ElementFactory = _make("dfn")
dialog: ElementFactory = _make("dialog")
div: ElementFactory = _make("div")
dl: ElementFactory = _make("dl")
dt: ElementFactory = _make("dt")
em: ElementFactory = _make("em")
embed: ElementFactory = _make("embed")
fieldset: ElementFactory = _make("fieldset")
figcaption: ElementFactory = _make("figcaption")
figure: ElementFactory = _make("figure")
footer: ElementFactory = _make("footer")
form: ElementFactory = _make("form")
h1: ElementFactory = _make("h1")
h2: ElementFactory = _make("h2")
h3: ElementFactory = _make("h3")
h4: ElementFactory = _make("h4")
h5: ElementFactory = _make("h5")
h6: ElementFactory = _make("h6")
head: ElementFactory = _make("head")
header: ElementFactory = _make("header")
hgroup: ElementFactory = _make("hgroup")
hr: ElementFactory = _make("hr")
html: ElementFactory = _make("html")
i: ElementFactory = _make("i")
iframe: ElementFactory = _make("iframe")
img: ElementFactory = _make("img")
input_: ElementFactory = _make("input")
ins: ElementFactory = _make("ins")
kbd: ElementFactory = _make("kbd")
label: ElementFactory = _make("label")
legend: ElementFactory = _make("legend")
li: ElementFactory = _make("li")
link: ElementFactory = _make("link")
main: ElementFactory = _make("main")
map_: ElementFactory = _make("map")
mark: ElementFactory = _make("mark")
menu: ElementFactory = _make("menu")
meta: ElementFactory = _make("meta")
meter: ElementFactory = _make("meter")
nav: ElementFactory = _make("nav")
noscript: ElementFactory = _make("noscript")
object_: ElementFactory = _make("object")
ol: ElementFactory = _make("ol")
optgroup: ElementFactory = _make("optgroup")
option: ElementFactory = _make("option")
output: ElementFactory = _make("output")
p: ElementFactory = _make("p")
picture: ElementFactory = _make("picture")
pre: ElementFactory = _make("pre")
progress: ElementFactory = _make("progress")
q: ElementFactory = _make("q")
rp: ElementFactory = _make("rp")
rt: ElementFactory = _make("rt")
ruby: ElementFactory = _make("ruby")
s: ElementFactory = _make("s")
samp: ElementFactory = _make("samp")
script: ElementFactory = _make("script")
search: ElementFactory = _make("search")
section: ElementFactory = _make("section")
select: ElementFactory = _make("select")
slot: ElementFactory = _make("slot")
small: ElementFactory = _make("small")
source: ElementFactory = _make("source")
span: ElementFactory = _make("span")
strong: ElementFactory = _make("strong")
style: ElementFactory = _make("style")
sub: ElementFactory = _make("sub")
summary: ElementFactory = _make("summary")
sup: ElementFactory = _make("sup")
table: ElementFactory = _make("table")
tbody: ElementFactory = _make("tbody")
td: ElementFactory = _make("td")
template: ElementFactory = _make("template")
textarea: ElementFactory = _make("textarea")
tfoot: ElementFactory = _make("tfoot")
th: ElementFactory = _make("th")
thead: ElementFactory = _make("thead")
time: ElementFactory = _make("time")
title: ElementFactory = _make("title")
tr: ElementFactory = _make("tr")
track: ElementFactory = _make("track")
u: ElementFactory = _make("u")
ul: ElementFactory = _make("ul")
var: ElementFactory = _make("var")
video: ElementFactory = _make("video")
wbr: ElementFactory = _make("wbr")
svg: ElementFactory = _make("svg")
path: ElementFactory = _make("path")
circle: ElementFactory = _make("circle")
rect: ElementFactory = _make("rect")
line: ElementFactory = _make("line")
polyline: ElementFactory = _make("polyline")
polygon: ElementFactory = _make("polygon")
g: ElementFactory = _make("g")
text: ElementFactory = _make("text")

# ``input``, ``map`` and ``object`` are importable by name too; they are kept out
# of ``__all__`` so that ``from rweb.html import *`` never shadows a builtin.
input = input_
map = map_
object = object_

__all__ += ['a', 'abbr', 'address', 'area', 'article', 'aside', 'audio', 'b', 'base', 'bdi', 'bdo', 'blockquote', 'body', 'br', 'button', 'canvas', 'caption', 'circle', 'cite', 'code', 'col', 'colgroup', 'data', 'datalist', 'dd', 'del_', 'details', 'dfn', 'dialog', 'div', 'dl', 'dt', 'em', 'embed', 'fieldset', 'figcaption', 'figure', 'footer', 'form', 'g', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'head', 'header', 'hgroup', 'hr', 'html', 'i', 'iframe', 'img', 'input_', 'ins', 'kbd', 'label', 'legend', 'li', 'line', 'link', 'main', 'map_', 'mark', 'menu', 'meta', 'meter', 'nav', 'noscript', 'object_', 'ol', 'optgroup', 'option', 'output', 'p', 'path', 'picture', 'polygon', 'polyline', 'pre', 'progress', 'q', 'rect', 'rp', 'rt', 'ruby', 's', 'samp', 'script', 'search', 'section', 'select', 'slot', 'small', 'source', 'span', 'strong', 'style', 'sub', 'summary', 'sup', 'svg', 'table', 'tbody', 'td', 'template', 'text', 'textarea', 'tfoot', 'th', 'thead', 'time', 'title', 'tr', 'track', 'u', 'ul', 'var', 'video', 'wbr']
