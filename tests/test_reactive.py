"""Reactive records and collections: construction, per-field tracking, invalidation."""

from __future__ import annotations

import weakref
from typing import Any

import pytest

from rweb import RDict, RList, reactive
from rweb.reactive import Tracker, begin, end, is_reactive, tracking, untracked


class Probe(Tracker):
    """A real tracker: counts its invalidations."""

    def __init__(self) -> None:
        super().__init__()
        self.invalidations = 0

    def invalidate(self) -> None:
        self.invalidations += 1


def read_with(probe: Probe, fn: Any) -> Any:
    """Run ``fn`` as ``probe``'s "render": it then depends on exactly what fn read."""
    with tracking(probe):
        return fn()


@reactive
class Counter:
    value: int


@reactive
class Point:
    x: int
    y: int = 0
    label: str = "p"


@reactive
class Box:
    items: Any = None
    meta: Any = None


# -- construction -------------------------------------------------------------


def test_positional_and_keyword_construction() -> None:
    assert Counter(0).value == 0
    assert Counter(value=7).value == 7
    p = Point(1, 2, "a")
    assert (p.x, p.y, p.label) == (1, 2, "a")
    q = Point(3, label="b")
    assert (q.x, q.y, q.label) == (3, 0, "b")


def test_defaults_are_used_when_omitted() -> None:
    p = Point(x=5)
    assert (p.x, p.y, p.label) == (5, 0, "p")


@pytest.mark.parametrize(
    ("args", "kwargs", "needle"),
    [
        ((), {}, "missing"),
        ((1, 2), {}, "positional"),
        ((), {"value": 1, "other": 2}, "unexpected"),
        ((1,), {"value": 2}, "multiple"),
    ],
)
def test_bad_constructor_arguments_raise_type_error(
    args: tuple[Any, ...], kwargs: dict[str, Any], needle: str
) -> None:
    with pytest.raises(TypeError, match=needle):
        Counter(*args, **kwargs)


def test_point_missing_required_field() -> None:
    with pytest.raises(TypeError, match="'x'"):
        Point(y=1)


def test_class_without_fields_is_rejected() -> None:
    with pytest.raises(TypeError, match="no fields"):

        @reactive
        class Empty:
            pass


def test_field_without_default_after_default_is_rejected() -> None:
    with pytest.raises(TypeError, match="without a default"):

        @reactive
        class Bad:
            a: int = 0
            b: int


@pytest.mark.parametrize("default", [[], {}, set()])
def test_mutable_default_is_rejected(default: Any) -> None:
    with pytest.raises(TypeError, match="mutable default"):

        @reactive
        class Bad:
            a: Any = default


def test_methods_post_init_repr_identity_and_match() -> None:
    @reactive
    class Account:
        owner: str
        balance: int = 0

        def __post_init__(self) -> None:
            self.owner = self.owner.strip()

        def deposit(self, n: int) -> None:
            self.balance += n

    a = Account("  ann ")
    assert a.owner == "ann"
    a.deposit(5)
    assert a.balance == 5
    assert repr(a).endswith("Account(owner='ann', balance=5)")
    b = Account("ann", 5)
    assert a == a and a != b  # identity semantics: records are mutable objects
    assert len({a, b}) == 2
    match a:
        case Account("ann", amount):
            assert amount == 5
        case _:
            pytest.fail("match_args do not work")
    assert is_reactive(a) and is_reactive(RList()) and is_reactive(RDict())
    assert not is_reactive([]) and not is_reactive(object())


def test_records_have_no_instance_dict() -> None:
    c = Counter(1)
    with pytest.raises(AttributeError):
        c.not_a_field = 1  # type: ignore[attr-defined]


def test_lists_and_dicts_become_reactive() -> None:
    b = Box([1, [2, 3]], {"k": {"n": 1}, "l": [1]})
    assert type(b.items) is RList and type(b.items[1]) is RList
    assert type(b.meta) is RDict and type(b.meta["k"]) is RDict and type(b.meta["l"]) is RList
    b.items = [4]
    b.meta = {"a": 1}
    assert type(b.items) is RList and b.items == [4]
    assert type(b.meta) is RDict and b.meta == {"a": 1}
    b2 = Box(items=[1], meta={})
    assert type(b2.items) is RList and type(b2.meta) is RDict


# -- tracking -------------------------------------------------------------------


