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
from sys import intern as _intern
from typing import Any

from ..core.diff import CRef, diff, full
from ..core.element_templates import AS_WRITTEN as _AS_WRITTEN
from ..core.element_templates import fast as _fast
from ..core.html import (
    _ATTR_KINDS,
    _ATTR_NAMES,
    _NO_LAST,
    KIND_ACTION,
    KIND_ACTION_LIST,
    Component,
    Element,
    Filled,
    Markup,
    Template,
    _check_attr,
    _check_tag,
    attr_name,
    escape,
    set_compiler,
    set_renderer,
)
from ..core.reactive import Tracker, begin, end, on_fan, reads_only_shared, transfer, unsubscribe
from ..core.templates import compile_source
from ..words.protocol import FRAMEWORK_ACTION_PREFIX, Key

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:  # plain Python without Cython: cython.compiled below is False
    from ..core._nocython import cython

    _COMPILED = False


__all__ = [
    "FANOUT_SLICE",
    "MAX_COMPONENT_DEPTH",
    "MAX_DEPTH",
    "ROOT",
    "ComponentState",
    "DuplicateComponentError",
    "RenderContext",
    "RenderError",
    "SharedPatches",
    "SharedRender",
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
_ACTION_NAME: Any = type(attr_name("data_action"))  # the class of action attributes' names (html._SpecialName)
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
    # Made by _context (no __init__: one Python-level call less per render).
    comp: ComponentState | None
    view: View | SharedRender | None
    outer: RenderContext | None
    st: list[str]
    dy: list[Any]
    kids: list[str]
    acts: set[str] | frozenset[str] | None  # a frozenset: a template's (see _own_acts)


_spare: RenderContext | None = None  # the last component render's, for the next one (_recycle)


def _context(comp: ComponentState | None, view: View | SharedRender | None, outer: RenderContext | None) -> RenderContext:
    """A :class:`RenderContext`: the spare one (:func:`_recycle`), or a new one (the type's tp_new
    when compiled: no argument parsing)."""
    global _spare
    p = _spare
    if p is None:
        p = RenderContext.__new__(RenderContext)
        p.st = []
    else:
        _spare = None
    p.comp = comp
    p.view = view
    p.outer = outer
    p.dy = _NO_DYNS  # its walk's own list: _render_tree (a replay's, or a new one), to_html
    p.kids = _NO_CHILDREN
    p.acts = None
    return p


def _recycle(p: RenderContext) -> None:
    """``p``, a component's finished render, kept as the spare for the next one when nothing else
    holds it (compiled: its count of references; one allocation and one free less per render)."""
    global _spare, _spare_dyns
    if cython.compiled and _refcnt(p) == 1:  # type: ignore[name-defined]  # noqa: F821 (render.pxd: the caller's, lent)
        p.comp = p.view = p.outer = p.acts = None
        dy = p.dy
        p.dy = _NO_DYNS  # (not the component's list: its own count of references matters, View._settle)
        if dy is not _NO_DYNS and _refcnt(dy) == 1:  # type: ignore[name-defined]  # noqa: F821 (this local's alone)
            # A render's list whose values went into the component's last one (View._settle): its
            # slots emptied, it is the next replay's of that many slots (_new_dyns), not freed.
            # Out of the collector's lists: empty slots must not reach Python (gc.get_objects()).
            _gc_untrack(dy)  # type: ignore[name-defined]  # noqa: F821 (render.pxd)
            _list_empty_slots(dy)  # type: ignore[name-defined]  # noqa: F821 (render.pxd)
            _spare_dyns = dy
        p.kids = _NO_CHILDREN
        if p.st:
            p.st = []
        _spare = p


_NO_DYNS: list[Any] = []  # a context's dy until its walk has its own list (never appended to)
_spare_dyns: list[Any] | None = None  # compiled: a render's list, its slots empty, for the next replay
_GONE = -2  # ComponentState.claimed of a component taken out of its page (View.dispose, View.close)


class ComponentState(Tracker):
    """One live component of a page; the tracker its reads subscribe."""

    __slots__ = (
        "actions",
        "args",
        "children",
        "claimed",
        "depth",
        "dirty",
        "dyns",
        "fn",
        "group",
        "name",
        "parent",
        "plan",
        "rc",
        "render_fn",
        "room",
        "statics",
        "view",
    )

    def __init__(
        self, name: str, fn: Callable[..., Any], view: View, parent: ComponentState | None, args: tuple[Any, ...] = ()
    ):
        self.name = name
        self.fn = fn
        self.render_fn = _fast(fn)  # what renders it: fn, or its twin compiled to a template (rweb.core.element_templates)
        self.args = args  # fn(*args) renders it (rweb.html.component)
        self.view = view
        self.parent = parent
        self.depth: int = 0 if parent is None else parent.depth + 1
        # Levels of nesting left for its tree (MAX_DEPTH minus where it sits in the page).
        self.room: int = MAX_DEPTH if parent is None else 0
        self.statics: tuple[str, ...] | None = None
        self.dyns: list[Any] | None = None
        self.children: tuple[str, ...] = ()
        self.sources: list[Any] | None = None  # made at its first read (rweb.reactive.Tracker)
        self.used = 0
        self.owner: Any = view  # the page whose state its reads are (rweb.reactive.on_shared_state)
        self.dirty = True
        self.actions: frozenset[str] | None = None
        self.claimed = -1  # the view epoch in which a parent last rendered it; _GONE: out of the page
        self.rc = _rc_attr(name)  # marks the component's root element
        self.group: SharedRender | None = None  # the render it shares with other sessions' pages, if any
        self.plan: tuple[Any, ...] | None = None  # its statics' plan, once kept (_plan_of)

    def invalidate(self) -> None:
        if not self.dirty:
            self.dirty = True
            view = self.view
            dirty = view.dirty
            if dirty is None:  # the first: the owner hears of it (no empty list is kept per page)
                view.dirty = [self]
                if not view.hold and view.owner is not None:
                    view.owner.view_dirty()
            else:
                dirty.append(self)

    def __repr__(self) -> str:
        return f"<ComponentState {self.name!r} depth={self.depth}>"


def _rendered(fn: Any, render_fn: Any, args: tuple[Any, ...]) -> Any:
    """What a component's function returns, called through ``render_fn`` (``fn`` itself, or its
    twin compiled to a template: rweb.core.element_templates); ``fn`` as written when the twin
    hands the call back (an element function's name was rebound since it was compiled)."""
    tree = render_fn(*args) if args else render_fn()
    if tree is _AS_WRITTEN:
        tree = fn(*args)
    return tree


def _same_fn(a: Any, b: Any, exact: bool = False) -> bool:
    """Would ``b()`` render what ``a()`` rendered, reactive reads aside?

    True when both are the same function code over the very same captured
    objects: then only a reactive write could change the output, and those
    are tracked.  Lets a parent re-render without re-rendering clean children.

    ``exact``: the rule for sharing one render between sessions (SharedRender):
    both plain functions (or methods of the very same object), whose globals,
    defaults and closure cells all hold the very same objects, by identity;
    without it, defaults may be equal and other callables compare with ``==``.
    """
    if a is b:
        return True
    ca = getattr(a, "__code__", None)
    if ca is None or ca is not getattr(b, "__code__", None):
        if exact:  # a bound method: the same function of the same object
            fa = getattr(a, "__func__", None)
            return (
                fa is not None
                and getattr(a, "__self__", None) is getattr(b, "__self__", _ABSENT)
                and _same_fn(fa, getattr(b, "__func__", None), True)
            )
        same: bool = a == b
        return same
    if exact:
        if a.__globals__ is not b.__globals__ or not (
            _same_objects(a.__defaults__, b.__defaults__) and _same_objects(a.__kwdefaults__, b.__kwdefaults__)
        ):
            return False
    elif a.__defaults__ != b.__defaults__ or a.__kwdefaults__ != b.__kwdefaults__:
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


def _same_objects(a: Any, b: Any) -> bool:
    """Defaults (a tuple, a dict, or None) holding the very same objects, by identity."""
    if a is b:
        return True
    if a is None or b is None or len(a) != len(b):
        return False
    if type(a) is dict:
        return all(k in b and b[k] is v for k, v in a.items())
    return all(x is y for x, y in zip(a, b, strict=True))


class ViewOwner:
    """What a :class:`View` tells whoever serves it: a live page's :class:`rweb.session.Session`
    is one (it subclasses this).

    The owner itself, not two bound methods per page: a page's idle memory is
    what the session holds (docs/architecture.md, "What a page holds").  A
    class, not a protocol: in the compiled build the render calls these
    through the class's own table, not by looking each up by name.
    """

    __slots__ = ()

    def view_dirty(self) -> None:
        """A component became dirty outside a flush: render and push it soon."""
        raise NotImplementedError

    def take_shared(self, patches: dict[str, Any]) -> bool:
        """A render shared with other pages changed (:class:`SharedRender`): push its ``patches``
        now; False: not now (the component is marked dirty instead)."""
        raise NotImplementedError

    def warm(self, hop: int) -> None:
        """:meth:`take_shared` is called soon: ask the CPU for what it reads, ``hop`` references away.

        A hint, asked ahead of each delivery of a fan-out (the pages' objects lie
        all over memory, and waiting for them was a fan-out's largest cost after
        the socket writes): with ``hop`` 0, two pages ahead, for the objects the
        owner refers to; with ``hop`` 1, a page later, once those have come, for
        the objects they refer to.  By default nothing.
        """


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
        "fanout",
        "fulls",
        "hold",
        "owner",
        "rendering",
        "root",
        "share",
    )

    def __init__(self, render_page: Callable[[], Any], owner: ViewOwner | None = None):
        self.comps: dict[str, ComponentState] = {}
        self.root = ComponentState(ROOT, render_page, self, None)
        self.comps[ROOT] = self.root
        self.dirty: list[ComponentState] | None = [self.root]  # None: nothing is (not an empty list)
        # While true, becoming dirty does not call the owner's view_dirty: the caller will
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
        self.owner = owner  # told when a component becomes dirty outside a flush (None: nobody)
        self.rendering: RenderContext | None = None  # the innermost render in progress
        # Set by the session when it is served (None: its components never share a render, see
        # SharedRender): ``fanout(fn)`` runs ``fn`` soon on the process's event loop; the owner's
        # ``take_shared(patches)`` pushes a shared render's patches to the page now.
        self.fanout: Callable[[Callable[[], None]], Any] | None = None
        # Whole components in the flush in progress (a new one, a changed shape): when there are
        # some and the page is sent over the wire (``share``, set by a served session), those of
        # one shape are sent as "like" another component (see :meth:`share_statics`).
        self.fulls = 0
        self.share = False

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
                    self.dirty = None
                    err = RenderError(
                        names[0],
                        RuntimeError(f"components {names} keep invalidating themselves while rendering"),
                    )
                    self.report(err)
                    break
                self.epoch += 1
                batch = self.dirty
                self.dirty = None
                if len(batch) > 1:
                    batch.sort(key=_depth)
                for comp in batch:
                    if comp.dirty and comp.claimed != _GONE:  # not disposed meanwhile
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
        if self.fulls:
            self.fulls = 0
            if self.share:
                self.share_statics(patches)
        return patches

    def share_statics(self, patches: dict[str, Any]) -> None:
        """Send the whole components of ``patches`` that have another's shape as "like" it, in place.

        Rows of one shape (the same statics but for their own ``data-rc``) are
        sent once (LiveView's comprehensions, for keyed components): the first
        whole component of a shape stays as it is (``{"s": [...], "d": [...]}``),
        and every other one becomes ``{"sl": "<model>", "<slot>": value, ...}``:
        the model's statics (with its own ``data-rc``), the model's dynamics but
        for the slots listed.  The model is one of the :data:`LOOKBACK` nearest
        components of that shape before it in the message, the one that leaves
        fewest slots to send; a component inserted alone is sent like a sibling
        the browser already holds, untouched by this message.  A slot whose
        value shares a long start or end with the model's is sent as
        ``[start, middle, end]`` (see :func:`_delta`).  docs/protocol.md, "Rows
        of one shape", says how a client rebuilds them.
        """
        comps = self.comps
        shapes: dict[tuple[str, ...], list[str]] = {}
        for name, patch in patches.items():
            if patch is None or "s" not in patch:
                continue
            comp = comps.get(name)
            if comp is None or comp.statics is None or comp.dyns is None:
                continue
            key = _shape(comp)
            models = shapes.get(key)
            if models is None:
                sib = _sibling_like(comp, key, patches)
                if sib is None:
                    shapes[key] = [name]
                    continue
                models = shapes[key] = [sib]
            ref = ""
            slots: dict[str, Any] | None = None
            fewest = -1
            for i in range(len(models) - 1, max(len(models) - LOOKBACK, 0) - 1, -1):
                got = diff(comp.statics, comps[models[i]].dyns, comp.statics, comp.dyns)
                n = 0 if got is None else len(got)
                if fewest < 0 or n < fewest:
                    ref, slots, fewest = models[i], got, n
                    if n == 0:
                        break
            out: dict[str, Any] = {LIKE: ref}
            if slots is not None:
                model = comps[ref].dyns
                for k, v in slots.items():
                    out[k] = _delta(model[int(k)], v)  # type: ignore[index]  # rendered: not None
            patches[name] = out
            models.append(name)

    def report(self, err: RenderError) -> None:
        if self.errors is _NO_ERRORS:
            self.errors = []
        self.errors.append(err)

    def close(self) -> None:
        """Drop every subscription (the page is gone)."""
        for c in self.comps.values():
            c.claimed = _GONE
            unsubscribe(c)
            if c.group is not None:
                c.group.leave(c)
        self.comps.clear()
        self.dirty = None

    def _render(self, comp: ComponentState, patches: dict[str, Any]) -> None:
        if comp.group is not None and _from_group(comp, comp.group):
            self._settle(comp, patches, patches.get(comp.name, _ABSENT), comp.group.statics, comp.group.dyns)
            return
        name = comp.name
        earlier = patches.get(name, _ABSENT)  # a patch from an earlier pass of this flush
        patches[name] = None  # reserve the key: parents come before their children
        p = _context(comp, self, self.rendering)
        self.rendering = p
        old_children = comp.children
        prev = begin(comp)
        try:
            comp.dirty = False
            args = comp.args
            tree = _rendered(comp.fn, comp.render_fn, args)
            plan = comp.plan
            if type(tree) is Element and (plan is None or plan[2] is not comp.statics):
                plan = comp.plan = _plan_of(comp.statics, plan)
            last = _render_tree(tree, p, comp.statics, comp.room, comp.rc, plan)
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
        if last is None:  # replayed (_replay): the dynamics of the statics held
            self._settle(comp, patches, earlier, comp.statics, p.dy)  # type: ignore[arg-type]  # held: not None
        else:
            p.st.append(last)
            self._settle(comp, patches, earlier, tuple(p.st), p.dy)
            comp.plan = _keep_plan(comp.statics, tree, comp.room, comp.plan)  # type: ignore[arg-type]  # set by _settle
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
        acts = p.acts
        if acts:
            # A set against the frozenset held (equal when their members are): no new one while they
            # agree.  A template's frozenset is held as it is: the same object at each render.
            if acts is not comp.actions and acts != comp.actions:
                comp.actions = _shared_actions(acts)
                self.collect_actions()
        elif comp.actions is not None:
            comp.actions = None
            self.collect_actions()
        _recycle(p)

    def _settle(
        self, comp: ComponentState, patches: dict[str, Any], earlier: Any, statics: tuple[str, ...], dyns: list[Any]
    ) -> None:
        """``comp`` rendered to ``statics`` and ``dyns``: its patch in ``patches`` (merged with
        ``earlier``, its patch from an earlier pass of this flush), its render kept."""
        name = comp.name
        old = comp.statics
        olds = comp.dyns
        patch = diff(old, olds, statics, dyns)
        if patch is None or "s" not in patch:
            comp.statics = old
        else:
            comp.statics = _shared(statics)
            self.fulls += 1
        if not cython.compiled:
            comp.dyns = dyns
        elif (
            olds is not None
            and _refcnt(olds) == 2  # type: ignore[name-defined]  # noqa: F821 (render.pxd: comp.dyns and olds)
            and len(olds) == len(dyns)
            and (comp.group is None or dyns is not comp.group.dyns)  # a member holds the group's list itself
        ):
            # The last render's list, held by nothing else (no patch, snapshot or group), takes the
            # new values: a page open for a while has it far from what a click touches, and freeing
            # it would reach its allocator's page and the collector's header (misses to RAM among
            # thousands of pages); the new list, just made, is freed instead.
            for k in range(len(dyns)):  # (not a slice assignment: no slice object, no call)
                olds[k] = dyns[k]
        else:
            comp.dyns = dyns
            # Out of the cyclic collector's lists (PyObject_GC_UnTrack, render.pxd): a render's
            # dynamics are strings and CRefs, never in a cycle.  Left tracked, a page open for
            # hours has it in the oldest list, and freeing it at the next render unlinks it between
            # two neighbours nothing else touches (misses to RAM among thousands of pages); full
            # collections also visit fewer objects (the todo page: 100 lists fewer).
            _gc_untrack(dyns)  # type: ignore[name-defined]  # noqa: F821 (a C function of render.pxd)
        if earlier is not _ABSENT and earlier is not None:
            if patch is None:
                patch = earlier
            elif "s" in earlier or "s" in patch:
                patch = full(comp.statics, comp.dyns)  # type: ignore[arg-type]  # set above: not None after a render
            else:
                patch = {**earlier, **patch}
        if patch is None:
            patches.pop(name, None)
        else:
            patches[name] = patch

    def collect_actions(self) -> None:
        """The actions the page binds (:attr:`actions`): those its ``on_action`` answers.  The framework's
        (``rweb_``: rweb.session.Session.framework_actions) are not among them: it answers them."""
        bound: set[str] = set()
        for c in self.comps.values():
            if c.actions:
                bound |= c.actions
        if bound:
            bound = {a for a in bound if not a.startswith(FRAMEWORK_ACTION_PREFIX)}
        self.actions = _shared_actions(bound) if bound else _NO_ACTIONS

    def dispose(self, name: str, patches: dict[str, Any], notify: bool) -> None:
        c = self.comps.pop(name, None)
        if c is None:
            return
        c.claimed = _GONE
        unsubscribe(c)
        if c.group is not None:
            c.group.leave(c)
        if c.actions:
            c.actions = None
            self.collect_actions()
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
        comps = self.comps
        c = comps.get(name)
        # The page keeps one copy of each name, shared by every page that uses it (interned when
        # the component is made): its rows' names are not held per session, nor fetched from RAM
        # when one of them re-renders among thousands of pages.
        if c is not None:
            name = c.name
        elif type(name) is str:  # (a str subclass cannot be interned: kept as it is)
            name = _intern(name)
        if p.kids is _NO_CHILDREN:
            p.kids = []
        p.kids.append(name)
        if c is None:
            if parent.depth >= MAX_COMPONENT_DEPTH:
                raise _components_too_deep(name)
            c = ComponentState(name, node.fn, self, parent, node.args)
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
            if not c.dirty and c.statics is not None and _same_fn(c.fn, node.fn) and _same_objects(c.args, node.args):
                c.claimed = self.epoch
                return _cref(name)
            c.fn = node.fn
            c.render_fn = _fast(node.fn)
            c.args = node.args
        c.claimed = self.epoch
        self._render(c, self._patches)
        return _cref(name)


