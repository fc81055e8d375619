"""Reactive records and collections, with per-field dependency tracking.

A *tracker* (in practice a rendered component, see :mod:`rweb.render`) is made
current while it renders.  Every read of a reactive field during that time
subscribes the tracker to the field; a later write to the field calls
``tracker.invalidate()`` on exactly the trackers whose last render read it.

The module keeps the current tracker in a module global (``_tracker``): rweb
runs one event loop per process and renders synchronously, so no context
variable is needed, and a global load is the cheapest thing a getter can do.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, MutableMapping, MutableSequence
from typing import Any, TypeVar, dataclass_transform, overload

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:
    _COMPILED = False

__all__ = [
    "RDict",
    "RList",
    "SharedStateError",
    "Tracker",
    "capture",
    "checks_owners",
    "is_reactive",
    "is_shared_set",
    "on_fan",
    "on_shared_state",
    "own",
    "process_local",
    "reactive",
    "reads_only_shared",
    "subscribers",
    "tracking",
    "transfer",
    "trim",
    "untracked",
]


class Tracker:
    """The base of anything that can depend on reactive fields (a rendered component).

    ``sources`` holds what it is subscribed to, two entries a subscription:
    a record and the index of the field's subscribers in its ``_rw_vals``,
    or a collection and -1 (None until its
    first read: a tracker that reads nothing holds no list); a write to one
    of those fields calls :meth:`invalidate`.  ``used``: how many entries of
    ``sources`` are current, all of them but between :func:`begin` and
    :func:`end`, where a render's reads overwrite the last render's entries
    in place (the list and its array are kept: freeing and making them again
    at every render reaches memory far from the click, among many pages).
    A base class rather than a protocol: in the compiled build (see
    setup.py) both are then C-level accesses.
    """

    __slots__ = ("owner", "sources", "used")

    def __init__(self) -> None:
        self.sources: list[Any] | None = None
        self.used = 0
        # The page its reads are checked for (see on_shared_state): a component's view;
        # None for a tracker of no page (a snapshot's, a replica's): never checked.
        self.owner: Any = None

    def invalidate(self) -> None:
        raise NotImplementedError


# The tracker currently rendering, or None.  Read by every getter.
_tracker: Tracker | None = None

# Values compared by equality before a write counts as a change.
_SCALARS = frozenset({int, float, str, bool, bytes, type(None), complex})


def begin(tracker: Tracker | None) -> Any:
    """Drop ``tracker``'s subscriptions and make it current; returns the previous one.

    The cheap form of :class:`tracking` for the renderer: pair with :func:`end`.
    The list of its subscriptions is kept, their entries stale until this
    render's reads overwrite them (:func:`_subscribed`) or :func:`end` drops
    those left.
    """
    global _tracker
    if tracker is not None:
        sources = tracker.sources
        if sources:
            _unlink(tracker, sources)
            tracker.used = 0
    prev = _tracker
    _tracker = tracker
    return prev


def end(prev: Any) -> None:
    """Restore the tracker that :func:`begin` returned."""
    global _tracker
    t = _tracker
    if t is not None:
        trim(t)
    _tracker = prev


def trim(t: Tracker) -> None:
    """Drop the entries of ``t.sources`` that its render, begun by :func:`begin`, did not overwrite
    (:func:`end` does it for the current tracker; a render cut short, for each of its own)."""
    sources = t.sources
    if sources is not None:
        n = t.used
        if n < len(sources):
            del sources[n:]


class tracking:
    """Make ``tracker`` current for the duration of a ``with`` block.

    The tracker's old subscriptions are dropped on entry, so after the block it
    depends on exactly what was read inside it.
    """

    __slots__ = ("_prev", "_tracker")

    def __init__(self, tracker: Tracker | None) -> None:
        if tracker is not None and not isinstance(tracker, Tracker):
            raise TypeError(f"a tracker must be a rweb.reactive.Tracker, not {type(tracker).__name__}")
        self._tracker = tracker
        self._prev: Any = None

    def __enter__(self) -> None:
        global _tracker
        t = self._tracker
        if t is not None:
            unsubscribe(t)
        self._prev = _tracker
        _tracker = t

    def __exit__(self, *exc: object) -> None:
        global _tracker
        _tracker = self._prev


def untracked() -> tracking:
    """``with untracked(): ...`` reads without subscribing the current tracker."""
    return tracking(None)


def unsubscribe(tracker: Tracker) -> None:
    """Remove ``tracker`` from every field it subscribed to."""
    sources = tracker.sources
    if sources:
        _unlink(tracker, sources)
        sources.clear()
    tracker.used = 0


def _unlink(tracker: Tracker, sources: list[Any]) -> None:
    """Take ``tracker`` out of the subscribers of each field in ``sources`` (the list is left as it is)."""
    for j in range(0, len(sources), 2):
        obj = sources[j]
        i = sources[j + 1]
        if i < 0:  # a collection
            obj._subs.discard(tracker)  # noqa: SLF001
            continue
        rec = obj  # a _Record (only _read subscribes to a field): its C field in the compiled build
        slots = rec._rw_vals  # noqa: SLF001  # i: where the field's subscribers are
        subs = slots[i]
        if subs is tracker:  # its only reader
            slots[i] = None
        elif type(subs) is set:
            several = subs  # a set: typed for the compiled build (C-level set calls)
            several.discard(tracker)
            # Emptied: back to the compact form.  One reader left stays in its set: a
            # component that re-renders beside another reader (a snapshot's) would
            # otherwise make and drop a set on every render.
            if not several:
                slots[i] = None


def _subscribed(t: Tracker, obj: Any, i: int) -> None:
    """``t`` is now subscribed to the field of ``obj`` whose subscribers are at ``obj._rw_vals[i]``
    (-1: to the collection ``obj``)."""
    src = t.sources
    n = t.used
    if src is None:
        t.sources = [obj, i]
    elif n < len(src):  # over an entry of its last render (begin)
        src[n] = obj
        src[n + 1] = i
    else:
        src.append(obj)
        src.append(i)
    t.used = n + 2


def transfer(old: Tracker, new: Tracker) -> None:
    """``new`` takes over every subscription of ``old`` (which is left with none)."""
    sources = old.sources
    old.sources = None
    new.sources = sources
    new.used = old.used
    old.used = 0
    if not sources:
        return
    for j in range(0, len(sources), 2):
        obj = sources[j]
        i = sources[j + 1]
        if i < 0:
            subs = obj._subs  # noqa: SLF001
        else:
            slots = obj._rw_vals  # noqa: SLF001
            subs = slots[i]
            if subs is old:
                slots[i] = new
                continue
            if type(subs) is not set:  # pragma: no cover (it is subscribed: the field holds it)
                continue
        subs.discard(old)
        subs.add(new)


def reads_only_shared(t: Tracker) -> bool:
    """Is everything ``t`` is subscribed to declared per process (:func:`process_local`)?  True when nothing."""
    sources = t.sources
    if sources:
        for j in range(0, len(sources), 2):
            if sources[j]._rw_owner is not _ANYONE:  # noqa: SLF001
                return False
    return True


def subscribers(obj: Any, name: str | None = None) -> int:
    """How many trackers read field ``name`` of the record ``obj`` (or the collection ``obj``) now."""
    if name is None:
        subs: Any = obj._subs  # noqa: SLF001
    else:
        fields = obj.__rweb_fields__
        subs = obj._rw_vals[len(fields) + fields.index(name)]  # noqa: SLF001
    if subs is None:
        return 0
    if type(subs) is not set:
        return 1
    return len(subs) - (_SHARED in subs)


def _notify(subs: set[Any]) -> None:
    if len(subs) == 1:  # the common case: no copy, as nothing iterates after the call
        for t in subs:
            t.invalidate()
            return
    if _fan is not None and _SHARED in subs:  # a field declared per process, read by several
        _fan(subs)
        return
    # Copy: invalidation may (indirectly) unsubscribe trackers.
    for t in tuple(subs):
        t.invalidate()


class _Shared(Tracker):
    """The mark of a subscriber set whose field (or collection) is declared per process (:func:`process_local`).

    Every such set holds the one instance, :data:`_SHARED`, besides its
    trackers: a write with several subscribers can then tell that sessions
    share what was written, at no cost to a write of a session's own state
    (one subscriber: nothing is looked up).  Then the renderer's hook
    (:func:`on_fan`) renders the readers that would render alike once for
    all (rweb.render).  A tracker that nothing changes: invalidating it does
    nothing, and it subscribes to nothing.
    """

    __slots__ = ()

    def invalidate(self) -> None:
        pass


_SHARED: Any = _Shared()

# Called with the subscriber set (marked _SHARED) of a field declared per process when it is
# written (rweb.render installs it: renders shared between sessions), or None: each tracker is
# invalidated.
_fan: Callable[[set[Any]], None] | None = None


def on_fan(hook: Callable[[set[Any]], None] | None) -> None:
    """``hook(subscribers)`` instead of invalidating each, when a field declared per process is
    written and several trackers read it: the hook must invalidate them, one way or another.
    ``subscribers`` holds a mark besides them (:func:`is_shared_set`), whose ``invalidate`` does nothing."""
    global _fan
    _fan = hook


def is_shared_set(subs: set[Any]) -> bool:
    """Is ``subs`` (a tracker's source) the subscriber set of a field declared per process?"""
    return _SHARED in subs


def _declare(obj: Any) -> None:
    """``obj`` (a record or collection) is declared per process: its owner, and its subscriber sets."""
    object.__setattr__(obj, "_rw_owner", _ANYONE)
    if isinstance(obj, _Record):
        slots = obj._rw_vals  # noqa: SLF001
        n = len(slots) // 2
        for i in range(n, 2 * n):  # the subscribers' half
            s = slots[i]
            if s is None:
                continue
            if type(s) is set:
                s.add(_SHARED)
            else:  # its only reader, held alone: a marked set now
                slots[i] = {_SHARED, s}
    else:
        obj._subs.add(_SHARED)  # noqa: SLF001


# Where new records, RLists and RDicts are collected (a page's setup, for its
# session's snapshots: rweb.snapshot), or None.
_created: list[Any] | None = None

# Every @reactive class by "module:qualname" (a snapshot names the records it holds).
CLASSES: dict[str, type] = {}


def capture(into: list[Any] | None) -> list[Any] | None:
    """Collect every record, RList and RDict created from now on in ``into`` (None: stop); returns the previous list."""
    global _created
    prev = _created
    _created = into
    return prev


def _wrap(value: Any) -> Any:
    """Plain lists and dicts stored in a reactive field become reactive too."""
    t = type(value)
    if t is list:
        return RList(value)
    if t is dict:
        return RDict(value)
    return value


# ---------------------------------------------------------------------------
# Records


class _Record:
    """The base of every ``@reactive`` class: field values, subscribers (by index), and owner.

    ``_rw_vals`` holds both, in one list: the fields' values, then their
    subscribers (field ``i`` of ``n``: ``_rw_vals[i]`` and ``_rw_vals[n + i]``).
    A field's subscribers: None, its only reader (a :class:`Tracker`, held
    alone: no set for the common case), or a set of them (several, or a
    field declared per process: then the set holds the :data:`_SHARED` mark).

    ``_rw_owner``: whose state it is, for the refusal of state that sessions
    share (see :func:`on_shared_state`).

    The ``_rw_`` slots (and collections' ``_items``) are this module's alone:
    its functions read them on the hot path (``# noqa: SLF001``: the same
    module, which ruff cannot tell); no other module touches them.
    """

    __slots__ = ("__weakref__", "_rw_owner", "_rw_vals")
    # The slots' types, for type checkers (reactive.pxd declares them to Cython).
    _rw_owner: Any
    _rw_vals: list[Any]  # the values, then per field: None, a Tracker, or a set


def _read(rec: _Record, i: int, j: int) -> Any:
    """Field ``i``'s value (its subscribers at ``j``), subscribing the current tracker."""
    s = rec._rw_vals  # noqa: SLF001
    t = _tracker
    if t is not None:
        subs = s[j]
        if subs is t:  # read before in this render
            return s[i]
        several = subs if type(subs) is set else None  # typed for the compiled build (C-level set calls)
        if several is None or t not in several:
            if _on_shared is not None and rec._rw_owner is not t.owner:  # not this page's own state?  # noqa: SLF001
                _foreign(rec, t)
            if several is not None:
                several.add(t)
            elif subs is None:
                s[j] = {_SHARED, t} if rec._rw_owner is _ANYONE else t  # noqa: SLF001
            else:  # a second reader
                s[j] = {subs, t}
            _subscribed(t, rec, j)
    return s[i]


class SharedStateError(RuntimeError):
    """State that sessions share would split silently between worker processes."""


# State that sessions share, where other processes cannot see this one's writes
# (several workers without a broker; any app with a broker): the server sets a
# hook (App.refuse_split_state), and then every record, RList and RDict knows
# whose state it is (``_rw_owner``), and a page that reads one that is not its
# own is refused at that first read, however connections are spread over the
# processes.  Owners:
#
# - a page (its View): the records its session's setup created (Connection
#   hands them over: own()), what is created later and first read by that page
#   (a todo made by its action), and what its own records come to hold;
# - _FREE: created while the hook is set, outside a setup, not yet read by a
#   page nor held by a record: the first page that reads it owns it;
# - None: nobody's, created before the hook was set (at import: module level);
# - _ANYONE: declared per process (process_local, app.share), never refused.
#
# The check is one comparison where a component subscribes to a field, and
# nothing at all without the hook.
_on_shared: Callable[[Any], None] | None = None


class _Tag:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_FREE: Any = _Tag("<free>")
_ANYONE: Any = _Tag("<process_local>")


def on_shared_state(hook: Callable[[Any], None] | None) -> None:
    """``hook(record)`` when a page reads a record that is not its own state (None: off).

    A page's own: what its session's setup created (see :func:`own`), and
    what is created later and first read by it or held by its records.  Not
    its own: what was created before the hook was set (module level), and
    another page's.  Records declared :func:`process_local` never call it.
    ``hook`` may raise: the read, and the component's render, fail.
    """
    global _on_shared
    _on_shared = hook


def checks_owners() -> bool:
    """Is a hook set (:func:`on_shared_state`): then a page's setup hands what it created to :func:`own`."""
    return _on_shared is not None


def own(objects: Iterable[Any], owner: Any) -> None:
    """The records a page's setup created (what :func:`capture` collected) are ``owner``'s state."""
    for obj in objects:
        if obj._rw_owner is _FREE:  # noqa: SLF001
            object.__setattr__(obj, "_rw_owner", owner)


def _foreign(obj: Any, t: Tracker) -> None:
    """Page ``t.owner`` reads ``obj``, not (yet) its own: claim it, let it be, or call the hook."""
    mine = t.owner
    if mine is None:  # a tracker of no page
        return
    owner = obj._rw_owner  # noqa: SLF001
    if owner is _FREE:
        object.__setattr__(obj, "_rw_owner", mine)
        return
    if owner is _ANYONE:
        return
    hook = _on_shared
    if hook is not None:
        hook(obj)  # may raise: the read (and the render) is refused, every time


def _adopt(obj: Any, owner: Any) -> None:
    """``obj`` was stored in a record or collection of ``owner``: if free, it (and the free
    records it holds) is ``owner``'s too.  Stored in one declared per process (see
    :func:`process_local`), a record of nobody's is declared with it."""
    if owner is _FREE:
        return
    if owner is _ANYONE:
        _declare_all(obj)
        return
    todo = [obj]
    while todo:
        o = todo.pop()
        if isinstance(o, _Record | _Collection) and o._rw_owner is _FREE:  # noqa: SLF001
            object.__setattr__(o, "_rw_owner", owner)
            todo.extend(_held(o))


def _declare_all(obj: Any) -> None:
    """Declare ``obj`` per process, and what it holds: each record or collection that is free or nobody's."""
    todo = [obj]
    while todo:
        o = todo.pop()
        if isinstance(o, _Record | _Collection) and (o._rw_owner is None or o._rw_owner is _FREE):  # noqa: SLF001
            _declare(o)
            todo.extend(_held(o))


def _held(obj: Any) -> Iterable[Any]:
    """What a record or collection holds."""
    if isinstance(obj, _Record):
        vals = obj._rw_vals  # noqa: SLF001
        return vals[: len(vals) // 2]
    if isinstance(obj, RDict):
        return list(obj._items.values())  # noqa: SLF001
    return list(obj._items)  # noqa: SLF001


def _born() -> Any:
    """A new record's owner: free while the hook is set (a page may claim it), else nobody."""
    return _FREE if _on_shared is not None else None


class IdentitySet:
    """A set of objects by identity, holding them weakly: RList and RDict (unhashable) included."""

    __slots__ = ("_refs",)

    def __init__(self) -> None:
        self._refs: dict[int, Any] = {}

    def add(self, obj: Any) -> None:
        key = id(obj)
        refs = self._refs

        def forget(_ref: weakref.ref[Any]) -> None:
            refs.pop(key, None)

        refs[key] = weakref.ref(obj, forget)

    def __contains__(self, obj: object) -> bool:
        ref = self._refs.get(id(obj))
        return ref is not None and ref() is obj

    def __len__(self) -> int:
        return len(self._refs)


class _Declared:
    """``obj in _SHARED_OK``: declared per process (process_local, app.share), or held by such a record."""

    __slots__ = ()

    def __contains__(self, obj: object) -> bool:
        return isinstance(obj, _Record | _Collection) and obj._rw_owner is _ANYONE  # noqa: SLF001


_SHARED_OK: Any = _Declared()


def process_local(record: Any) -> Any:
    """Declare that ``record``, though read by several sessions, may differ between worker processes.

    (A per-process cache, a counter of this worker's sessions.)  Without this,
    a server with several workers and no broker, or with a broker, refuses
    state that is not a session's own at first use.  What the record holds
    (its lists, dicts and records) is declared with it.
    """
    if not is_reactive(record):
        raise TypeError(f"process_local() takes a @reactive record, an RList or an RDict, not {type(record).__name__}")
    _declare_all(record)
    return record


def _write(rec: _Record, i: int, j: int, value: Any) -> None:
    vals = rec._rw_vals  # noqa: SLF001
    old = vals[i]
    if old is value:
        return
    tv = type(value)
    if tv is bool:  # True and False are singletons: not the one held (above), so a change
        vals[i] = value
    elif tv is int or tv is str or tv in _SCALARS:  # the common two without the set's lookup
        if type(old) is tv and old == value:
            return
        vals[i] = value
    else:
        vals[i] = value = _wrap(value)
        if _on_shared is not None or rec._rw_owner is _ANYONE:  # noqa: SLF001
            _adopt(value, rec._rw_owner)  # noqa: SLF001
    subs = vals[j]
    if subs is not None:
        if type(subs) is set:
            several = subs
            if several:
                _notify(several)
        else:  # its only reader
            one = subs
            one.invalidate()


class _Field:
    """A reactive record's field: reads subscribe the current tracker, writes notify.

    A data descriptor rather than a property: in the compiled build (see
    setup.py) its get and set are C slots on typed records, no Python call.
    """

    __slots__ = ("i", "j", "name")

    def __init__(self, i: int, name: str, j: int) -> None:
        self.i = i  # the value's index in the record's _rw_vals
        self.j = j  # its subscribers' index there
        self.name = name

    def __get__(self, obj: Any, owner: Any) -> Any:
        if obj is None:
            return self
        return _read(obj, self.i, self.j)

    def __set__(self, obj: Any, value: Any) -> None:
        _write(obj, self.i, self.j, value)

    def __repr__(self) -> str:
        return f"<reactive field {self.name!r}>"


T = TypeVar("T")


@dataclass_transform()
def reactive(cls: type[T]) -> type[T]:
    """Turn an annotated class into a reactive record.

    ``@reactive class Counter: value: int`` gives ``Counter(0)`` and
    ``Counter(value=0)``; fields with a class-level default are optional.
    Reading a field while a tracker is current subscribes it; writing a
    different value invalidates the field's subscribers.  Lists and dicts
    assigned to a field become :class:`RList` / :class:`RDict`.
    """
    annotations: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        annotations.update(getattr(klass, "__annotations__", {}))
    names = [n for n in annotations if not n.startswith("_")]
    if not names:
        raise TypeError(f"@reactive class {cls.__name__} declares no fields")
    defaults: dict[str, Any] = {}
    for n in names:
        if n in cls.__dict__:
            defaults[n] = cls.__dict__[n]
    seen_default = False
    for n in names:
        if n in defaults:
            seen_default = True
        elif seen_default:
            raise TypeError(
                f"@reactive class {cls.__name__}: field {n!r} without a default "
                "follows a field with one"
            )
    for d in defaults.values():
        if isinstance(d, list | dict | set):
            raise TypeError(
                f"@reactive class {cls.__name__}: mutable default {d!r}; "
                "use a default_factory-style __post_init__ or pass it to the constructor"
            )

    index = {n: i for i, n in enumerate(names)}
    nfields = len(names)
    qual = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > nfields:
            raise TypeError(f"{qual}() takes {nfields} positional arguments but {len(args)} were given")
        vals: list[Any] = [_MISSING] * nfields + [None] * nfields  # the values, then their subscribers
        for i, a in enumerate(args):
            vals[i] = _wrap(a)
        for k, v in kwargs.items():
            j = index.get(k)
            if j is None:
                raise TypeError(f"{qual}() got an unexpected keyword argument {k!r}")
            if vals[j] is not _MISSING:
                raise TypeError(f"{qual}() got multiple values for argument {k!r}")
            vals[j] = _wrap(v)
        for i, n in enumerate(names):
            if vals[i] is _MISSING:
                if n in defaults:
                    vals[i] = defaults[n]
                else:
                    raise TypeError(f"{qual}() missing required argument: {n!r}")
        object.__setattr__(self, "_rw_vals", vals)
        object.__setattr__(self, "_rw_owner", _born())
        created = _created
        if created is not None:
            created.append(self)
        post = getattr(self, "__post_init__", None)
        if post is not None:
            post()

    def __repr__(self: Any) -> str:
        with untracked():
            inner = ", ".join(f"{n}={self._rw_vals[i]!r}" for i, n in enumerate(names))
        return f"{qual}({inner})"

    def __eq__(self: Any, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self is other

    ns: dict[str, Any] = {
        "__slots__": (),
        "__init__": __init__,
        "__repr__": __repr__,
        "__eq__": __eq__,
        "__hash__": object.__hash__,
        "__rweb_fields__": tuple(names),
        "__match_args__": tuple(names),
        "__doc__": cls.__doc__,
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__annotations__": annotations,
    }
    for k, v in cls.__dict__.items():
        if k in ("__dict__", "__weakref__", "__annotations__") or k in names:
            continue
        ns.setdefault(k, v)
    for n, i in index.items():
        ns[n] = _Field(i, n, nfields + i)
    bases = tuple(b for b in cls.__bases__ if b is not object)
    if not any(issubclass(b, _Record) for b in bases):
        bases += (_Record,)
    new_cls = type(cls.__name__, bases, ns)
    CLASSES[f"{new_cls.__module__}:{new_cls.__qualname__}"] = new_cls
    return new_cls


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def is_reactive(obj: object) -> bool:
    """True for instances of ``@reactive`` classes and reactive collections."""
    return hasattr(type(obj), "__rweb_fields__") or isinstance(obj, RList | RDict)


# ---------------------------------------------------------------------------
# Collections: one subscription set per collection.  Any read subscribes,
# any mutation notifies.


class _Collection:
    """Shared by RList and RDict: ``_items`` holds the plain list or dict."""

    __slots__ = ("__weakref__", "_rw_owner", "_subs")  # weakly referable: rweb.transient
    _items: Any
    _plain: type  # list or dict: what an instance compares equal to

    def __init__(self) -> None:
        self._subs: set[Any] = set()
        self._rw_owner: Any = _born()  # whose state it is: see on_shared_state
        created = _created
        if created is not None:
            created.append(self)

    def __len__(self) -> int:
        self._read()
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        self._read()
        return iter(self._items)

    def __contains__(self, x: object) -> bool:
        self._read()
        return x in self._items

    def __eq__(self, other: object) -> bool:
        self._read()
        if type(other) is type(self):
            return bool(self._items == other._items)
        if isinstance(other, self._plain):
            return bool(self._items == other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"

    def __bool__(self) -> bool:
        self._read()
        return bool(self._items)

    def _read(self) -> None:
        t = _tracker
        if t is not None:
            subs = self._subs
            if t not in subs:
                if _on_shared is not None and self._rw_owner is not t.owner:  # not this page's own state?
                    _foreign(self, t)
                subs.add(t)
                _subscribed(t, self, -1)

    def _store(self, value: Any) -> Any:
        """``value`` as it is stored in this collection: see _wrap, and _adopt."""
        value = _wrap(value)
        if _on_shared is not None or self._rw_owner is _ANYONE:
            _adopt(value, self._rw_owner)
        return value

    def _changed(self) -> None:
        if self._subs:
            _notify(self._subs)


class RList(_Collection, MutableSequence[Any]):
    """A list whose reads are tracked and whose mutations re-render readers."""

    __slots__ = ("_items",)
    _items: list[Any]
    _plain = list

    def __init__(self, items: Iterable[Any] = ()) -> None:
        super().__init__()
        self._items: list[Any] = [_wrap(x) for x in items]

    # reads
    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...
    def __getitem__(self, i: int | slice) -> Any:
        self._read()
        return self._items[i]

    def __reversed__(self) -> Iterator[Any]:
        self._read()
        backwards: Iterator[Any] = reversed(self._items)  # typeshed's reversed() gives Any
        return backwards

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        self._read()
        return self._items.index(value, start, len(self._items) if stop is None else stop)

    def count(self, value: Any) -> int:
        self._read()
        return self._items.count(value)

    def copy(self) -> list[Any]:
        self._read()
        return list(self._items)

    # writes
    def __setitem__(self, i: Any, value: Any) -> None:
        if isinstance(i, slice):
            self._items[i] = [self._store(v) for v in value]
        else:
            self._items[i] = self._store(value)
        self._changed()

    def __delitem__(self, i: int | slice) -> None:
        del self._items[i]
        self._changed()

    def insert(self, index: int, value: Any) -> None:
        self._items.insert(index, self._store(value))
        self._changed()

    def append(self, value: Any) -> None:
        self._items.append(self._store(value))
        self._changed()

    def extend(self, values: Iterable[Any]) -> None:
        self._items.extend(self._store(v) for v in values)
        self._changed()

    def pop(self, index: int = -1) -> Any:
        v = self._items.pop(index)
        self._changed()
        return v

    def remove(self, value: Any) -> None:
        self._items.remove(value)
        self._changed()

    def clear(self) -> None:
        if self._items:
            self._items.clear()
            self._changed()

    def sort(self, *, key: Callable[[Any], Any] | None = None, reverse: bool = False) -> None:
        self._items.sort(key=key, reverse=reverse)
        self._changed()

    def reverse(self) -> None:
        self._items.reverse()
        self._changed()

    def __iadd__(self, values: Iterable[Any]) -> RList:
        self.extend(values)
        return self


class RDict(_Collection, MutableMapping[Any, Any]):
    """A dict whose reads are tracked and whose mutations re-render readers."""

    __slots__ = ("_items",)
    _items: dict[Any, Any]
    _plain = dict

    def __init__(self, items: Any = (), **kw: Any) -> None:
        super().__init__()
        self._items: dict[Any, Any] = {k: _wrap(v) for k, v in dict(items, **kw).items()}

    def __getitem__(self, k: Any) -> Any:
        self._read()
        return self._items[k]

    def get(self, k: Any, default: Any = None) -> Any:
        self._read()
        return self._items.get(k, default)


    def copy(self) -> dict[Any, Any]:
        self._read()
        return dict(self._items)

    def __setitem__(self, k: Any, value: Any) -> None:
        items = self._items
        if k in items:
            old = items[k]
            tv = type(value)
            if old is value or (tv in _SCALARS and type(old) is tv and old == value):
                return
        items[k] = self._store(value)
        self._changed()

    def __delitem__(self, k: Any) -> None:
        del self._items[k]
        self._changed()

    def clear(self) -> None:
        if self._items:
            self._items.clear()
            self._changed()

    _NOTHING: Any = object()

    def pop(self, k: Any, default: Any = _NOTHING) -> Any:
        if k in self._items:
            v = self._items.pop(k)
            self._changed()
            return v
        if default is RDict._NOTHING:
            raise KeyError(k)
        return default

    def update(self, other: Any = (), /, **kw: Any) -> None:
        new = dict(other, **kw)
        if new:
            for k, v in new.items():
                self._items[k] = self._store(v)
            self._changed()

    def setdefault(self, k: Any, default: Any = None) -> Any:
        if k in self._items:
            self._read()
            return self._items[k]
        self._items[k] = v = self._store(default)
        self._changed()
        return v