def test_a_read_subscribes_per_field() -> None:
    p = Point(1, 2)
    probe = Probe()
    read_with(probe, lambda: p.x)
    p.y = 10
    p.label = "other"
    assert probe.invalidations == 0
    p.x = 2
    assert probe.invalidations == 1


def test_reads_outside_a_tracker_subscribe_nothing() -> None:
    p = Point(1)
    probe = Probe()
    assert p.x == 1  # no tracker current
    read_with(probe, lambda: None)
    p.x = 3
    assert probe.invalidations == 0


def test_untracked_block_inside_a_render_does_not_subscribe() -> None:
    p = Point(1, 2)
    probe = Probe()

    def render() -> int:
        with untracked():
            hidden = p.x
        return hidden + p.y

    assert read_with(probe, render) == 3
    p.x = 100
    assert probe.invalidations == 0
    p.y = 100
    assert probe.invalidations == 1


@pytest.mark.parametrize(
    ("old", "new"),
    [(5, 5), ("a", "a"), (None, None), (1.5, 1.5), (b"x", b"x"), (True, True)],
)
def test_writing_the_same_value_invalidates_nothing(old: Any, new: Any) -> None:
    b = Box(old)
    probe = Probe()
    read_with(probe, lambda: b.items)
    b.items = new
    assert probe.invalidations == 0


def test_writing_the_same_object_invalidates_nothing() -> None:
    inner = Counter(1)
    b = Box(inner)
    probe = Probe()
    read_with(probe, lambda: b.items)
    b.items = inner
    assert probe.invalidations == 0


@pytest.mark.parametrize(("old", "new"), [(1, True), (1, 1.0), (0, False), ("1", 1), (1, 2)])
def test_equal_values_of_another_type_render_differently_so_they_invalidate(
    old: Any, new: Any
) -> None:
    # 1 == True == 1.0, but they render as "1", nothing, and "1.0".
    b = Box(old)
    probe = Probe()
    read_with(probe, lambda: b.items)
    b.items = new
    assert probe.invalidations == 1
    assert b.items is new


def test_a_write_invalidates_each_reader_once() -> None:
    p = Point(1)
    readers = [Probe() for _ in range(3)]
    for r in readers:
        read_with(r, lambda: (p.x, p.x, p.x))
    other = Probe()
    read_with(other, lambda: p.label)
    p.x = 9
    assert [r.invalidations for r in readers] == [1, 1, 1]
    assert other.invalidations == 0


def test_re_render_replaces_old_subscriptions() -> None:
    p = Point(1, 2)
    probe = Probe()
    read_with(probe, lambda: p.x)
    read_with(probe, lambda: p.y)  # the second render reads only y
    p.x = 50
    assert probe.invalidations == 0
    p.y = 50
    assert probe.invalidations == 1


def render_with(probe: Probe, fn: Any) -> Any:
    """Run ``fn`` as the renderer does (begin/end: the subscriptions' list reused in place)."""
    prev = begin(probe)
    try:
        return fn()
    finally:
        end(prev)


def subscribed(probe: Probe, *fields: tuple[Any, str]) -> list[bool]:
    """For each (record, field): does a write to it invalidate ``probe``?  (Each written back after.)"""
    got = []
    for rec, name in fields:
        before = probe.invalidations
        old = getattr(rec, name)
        setattr(rec, name, old + 1)
        got.append(probe.invalidations > before)
        with untracked():
            setattr(rec, name, old)
        probe.invalidations = before
    return got


@pytest.mark.parametrize("reads", [
    ["a.x", "a.y", "b.x"],  # the first render's
    ["a.x"],                # fewer: the rest of the last render's entries dropped
    ["b.y", "a.y", "a.x", "b.x"],  # more, in another order
    [],                     # none
    ["b.x", "b.x", "a.y"],  # one read twice: one subscription
])
def test_a_render_begun_again_depends_on_exactly_what_it_read(reads: list[str]) -> None:
    a, b = Point(1, 2), Point(3, 4)
    recs = {"a": a, "b": b}
    probe = Probe()
    render_with(probe, lambda: (a.x, a.y, b.x))
    render_with(probe, lambda: [getattr(recs[r[0]], r[2]) for r in reads])
    fields = [(a, "x"), (a, "y"), (b, "x"), (b, "y")]
    want = [f"{'a' if rec is a else 'b'}.{name}" in reads for rec, name in fields]
    assert subscribed(probe, *fields) == want
    assert len(probe.sources or []) == 2 * len(set(reads)) == probe.used
    render_with(probe, lambda: (a.x, a.y, b.x))  # and back
    assert subscribed(probe, *fields) == [True, True, True, False]