LIKE: str = Key.LIKE.value  # a "like" component's model (docs/protocol.md, "Rows of one shape")
LOOKBACK = 4  # how many earlier components of its shape a whole component is compared with (share_statics)
DELTA_MIN = 8  # characters a slot's value must share with its model's (start and end) to be sent as a delta


def _delta(old: Any, new: Any) -> Any:
    """``new`` as the wire carries it in a "like" component whose model's slot holds ``old``.

    Two strings sharing at least :data:`DELTA_MIN` characters at their start and
    end (an attribute's name, a text's common words): ``[start, middle, end]``,
    read ``old[:start] + middle + old[len(old) - end:]`` (``[start, middle]``
    when ``end`` is 0).  The shared parts must be ASCII, so that a JavaScript
    client counts them as Python does (it counts UTF-16 units): ``old`` is.  Else ``new``.
    """
    if type(old) is not str or type(new) is not str:  # (``new`` is as diff() gives it: on the wire)
        return new
    return _splice(old, new)


def _splice(old: str, new: str) -> Any:
    lo = len(old)
    ln = len(new)
    n = lo if lo < ln else ln
    if n < DELTA_MIN or not old.isascii():  # too short to pay; not ASCII (see _delta)
        return new
    p = 0
    while p < n and old[p] == new[p]:
        p += 1
    q = 0
    while q < n - p and old[lo - 1 - q] == new[ln - 1 - q]:
        q += 1
    if p + q < DELTA_MIN:
        return new
    middle = new[p : ln - q]
    return [p, middle, q] if q else [p, middle]


