"""Components and the page they form: render, track, re-render, diff.

A :class:`View` owns the components of one page.  Its root component is the
user's ``render_page``; every :func:`rweb.html.component` met while rendering
becomes a child :class:`ComponentState`, rendered under its own tracker so
that a reactive write re-renders exactly the components that read the field.

Each render of a component is split into statics and escaped dynamic slots
(see :mod:`rweb.diff`); the component's root element carries
``data-rc="<name>"`` so that the browser can find it.  ``View.flush()``
re-renders the dirty components, parents before children, and returns one
patch per component that changed (``None`` for a component that is gone).

The walkers recurse, so a tree may nest at most :data:`MAX_DEPTH` levels and
components at most :data:`MAX_COMPONENT_DEPTH` deep; deeper, the render fails
with :class:`TooDeepError` (see docs/security.md, "Limits").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from secrets import token_hex as _token_hex
from typing import Any

from .diff import CRef, diff, full
from .html import (
    _ATTR_KINDS,
    _ATTR_NAMES,
    KIND_ACTION,
    KIND_ACTION_LIST,
    Component,
    Element,
    Markup,
    _check_attr,
    attr_name,
    escape,
)
from .reactive import Tracker, begin, end, unsubscribe

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:
    _COMPILED = False

__all__ = [
    "MAX_COMPONENT_DEPTH",
    "MAX_DEPTH",
    "ROOT",
    "ComponentState",
    "DuplicateComponentError",
    "RenderContext",
    "RenderError",
    "TooDeepError",
    "View",
    "error_ref",
    "to_html",
]

log = logging.getLogger("rweb.render")

ROOT = "root"
"""The name of the page's root component (the user's ``render_page``)."""

# Attributes whose value names an action the client may send.
ACTION_ATTRS = frozenset(n for n, kind in _ATTR_KINDS.items() if kind == KIND_ACTION)
_KIND_ACTION: Any = KIND_ACTION
_KIND_ACTION_LIST: Any = KIND_ACTION_LIST

MAX_DEPTH = 512
"""How deep a tree may nest: each element, each list / tuple / generator /
iterable child and each component counts one level (``div([span("x")])`` is
three).  Browsers' HTML parsers stop nesting at 512 elements too.  Deeper,
the render fails with :class:`TooDeepError`.  Read when a render starts (a
page's root component: when its view is created); set it at start-up."""

MAX_COMPONENT_DEPTH = 100
"""How deep components may nest in a page (the root is at depth 0)."""

# How many render passes one flush may take before giving up (a component
# that writes what it reads would otherwise loop forever).
MAX_PASSES = 16


_ABSENT: Any = object()
_NO_ERRORS: list[Any] = []  # shared and never appended to: see View._error
_NO_CHILDREN: list[Any] = []  # shared and never appended to: see View.child
_NO_PATCHES: dict[str, Any] = {}


class DuplicateComponentError(ValueError):
    """A component name was used twice in one page."""


class TooDeepError(ValueError):
    """A tree nests deeper than :data:`MAX_DEPTH`, or components deeper than :data:`MAX_COMPONENT_DEPTH`.

    The walkers recurse: without this limit a deep enough tree would exhaust
    the C stack (compiled) or Python's recursion limit.
    """


def _too_deep(where: Any) -> TooDeepError:
    what = f"<{where.tag}>" if type(where) is Element else type(where).__name__
    return TooDeepError(
        f"the tree is too deep: {what} is nested more than {MAX_DEPTH} levels deep "
        "(each element, list/iterable child and component counts one; rweb.render.MAX_DEPTH)"
    )


class RenderError(RuntimeError):
    """A component's render function raised; the component keeps its last render."""

    def __init__(self, component: str, cause: BaseException):
        super().__init__(f"component {component!r} failed to render: {type(cause).__name__}: {cause}")
        self.component = component
        self.cause = cause
        # Quoted in the log line and to the browser, which sees only the type.
        self.ref = error_ref()

    @property
    def public(self) -> str:
        """What the browser may be told: no exception message (it can hold secrets)."""
        return self.shown(None)

    def shown(self, debug: bool | None) -> str:
        """:attr:`public`, or with the message and traceback for an app in debug mode."""
        return f"component {self.component!r} failed to render: {describe(self.cause, self.ref, debug)}"


def error_ref() -> str:
    """A short random id that ties what a visitor is shown to the server's log line."""
    return _token_hex(4)


DEBUG = False
"""Debug mode where no app says (``App(debug=...)`` decides for its own sessions and
pages): errors shown to the browser carry the exception's message too.  Never in
production: a message can hold a token, a path, a user's data."""


def describe(exc: BaseException, ref: str, debug: bool | None = None) -> str:
    """An error as the browser may see it: its type and a reference to the log line
    (plus, in debug mode, its message and traceback: the client shows them in an overlay).
    ``debug``: the app's setting (None: the module's :data:`DEBUG`)."""
    if DEBUG if debug is None else debug:
        import traceback

        trace = "".join(traceback.format_exception(exc))
        if len(trace) > MAX_TRACE:
            trace = "...\n" + trace[-MAX_TRACE:]
        return f"{type(exc).__name__} (ref {ref}): {exc}\n\n{trace}"
    return f"{type(exc).__name__} (ref {ref})"


MAX_TRACE = 16 * 1024  # characters of a traceback shown in debug mode (its end: where it failed)


class RenderContext:
    """The state of one component's render in progress.

    What the walkers accumulate (statics and dynamics so far, the child
    components met, the actions bound) lives here, not in the component, and
    ``outer`` links to the render that contains this one (a parent renders a
    new or changed child in place), so that the view knows which components
    are rendering.  ``comp`` is None for a detached render (:func:`to_html`).
    """

    __slots__ = ("acts", "comp", "dy", "kids", "outer", "st", "view")

    def __init__(self, comp: ComponentState | None, view: View | None, outer: RenderContext | None):
        self.comp = comp
        self.view = view
        self.outer = outer
        self.st: list[str] = []
        self.dy: list[Any] = []
        self.kids: list[str] = _NO_CHILDREN
        self.acts: set[str] | None = None


class ComponentState(Tracker):
    """One live component of a page; the tracker its reads subscribe."""

    __slots__ = (
        "actions",
        "children",
        "claimed",
        "depth",
        "dirty",
        "dyns",
        "fn",
        "name",
        "parent",
        "rc",
        "room",
        "statics",
        "view",
    )

    def __init__(self, name: str, fn: Callable[[], Any], view: View, parent: ComponentState | None):
        self.name = name
        self.fn = fn
        self.view = view
        self.parent = parent
        self.depth: int = 0 if parent is None else parent.depth + 1
        # Levels of nesting left for its tree (MAX_DEPTH minus where it sits in the page).
        self.room: int = MAX_DEPTH if parent is None else 0
        self.statics: tuple[str, ...] | None = None
        self.dyns: list[Any] | None = None
        self.children: tuple[str, ...] = ()
        self.sources: list[set[Any]] = []
        self.owner: Any = view  # the page whose state its reads are (rweb.reactive.on_shared_state)
        self.dirty = True
        self.actions: frozenset[str] | None = None
        self.claimed = -1  # the view epoch in which a parent last rendered it
        self.rc = _rc_attr(name)  # marks the component's root element

    def invalidate(self) -> None:
        if not self.dirty:
            self.dirty = True
            view = self.view
            dirty = view.dirty
            dirty.append(self)
            if len(dirty) == 1 and not view.hold and view.on_dirty is not None:
                view.on_dirty()

    def __repr__(self) -> str:
        return f"<ComponentState {self.name!r} depth={self.depth}>"


def _same_fn(a: Any, b: Any) -> bool:
    """Would ``b()`` render what ``a()`` rendered, reactive reads aside?

    True when both are the same function code over the very same captured
    objects: then only a reactive write could change the output, and those
    are tracked.  Lets a parent re-render without re-rendering clean children.
    """
    if a is b:
        return True
    ca = getattr(a, "__code__", None)
    if ca is None or ca is not getattr(b, "__code__", None):
        same: bool = a == b
        return same
    if a.__defaults__ != b.__defaults__ or a.__kwdefaults__ != b.__kwdefaults__:
        return False
    cla, clb = a.__closure__, b.__closure__
    if cla is None or clb is None:
        return cla is clb
    for x, y in zip(cla, clb, strict=True):
        try:
            if x.cell_contents is not y.cell_contents:
                return False
        except ValueError:  # empty cell
            return False
    return True


class View:
    """The components of one page, their renders, and what is dirty."""

    __slots__ = (
        "_moved",
        "_patches",
        "actions",
        "comps",
        "dirty",
        "epoch",
        "errors",
        "hold",
        "on_dirty",
        "rendering",
        "root",
    )

    def __init__(self, render_page: Callable[[], Any], on_dirty: Callable[[], None] | None = None):
        self.comps: dict[str, ComponentState] = {}
        self.root = ComponentState(ROOT, render_page, self, None)
        self.comps[ROOT] = self.root
        self.dirty: list[ComponentState] = [self.root]
        # While true, becoming dirty does not call on_dirty: the caller will
        # flush (a dispatch in progress, or a flush itself).
        self.hold = False
        self._moved: list[Any] | None = None  # components that changed parent in this flush
        self._patches: dict[str, Any] = _NO_PATCHES  # the flush in progress
        self.epoch = 0
        # Every action bound on the page (data-action, data-on*): the union of
        # the components' sets, recomputed when one of them changes; shared
        # between sessions whose pages bind the same actions.
        self.actions: frozenset[str] = _NO_ACTIONS
        self.errors: list[RenderError] = _NO_ERRORS  # a fresh list once there is one
        self.on_dirty = on_dirty
        self.rendering: RenderContext | None = None  # the innermost render in progress

    # -- dirtiness ---------------------------------------------------------

    @property
    def is_dirty(self) -> bool:
        return bool(self.dirty)

    # -- rendering ---------------------------------------------------------

    def mount(self) -> dict[str, Any]:
        """Render the whole page from scratch: ``{name: {"s": [...], "d": [...]}}``."""
        for c in self.comps.values():
            c.statics = c.dyns = None
            c.dirty = True
        self.dirty = [self.root]
        out = self.flush()
        for err in self.errors:
            if err.component == ROOT or isinstance(err.cause, DuplicateComponentError):
                # The root itself failed: there is no page to show.
                raise err
        return out

    def flush(self) -> dict[str, Any]:
        """Re-render what is dirty; returns ``{name: patch or None}`` (None: removed).

        Render errors are collected in ``self.errors`` (cleared at each flush);
        a component that fails keeps its previous render.
        """
        patches: dict[str, Any] = {}
        if self.errors:
            self.errors = _NO_ERRORS
        if not self.dirty:
            return patches
        hold = self.hold
        self.hold = True
        self._patches = patches
        try:
            passes = 0
            while self.dirty:
                passes += 1
                if passes > MAX_PASSES:
                    names = sorted({c.name for c in self.dirty})
                    self.dirty = []
                    err = RenderError(
                        names[0],
                        RuntimeError(f"components {names} keep invalidating themselves while rendering"),
                    )
                    self.report(err)
                    break
                self.epoch += 1
                batch = self.dirty
                self.dirty = []
                if len(batch) > 1:
                    batch.sort(key=_depth)
                comps = self.comps
                for comp in batch:
                    if comp.dirty and comps.get(comp.name) is comp:
                        self._render(comp, patches)
        finally:
            self.hold = hold
            self._patches = _NO_PATCHES
        if self._moved:
            moved, self._moved = self._moved, None
            for c, old in moved:
                # mypy widens ``old`` to the Optional of comps.get after the ``is``: it is not None.
                if self.comps.get(old.name) is old and c.name in old.children and c.parent is not old:  # type: ignore[union-attr]
                    self.report(RenderError(c.parent.name, DuplicateComponentError(
                        f"component name {c.name!r} is used twice in one page "
                        f"(in {old.name!r} and {c.parent.name!r})")))  # type: ignore[union-attr]
        return patches

    def report(self, err: RenderError) -> None:
        if self.errors is _NO_ERRORS:
            self.errors = []
        self.errors.append(err)

    def close(self) -> None:
        """Drop every subscription (the page is gone)."""
        for c in self.comps.values():
            unsubscribe(c)
        self.comps.clear()
        self.dirty = []

    def _render(self, comp: ComponentState, patches: dict[str, Any]) -> None:
        name = comp.name
        earlier = patches.get(name, _ABSENT)  # a patch from an earlier pass of this flush
        patches[name] = None  # reserve the key: parents come before their children
        p = RenderContext(comp, self, self.rendering)
        self.rendering = p
        old_children = comp.children
        prev = begin(comp)
        try:
            comp.dirty = False
            tree = comp.fn()
            if type(tree) is Element:
                last = _element(tree, p, "", comp.room, comp.rc)
            else:
                if comp.room <= 0:  # the <div> around what the component returned
                    raise _too_deep(tree)
                last = _walk(tree, p, "<div" + comp.rc + ">", comp.room - 1) + "</div>"
        except BaseException as exc:  # user code: even SystemExit is this component's error
            self.rendering = p.outer
            end(prev)
            comp.dirty = False
            err = exc if isinstance(exc, RenderError) and exc.component == name else RenderError(name, exc)
            if isinstance(exc, TooDeepError):  # the message says it all; the traceback would be MAX_DEPTH long
                log.error("component %r failed to render (ref %s): %s", name, err.ref, exc)
            elif not isinstance(exc, DuplicateComponentError | RenderError):
                log.error("component %r failed to render (ref %s)", name, err.ref, exc_info=exc)
            self.report(err)
            # Children created by this failed render are not on the page: drop them.
            keep = set(old_children)
            for child in p.kids:
                if child not in keep:
                    self.dispose(child, patches, notify=False)
            if patches.get(name, 0) is None:
                if earlier is _ABSENT:
                    del patches[name]
                else:
                    patches[name] = earlier
            if comp.statics is None:
                # Never rendered: stand in an empty element so the page stays whole.
                comp.statics = (f'<div data-rc="{escape(name)}" data-rweb-error=""></div>',)
                comp.dyns = []
                patches[name] = full(comp.statics, comp.dyns)
            return
        self.rendering = p.outer
        end(prev)
        p.st.append(last)
        statics = tuple(p.st)
        dyns = p.dy
        old = comp.statics
        patch = diff(old, comp.dyns, statics, dyns)
        comp.statics = old if patch is None or "s" not in patch else _shared(statics)
        comp.dyns = dyns
        if earlier is not _ABSENT and earlier is not None:
            if patch is None:
                patch = earlier
            elif "s" in earlier or "s" in patch:
                patch = full(comp.statics, comp.dyns)  # type: ignore[arg-type]  # set above: not None after a render
            else:
                patch = {**earlier, **patch}
        if patch is None:
            del patches[name]
        else:
            patches[name] = patch
        if p.kids or old_children:
            # Children that this render no longer contains are removed.
            new_children = tuple(p.kids)
            if old_children and old_children != new_children:
                live = set(new_children)
                for child in old_children:
                    if child not in live:
                        c = self.comps.get(child)
                        if c is not None and c.parent is comp:
                            self.dispose(child, patches, notify=True)
            comp.children = new_children
        if p.acts or comp.actions:
            actions = _shared_actions(p.acts) if p.acts else None
            if actions != comp.actions:
                comp.actions = actions
                self._collect_actions()

    def _collect_actions(self) -> None:
        bound: set[str] = set()
        for c in self.comps.values():
            if c.actions:
                bound |= c.actions
        self.actions = _shared_actions(bound) if bound else _NO_ACTIONS

    def dispose(self, name: str, patches: dict[str, Any], notify: bool) -> None:
        c = self.comps.pop(name, None)
        if c is None:
            return
        unsubscribe(c)
        if c.actions:
            c.actions = None
            self._collect_actions()
        if notify:
            patches[name] = None
        else:
            patches.pop(name, None)
        for child in c.children:
            cc = self.comps.get(child)
            if cc is not None and cc.parent is c:
                self.dispose(child, patches, notify)

    def _may_rerender(self, comp: ComponentState | None) -> bool:
        """Could ``comp`` still render again in this flush (it or an ancestor is dirty or rendering)?"""
        while comp is not None:
            if comp.dirty:
                return True
            ctx = self.rendering
            while ctx is not None:
                if ctx.comp is comp:
                    return True
                ctx = ctx.outer
            comp = comp.parent
        return False

    def child(self, node: Component, p: RenderContext, room: int) -> CRef:
        name = node.name
        parent: ComponentState = p.comp  # type: ignore[assignment]  # a child renders inside a component
        if name == ROOT:
            raise DuplicateComponentError(f"component name {ROOT!r} is reserved for the page itself")
        if name in p.kids:
            raise DuplicateComponentError(f"component name {name!r} is used twice in one page")
        if p.kids is _NO_CHILDREN:
            p.kids = []
        p.kids.append(name)
        comps = self.comps
        c = comps.get(name)
        if c is None:
            if parent.depth >= MAX_COMPONENT_DEPTH:
                raise _components_too_deep(name)
            c = ComponentState(name, node.fn, self, parent)
            c.room = room
            comps[name] = c
        else:
            if c.claimed == self.epoch and c.parent is not parent:
                raise DuplicateComponentError(f"component name {name!r} is used twice in one page")
            if c.parent is not parent:  # moved under another parent
                old = c.parent
                if (
                    old is not None
                    and self.comps.get(old.name) is old
                    and name in old.children
                    and not self._may_rerender(old)
                ):
                    raise DuplicateComponentError(
                        f"component name {name!r} is used twice in one page "
                        f"(in {old.name!r} and {parent.name!r})"
                    )
                if parent.depth >= MAX_COMPONENT_DEPTH:
                    raise _components_too_deep(name)
                if self._moved is None:
                    self._moved = []
                self._moved.append((c, old))
                c.parent = parent
                c.depth = parent.depth + 1
            c.room = room
            if not c.dirty and c.statics is not None and _same_fn(c.fn, node.fn):
                c.claimed = self.epoch
                return _cref(name)
            c.fn = node.fn
        c.claimed = self.epoch
        self._render(c, self._patches)
        return _cref(name)


def _components_too_deep(name: str) -> TooDeepError:
    return TooDeepError(
        f"components are nested too deep: {name!r} would be more than {MAX_COMPONENT_DEPTH} "
        "components deep (rweb.render.MAX_COMPONENT_DEPTH)"
    )


# Strings and statics that every session of an app renders alike are shared
# between sessions instead of held once per session: a page's statics depend
# only on its shape.  Bounded: when full, the tables start over.
_SHARED_MAX = 8192
_statics_table: dict[tuple[str, ...], tuple[str, ...]] = {}
_rc_table: dict[str, str] = {}
_attr_table: dict[tuple[str, str], str] = {}


def _remember(table: dict[Any, Any], key: Any, value: Any) -> Any:
    """Store ``value`` under ``key`` in a bounded sharing table; returns ``value``."""
    if len(table) >= _SHARED_MAX:
        table.clear()
    table[key] = value
    return value


def _shared(statics: tuple[str, ...]) -> tuple[str, ...]:
    return _statics_table.get(statics) or _remember(_statics_table, statics, statics)


def _rc_attr(name: str) -> str:
    return _rc_table.get(name) or _remember(_rc_table, name, f' data-rc="{escape(name)}"')


def _attr(name: str, value: str) -> str:
    key = (name, value)
    got = _attr_table.get(key)
    if got is None:
        got = f' {name}="{escape(value)}"'
        if len(value) <= 64:
            _remember(_attr_table, key, got)
    return got


_cref_table: dict[str, CRef] = {}
_actions_table: dict[frozenset[str], frozenset[str]] = {}
_NO_ACTIONS: frozenset[str] = frozenset()


def _cref(name: str) -> CRef:
    return _cref_table.get(name) or _remember(_cref_table, name, CRef(name))


def _shared_actions(names: set[str]) -> frozenset[str]:
    fs = frozenset(names)
    return _actions_table.get(fs) or _remember(_actions_table, fs, fs)


def _depth(c: ComponentState) -> int:
    return c.depth


_OPEN: dict[str, str] = {}
_OPEN_BARE: dict[str, str] = {}  # "<tag>", for elements without attributes
_CLOSE: dict[str, str] = {}


_TAG_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TAG_CHARS = _TAG_START | frozenset("0123456789-_:.")


def _tag_strings(tag: str) -> str:
    """The markup of ``tag``, made once per tag; a tag that is no name is refused (``Element(...)`` takes any)."""
    if not tag or tag[0] not in _TAG_START or not set(tag) <= _TAG_CHARS:
        raise ValueError(f"invalid HTML tag name: {tag!r}")
    _OPEN[tag] = o = "<" + tag
    _OPEN_BARE[tag] = o + ">"
    _CLOSE[tag] = "</" + tag + ">"
    return o


# Escaped forms of short texts seen before (labels, numbers-as-text, names):
# a dict hit is several times cheaper than escaping again.  Bounded.
_escaped: dict[str, str] = {}


def _esc(text: str) -> str:
    got = escape(text)
    if len(text) <= 32:
        _remember(_escaped, text, got)
    return got


# The walkers thread the static markup being accumulated through ``cur`` (a
# local string, which CPython extends in place) and return it: the statics
# are cut at each dynamic slot without lists or joins.  ``room`` is how many
# levels of nesting the node may still take (MAX_DEPTH at the top): an
# argument, not a field, so that counting costs a subtraction and a test.


def _element(el: Element, p: RenderContext, cur: str, room: int, extra: str = "") -> str:
    room -= 1  # what the children may take
    if room < 0:
        raise _too_deep(el)
    tag = el.tag
    attrs = el.attrs
    if not attrs and not extra:
        cur += _OPEN_BARE.get(tag) or (_tag_strings(tag) + ">")
    else:
        cur += (_OPEN.get(tag) or _tag_strings(tag)) + extra
    if attrs:
        statics = p.st
        dyns = p.dy
        names = _ATTR_NAMES
        for k, v in attrs.items():
            name = names.get(k) or attr_name(k)
            if v is None or v is False:
                a = ""
            elif v is True:
                a = " " + name
            else:
                sv = v if type(v) is str else str(v)
                if type(name) is not str:  # an action, a URL...: see html._SpecialName
                    kind = name.kind  # type: ignore[attr-defined]  # a _SpecialName (a str subclass)
                    if kind is _KIND_ACTION:
                        if p.acts is None:
                            p.acts = set()
                        p.acts.add(sv)
                    elif kind is _KIND_ACTION_LIST:  # a hook's actions
                        if p.acts is None:
                            p.acts = set()
                        p.acts.update(sv.split())
                    else:
                        _check_attr(kind, name, v, sv, tag)
                a = _attr(name, sv)
            statics.append(cur)
            dyns.append(a)
            cur = ""
        cur += ">"
    elif extra:
        cur += ">"
    if el.void:
        return cur
    for c in el.children:
        t = type(c)
        if t is Element:
            ce = c  # typed Element in the compiled build (render.pxd)
            kids = ce.children
            if len(kids) == 1 and not ce.attrs:
                # A leaf like span("Count: ") or td(n): inline, no recursive call.
                x = kids[0]
                tx = type(x)
                if (tx is str or tx is int) and room > 0:
                    ctag = ce.tag
                    p.st.append(cur + (_OPEN_BARE.get(ctag) or (_tag_strings(ctag) + ">")))
                    p.dy.append(str(x) if tx is int else (_escaped.get(x) or _esc(x)))
                    cur = _CLOSE[ctag]
                    continue
            cur = _element(ce, p, cur, room)
        elif t is str:
            p.st.append(cur)
            p.dy.append(_escaped.get(c) or _esc(c))
            cur = ""
        elif t is int:
            p.st.append(cur)
            p.dy.append(str(c))
            cur = ""
        else:
            cur = _walk(c, p, cur, room)
    return cur + _CLOSE[tag]


def _walk(node: Any, p: RenderContext, cur: str, room: int) -> str:
    t = type(node)
    if t is Element:
        return _element(node, p, cur, room)
    if node is None or t is bool:
        return cur
    if t is list or t is tuple:
        if room <= 0:
            raise _too_deep(node)
        room -= 1
        for c in node:
            if type(c) is Element:
                cur = _element(c, p, cur, room)
            else:
                cur = _walk(c, p, cur, room)
        return cur
    if t is str:
        v: Any = _escaped.get(node) or _esc(node)
    elif t is int:
        v = str(node)
    elif t is Component:
        if room <= 0:
            raise _too_deep(node)
        view = p.view
        if view is None:  # a detached render: the component inline, untracked
            tree = node.fn()
            if type(tree) is Element:  # (one call less: in plain Python, calls are the stack)
                return _element(tree, p, cur, room - 1)
            return _walk(tree, p, cur, room - 1)
        v = view.child(node, p, room - 1)
    elif t is Markup:
        v = str.__str__(node)
    elif t is float:
        v = repr(node)
    elif isinstance(node, Element):  # a subclass
        return _element(node, p, cur, room)
    elif hasattr(node, "__html__"):
        # Its __html__ may render a tree of its own (to_html): that one nests here.
        if room <= 0:
            raise _too_deep(node)
        token = _html_room.set(room - 1)
        try:
            v = str(node.__html__())
        finally:
            _html_room.reset(token)
    elif isinstance(node, str):
        v = escape(str(node))
    elif hasattr(node, "__iter__"):
        if room <= 0:
            raise _too_deep(node)
        room -= 1
        for c in node:
            if type(c) is Element:
                cur = _element(c, p, cur, room)
            else:
                cur = _walk(c, p, cur, room)
        return cur
    else:
        v = escape(str(node))
    p.st.append(cur)
    p.dy.append(v)
    return ""


# The room left where an object's __html__ is being called by the walkers (-1: none).
_html_room: ContextVar[int] = ContextVar("rweb_html_room", default=-1)


def to_html(node: Any) -> str:
    """Render a tree to an HTML string, outside any page (components inline, untracked).

    The same walkers as a page's render: what the browser shows of a
    component is exactly ``to_html`` of its tree plus its ``data-rc`` marker.
    The same checks too: :class:`TooDeepError` past :data:`MAX_DEPTH` levels,
    :class:`~rweb.html.UnsafeURLError` and :class:`~rweb.html.UnsafeAttributeError`.
    """
    p = RenderContext(None, None, None)
    room = _html_room.get()
    # Called from an object's __html__ inside a render: a nested render, whose
    # calls (__html__, to_html) count three levels more.
    room = MAX_DEPTH if room < 0 else max(room - 3, 0)
    p.st.append(_walk(node, p, "", room))
    st = p.st
    dy = p.dy
    out = [st[0]]
    for i in range(len(dy)):
        out.append(dy[i])
        out.append(st[i + 1])
    return "".join(out)