def test_a_render_that_raises_keeps_what_it_read_before_and_drops_the_rest() -> None:
    a = Point(1, 2)
    probe = Probe()
    render_with(probe, lambda: (a.x, a.y, a.label))

    def fails() -> None:
        _ = a.y
        raise ValueError("boom")

    with pytest.raises(ValueError):
        render_with(probe, fails)
    assert subscribed(probe, (a, "x"), (a, "y")) == [False, True]
    a.label = "q"
    assert probe.invalidations == 0


def test_begin_end_restore_the_outer_tracker() -> None:
    p = Point(1, 2)
    outer, inner = Probe(), Probe()
    prev = begin(outer)
    try:
        _ = p.x
        prev_inner = begin(inner)
        _ = p.y
        end(prev_inner)
        _ = p.label
    finally:
        end(prev)
    p.y = 3
    assert (outer.invalidations, inner.invalidations) == (0, 1)
    p.label = "q"
    p.x = 9
    assert (outer.invalidations, inner.invalidations) == (2, 1)


def test_a_tracker_must_derive_from_tracker() -> None:
    class Duck:  # has the attributes, not the base class
        sources: list[set[Any]] = []

        def invalidate(self) -> None:
            pass

    with pytest.raises(TypeError, match="Tracker"):
        tracking(Duck())  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError):
        Tracker().invalidate()


def test_nested_records_track_each_level() -> None:
    @reactive
    class Outer:
        inner: Any

    old_inner = Counter(1)
    o = Outer(old_inner)
    probe = Probe()
    read_with(probe, lambda: o.inner.value)
    old_inner.value = 2
    assert probe.invalidations == 1
    read_with(probe, lambda: o.inner.value)
    o.inner = Counter(5)
    assert probe.invalidations == 2
    read_with(probe, lambda: o.inner.value)
    old_inner.value = 3  # no longer reachable from what the probe read
    assert probe.invalidations == 2


# -- RList --------------------------------------------------------------------

LIST_MUTATIONS: list[tuple[str, Any]] = [
    ("append", lambda lst: lst.append(9)),
    ("insert", lambda lst: lst.insert(0, 9)),
    ("pop", lambda lst: lst.pop()),
    ("pop0", lambda lst: lst.pop(0)),
    ("remove", lambda lst: lst.remove(2)),
    ("setitem", lambda lst: lst.__setitem__(0, 9)),
    ("setslice", lambda lst: lst.__setitem__(slice(0, 2), [7, 8, 9])),
    ("delitem", lambda lst: lst.__delitem__(1)),
    ("delslice", lambda lst: lst.__delitem__(slice(0, 2))),
    ("clear", lambda lst: lst.clear()),
    ("sort", lambda lst: lst.sort(reverse=True)),
    ("sort_key", lambda lst: lst.sort(key=lambda v: -v)),
    ("extend", lambda lst: lst.extend([4, 5])),
    ("reverse", lambda lst: lst.reverse()),
    ("iadd", lambda lst: lst.__iadd__([6])),
]


@pytest.mark.parametrize(("name", "op"), LIST_MUTATIONS, ids=[n for n, _ in LIST_MUTATIONS])
def test_rlist_mutations_invalidate_readers_and_match_list(name: str, op: Any) -> None:
    b = Box([3, 1, 2])
    probe = Probe()
    read_with(probe, lambda: list(b.items))
    plain = [3, 1, 2]
    op(b.items)
    op(plain)
    assert probe.invalidations == 1
    assert b.items == plain
    assert list(b.items) == plain


READS: list[tuple[str, Any]] = [
    ("len", len),
    ("iter", list),
    ("getitem", lambda lst: lst[0]),
    ("slice", lambda lst: lst[0:2]),
    ("contains", lambda lst: 2 in lst),
    ("index", lambda lst: lst.index(2)),
    ("count", lambda lst: lst.count(2)),
    ("bool", bool),
    ("reversed", lambda lst: list(reversed(lst))),
    ("copy", lambda lst: lst.copy()),
    ("eq", lambda lst: lst == [1]),
]