def _shape(comp: ComponentState) -> tuple[str, ...]:
    """A component's statics without its own ``data-rc`` (the first attribute of its root element)."""
    statics: tuple[str, ...] = comp.statics  # type: ignore[assignment]  # rendered: see share_statics
    got: tuple[str, ...] | None = _shape_table.get(statics)  # statics are shared by every page (_shared)
    if got is None:
        got = _remember(_shape_table, statics, (statics[0].replace(comp.rc, "", 1), *statics[1:]))
    return got


def _sibling_like(comp: ComponentState, key: tuple[str, ...], patches: dict[str, Any]) -> str | None:
    """A sibling of ``comp`` next to it, of its shape, that ``patches`` leave as the browser holds it."""
    parent = comp.parent
    if parent is None:
        return None
    siblings = parent.children
    try:
        at = siblings.index(comp.name)
    except ValueError:
        return None
    comps = comp.view.comps
    for i in (at - 1, at + 1):
        if 0 <= i < len(siblings):
            name = siblings[i]
            if name in patches:
                continue
            sib = comps.get(name)
            if sib is not None and sib.statics is not None and sib.dyns is not None and _shape(sib) == key:
                return name
    return None


def _components_too_deep(name: str) -> TooDeepError:
    return TooDeepError(
        f"components are nested too deep: {name!r} would be more than {MAX_COMPONENT_DEPTH} "
        "components deep (rweb.render.MAX_COMPONENT_DEPTH)"
    )


def _markup(tree: Any, p: RenderContext, room: int, rc: str) -> str:
    """Walk what a component's function returned into ``p``; the markup after the last dynamic slot.

    The component's root element carries ``rc`` (its ``data-rc``); anything but an element is
    wrapped in a ``<div>`` that does.
    """
    if type(tree) is Element:
        return _element(tree, p, "", room, rc)
    if type(tree) is Filled:
        f = tree  # typed in the compiled build (render.pxd): its template's fields are C fields
        t = f.template
        if t is not None and t.rooted:  # (None: not made by a template; _fill says so)
            return _fill(f, p, "", room, rc)
    if room <= 0:  # the <div> around what the component returned
        raise _too_deep(tree)
    return _walk(tree, p, "<div" + rc + ">", room - 1) + "</div>"


