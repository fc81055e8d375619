"""HTML builder: every standard element as a function, escaping by default.

``div(*children, **attrs)`` builds an :class:`Element`.  Children may be
strings, numbers, elements, components, lists, tuples, generators, reactive
lists, or ``None`` / ``True`` / ``False`` (which render as nothing).

Attributes are Python-friendly: ``data_action="inc"`` becomes
``data-action="inc"``, a trailing underscore is dropped (``class_``, ``for_``),
``True`` renders a bare boolean attribute and ``False`` / ``None`` omit it.
Text and attribute values are always escaped; :func:`raw` marks trusted markup.
URL attributes (``href``, ``src``, ``action``...) accept only safe schemes and
event-handler attributes (``on*``) are refused: see docs/security.md.

``component(name, fn)`` is the unit of re-rendering (see :mod:`rweb.render`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVarTuple, Unpack

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:  # plain Python without Cython: its class decorators (below) do nothing
    from ._nocython import cython

    _COMPILED = False

_Args = TypeVarTuple("_Args")

__all__ = [
    "SAFE_URL_SCHEMES",
    "URL_ATTRS",
    "Component",
    "Element",
    "ElementFactory",
    "Filled",
    "Markup",
    "Template",
    "TemplateError",
    "UnsafeAttributeError",
    "UnsafeURLError",
    "attr_name",
    "check_url",
    "component",
    "escape",
    "raw",
    "to_html",
    "url_scheme",
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


class UnsafeURLError(ValueError):
    """A URL attribute's value has a scheme that is not allowed (``javascript:``, ``data:``...).

    Raised at render time: the component fails to render (``render_error``)
    and keeps its last render.  A :class:`Markup` value (:func:`raw`) is trusted.
    """


class UnsafeAttributeError(ValueError):
    """An attribute that would run or embed code: ``on*`` event handlers, ``srcdoc``."""


class TemplateError(ValueError):
    """A :class:`Template` source rweb will not compile: the message says where and why."""


# Schemes a URL attribute may use (besides relative URLs).  Replace the set to
# allow more, e.g. ``rweb.html.SAFE_URL_SCHEMES = SAFE_URL_SCHEMES | {"sms"}``.
SAFE_URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto", "tel"})
"""The schemes a URL attribute may use besides relative URLs (replace the set to allow more)."""

# Attributes whose value is a URL (HTML, SVG, obsolete ones browsers still honour).
URL_ATTRS: frozenset[str] = frozenset(
    "action background cite codebase data dynsrc formaction href icon longdesc lowsrc "
    "manifest poster profile src usemap xlink:href".split()
)
"""The attributes whose value is a URL, checked against :data:`SAFE_URL_SCHEMES`."""
# Attributes whose value is a list of URLs (space-separated; srcset: comma-separated candidates).
_URL_LIST_ATTRS = frozenset({"ping", "srcset", "imagesrcset"})

# What the renderer does with an attribute, by lowercase name (absent: nothing special).
KIND_ACTION = 1  # data-action & co: the value names an action the client may send
KIND_URL = 2  # checked by check_url
KIND_URL_LIST = 3  # each URL checked
KIND_OBJECT_DATA = 4  # ``data``: a URL on <object> only
KIND_HTML = 5  # srcdoc: a whole HTML document
KIND_ACTION_LIST = 6  # data-hook-actions: space-separated actions a client hook may send
_ATTR_KINDS: dict[str, int] = {
    **{n: KIND_URL for n in URL_ATTRS},
    **{n: KIND_URL_LIST for n in _URL_LIST_ATTRS},
    "data": KIND_OBJECT_DATA,
    "srcdoc": KIND_HTML,
    **{n: KIND_ACTION for n in ("data-action", "data-oninput", "data-onchange", "data-onsubmit")},
    "data-hook-actions": KIND_ACTION_LIST,
}


class _SpecialName(str):
    """An attribute name that the renderer checks or records: its class's ``kind`` says how.

    attr_name() returns one for such names (it is equal to the plain name), so
    that the renderer tells them apart by type, without a lookup per attribute.
    """

    __slots__ = ()
    kind = 0


_SPECIAL_NAME_CLASSES: dict[int, type[_SpecialName]] = {
    kind: type(f"_SpecialName{kind}", (_SpecialName,), {"__slots__": (), "kind": kind})
    for kind in (KIND_ACTION, KIND_URL, KIND_URL_LIST, KIND_OBJECT_DATA, KIND_HTML, KIND_ACTION_LIST)
}

_ATTR_NAMES: dict[str, str] = {}
_ATTR_NAMES_MAX = 4096  # distinct keys remembered (names built from user data would grow it)
_ATTR_NAME = re.compile(r"[-a-zA-Z0-9:.@]+")  # what attr_name() lets through, once ``_`` is ``-``


def attr_name(key: str) -> str:
    """Python keyword argument -> HTML attribute name (validated once, then cached).

    Refused: names that are not plain ASCII names (spaces, quotes, ``=``,
    ``>``, ``/``, control characters...: :class:`ValueError`) and event
    handlers, ``on*`` in any case (:class:`UnsafeAttributeError`).
    """
    name = _ATTR_NAMES.get(key)  # pragma: no mutate (cache: a miss recomputes the same name)
    if name is None:
        name = key[:-1] if key.endswith("_") else key
        name = _html_attr_name(name.replace("_", "-"), key)
        if len(_ATTR_NAMES) >= _ATTR_NAMES_MAX:
            _ATTR_NAMES.clear()
        _ATTR_NAMES[key] = name  # pragma: no mutate (cache: a name not remembered is recomputed)
    return name


def _html_attr_name(name: str, given: str | None = None) -> str:
    """An HTML attribute name as the renderer holds it: checked, and a :class:`_SpecialName` when
    its value is checked or recorded (an action, a URL...).  ``given``: what the author wrote, for
    the error (attr_name's keyword argument).

    Refused: names that are not plain ASCII names (:class:`ValueError`) and event handlers,
    ``on*`` in any case (:class:`UnsafeAttributeError`).
    """
    if _ATTR_NAME.fullmatch(name) is None:
        raise ValueError(f"invalid HTML attribute name: {given if given is not None else name!r}")
    low = name.lower()
    if low.startswith("on"):
        raise UnsafeAttributeError(
            f"event-handler attribute {name!r} refused: rweb renders no inline script. "
            "Use data-action (or data-oninput, data-onchange, data-onsubmit) to send an action "  # pragma: no mutate (wording)
            "to the server, or a script of your own that calls addEventListener"  # pragma: no mutate (wording)
        )
    kind = _ATTR_KINDS.get(low)  # (HTML attribute names are case-insensitive)
    if kind is not None:
        return _SPECIAL_NAME_CLASSES[kind](name)
    return name


_TAG_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TAG_CHARS = _TAG_START | frozenset("0123456789-_:.")


def _check_tag(tag: str) -> None:
    """Raise :class:`ValueError` unless ``tag`` is an element name (``Element(...)`` takes any string)."""
    if not tag or tag[0] not in _TAG_START or not set(tag) <= _TAG_CHARS:
        raise ValueError(f"invalid HTML tag name: {tag!r}")


_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*")  # RFC 3986: a letter, then letters, digits, + - .
_IMAGE_MIME = re.compile(" *image/", re.IGNORECASE | re.ASCII)  # after "data:", control characters dropped
_MIME_WINDOW = 40  # url_scheme() looks for it in so many characters after "data:" (long URLs)
_CONTROLS = "".join(map(chr, range(32))) + "\x7f"
_DROP_CONTROLS = str.maketrans("", "", _CONTROLS)
_LEADING = _CONTROLS + " "
_DATA_IMAGE = "data:image/"  # url_scheme()'s answer for data:image/... URLs

# url_scheme() of short values seen before.  Bounded.
_schemes: dict[str, str] = {}
_SCHEMES_MAX = 4096


def url_scheme(url: str) -> str:
    """The scheme a browser reads in ``url``, lowercase; ``""`` for a relative URL.

    As browsers parse it: leading spaces and control characters are skipped,
    tabs and newlines inside are ignored (``"java\tscript:"`` is ``javascript``);
    every control character is dropped here, to err on the safe side.
    ``data:image/...`` URLs answer ``"data:image/"``.
    """
    got = _schemes.get(url)  # pragma: no mutate (cache: a miss recomputes the same scheme)
    if got is not None:
        return got
    scheme = ""
    head, colon, rest = url.lstrip(_LEADING).partition(":")
    if colon:
        if not head.isprintable():  # a control character inside: drop them all
            head = head.translate(_DROP_CONTROLS)
        if _SCHEME.fullmatch(head):
            scheme = head.lower()
            if scheme == "data" and _IMAGE_MIME.match(rest[:_MIME_WINDOW].translate(_DROP_CONTROLS)):
                scheme = _DATA_IMAGE
    if len(url) <= 256:  # pragma: no mutate (cache: which URLs are remembered; a miss recomputes)
        if len(_schemes) >= _SCHEMES_MAX:
            _schemes.clear()
        _schemes[url] = scheme  # pragma: no mutate (cache: a scheme not remembered is recomputed)
    return scheme


def check_url(url: str, attr: str = "href", tag: str = "a") -> None:
    """Raise :class:`UnsafeURLError` unless ``url`` is safe in ``<tag attr=...>``.

    Safe: a relative URL, or one of :data:`SAFE_URL_SCHEMES` (http, https,
    mailto, tel); ``data:image/...`` too in ``src`` / ``srcset`` of ``<img>``
    and ``<source>`` (an image runs no script).
    """
    scheme = url_scheme(url)
    if not scheme or scheme in SAFE_URL_SCHEMES:
        return
    if scheme == _DATA_IMAGE:
        if (tag == "img" or tag == "source") and (attr == "src" or attr == "srcset"):
            return
        scheme = "data"
    shown = url if len(url) <= 40 else url[:37] + "..."  # pragma: no mutate (wording: where a long URL is cut)
    raise UnsafeURLError(
        f"unsafe URL in <{tag} {attr}=...>: the scheme {scheme!r} is not allowed ({shown!r}); "
        f"allowed: relative URLs, {', '.join(sorted(SAFE_URL_SCHEMES))}"
        " (wrap a value you trust in raw() to pass it as is)"  # pragma: no mutate (wording)
    )


def _check_attr(kind: int, name: str, value: Any, text: str, tag: str) -> None:
    """The renderer's check of an attribute of kind ``kind`` (see _ATTR_KINDS) but actions; ``text`` is ``str(value)``."""
    if type(value) is not str:  # pragma: no mutate (fast path: a str is neither Markup nor has __html__)
        if isinstance(value, Markup) or hasattr(value, "__html__"):
            return  # trusted by its author
    if kind == KIND_URL:
        if text:  # the common case first, without a lookup: /path, #id, ?q, ./x
            first = text[0]  # pragma: no mutate (fast path: check_url finds no scheme there either)
            if first == "/" or first == "#" or first == "?" or first == ".":  # pragma: no mutate (fast path)
                return  # no scheme starts so: relative
        check_url(text, name.lower(), tag)
    elif kind == KIND_URL_LIST:
        for part in text.replace(",", " ").split():
            check_url(part, name.lower(), tag)
    elif kind == KIND_OBJECT_DATA:
        if tag.lower() == "object":
            check_url(text, name.lower(), tag)
    elif kind == KIND_HTML:
        raise UnsafeAttributeError(
            f"<{tag} {name.lower()}=...> refused: its value is an HTML document, where any text can run "
            "as script; pass raw(...) for markup you trust"  # pragma: no mutate (wording)
        )


# Compiled, elements freed go to a free list (64) that the next ones are taken from: a render
# builds and drops a tree of them, and the allocator's round trip was a tenth of an element's cost.
@cython.freelist(64)
@cython.cclass
class Element:
    """An HTML element: tag, attributes (Python-style keys) and children.

    The attributes' keys are a tuple (``attr_keys``), in the order given.  The children and
    then the attributes' values are held in one tuple (``items``, the first ``nkids`` of them
    the children): an element function's call makes no dictionary, and one tuple, where
    children and values apart took two.  :attr:`children` and :attr:`attr_values` give each
    part, :attr:`attrs` the attributes as a read-only mapping.
    """

    __slots__ = ("attr_keys", "items", "nkids", "tag", "void")

    def __init__(self, tag: str, children: tuple[Any, ...], attrs: dict[str, Any], void: bool = False):
        kids = tuple(children)
        self.tag = tag
        self.attr_keys = tuple(attrs)
        self.items = kids + tuple(attrs.values()) if attrs else kids
        self.nkids = len(kids)
        self.void = void

    @property
    def children(self) -> tuple[Any, ...]:
        """The children, in order (a void element's are not rendered)."""
        items = self.items
        n = self.nkids
        return items if n == len(items) else items[:n]

    @property
    def attr_values(self) -> tuple[Any, ...]:
        """The attributes' values, in the order of :attr:`attr_keys`."""
        items = self.items
        n = self.nkids
        return items if n == 0 else items[n:]

    @property
    def attrs(self) -> Mapping[str, Any]:
        """The attributes by key (Python-style: ``class_``, ``data_action``), read-only: a new
        element is made with other attributes."""
        return MappingProxyType(dict(zip(self.attr_keys, self.attr_values, strict=True)))

    def __repr__(self) -> str:
        return f"<Element {self.tag} attrs={dict(self.attrs)!r} children={len(self.children)}>"

    def __html__(self) -> str:
        return to_html(self)


class Component:
    """A named unit of re-rendering: ``fn(*args)`` renders it (:func:`component`).

    The component re-renders only when a reactive field that its last render
    read has been written, or when the component that contains it renders it
    with another function or other arguments.
    """

    __slots__ = ("args", "fn", "name")

    def __init__(self, name: str, fn: Callable[..., Any], args: tuple[Any, ...] = ()):
        if not isinstance(name, str) or not name:
            raise TypeError(f"component name must be a non-empty string, got {name!r}")
        if not callable(fn):
            raise TypeError(f"component {name!r}: fn must be callable, got {type(fn).__name__}")
        if type(args) is not tuple:
            raise TypeError(f"component {name!r}: args must be a tuple, got {type(args).__name__}")
        self.name = name
        self.fn = fn
        self.args = args

    def __repr__(self) -> str:
        return f"<Component {self.name!r}>"


_NO_LAST = object()  # a template's hole before its first value (Template.lasts)


class Template:
    """Markup compiled once, with named holes: ``Template('<li class={cls}>{title}</li>')``.

    The source is HTML with ``{name}`` placeholders, each standing for an attribute's whole
    value or for content (``{{`` and ``}}`` are literal braces); it is parsed once, here
    (:mod:`rweb.core.templates` says what it accepts).  Calling the template with a value
    for every name, ``ROW(cls="done", title=todo.title)``, gives a :class:`Filled` that renders
    wherever an element does.  Its statics were cut when it was compiled: a render fills the
    holes, without building and walking an element per tag, and literal attributes are sent
    once per shape instead of once per render (LiveView's ``~H``).

    Values are rendered as element children and attributes are: text escaped; elements,
    components, lists and other templates filled into content holes; ``True`` / ``False`` /
    ``None`` for boolean attributes; URLs and actions checked.
    """

    __slots__ = (
        "_kwnames", "_perm", "_perms", "actions", "attrs", "first", "firsts", "head", "index",
        "lasts", "names", "order", "pieces", "rooms", "rooted", "slots", "source", "tables", "tags",
    )

    def __init__(self, source: str) -> None:
        if _compiler is None:  # pragma: no cover (import rweb installs it before any rweb.html use)
            raise RuntimeError("rweb.core.templates is not installed: import rweb first")
        c = _compiler(source)
        self.source = source
        self.head = c.head
        self.pieces = c.pieces
        self.first = c.head + c.pieces[0]
        self.names = c.names
        self.attrs = c.attrs
        self.tags = c.tags
        self.rooms = c.rooms
        # Its names once each, in the order they first appear: a Filled holds its values in this order
        # (a tuple), and hole i takes the value at slots[i] (a name may fill several holes).
        self.order: tuple[str, ...] = tuple(dict.fromkeys(c.names))
        self.index: dict[str, int] = {name: i for i, name in enumerate(self.order)}
        self.slots: tuple[int, ...] = tuple(self.index[name] for name in c.names)
        # The compiled build's call (html.pxd, _template_vectorcall; there, a C field beside these
        # holds it): per call site's keywords (the tuple of names a call passes, one object per
        # site), where each value goes in the order.
        self._kwnames: tuple[str, ...] | None = None
        self._perm: tuple[int, ...] | None = None
        self._perms: dict[tuple[str, ...], tuple[int, ...]] = {}
        if _COMPILED:
            _arm(self)  # type: ignore[name-defined]  # noqa: F821 (an inline function of html.pxd)
        self.actions = c.actions
        self.rooted = c.rooted
        self.firsts: dict[str, str] = {}  # rweb.render's: the first static with a component's data-rc
        # rweb.render's: per hole, the table of its attribute's markups by value (None until filled).
        self.tables: list[dict[str, str] | None] = [None] * len(c.names)
        # rweb.render's: per hole, its last value and that value's markup (a refill, _refill).
        self.lasts: list[Any] = [_NO_LAST, None] * len(c.names)

    def __call__(self, **values: Any) -> Filled:
        # Compiled, a call with keywords is _template_vectorcall's (html.pxd); this is plain Python's,
        # and the compiled build's for a call through a dict (``ROW(**values)`` from C code).
        order = self.order
        if len(values) != len(order):
            raise self.mismatch(values)
        try:
            vals = tuple([values[name] for name in order])
        except KeyError:
            raise self.mismatch(values) from None
        return _filled(self, vals)

    def _arrange(self, kwnames: tuple[str, ...]) -> tuple[int, ...]:
        """Where each keyword of a call goes in :attr:`order` (the compiled call's, made once per call
        site's names); the error of :meth:`mismatch` when they do not name every hole once."""
        perm = self._perms.get(kwnames)
        if perm is None:
            index = self.index
            got = [index.get(name, -1) for name in kwnames]
            if len(got) != len(index) or -1 in got or len(set(got)) != len(got):
                raise self.mismatch(dict.fromkeys(kwnames))
            perm = tuple(got)
            if len(self._perms) >= 64:  # bounded: call sites, not calls, make entries
                self._perms.clear()
            self._perms[kwnames] = perm
        self._kwnames = kwnames
        self._perm = perm
        return perm

    def mismatch(self, values: dict[str, Any]) -> TypeError:
        """The error for ``values`` that do not name every hole, or name others."""
        names = self.index.keys()  # each hole's name, once
        missing = sorted(names - values.keys())
        extra = sorted(values.keys() - names)
        what = []
        if missing:
            what.append(f"missing {', '.join(missing)}")
        if extra:
            what.append(f"unexpected {', '.join(extra)}")
        return TypeError(f"template {_short(self.source)!r}: {'; '.join(what)} (it takes {', '.join(sorted(names))})")

    def __repr__(self) -> str:
        return f"<Template {_short(self.source)!r}>"


def _counted_as_elements(t: Template) -> Template:
    """``t``, its holes' contents given the nesting room an element's children get, as in the
    tree of element functions it was compiled from (rweb.core.element_templates): a template
    counts one level itself (so that one that fills itself cannot recurse without bound), and
    each element around the hole one more.  Only for a template whose every hole is inside an
    element (its root), where the elements alone bound the recursion."""
    t.rooms = tuple([r - 1 for r in t.rooms])
    return t


def _short(source: str) -> str:
    text = " ".join(source.split())
    return text if len(text) <= 60 else text[:57] + "..."


@cython.freelist(16)  # (as Element's: one per template call of every render)
@cython.cclass
class Filled:
    """A :class:`Template` with a value for each of its holes: a node, rendered where it stands."""

    __slots__ = ("template", "vals")
    # Made by calling the template (_filled: no __init__).
    template: Template
    vals: tuple[Any, ...]  # in the template's order (Template.order)

    @property
    def values(self) -> dict[str, Any]:
        """The values by name."""
        return dict(zip(self.template.order, self.vals, strict=True))

    def __repr__(self) -> str:
        return f"<Filled {_short(self.template.source)!r}>"

    def __html__(self) -> str:
        return to_html(self)


def _filled(template: Template, vals: tuple[Any, ...]) -> Filled:
    f = Filled.__new__(Filled)  # Cython: the type's tp_new, no __init__
    f.template = template
    f.vals = vals
    return f


# Unpack[...], not *_Args: Cython keeps a starred annotation as "<???>" (the signature in docs/api.md).
def component(name: str, fn: Callable[[Unpack[_Args]], Any], *args: Unpack[_Args]) -> Component:  # noqa: UP044
    """Declare the component ``name`` rendered by ``fn(*args)``.

    A name may appear once per page; using it twice is an error at render time.
    When its parent renders again, the component renders again only if a
    reactive field it read was written, or if ``fn`` or ``args`` changed:
    another function, or arguments that are not the very same objects (``is``).
    Rows are written this way, one function for all of them and the row's
    record as its argument (``component(f"row-{todo.id}", todo_row, todo)``):
    no function made per row and per render, as a closure would be.
    """
    return Component(name, fn, args)


_renderer: Callable[[Any], str] | None = None  # rweb.render.to_html, installed by rweb.render


_compiler: Callable[[str], Any] | None = None  # rweb.core.templates.compile_source, installed by rweb.render


def set_compiler(compile_source: Callable[[str], Any]) -> None:
    """Install the function :class:`Template` compiles its source with: :mod:`rweb.render` installs
    :func:`rweb.core.templates.compile_source` when imported (the compiler imports this module, so
    this module does not import it)."""
    global _compiler
    _compiler = compile_source


def set_renderer(render: Callable[[Any], str]) -> None:
    """Install the function :func:`to_html` calls: :mod:`rweb.render` installs its own when imported.

    This module is the vocabulary pages are written in and sits beneath the
    renderer, so it does not import it; ``import rweb`` (which any ``rweb.*``
    import runs first) imports both.
    """
    global _renderer
    _renderer = render


def to_html(node: Any) -> str:
    """Render a tree to an HTML string (components inline, untracked).

    One renderer: this is :func:`rweb.render.to_html`, the walkers that
    render pages.
    """
    if _renderer is None:  # pragma: no cover (import rweb installs it before any rweb.html use)
        raise RuntimeError("rweb.render is not imported: import rweb first")
    return _renderer(node)


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


# Elements whose text the browser does not decode: escaping would change it, not escaping
# would let a value end the element early.  Only raw(...) text goes in.
_RAW_TEXT = frozenset({"script", "style"})


def _build(tag: str, items: tuple[Any, ...], nkids: int, keys: tuple[str, ...], void: bool) -> Element:
    # An Element without Element.__init__ (one Python frame less per element of every render);
    # keep in step with __init__.  Compiled, a C function that sets the typed fields.
    el = Element.__new__(Element)  # Cython: the type's tp_new, no __init__
    el.tag = tag
    el.items = items
    el.nkids = nkids
    el.attr_keys = keys
    el.void = void
    return el


class ElementFactory:
    """The element function of one tag: ``div = ElementFactory("div")``, ``div(*children, **attrs)``
    builds a ``<div>`` :class:`Element`.  Every standard element has one in this module; make
    one for another tag (a custom element, ``ElementFactory("my-map")``): the tag is checked
    when it is rendered.  A void element (``<br>``, ``<input>``...) takes no children, and
    ``<script>`` / ``<style>`` take only :func:`raw` text (browsers do not decode theirs).
    """

    __slots__ = ("raw", "tag", "void")

    def __init__(self, tag: str) -> None:
        if not isinstance(tag, str) or not tag:
            raise TypeError(f"an element's tag is a non-empty string, got {tag!r}")
        self.tag = tag
        self.void = tag in _VOID
        self.raw = tag in _RAW_TEXT
        # Compiled, a C field holds the call (html.pxd, _element_vectorcall): the children and the
        # attributes' values come from the call's arrays and its keys are the call site's names,
        # without the tuple and dict CPython makes for a ``*children, **attrs`` signature.  A call
        # that must be refused goes on to __call__.
        if _COMPILED:
            _arm_element(self)  # type: ignore[name-defined]  # noqa: F821 (an inline function of html.pxd)

    def __call__(self, *children: Any, **attrs: Any) -> Element:
        if self.void:
            if children:
                raise TypeError(f"<{self.tag}> is a void element and takes no children")
            return _build(self.tag, tuple(attrs.values()), 0, tuple(attrs), True)
        if self.raw:
            for c in children:
                if not isinstance(c, Markup):
                    raise TypeError(
                        f"<{self.tag}> text is not escaped by browsers, so rweb cannot put {type(c).__name__} "
                        f"there safely: use <{self.tag} src/href=...> with a static file, App(head=...) for a "
                        "page-wide one, a client hook for code per element (docs/hooks.md), or raw(...) "
                        "for text you wrote yourself"
                    )
        return _build(self.tag, children + tuple(attrs.values()) if attrs else children, len(children), tuple(attrs), False)

    def __repr__(self) -> str:
        return f"<element function {self.tag}>"


# One function per element, spelled out so that editors and type checkers see them.
a = ElementFactory("a")
abbr = ElementFactory("abbr")
address = ElementFactory("address")
area = ElementFactory("area")
article = ElementFactory("article")
aside = ElementFactory("aside")
audio = ElementFactory("audio")
b = ElementFactory("b")
base = ElementFactory("base")
bdi = ElementFactory("bdi")
bdo = ElementFactory("bdo")
blockquote = ElementFactory("blockquote")
body = ElementFactory("body")
br = ElementFactory("br")
button = ElementFactory("button")
canvas = ElementFactory("canvas")
caption = ElementFactory("caption")
cite = ElementFactory("cite")
code = ElementFactory("code")
col = ElementFactory("col")
colgroup = ElementFactory("colgroup")
data = ElementFactory("data")
datalist = ElementFactory("datalist")
dd = ElementFactory("dd")
del_ = ElementFactory("del")
details = ElementFactory("details")
dfn = ElementFactory("dfn")
dialog = ElementFactory("dialog")
div = ElementFactory("div")
dl = ElementFactory("dl")
dt = ElementFactory("dt")
em = ElementFactory("em")
embed = ElementFactory("embed")
fieldset = ElementFactory("fieldset")
figcaption = ElementFactory("figcaption")
figure = ElementFactory("figure")
footer = ElementFactory("footer")
form = ElementFactory("form")
h1 = ElementFactory("h1")
h2 = ElementFactory("h2")
h3 = ElementFactory("h3")
h4 = ElementFactory("h4")
h5 = ElementFactory("h5")
h6 = ElementFactory("h6")
head = ElementFactory("head")
header = ElementFactory("header")
hgroup = ElementFactory("hgroup")
hr = ElementFactory("hr")
html = ElementFactory("html")
i = ElementFactory("i")
iframe = ElementFactory("iframe")
img = ElementFactory("img")
input_ = ElementFactory("input")
ins = ElementFactory("ins")
kbd = ElementFactory("kbd")
label = ElementFactory("label")
legend = ElementFactory("legend")
li = ElementFactory("li")
link = ElementFactory("link")
main = ElementFactory("main")
map_ = ElementFactory("map")
mark = ElementFactory("mark")
menu = ElementFactory("menu")
meta = ElementFactory("meta")
meter = ElementFactory("meter")
nav = ElementFactory("nav")
noscript = ElementFactory("noscript")
object_ = ElementFactory("object")
ol = ElementFactory("ol")
optgroup = ElementFactory("optgroup")
option = ElementFactory("option")
output = ElementFactory("output")
p = ElementFactory("p")
picture = ElementFactory("picture")
pre = ElementFactory("pre")
progress = ElementFactory("progress")
q = ElementFactory("q")
rp = ElementFactory("rp")
rt = ElementFactory("rt")
ruby = ElementFactory("ruby")
s = ElementFactory("s")
samp = ElementFactory("samp")
script = ElementFactory("script")
search = ElementFactory("search")
section = ElementFactory("section")
select = ElementFactory("select")
slot = ElementFactory("slot")
small = ElementFactory("small")
source = ElementFactory("source")
span = ElementFactory("span")
strong = ElementFactory("strong")
style = ElementFactory("style")
sub = ElementFactory("sub")
summary = ElementFactory("summary")
sup = ElementFactory("sup")
table = ElementFactory("table")
tbody = ElementFactory("tbody")
td = ElementFactory("td")
template = ElementFactory("template")
textarea = ElementFactory("textarea")
tfoot = ElementFactory("tfoot")
th = ElementFactory("th")
thead = ElementFactory("thead")
time = ElementFactory("time")
title = ElementFactory("title")
tr = ElementFactory("tr")
track = ElementFactory("track")
u = ElementFactory("u")
ul = ElementFactory("ul")
var = ElementFactory("var")
video = ElementFactory("video")
wbr = ElementFactory("wbr")
svg = ElementFactory("svg")
path = ElementFactory("path")
circle = ElementFactory("circle")
rect = ElementFactory("rect")
line = ElementFactory("line")
polyline = ElementFactory("polyline")
polygon = ElementFactory("polygon")
g = ElementFactory("g")
text = ElementFactory("text")

# ``input``, ``map`` and ``object`` are importable by name too; they are kept out
# of ``__all__`` so that ``from rweb.html import *`` never shadows a builtin.
input = input_
map = map_
object = object_

__all__ += ['a', 'abbr', 'address', 'area', 'article', 'aside', 'audio', 'b', 'base', 'bdi', 'bdo', 'blockquote', 'body', 'br', 'button', 'canvas', 'caption', 'circle', 'cite', 'code', 'col', 'colgroup', 'data', 'datalist', 'dd', 'del_', 'details', 'dfn', 'dialog', 'div', 'dl', 'dt', 'em', 'embed', 'fieldset', 'figcaption', 'figure', 'footer', 'form', 'g', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'head', 'header', 'hgroup', 'hr', 'html', 'i', 'iframe', 'img', 'input_', 'ins', 'kbd', 'label', 'legend', 'li', 'line', 'link', 'main', 'map_', 'mark', 'menu', 'meta', 'meter', 'nav', 'noscript', 'object_', 'ol', 'optgroup', 'option', 'output', 'p', 'path', 'picture', 'polygon', 'polyline', 'pre', 'progress', 'q', 'rect', 'rp', 'rt', 'ruby', 's', 'samp', 'script', 'search', 'section', 'select', 'slot', 'small', 'source', 'span', 'strong', 'style', 'sub', 'summary', 'sup', 'svg', 'table', 'tbody', 'td', 'template', 'text', 'textarea', 'tfoot', 'th', 'thead', 'time', 'title', 'tr', 'track', 'u', 'ul', 'var', 'video', 'wbr']