@pytest.mark.parametrize(("name", "read"), READS, ids=[n for n, _ in READS])
def test_every_rlist_read_subscribes(name: str, read: Any) -> None:
    lst = RList([1, 2, 3])
    probe = Probe()
    read_with(probe, lambda: read(lst))
    lst.append(4)
    assert probe.invalidations == 1


def test_rlist_behaves_like_a_list() -> None:
    lst = RList([3, 1, 2])
    assert len(lst) == 3 and lst[0] == 3 and lst[-1] == 2
    assert lst[1:] == [1, 2] and type(lst[1:]) is list
    assert lst == RList([3, 1, 2]) and lst != [1]
    assert type(lst.copy()) is list and lst.copy() == [3, 1, 2]
    assert lst.index(2) == 2 and lst.count(1) == 1
    with pytest.raises(ValueError):
        lst.remove(42)
    with pytest.raises(IndexError):
        RList().pop()
    lst += [4]
    assert lst == [3, 1, 2, 4]
    assert repr(RList([1])) == "RList([1])"


def test_rlist_clear_of_an_empty_list_invalidates_nothing() -> None:
    lst = RList()
    probe = Probe()
    read_with(probe, lambda: len(lst))
    lst.clear()
    assert probe.invalidations == 0


def test_rlist_wraps_inserted_lists_and_dicts() -> None:
    lst = RList()
    lst.append([1])
    lst.insert(0, {"a": 1})
    lst.extend([[2]])
    lst[2] = [3]
    assert [type(x) for x in lst] == [RDict, RList, RList]


def test_inner_collection_mutation_invalidates_only_its_readers() -> None:
    b = Box([[1], [2]])
    outer_reader, inner_reader = Probe(), Probe()
    read_with(outer_reader, lambda: len(b.items))
    read_with(inner_reader, lambda: list(b.items[0]))
    b.items[0].append(5)
    assert (outer_reader.invalidations, inner_reader.invalidations) == (0, 1)


def test_in_place_add_on_a_field_invalidates_once() -> None:
    b = Box([1])
    probe = Probe()
    read_with(probe, lambda: list(b.items))
    b.items += [2]
    assert probe.invalidations == 1
    assert b.items == [1, 2]


# -- RDict --------------------------------------------------------------------

DICT_MUTATIONS: list[tuple[str, Any]] = [
    ("set_new", lambda d: d.__setitem__("c", 3)),
    ("set_changed", lambda d: d.__setitem__("a", 10)),
    ("del", lambda d: d.__delitem__("a")),
    ("pop", lambda d: d.pop("a")),
    ("update", lambda d: d.update({"a": 5}, z=1)),
    ("setdefault_new", lambda d: d.setdefault("n", 0)),
    ("clear", lambda d: d.clear()),
]


@pytest.mark.parametrize(("name", "op"), DICT_MUTATIONS, ids=[n for n, _ in DICT_MUTATIONS])
def test_rdict_mutations_invalidate_readers_and_match_dict(name: str, op: Any) -> None:
    b = Box(meta={"a": 1, "b": 2})
    probe = Probe()
    read_with(probe, lambda: dict(b.meta))
    plain = {"a": 1, "b": 2}
    r1, r2 = op(b.meta), op(plain)
    assert r1 == r2
    assert probe.invalidations == 1
    assert b.meta == plain


DICT_NON_CHANGES: list[tuple[str, Any]] = [
    ("set_same", lambda d: d.__setitem__("a", 1)),
    ("pop_missing_default", lambda d: d.pop("zz", None)),
    ("setdefault_existing", lambda d: d.setdefault("a", 99)),
    ("update_nothing", lambda d: d.update()),
]


@pytest.mark.parametrize(
    ("name", "op"), DICT_NON_CHANGES, ids=[n for n, _ in DICT_NON_CHANGES]
)
def test_rdict_non_changes_invalidate_nothing(name: str, op: Any) -> None:
    d = RDict({"a": 1})
    probe = Probe()
    read_with(probe, lambda: dict(d))
    op(d)
    assert probe.invalidations == 0
    assert d == {"a": 1}