# -- renders shared between sessions ---------------------------------------------------------

FANOUT_SLICE = 256
"""How many pages a shared render (:class:`SharedRender`) delivers to per event-loop
callback; then the loop reads sockets and answers other sessions before the next slice."""

# The bytes of a member and of its view, warmed ahead of a delivery (_deliver).
_member_size: int = ComponentState.__basicsize__
_view_size: int = View.__basicsize__


class SharedPatches(dict):  # type: ignore[type-arg]  # {component name: patch}
    """One shared render's patches for every page that was in step with it: one object, so
    that the message is encoded once for all of them (``data``: the bytes, once encoded)."""

    __slots__ = ("data",)

    def __init__(self, name: str, patch: dict[str, Any]) -> None:
        super().__init__(((name, patch),))
        self.data: bytes | None = None


class _Unshareable(Exception):
    """A shared render met a child component: it cannot be shared."""


class SharedRender(Tracker):
    """One render of a component for every session whose render of it would be the same.

    Sessions share a render (the component's function runs once, its diff is
    made and encoded once, for all of them) only when nothing of one session
    can reach it.  Its *members*, one component per page, all have:

    - the same name and place (nesting room), and functions that are the same
      code over the very same captured objects (closure cells, defaults,
      globals, bound ``self``, by identity: :func:`_same_fn` with ``exact``),
      called with the very same arguments (``component(name, fn, *args)``);
    - a last render that read only records declared per process
      (:func:`rweb.reactive.process_local`, ``app.share``), and no child
      component;
    - the same last output (statics, dynamics and actions): the same diff.

    rweb keeps no per-session context a render could read besides what its
    function captures, so such renders are the same render.  A component
    joins when a shared record it read is written (:func:`_fan`): then the
    group, not each member, is subscribed to what it reads, and a write
    marks it dirty once (several writes in a loop turn: one render).  Its
    render runs on the event loop, or at once for a member whose page is
    being changed by an action (its reply carries the change); it then
    delivers to the members, :data:`FANOUT_SLICE` pages per loop callback,
    each page the patch from its own last output.  A page that cannot take a
    push now (its async handler runs, its own push is pending, its socket is
    paused) gets its component marked dirty instead, which renders from the
    group's output when its page flushes.  When in doubt the group breaks up
    (a render that fails, reads a record not declared per process, meets a
    child component, or writes what it reads): each member renders on its
    own again, as without sharing.
    """

    __slots__ = (
        "actions",
        "args",
        "dirty",
        "dyns",
        "fanout",
        "fn",
        "key",
        "last_old",
        "last_out",
        "members",
        "name",
        "pos",
        "rc",
        "render_fn",
        "room",
        "round",
        "scheduled",
        "sent",
        "statics",
        "todo",
    )

    def __init__(self, comp: ComponentState, key: tuple[Any, ...]) -> None:
        super().__init__()
        self.key = key
        self.fn = comp.fn
        self.render_fn = comp.render_fn
        self.args = comp.args
        self.name = comp.name
        self.rc = comp.rc
        self.room = comp.room
        self.fanout = comp.view.fanout
        self.statics: tuple[str, ...] = comp.statics  # type: ignore[assignment]  # a member has rendered
        self.dyns: list[Any] = comp.dyns  # type: ignore[assignment]
        self.actions = comp.actions
        self.dirty = False
        self.scheduled = False
        self.members: dict[ComponentState, None] = {}  # in the order they joined: the order of delivery
        self.todo: list[ComponentState] | None = None  # the pass of delivery under way
        self.pos = 0
        self.round: list[Any] | None = None  # the output when that pass started
        self.sent: dict[int, tuple[list[Any], SharedPatches | None]] = {}  # patches from an old output
        # The last old output asked about and its patches (patches_from): the members in step with
        # the group's previous output all hold that very list.
        self.last_old: Any = _NO_VALUE
        self.last_out: SharedPatches | None = None
        transfer(comp, self)  # the founder's subscriptions become the group's
        self.members[comp] = None
        comp.group = self

    def join(self, comp: ComponentState) -> None:
        unsubscribe(comp)
        comp.group = self
        comp.statics = self.statics
        comp.dyns = self.dyns
        self.members[comp] = None
        if self.dirty and comp.view.hold:
            comp.invalidate()  # its page is changing now: its reply carries the new render

    def leave(self, comp: ComponentState) -> None:
        """``comp`` renders on its own from now on (or is gone)."""
        comp.group = None
        members = self.members
        members.pop(comp, None)
        if not members:
            self._close()

    def _close(self) -> None:
        unsubscribe(self)
        bucket = _groups.get(self.key)
        if bucket is not None and self in bucket:
            bucket.remove(self)
            if not bucket:
                del _groups[self.key]

    def dissolve(self) -> None:
        """Every member renders on its own again (and subscribes to what it reads)."""
        members = self.members
        self.members = {}
        self.todo = None
        self._close()
        for m in members:
            m.group = None
            m.invalidate()

    def invalidate(self) -> None:
        if self.dirty:
            return
        self.dirty = True
        # The page whose action wrote this, if it is a member: its reply carries the change (the
        # others get it through the delivery, in slices).  Looked up on that page, not by visiting
        # every member: a write read by thousands is answered as fast as one read by a few.
        view = _acting
        if view is not None and view.hold:
            m = view.comps.get(self.name)
            if m is not None and m.group is self and not m.dirty:
                m.invalidate()
        self._schedule()

    def _schedule(self) -> None:
        if self.scheduled:
            return
        self.scheduled = True
        try:
            self.fanout(self.run)  # type: ignore[misc]  # set: a member's page is served
        except RuntimeError:  # the app is no longer served
            self.scheduled = False
            self.dissolve()

    def child(self, node: Component, p: RenderContext, room: int) -> CRef:
        raise _Unshareable(node.name)

    def refresh(self) -> bool:
        """Render anew, once for every member; False: it broke up (see :meth:`dissolve`)."""
        self.dirty = False
        p = _context(None, self, None)
        prev = begin(self)
        try:
            tree = _rendered(self.fn, self.render_fn, self.args)
            last = _render_tree(tree, p, self.statics, self.room, self.rc, _plan_of(self.statics, None))
        except BaseException:  # user code: each member renders on its own, with its own error
            end(prev)
            self.dissolve()
            return False
        end(prev)
        if self.dirty or not reads_only_shared(self):
            self.dissolve()  # it writes what it reads, or it read state that is not shared
            return False
        if last is not None:
            p.st.append(last)
            statics = tuple(p.st)
            self.statics = self.statics if statics == self.statics else _shared(statics)
            _keep_plan(self.statics, tree, self.room, None)
        self.dyns = p.dy
        if cython.compiled:
            _gc_untrack(p.dy)  # type: ignore[name-defined]  # noqa: F821 (as View._settle's)
        self.actions = _shared_actions(p.acts) if p.acts else None
        self.sent = {}
        self.last_old = _NO_VALUE
        self.last_out = None
        return True

    def patches_from(self, statics: Any, dyns: Any) -> SharedPatches | None:
        """The patches from an old output to the current one (None: the same), made once per old output."""
        if dyns is self.last_old:  # (a fan-out's members hold one old output: one identity check each)
            return self.last_out
        got = self.sent.get(id(dyns))
        if got is not None and got[0] is dyns:
            out = got[1]
        else:
            patch = diff(statics, dyns, self.statics, self.dyns)
            out = None if patch is None else SharedPatches(self.name, patch)
            self.sent[id(dyns)] = (dyns, out)  # the old list is kept: its id stays its own
        self.last_old = dyns  # (held: its identity stays its own)
        self.last_out = out
        return out

    def run(self) -> None:
        """The scheduled fan-out: render if dirty, then deliver one slice of the members."""
        self.scheduled = False
        if not self.members:
            return
        if self.dirty and not self.refresh():
            return
        todo = self.todo
        if todo is None:
            todo = self.todo = list(self.members)
            self.pos = 0
            self.round = self.dyns
        end_at = min(self.pos + FANOUT_SLICE, len(todo))
        _deliver(self, todo, self.pos, end_at)
        self.pos = end_at
        if end_at < len(todo):
            self._schedule()
            return
        self.todo = None
        if self.round is not self.dyns:  # rendered anew during the pass: those served before are behind
            self._schedule()


def _deliver(g: SharedRender, todo: list[ComponentState], start: int, stop: int) -> None:
    """Members ``todo[start:stop]`` brought up to ``g``'s output: pushed now, or marked dirty."""
    dyns = g.dyns
    n = len(todo)
    for i in range(start, stop):
        if cython.compiled:
            # The members' pages lie all over memory, and waiting for them was a fan-out's largest cost
            # after the socket writes: ask ahead for what the next deliveries read (one delivery's send
            # is long enough for the memory to answer).
            _warm_ahead(todo, i, n)  # type: ignore[name-defined]  # noqa: F821
        m = todo[i]
        if m.group is not g or m.dirty or m.dyns is dyns:  # left, will render anyway, or in step
            continue
        msg = g.patches_from(m.statics, m.dyns)
        view = m.view
        if msg is not None:
            owner = view.owner
            if owner is None or not owner.take_shared(msg):
                m.invalidate()  # renders from the group's output when its page flushes
                continue
        _adopt_output(m, g)


def _adopt_output(m: ComponentState, g: SharedRender) -> None:
    """Member ``m``'s render is now ``g``'s (its actions too)."""
    m.statics = g.statics
    m.dyns = g.dyns
    if m.actions is not g.actions:
        m.actions = g.actions
        m.view.collect_actions()


def _from_group(comp: ComponentState, g: SharedRender) -> bool:
    """``comp``, a member of ``g``, is to render (its page flushes): can it take ``g``'s output?

    No when its function or arguments changed (its parent rendered it with others): it leaves.  The group
    renders first if a write is pending (once, for every member).  Then ``comp`` takes the output.
    """
    if g.room != comp.room or not _same_fn(g.fn, comp.fn, True) or not _same_objects(g.args, comp.args):
        g.leave(comp)
        return False
    if g.dirty and not g.refresh():
        return False  # broke up: it renders on its own
    comp.dirty = False
    if comp.actions is not g.actions:
        comp.actions = g.actions
        comp.view.collect_actions()
    return True


# The page whose action runs now, synchronously (Session.dispatch, Session.call), or None.
_acting: View | None = None


def acting(view: View | None) -> View | None:
    """Make ``view`` the page whose action runs now; returns the one before, to restore after.

    A shared render written by that action puts the change in its reply
    (:meth:`SharedRender.invalidate`).  A page held by an async handler is
    not acting while it awaits: a shared change reaches it as the delivery
    does (it is then marked dirty, and its reply carries it).
    """
    global _acting
    prev = _acting
    _acting = view
    return prev


# Groups by (function code, component name, room, the pages' event loop): a bucket each.
_groups: dict[tuple[Any, ...], list[SharedRender]] = {}


def _group_of(t: ComponentState) -> SharedRender | None:
    """The shared render ``t`` joins (or founds), or None: it renders on its own."""
    view = t.view
    fanout = view.fanout
    if fanout is None or t.dirty or t.children or t.statics is None or view.rendering is not None:
        return None
    if not reads_only_shared(t):
        return None  # its last render read state that is not shared
    fn = t.fn
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None), "__code__", None)
    if code is None:
        return None  # not a function: nothing says what it captured
    key = (code, t.name, t.room, fanout)
    bucket = _groups.get(key)
    if bucket is None:
        bucket = _groups[key] = []
    for g in bucket:
        if (
            g.members
            and _same_fn(g.fn, fn, True)
            and _same_objects(g.args, t.args)
            and g.statics == t.statics
            and g.dyns == t.dyns
            and g.actions == t.actions
            and not (g.todo is not None and g.dyns is not g.round)  # not mid-delivery of a newer output
        ):
            g.join(t)
            return g
    g = SharedRender(t, key)
    bucket.append(g)
    return g


def _fan(subs: set[Any]) -> None:
    """A field declared per process was written, and several trackers read it (rweb.reactive's hook).

    Each component that may share its render joins a group (see :class:`SharedRender`), which
    is invalidated once; any other tracker is invalidated as usual.

    Trackers that are not renders go first: a shared record's replica (rweb.sharing) then
    schedules its publish before any of this process's pushes is scheduled, so that with a
    broker the other processes start their fan-out while this one does its own.
    """
    renders = []
    for t in tuple(subs):
        tt = type(t)
        if tt is ComponentState or tt is SharedRender:
            renders.append(t)
        else:
            t.invalidate()
    for t in renders:
        if type(t) is ComponentState:
            g = _group_of(t)
            if g is not None:
                g.invalidate()
                continue
        t.invalidate()


on_fan(_fan)


# Strings and statics that every session of an app renders alike are shared
# between sessions instead of held once per session: a page's statics depend
# only on its shape.  Bounded: when full, the tables start over.
_SHARED_MAX = 8192
_statics_table: dict[tuple[str, ...], tuple[str, ...]] = {}
_rc_table: dict[str, str] = {}
_attr_table: dict[str, dict[str, str]] = {}  # attribute name -> value -> its markup (_attr)
_present_table: dict[str, str] = {}  # a boolean attribute's name -> `` name`` (_attribute)
_attr_count = 0  # values in _attr_table


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
    """`` name="value"`` (escaped), shared: by name, then by value (no key to build and hash per attribute)."""
    global _attr_count
    by_value = _attr_table.get(name)
    if by_value is not None:
        got = by_value.get(value)
        if got is not None:
            return got
    got = f' {name}="{escape(value)}"'
    if len(value) <= 64:
        if _attr_count >= _SHARED_MAX:  # bounded, as _remember's tables
            _attr_table.clear()
            _attr_count = 0
            by_value = None
        if by_value is None:
            by_value = _attr_table[name] = {}
        by_value[value] = got
        _attr_count += 1
    return got


_cref_table: dict[str, CRef] = {}
_shape_table: dict[tuple[str, ...], tuple[str, ...]] = {}  # statics -> without their data-rc (_shape)
_actions_table: dict[frozenset[str], frozenset[str]] = {}
_NO_ACTIONS: frozenset[str] = frozenset()


def _cref(name: str) -> CRef:
    return _cref_table.get(name) or _remember(_cref_table, name, CRef(name))


def _shared_actions(names: set[str] | frozenset[str]) -> frozenset[str]:
    fs = frozenset(names)
    return _actions_table.get(fs) or _remember(_actions_table, fs, fs)


def _depth(c: ComponentState) -> int:
    return c.depth


_OPEN: dict[str, str] = {}
_OPEN_BARE: dict[str, str] = {}  # "<tag>", for elements without attributes
_CLOSE: dict[str, str] = {}