def test_rdict_behaves_like_a_dict() -> None:
    d = RDict({"a": 1}, b=2)
    assert d == {"a": 1, "b": 2} and d == RDict(a=1, b=2)
    assert d.get("a") == 1 and d.get("x", 5) == 5
    assert "a" in d and "x" not in d
    assert sorted(d) == ["a", "b"] and len(d) == 2
    assert d.setdefault("a", 9) == 1
    assert type(d.copy()) is dict
    with pytest.raises(KeyError):
        d.pop("nope")
    with pytest.raises(KeyError):
        del d["nope"]
    assert d.pop("nope", "dflt") == "dflt"
    d.clear()
    assert not d
    assert type(RDict({"x": [1]})["x"]) is RList


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("getitem", lambda d: d["a"]),
        ("get", lambda d: d.get("zz")),
        ("len", len),
        ("iter", list),
        ("contains", lambda d: "a" in d),
        ("items", lambda d: list(d.items())),
        ("bool", bool),
    ],
)
def test_every_rdict_read_subscribes(name: str, read: Any) -> None:
    d = RDict({"a": 1})
    probe = Probe()
    read_with(probe, lambda: read(d))
    d["new"] = 1
    assert probe.invalidations == 1


def test_records_inherit_from_mixins_and_other_records() -> None:
    class Doubler:
        def double(self) -> int:
            return self.value * 2  # type: ignore[attr-defined]

    @reactive
    class Base(Doubler):
        value: int

    @reactive
    class Derived(Base):
        label: str = "x"

    d = Derived(4)
    assert (d.value, d.label, d.double()) == (4, "x", 8)
    assert repr(d).endswith("Derived(value=4, label='x')")
    assert weakref.ref(d)() is d
    probe = Probe()
    assert read_with(probe, lambda: d.value) == 4
    d.label = "y"
    assert probe.invalidations == 0
    d.value = 5
    assert probe.invalidations == 1
    assert repr(Derived.value) == "<reactive field 'value'>"


def test_records_without_bases_have_no_instance_dict() -> None:
    with pytest.raises(AttributeError):
        Counter(1).other = 1  # type: ignore[attr-defined]


# -- subscribers: one reader held alone, a set for several ------------------------------


def test_a_field_read_by_one_tracker_holds_it_alone_and_a_second_makes_a_set() -> None:
    from rweb.reactive import subscribers, unsubscribe

    c = Counter(0)
    a, b = Probe(), Probe()
    read_with(a, lambda: (c.value, c.value))  # read twice: subscribed once
    assert subscribers(c, "value") == 1
    assert c._rw_vals == [0, a]  # the value, then its only reader: no set for the common case
    assert a.sources == [c, 1]  # the record, and where its subscribers are
    read_with(b, lambda: c.value)
    assert subscribers(c, "value") == 2 and type(c._rw_vals[1]) is set
    c.value = 1
    assert (a.invalidations, b.invalidations) == (1, 1)
    unsubscribe(a)
    assert subscribers(c, "value") == 1
    c.value = 2
    assert (a.invalidations, b.invalidations) == (1, 2)
    unsubscribe(b)
    assert subscribers(c, "value") == 0 and not a.sources and not b.sources
    assert c._rw_vals[1] is None  # emptied: no set kept
    # Alone again after a re-read: what a component's next render does.
    read_with(a, lambda: c.value)
    unsubscribe(a)
    assert c._rw_vals[1] is None
    c.value = 3
    assert a.invalidations == 1


def test_a_field_read_alone_then_declared_per_process_is_marked() -> None:
    from rweb.reactive import is_shared_set, process_local, reads_only_shared

    c = Counter(0)
    a = Probe()
    read_with(a, lambda: c.value)
    assert not reads_only_shared(a)
    process_local(c)
    assert is_shared_set(c._rw_vals[1])
    assert reads_only_shared(a)
    c.value = 1
    assert a.invalidations == 1
    b = Probe()
    read_with(b, lambda: Counter(5).value)  # a record of nobody's
    assert not reads_only_shared(b)
    assert reads_only_shared(Probe())  # reads nothing


def test_transfer_moves_every_subscription() -> None:
    from rweb.reactive import subscribers, transfer

    alone, shared_field = Counter(0), Counter(0)
    items = RList([1])
    old, other, new = Probe(), Probe(), Probe()
    read_with(other, lambda: shared_field.value)
    read_with(old, lambda: (alone.value, shared_field.value, len(items)))
    transfer(old, new)
    assert old.sources is None and new.sources
    alone.value = 1
    shared_field.value = 1
    items.append(2)
    assert (old.invalidations, new.invalidations, other.invalidations) == (0, 3, 1)
    assert (subscribers(alone, "value"), subscribers(shared_field, "value"), subscribers(items)) == (1, 2, 1)