def _tag_strings(tag: str) -> str:
    """The markup of ``tag``, made once per tag; a tag that is no name is refused (``Element(...)`` takes any)."""
    _check_tag(tag)
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
    keys = el.attr_keys
    # The markup pieces go through ``o`` (a str in the compiled build, render.pxd): str + str
    # is a C-level concatenation there, not Python's generic addition.
    if not keys and not extra:
        o = _OPEN_BARE.get(tag) or (_tag_strings(tag) + ">")
        cur += o
    else:
        o = _OPEN.get(tag) or _tag_strings(tag)
        cur += o + extra
    items = el.items  # the children, then the attributes' values
    nk = el.nkids
    if len(items) - nk != len(keys):  # (a user's Element may have been given other keys)
        raise ValueError(f"<{tag}>: {len(keys)} attribute key(s) (attr_keys) for {len(items) - nk} value(s)")
    if keys:
        statics = p.st
        dyns = p.dy
        names = _ATTR_NAMES
        for i in range(len(keys)):
            k = keys[i]
            statics.append(cur)
            dyns.append(_attribute(names.get(k) or attr_name(k), items[nk + i], p, tag))
            cur = ""
        cur += ">"
    elif extra:
        cur += ">"
    if el.void:
        return cur
    for i in range(nk):
        c = items[i]
        t = type(c)
        if t is Element:
            ce = c  # typed Element in the compiled build (render.pxd)
            if ce.nkids == 1 and not ce.attr_keys and not ce.void:  # (a void element's children are not shown)
                # A leaf like span("Count: ") or td(n): inline, no recursive call.
                x = ce.items[0]
                tx = type(x)
                if (tx is str or tx is int) and room > 0:
                    ctag = ce.tag
                    o = _OPEN_BARE.get(ctag) or (_tag_strings(ctag) + ">")
                    p.st.append(cur + o)
                    p.dy.append(_int_text(x) if tx is int else (_escaped.get(x) or _esc(x)))
                    cur = _CLOSE[ctag]
                    continue
            cur = _element(ce, p, cur, room)
        elif t is str:
            p.st.append(cur)
            p.dy.append(_escaped.get(c) or _esc(c))
            cur = ""
        elif t is int:
            p.st.append(cur)
            p.dy.append(_int_text(c))
            cur = ""
        else:
            cur = _walk(c, p, cur, room)
    o = _CLOSE[tag]
    return cur + o


# -- plans: an element tree's shape, so that a render of the same shape refills the last statics --
#
# A component whose function returns element functions' trees rebuilds, at each render, statics
# that depend only on the tree's shape: its tags, how many attributes each element has, which
# children are elements, which are values (text, numbers) and which render as nothing.  So a
# walk's statics are kept with the shape that made them, as a plan (_plans: by statics, shared
# by every component and page that renders them); a component's next render whose tree has that
# shape walks it along the plan (_replay): only the dynamics are made, and the last statics are
# kept as they are, the same object (the diff finds them equal at once).  A tree of another shape
# is walked in full.  Any two trees of one shape make the same statics, so a plan is right for
# whatever component holds its statics, however it came by them.  A plan covers trees of
# elements and values only: a component, a template, a list or any other child is walked in full
# at each render (its render has side effects, or a shape that varies with its length).
#
# A plan is (room, root, statics): the nesting room the root was walked with; for each element a
# tuple (tag, void, keys, names, kids, tables, last, acts): its attributes' keys as given and the
# markup names they map to (attr_name); for each child a plan (an element), True (text, a number,
# raw markup: one dynamic) or False (None, True, False: nothing); per attribute, the markups _attr
# shares for its name, by value (as a template's holes have them: one lookup where _attribute
# makes two); per attribute and child, the last value and its markup (``last``: the same value
# again, or equal text, is the same markup, without a lookup); and the root's cell ``acts``, [the
# actions of its action attributes' last values (_NO_VALUE: to be made again), their slots], so
# that a render whose actions are the last ones makes no set of them.  Root None when the tree
# holds what a plan does not cover.  And the statics it is kept under, the table's key itself: a
# component holds its last plan (ComponentState.plan), which is its statics' while they are those
# very statics or equal to them (_plan_of: ``plan[2] is statics`` at almost every render, no hash
# of the statics; nothing to invalidate wherever a component's statics change).  Plans are
# written by renders on the worker's event loop (View, SharedRender), never from other threads.

_plans: dict[tuple[str, ...], tuple[Any, ...]] = {}
_template_plans: dict[tuple[str, ...], tuple[Any, ...]] = {}  # (_template_plan)
_NO_VALUE: Any = _NO_LAST  # a plan's slot before its first value (_replay), as a template's hole


def _plan(el: Element, room: int, acts: list[Any]) -> tuple[Any, ...] | None:
    """The plan of ``el``'s shape (``room``: as :func:`_element` is given it), or None when the tree
    holds something a plan does not cover.  ``acts``: the root's cell (see below); its list of
    action attributes' slots gets those of ``el``'s tree."""
    room -= 1
    if room < 0:
        return None
    keys = el.attr_keys
    names = _ATTR_NAMES
    kids: list[Any] = []
    if not el.void:  # (a void element's children are not rendered)
        items = el.items
        for i in range(el.nkids):
            c = items[i]
            t = type(c)
            if t is Element:
                sub = _plan(c, room, acts)
                if sub is None:
                    return None
                kids.append(sub)
            elif t is str or t is int or t is Markup or t is float:
                kids.append(True)  # one dynamic
            elif c is None or t is bool:
                kids.append(False)  # nothing
            else:
                return None
    named = tuple([names.get(k) or attr_name(k) for k in keys])
    last = [_NO_VALUE, None] * (len(keys) + len(kids))
    for i in range(len(named)):
        if type(named[i]) is _ACTION_NAME:
            acts[1].append((last, 2 * i))
    return (el.tag, el.void, keys, named, tuple(kids), [None] * len(keys), last, acts)


def _plan_actions(acts: list[Any]) -> frozenset[str] | None:
    """The actions of a plan's action attributes as they last were (their slots' last values): the
    root's cell's, made again after one changed (:func:`_replay`)."""
    got = acts[0]
    if got is _NO_VALUE:
        names = [last[j] for last, j in acts[1] if type(last[j]) is str]
        got = acts[0] = _shared_actions(frozenset(names)) if names else None
    return got  # type: ignore[no-any-return]


def _render_tree(tree: Any, p: RenderContext, statics: tuple[str, ...] | None, room: int, rc: str, plan: tuple[Any, ...] | None) -> str | None:
    """Walk ``tree``, what a component's function returned, into ``p`` (:func:`_markup`): the markup
    after its last dynamic slot; None when ``tree`` is of the shape of ``statics`` (the component's
    last, None before its first render) and was walked along their ``plan`` (:func:`_plan_of`:
    their statics are those)."""
    if plan is not None:
        planned = plan[0]  # the room it was made for (a C long, render.pxd: compared without making an int)
        if planned != room:
            plan = None
    if plan is None:
        pass
    elif type(tree) is Element:
        held = plan[1]
        if type(held) is tuple:  # (not None: a tree no plan covers; nor a template's, below)
            shape = held
            # The dynamics go into a list of the statics' count of slots, by index: no list grown
            # append by append.  (The count checked too: a plan that disagreed with the walk would
            # be a bug, and the walk is right.)
            n = len(statics) - 1  # type: ignore[arg-type]
            dyns = _new_dyns(n)
            if _replay(tree, shape, dyns, 0, p) == n:
                p.dy = dyns
                acts = shape[7]
                if acts[1]:  # its action attributes' actions, as their slots now are
                    got = _plan_actions(acts)
                    if got is not None:
                        if p.acts is None:
                            p.acts = got
                        else:  # (and those of attributes the replay did not fill from their slots)
                            _own_acts(p).update(got)
                return None
            p.acts = None  # replayed in part (its list dropped): walked again in full
    elif type(tree) is Filled:
        f = tree  # typed in the compiled build (render.pxd)
        if plan[1] is f.template and plan[2] is statics:  # (its template's plan: _template_plan)
            n = len(statics) - 1
            dyns = _new_dyns(n)
            if _refill(f, dyns, p):
                p.dy = dyns
                return None
            p.acts = None
    p.dy = []
    return _markup(tree, p, room, rc)


def _plan_of(statics: tuple[str, ...] | None, held: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    """The plan kept for ``statics``: ``held`` (a component's last) when it is theirs, else the one
    in the table (None: none).  (Equal statics that are another tuple, say another session's
    after the sharing table started over, are theirs too.)"""
    if held is not None and type(held[1]) is not Template and (held[2] is statics or held[2] == statics):
        return held
    return None if statics is None else _plans.get(statics)


def _keep_plan(statics: tuple[str, ...], tree: Any, room: int, held: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    """After a full walk of ``tree`` (a component's, with ``room``) into ``statics``: their plan, kept
    (once per statics: of any two trees that make them, either one's plan is right) and returned,
    for the component to hold (``held``: the one it held); None when ``tree`` is neither an element
    nor a rooted template whose holes were each one slot (:func:`_template_plan`)."""
    if type(tree) is not Element:
        return _template_plan(tree, room, statics) if type(tree) is Filled else None
    got = _plan_of(statics, held)
    if got is None:
        got = _remember(_plans, statics, (room, _plan(tree, room, [_NO_VALUE, []]), statics))
    return got


def _template_plan(f: Filled, room: int, statics: tuple[str, ...]) -> tuple[Any, ...] | None:
    """A component's plan after a full walk of ``f``, its rooted template's fill, into ``statics``:
    ``(room, template, statics)`` when each hole took one slot (an attribute, or text: a string, a
    number or markup, as the counter's ``span(counter.value)`` compiled): a fill of the
    template whose holes are again so makes these very statics, and only its holes' values need
    filling (:func:`_refill`).  None when a hole held more (elements, components, lists): its
    statics depend on what it held."""
    t = f.template
    vals = f.vals
    if t is None or vals is None or not t.rooted:
        return None
    slots = t.slots
    attrs = t.attrs
    n = len(slots)
    if len(statics) != n + 1:
        return None
    for i in range(n):
        if attrs[i] is None:
            k = slots[i]
            v = vals[k]
            if type(v) is not str and _number_text(v) is None:
                return None
    # One plan for every component holding these statics (each page's row of that name), as
    # element plans are: a tuple per component would be a page's memory.
    got = _template_plans.get(statics)
    if got is None or got[1] is not t or got[2] is not statics or got[0] != room:
        got = _remember(_template_plans, statics, (room, t, statics))
    return got


@cython.boundscheck(False)  # type: ignore[untyped-decorator]  # (indices: the template's own, its holes')
@cython.wraparound(False)  # type: ignore[untyped-decorator]
def _refill(f: Filled, dyns: list[Any], p: RenderContext) -> bool:
    """Fill ``dyns`` (:func:`_new_dyns`) with the holes of ``f``, whose template's plan the component
    holds (:func:`_template_plan`), as :func:`_fill` would append them to ``p``; False (``dyns``
    partly filled) when a hole holds more than one slot's value (then the fill walks in full).

    Each hole keeps its last value and that value's markup (``Template.lasts``), as a plan's slots do
    (:func:`_replay`): the same value, or equal text, takes the same markup without a lookup.  Not for
    actions' names, whose values are recorded in ``p`` at each render."""
    t = f.template
    vals = f.vals
    slots = t.slots
    n = len(slots)
    if vals is None or n != len(dyns):
        return False
    if t.actions:
        if p.acts is None:  # (as _fill: the template's own set, shared)
            p.acts = t.actions
        elif p.acts is not t.actions:
            _own_acts(p).update(t.actions)
    attrs = t.attrs
    last = t.lasts
    for i in range(n):
        k = slots[i]  # (a C index, render.pxd: the tuple read directly, not subscripted as an object)
        v = vals[k]
        name = attrs[i]
        j = 2 * i
        if name is not None:
            if type(name) is str:  # a plain name
                if _same_value(v, last[j]):
                    got = last[j + 1]
                else:
                    got = _table_attr(t.tables, i, name, v, p, t.tags[i])
                    if type(v) is str or v is None or type(v) is bool:
                        last[j] = v
                        last[j + 1] = got
                    else:
                        last[j] = _NO_VALUE
            else:
                got = _table_attr(t.tables, i, name, v, p, t.tags[i])
        elif type(v) is str:
            got = _text_slot(v, last, j)
        else:
            got = _number_text(v)
            if got is None:
                return False
        _put(dyns, i, got)
    return True


def plan_for(statics: tuple[str, ...]) -> tuple[Any, ...] | None:
    """The plan kept for ``statics`` (None: none; its root None: a tree no plan covers).  For tests
    and tools: compiled, the table itself is not visible from Python."""
    return _plans.get(statics)


@cython.boundscheck(False)  # type: ignore[untyped-decorator]  # (indices: checked against its plan's counts)
@cython.wraparound(False)  # type: ignore[untyped-decorator]
def _replay(el: Element, plan: tuple[Any, ...], dyns: list[Any], pos: int, p: RenderContext) -> int:
    """Put ``el``'s dynamics into ``dyns`` from ``pos`` on, along ``plan``, as :func:`_element` would
    append them to ``p``; returns the position after them, or -1 (``dyns`` partly filled) when ``el``
    is not of the plan's shape or they would not fit."""
    tag = el.tag
    if (tag is not plan[0] and tag != plan[0]) or el.void is not plan[1]:
        return -1
    keys = el.attr_keys
    planned = plan[2]
    n = len(planned)
    if len(keys) != n:
        return -1
    items = el.items  # the children, then the attributes' values
    nk = el.nkids
    if len(items) - nk != n:  # (a user's Element may have been given other keys)
        return -1
    size = len(dyns)
    last = plan[6]
    if n:
        names = plan[3]
        same = keys is planned  # (the same call site's keyword names: one tuple for all its calls)
        if pos + n > size:
            return -1
        for i in range(n):
            k = keys[i]
            v = items[nk + i]
            if same or k is planned[i]:
                name = names[i]
                nt = type(name)
                kept = nt is str or nt is _ACTION_NAME  # (other special names: checked at each render)
                j = 2 * i
                if kept and _same_value(v, last[j]):
                    got = last[j + 1]  # (an action's is among the plan's: _render_tree)
                else:
                    got = _table_attr(plan[5], i, name, v, p, tag)
                    if kept:
                        if nt is not str:
                            plan[7][0] = _NO_VALUE  # the plan's actions, to be made again
                        if type(v) is str or v is None or type(v) is bool:
                            last[j] = v
                            last[j + 1] = got
                        else:  # (another value: not kept, and no action from the slot)
                            last[j] = _NO_VALUE
                _put(dyns, pos, got)
            else:  # another key at the same place (the same count) fills the same slot: its own name
                _put(dyns, pos, _attribute(_ATTR_NAMES.get(k) or attr_name(k), v, p, tag))
                last[2 * i] = _NO_VALUE  # (the slot's last value is not this one's)
                if type(names[i]) is _ACTION_NAME:
                    plan[7][0] = _NO_VALUE  # nor its action an action of this render
            pos += 1
    if el.void:
        return pos
    kids = plan[4]
    m = len(kids)
    if nk != m:
        return -1
    for i in range(m):
        c = items[i]
        want = kids[i]
        t = type(c)
        if type(want) is tuple:
            if t is not Element:
                return -1
            pos = _replay(c, want, dyns, pos, p)
            if pos < 0:
                return -1
        elif want is True:
            if pos == size:
                return -1
            if t is str:
                _put(dyns, pos, _text_slot(c, last, 2 * (n + i)))
            else:
                got = _number_text(c)
                if got is None:
                    return -1
                _put(dyns, pos, got)
            pos += 1
        elif not (c is None or t is bool):
            return -1
    return pos


def _new_dyns(n: int) -> list[Any]:
    """A list of ``n`` slots for :func:`_replay` to fill by index (compiled: empty slots, C NULLs,
    each filled once by :func:`_put`; a list left part filled is only ever freed): the last
    render's, kept by :func:`_recycle`, when it has that many, else a new one."""
    global _spare_dyns
    if cython.compiled:
        spare = _spare_dyns  # (_recycle)
        if spare is not None and len(spare) == n:
            got = spare
            _spare_dyns = None
        else:
            got = _list_new(n)  # type: ignore[name-defined]  # noqa: F821 (render.pxd: PyList_New)
    else:
        got = [None] * n
    return got


def _put(dyns: list[Any], i: int, v: Any) -> None:
    """Slot ``i`` of a list from :func:`_new_dyns`, empty until now, takes ``v``."""
    if cython.compiled:
        _list_fill(dyns, i, v)  # type: ignore[name-defined]  # noqa: F821 (render.pxd: a new reference into the NULL)
    else:
        dyns[i] = v


@cython.boundscheck(False)  # type: ignore[untyped-decorator]  # (j: its callers' slot, within their plan's)
@cython.wraparound(False)  # type: ignore[untyped-decorator]
def _text_slot(v: str, last: list[Any], j: int) -> str:
    """The markup of the text ``v`` in a slot whose last value and markup are ``last[j]`` and
    ``last[j + 1]`` (a plan's, :func:`_replay`; a template's hole, :func:`_refill`), kept there."""
    if _same_value(v, last[j]):
        return last[j + 1]  # type: ignore[no-any-return]  # (a markup: what the line below kept)
    got = _escaped.get(v) or _esc(v)
    last[j] = v
    last[j + 1] = got
    return got


def _int_text(v: int) -> str:
    """``str(v)`` of an ``int`` (exactly: not a bool), as a slot's text.  Compiled, one that fits a C
    long is written by Cython's integer formatter (render.pxd: ``_c_int_text``), about a tenth of
    the instructions of CPython's general conversion; larger ones take that conversion."""
    if cython.compiled:
        got = _c_int_text(v)  # type: ignore[name-defined]  # noqa: F821 (a C function of render.pxd)
    else:
        got = str(v)
    return got  # type: ignore[no-any-return]


def _number_text(v: Any) -> str | None:
    """The text of one slot holding ``v`` when it is a number or markup, as :func:`_walk` writes it
    (the other values a plan's or a template's text slot takes: text itself has its own memo,
    :func:`_text_slot`); None for anything else, which walks in full."""
    t = type(v)
    if t is int:
        return _int_text(v)
    if t is Markup:
        return str.__str__(v)
    if t is float:
        return repr(v)
    return None


def _same_value(v: Any, last: Any) -> bool:
    """Is ``v`` the value a plan's slot last had (:func:`_replay`): the same object, or equal text
    (another session's string for the same text: one comparison where a table lookup hashes)."""
    if v is last:
        return True
    if type(v) is str and type(last) is str:
        a = v
        b = last
        return a == b
    return False


def _attribute(name: str, v: Any, p: RenderContext, tag: str) -> str:
    """The markup of the attribute ``name`` (from :func:`~rweb.html.attr_name`) with the value ``v``
    on a ``<tag>``: escaped, checked, its actions recorded in ``p``; ``""`` when it is absent."""
    if v is None or v is False:
        return ""
    if v is True:  # present: `` name``, one string per name (not one per render)
        return _present_table.get(name) or _remember(_present_table, name, " " + name)
    sv = v if type(v) is str else str(v)
    nt = type(name)
    if nt is _ACTION_NAME:  # (the most frequent special name: known by its class, no lookup)
        _own_acts(p).add(sv)
    elif nt is not str:  # a URL, a hook's actions...: see html._SpecialName
        kind = name.kind  # type: ignore[attr-defined]  # a _SpecialName (a str subclass)
        if kind is _KIND_ACTION_LIST:  # a hook's actions
            _own_acts(p).update(sv.split())
        else:
            _check_attr(kind, name, v, sv, tag)
    return _attr(name, sv)


def _table_attr(tables: list[dict[str, str] | None], i: int, name: str, v: Any, p: RenderContext, tag: str) -> str:
    """:func:`_attribute`, for a template's hole or a plan's attribute ``i``, whose ``tables[i]`` keeps
    the markups :func:`_attr` shares for its name, by value: one lookup where :func:`_attribute`
    makes two.  Text values of plain names and of actions' (recorded at each render) only: other
    special names' values are checked against the tag at each render."""
    if type(v) is str:
        nt = type(name)
        if nt is str or nt is _ACTION_NAME:
            by_value = tables[i]
            if by_value is not None:
                got = by_value.get(v)
                if got is not None:
                    if nt is not str:
                        _own_acts(p).add(v)
                    return got
            got = _attribute(name, v, p, tag)
            tables[i] = _attr_table.get(name)  # when _attr starts its tables over: the new one
            return got
    return _attribute(name, v, p, tag)


def _own_acts(p: RenderContext) -> set[str]:
    """``p.acts`` as a set of the render's own, to add to (it may be a template's frozenset)."""
    acts = p.acts
    if type(acts) is not set:
        acts = p.acts = set() if acts is None else set(acts)
    return acts


def _fill(f: Filled, p: RenderContext, cur: str, room: int, extra: str = "") -> str:
    """Walk a filled :class:`~rweb.html.Template`: its statics as they were compiled, its holes'
    values as an element's attributes and children are; ``extra`` goes on its one element."""
    if room <= 0:
        raise _too_deep(f)
    t = f.template
    if t is None or f.vals is None:  # Filled.__new__(Filled): its C fields are NULL-checked nowhere else
        raise TypeError("a Filled is made by calling its Template, not Filled.__new__")
    if extra:  # a component's data-rc (_markup: rooted templates only; cur is "")
        # Made once per template and component name: the same string at each render, which the
        # diff then finds equal by identity.
        firsts = t.firsts
        first = firsts.get(extra)
        if first is None:
            if len(firsts) >= _SHARED_MAX:
                firsts.clear()
            first = firsts[extra] = t.head + extra + t.pieces[0]
        cur = first
    else:
        cur += t.first
    if t.actions:
        if p.acts is None:  # the template's own set, shared (_own_acts copies it to add to it)
            p.acts = t.actions
        elif p.acts is not t.actions:
            _own_acts(p).update(t.actions)
    slots = t.slots
    n = len(slots)
    if n:
        vals = f.vals  # one per name, in the template's order (the call checked that it named them all)
        attrs = t.attrs
        pieces = t.pieces
        tables = t.tables
        for i in range(n):
            j = slots[i]
            v = vals[j]
            name = attrs[i]
            if name is not None:
                p.st.append(cur)
                p.dy.append(_table_attr(tables, i, name, v, p, t.tags[i]))
                cur = ""
            elif type(v) is str:
                p.st.append(cur)
                p.dy.append(_escaped.get(v) or _esc(v))
                cur = ""
            else:
                cur = _walk(v, p, cur, room - t.rooms[i])
            o = pieces[i + 1]
            if cur:
                cur += o
            else:  # after a slot: the compiled static itself, no copy
                cur = o
    return cur


def _walk(node: Any, p: RenderContext, cur: str, room: int) -> str:
    t = type(node)
    if t is Element:
        return _element(node, p, cur, room)
    if t is Filled:
        return _fill(node, p, cur, room)
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
        v = _int_text(node)
    elif t is Component:
        if room <= 0:
            raise _too_deep(node)
        view = p.view
        if view is None:  # a detached render: the component inline, untracked
            tree = node.fn(*node.args)
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
    p = _context(None, None, None)
    p.dy = []
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


set_renderer(to_html)
set_compiler(compile_source)
