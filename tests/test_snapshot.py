"""Sessions saved by one process and restored by another (rweb.snapshot), in-process.

Two Apps stand for two worker processes (or a server and the one started after
it): they share a snapshot store and a broker, as workers share Redis.  The
same path through the real server and Redis is tested in
tests/test_resume_across.py.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal, NewType, Protocol, TypeVar, Union

import orjson
import pytest

from rweb import App, ConnectionInfo, RList, process_local, reactive, transient
from rweb.html import component, div, li, span, ul
from rweb.pubsub import LocalPubSub
from rweb.snapshot import MemoryStore
from rweb.testing import Client


@reactive
class Todo:
    text: str
    done: bool = False


@reactive
class State:
    count: int = 0
    todos: Any = None
    pinned: Any = None  # the same Todo as one of todos'
    extra: Any = None


SHARED = process_local(State(100, []))  # read by every session: the app's, not a session's


def board(events: list[str] | None = None) -> Any:
    def setup(writer_id: Any) -> Any:
        state = State(0, [])
        cache = transient(State(0, []))

        def add(params: dict[str, Any]) -> None:
            todo = Todo(str(params["text"]))
            state.todos.append(todo)
            state.pinned = todo

        def handlers() -> dict[str, Any]:
            return {
                "inc": lambda p: setattr(state, "count", state.count + 1),
                "add": add,
                "done": lambda p: setattr(state.pinned, "done", True),
                "cache": lambda p: setattr(cache, "count", cache.count + 1),
                "extra": lambda p: setattr(state, "extra", p["value"] if "value" in p else object()),
                "shared": lambda p: setattr(state, "extra", SHARED),
                "big": lambda p: state.todos.extend(Todo("x" * 1000) for _ in range(100)),
            }

        def render() -> Any:
            return div(
                component("count", lambda: span(state.count)),
                component("cache", lambda: span(cache.count)),
                component(
                    "todos",
                    lambda: ul([li(t.text + (" (done)" if t.done else "")) for t in state.todos]),
                ),
            )

        return render, handlers()

    return setup


ACTIONS = ("inc", "add", "done", "cache", "extra", "shared", "big")


def pair(**options: Any) -> tuple[App, App, MemoryStore]:
    """Two "processes" of one deployment: same key, same store, same broker."""
    store, broker = MemoryStore(), LocalPubSub()
    opts = dict(session_store=store, broker=broker, secret_key="k" * 32, actions=ACTIONS, **options)
    a = App("board", board(), **opts)
    b = App("board", board(), **opts)
    return a, b, store


def state_fields(blob: bytes) -> dict[str, Any]:
    """The fields of the first State a snapshot holds (its RList comes first: created first)."""
    doc = orjson.loads(blob)
    return next(o[2] for o in doc["objs"] if o[0] == "r" and o[1].endswith(":State"))


def shown(client: Client, name: str) -> str:
    html = client.html(name)
    return html[html.index(">") + 1 : html.rindex("<")]


def test_a_lost_session_is_restored_by_another_process() -> None:
    a, b, store = pair()
    c = Client(a, "/")
    c.send("inc")
    c.send("inc")
    c.send("add", {"text": "milk"})
    c.lose()  # saved at once: the browser may come back anywhere
    assert len(store.data) == 1
    d = c.resume(b)
    assert d.init["resumed"] is True and d.init["last"] == 3 and "fresh" not in d.init
    assert shown(d, "count") == "2"
    assert "milk" in d.html("todos")
    assert not store.data  # taken: nobody else gets this session
    # The restored session is live: it works, and its identity links hold (pinned is todos[0]).
    d.send("done")
    assert "milk (done)" in d.html("todos")
    assert a.snapshots.restored == 0 and b.snapshots.restored == 1


def test_a_process_still_holding_the_session_saves_it_now_and_lets_it_go() -> None:
    ended: list[Any] = []
    a, b, store = pair(snapshot_interval=60)
    a.on_session_end(lambda conn: ended.append(conn.writer_id))
    c = Client(a, "/")
    c.send("inc")
    c.send("inc")  # within the interval: nothing saved yet
    assert not store.data
    # The browser found its socket dead; the server has not noticed (half-open).
    d = c.resume(b)
    assert d.init["resumed"] is True and shown(d, "count") == "2" and d.init["last"] == 2
    assert ended == [1]  # a's copy ended: one session, not two
    assert c.conn.session is None


def test_actions_sent_again_after_a_restore_apply_once() -> None:
    a, b, _ = pair()
    c = Client(a, "/")
    for _ in range(3):
        c.send("inc")
    c.lose()
    d = c.resume(b)
    assert d.init["last"] == 3
    # The browser did not see the reply to ref 3: it sends it again, then a new click.
    d.send_raw(orjson.dumps({"action": "inc", "params": {}, "ref": 3}))
    assert shown(d, "count") == "3"
    d.send("inc")  # ref 4
    assert shown(d, "count") == "4"


def test_a_token_restores_its_session_once() -> None:
    a, b, _ = pair()
    c = Client(a, "/")
    c.send("inc")
    c.lose()
    assert c.resume(b).init.get("resumed") is True
    again = c.resume(b)
    assert again.init.get("fresh") is True and shown(again, "count") == "0"


def test_without_a_snapshot_the_browser_is_told_the_session_is_fresh() -> None:
    a, b, store = pair()
    c = Client(a, "/")
    c.send("inc")
    c.lose()
    store.data.clear()  # expired, or never written
    a.sessions.clear()  # and its process is gone
    d = c.resume(b)
    assert d.init.get("fresh") is True and "resumed" not in d.init and shown(d, "count") == "0"


def test_a_token_of_another_process_without_a_store_gives_a_fresh_session() -> None:
    a, _, _ = pair()
    c = Client(a, "/")
    c.send("inc")
    c.lose()
    restarted = App("board", board(), secret_key="k" * 32, actions=ACTIONS)  # no store to restore from
    d = c.resume(restarted)
    assert d.init.get("fresh") is True and shown(d, "count") == "0"


def test_only_a_token_made_for_a_session_names_one() -> None:
    """The app's key signs other values too (a signed cookie may hold what a user typed): a
    signed value not of the resume token's form names no session and no snapshot."""
    a, b, _ = pair()
    c = Client(a, "/")
    c.lose()
    Client(b, "/")  # b serves: its snapshot service runs
    info = ConnectionInfo()
    token = c.init["tok"]
    boot, wid, nonce = a.signer.unsign(token).split(".")
    for value in (f"{boot}.x{wid}.{nonce}", f"{boot}.{wid}.{nonce}-", f"{boot}-.{wid}.{nonce}", f"{boot}.{wid}"):
        forged = a.signer.sign(value)
        assert b.resume_target(forged, info) is None, value  # another process's session: no snapshot key
        assert a.resume_target(forged, info) is None, value  # this process's: no session
    assert type(b.resume_target(token, info)) is str  # the token itself names its snapshot
    assert a.resume_target(token, info) is a.sessions[int(wid)]


def test_changes_are_saved_in_batches_once_per_interval() -> None:
    a, _, store = pair(snapshot_interval=1.0)
    c = Client(a, "/")
    for _ in range(50):
        c.send("inc")
    assert a.snapshots.saved == 0
    c.advance(1.0)
    assert a.snapshots.saved == 1
    blob = next(iter(store.data.values()))[0]
    saved = orjson.loads(blob)
    assert saved["last"] == 50 and state_fields(blob)["count"] == 50 and "final" not in saved
    c.advance(5.0)
    assert a.snapshots.saved == 1  # nothing changed since: nothing written


def test_the_first_write_after_a_save_marks_the_session_and_the_others_cost_nothing() -> None:
    """Dirty until saved: the snapshot's tracker leaves every field at its first write (each later
    click notifies the page's render only) and reads them again when the interval saves it."""
    from rweb.reactive import subscribers

    a, _, store = pair(snapshot_interval=1.0)
    c = Client(a, "/")
    entry = c.conn.snap
    state = next(o for o in entry.objects if type(o) is State)
    assert subscribers(state, "count") == 2  # the page's render and the snapshot's tracker
    assert subscribers(state, "extra") == 1  # the snapshot's only
    c.send("inc")
    assert subscribers(state, "count") == 1 and subscribers(state, "extra") == 0
    c.send("inc")
    c.send("extra", {"value": 7})  # a field no render reads: the session is dirty already
    assert subscribers(state, "count") == 1 and subscribers(state, "extra") == 0
    assert a.snapshots._dirty == [entry]  # marked once
    c.advance(1.0)
    assert a.snapshots.saved == 1
    assert subscribers(state, "count") == 2 and subscribers(state, "extra") == 1  # read again
    fields = state_fields(next(iter(store.data.values()))[0])
    assert fields["count"] == 2 and fields["extra"] == 7
    c.send("extra", {"value": 8})  # a write no render follows marks it too
    c.advance(1.0)
    assert a.snapshots.saved == 2 and state_fields(next(iter(store.data.values()))[0])["extra"] == 8
    c.advance(5.0)
    assert a.snapshots.saved == 2  # nothing changed since: nothing written


class BatchedStore(MemoryStore):
    """A memory store that keeps the size of each batch it was handed (store_many)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def store_many(self, items: list[tuple[str, bytes]], ttl: float) -> None:
        self.batches.append(len(items))
        super().store_many(items, ttl)


def test_the_interval_hands_the_store_every_session_in_one_batch() -> None:
    store = BatchedStore()
    a = App("board", board(), session_store=store, broker=LocalPubSub(), secret_key="k" * 32, actions=ACTIONS)
    clients = [Client(a, "/", writer_id=i) for i in range(3)]
    for i, c in enumerate(clients):
        for _ in range(i + 1):
            c.send("inc")
    clients[0].advance(1.0)
    assert store.batches == [3] and a.snapshots.saved == 3
    assert sorted(state_fields(blob)["count"] for blob, _ in store.data.values()) == [1, 2, 3]
    clients[1].send("inc")
    clients[0].advance(1.0)
    assert store.batches == [3] and a.snapshots.saved == 4  # one alone: stored as it is


def test_a_session_that_ends_deletes_its_snapshot() -> None:
    a, _, store = pair()
    c = Client(a, "/")
    c.send("inc")
    c.lose()
    assert store.data
    c2 = c.resume(a)  # same process: taken over in memory
    assert c2.init["resumed"] is True
    c2.close()
    assert not store.data


def test_a_field_that_cannot_be_saved_warns_once_and_keeps_its_setup_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b, _ = pair()
    c = Client(a, "/")
    c.send("inc")
    c.send("cache")  # a transient record: never saved
    with caplog.at_level(logging.WARNING, "rweb.snapshot"):
        c.send("extra")  # an object(): not JSON
        c.lose()
        c2 = Client(a, "/", writer_id=2)  # another session meets the same field: no second warning
        c2.send("extra")
        c2.lose()
    warnings = [r.getMessage() for r in caplog.records if "cannot save" in r.getMessage()]
    assert len(warnings) == 1 and "State.extra" in warnings[0] and "object" in warnings[0]
    d = c.resume(b)
    assert d.init["resumed"] is True, d.init
    assert shown(d, "count") == "1" and shown(d, "cache") == "0", d.html()


def test_a_shared_record_stays_shared_and_is_not_copied() -> None:
    a, b, store = pair()
    c = Client(a, "/")
    c.send("shared")
    c.lose()
    assert "extra" not in state_fields(next(iter(store.data.values()))[0])  # not a copy: setup's value
    d = c.resume(b)
    assert d.init["resumed"] is True


def test_a_snapshot_over_the_limit_is_not_kept(caplog: pytest.LogCaptureFixture) -> None:
    a, b, store = pair(snapshot_limit=10_000)
    c = Client(a, "/")
    c.send("inc")
    with caplog.at_level(logging.WARNING, "rweb.snapshot"):
        c.send("big")
        c.lose()
    assert not store.data
    assert any("over the limit of 10000" in r.getMessage() for r in caplog.records)
    assert c.resume(b).init.get("fresh") is True


def test_a_snapshot_of_another_page_or_a_changed_setup(caplog: pytest.LogCaptureFixture) -> None:
    store, broker = MemoryStore(), LocalPubSub()
    a = App("x", session_store=store, broker=broker, secret_key="k" * 32, actions=ACTIONS)
    b = App("x", session_store=store, broker=broker, secret_key="k" * 32, actions=ACTIONS)
    a.page("/")(board())

    @reactive
    class Other:
        count: int = 0

    def changed(writer_id: Any) -> Any:  # the next version of the page: another record first
        other, state = Other(7), State(0, [])
        return (lambda: div(component("count", lambda: span(f"{other.count}/{state.count}")))), {}

    b.page("/")(changed)
    c = Client(a, "/")
    c.send("inc")
    c.lose()
    with caplog.at_level(logging.WARNING, "rweb.snapshot"):
        d = c.resume(b)
    # Object 0 was a State and is now an Other: left as the setup made it (and said so).
    assert d.init["resumed"] is True and shown(d, "count") == "7/0"
    assert any("did the setup change" in r.getMessage() for r in caplog.records)


def test_snapshots_are_off_without_a_store_or_without_resuming() -> None:
    plain = App("b", board(), actions=ACTIONS)
    Client(plain, "/")
    assert plain.snapshots is None
    off = App("b", board(), actions=ACTIONS, session_store=MemoryStore(), resume_grace=0)
    Client(off, "/")
    assert off.snapshots is None


def test_a_list_of_records_keeps_identity_and_order() -> None:
    a, b, _ = pair()
    c = Client(a, "/")
    for text in ("a", "b", "c"):
        c.send("add", {"text": text})
    c.lose()
    d = c.resume(b)
    assert [x for x in ("a", "b", "c") if f"<li>{x}</li>" in d.html("todos")] == ["a", "b", "c"]
    d.send("done")  # pinned is the last todo, the same object as todos[2]
    assert "<li>c (done)</li>" in d.html("todos") and "<li>a</li>" in d.html("todos")


def async_counter() -> Any:
    def setup(writer_id: Any) -> Any:
        state = State(0, [])

        async def slow(params: dict[str, Any]) -> None:
            import asyncio

            await asyncio.sleep(0.05)
            state.count += 10

        return (lambda: div(component("count", lambda: span(state.count)))), {
            "inc": lambda p: setattr(state, "count", state.count + 1),
            "slow": slow,
        }

    return setup


def test_a_socket_lost_while_an_async_handler_runs_keeps_its_session() -> None:
    app = App("a", async_counter(), actions=("inc", "slow"))
    c = Client(app, "/")
    c.send("inc")
    c.conn.receive(orjson.dumps({"action": "slow", "params": {}, "ref": 2}))  # starts, unanswered
    c.conn.receive(orjson.dumps({"action": "inc", "params": {}, "ref": 3}))  # waits for it
    assert c.conn.busy()
    c.lose()
    assert c.conn.session is not None  # not ended
    # The browser comes back while the handler still runs: attached once it is done.
    d = c.resume()
    assert d.init["resumed"] is True and d.init["last"] == 2, d.init
    assert shown(d, "count") == "11"  # the handler's work; ref 3 waited and was not applied
    d.send_raw(orjson.dumps({"action": "inc", "params": {}, "ref": 3}))  # sent again by the browser
    assert shown(d, "count") == "12"


@reactive
class Flags:
    final: bool = True  # a field whose JSON looks like the snapshot's own "final" marker


def test_a_field_named_final_does_not_make_a_snapshot_final() -> None:
    from rweb.snapshot import FINAL

    store = MemoryStore()
    app = App("f", session_store=store, secret_key="k" * 32, actions=("flip",))

    @app.page("/")
    def page(writer_id: Any) -> Any:
        flags = Flags()
        return (lambda: div(component("f", lambda: span(str(flags.final))))), {
            "flip": lambda p: setattr(flags, "final", not flags.final)
        }

    c = Client(app, "/")
    c.send("flip")
    c.send("flip")
    c.advance(1.0)  # the interval's save: the session is live, so not final
    blob = next(iter(store.data.values()))[0]
    assert b'"final":true' in blob and not blob.startswith(FINAL)
    c.lose()  # now final
    assert next(iter(store.data.values()))[0].startswith(FINAL)


def test_transient_and_process_local_take_lists_and_dicts_too() -> None:
    from rweb import RDict
    from rweb.snapshot import _TRANSIENT

    items, table = RList([1]), RDict(a=1)
    assert transient(items) is items and items in _TRANSIENT and RList([1]) not in _TRANSIENT
    assert transient(table) is table and table in _TRANSIENT
    assert process_local(RList()) is not None


# -- what a snapshot must be to be restored -------------------------------------------------


def altered(store: MemoryStore, change: Any) -> None:
    """Change the only snapshot in ``store`` as something else than rweb could have written it."""
    ((key, (blob, expires)),) = store.data.items()
    doc = orjson.loads(blob)
    change(doc)
    store.data[key] = (orjson.dumps(doc), expires)


def restored_fresh(caplog: pytest.LogCaptureFixture, change: Any, said: str) -> Client:
    a, b, store = pair()
    c = Client(a, "/")
    c.send("inc")
    c.send("add", {"text": "milk"})
    c.lose()
    altered(store, change)
    a.sessions.clear()  # its process is gone: the store's copy is all there is
    caplog.clear()  # this restore's reasons only
    with caplog.at_level(logging.WARNING):
        d = c.resume(b)
    assert d.init.get("fresh") is True and "resumed" not in d.init, d.init
    assert shown(d, "count") == "0"
    whole = f"its snapshot was not restored ({said}): a fresh session"  # the reason whole, not a part
    assert any(whole in r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records
    ]
    return d


def state_of(doc: dict[str, Any]) -> dict[str, Any]:
    return next(o[2] for o in doc["objs"] if o[0] == "r" and o[1].endswith(":State"))


def test_a_value_that_does_not_fit_its_field_gives_a_fresh_session(caplog: pytest.LogCaptureFixture) -> None:
    d = restored_fresh(caplog, lambda doc: state_of(doc).update(count="3"), "field State.count is declared int, the snapshot holds str '3'")
    d.send("inc")  # the page works: no string where an int is declared
    assert shown(d, "count") == "1"


def test_a_record_reached_from_the_setups_must_fit_too(caplog: pytest.LogCaptureFixture) -> None:
    def change(doc: dict[str, Any]) -> None:
        todo = next(o for o in doc["objs"] if o[0] == "r" and o[1].endswith(":Todo"))
        todo[2]["done"] = "yes"

    restored_fresh(caplog, change, "field Todo.done is declared bool, the snapshot holds str 'yes'")


def test_a_snapshot_of_another_version_is_not_restored(caplog: pytest.LogCaptureFixture) -> None:
    restored_fresh(caplog, lambda doc: doc.update(v=2), "not a snapshot of this version")


def test_a_snapshot_of_another_path_is_not_restored(caplog: pytest.LogCaptureFixture) -> None:
    restored_fresh(caplog, lambda doc: doc.update(path="/admin"), "a snapshot of '/admin', not of '/'")


def test_a_stored_snapshot_over_the_limit_is_deleted_unread(caplog: pytest.LogCaptureFixture) -> None:
    store, broker = MemoryStore(), LocalPubSub()
    opts = dict(session_store=store, broker=broker, secret_key="k" * 32, actions=ACTIONS)
    a = App("board", board(), **opts)  # saves up to 64 KiB
    b = App("board", board(), snapshot_limit=2_000, **opts)  # takes up to 2,000 bytes
    c = Client(a, "/")
    c.send("inc")
    c.send("add", {"text": "m" * 3_000})
    c.lose()
    ((key, (blob, _)),) = store.data.items()
    size = len(blob)
    assert size > 2_000
    a.sessions.clear()
    with caplog.at_level(logging.WARNING, "rweb.snapshot"):
        d = c.resume(b)
    assert d.init.get("fresh") is True and not store.data
    said = f"session snapshot {key} is {size} bytes, over the limit of 2000"
    assert any(said in r.getMessage() and "deleted unread" in r.getMessage() for r in caplog.records)


def test_a_stored_snapshot_of_exactly_the_limit_is_restored() -> None:
    store, broker = MemoryStore(), LocalPubSub()
    opts = dict(session_store=store, broker=broker, secret_key="k" * 32, actions=ACTIONS)
    a = App("board", board(), **opts)
    c = Client(a, "/")
    c.send("inc")
    c.lose()
    size = len(next(iter(store.data.values()))[0])
    a.sessions.clear()
    d = c.resume(App("board", board(), snapshot_limit=size, **opts))
    assert d.init.get("resumed") is True and shown(d, "count") == "1"


def test_the_test_client_resumes_with_the_latest_token_as_the_browser_does() -> None:
    for store in (None, MemoryStore()):  # in memory; and with snapshots (the key follows the token)
        app = App("board", board(), actions=ACTIONS, session_store=store)
        c = Client(app, "/")
        c.send("inc")
        c.lose()
        d = c.resume()
        assert d.init.get("resumed") is True and d.init["tok"] != c.init["tok"]
        d.send("inc")
        d.lose()
        assert c.resume(writer_id=2).init.get("fresh") is True  # spent (a new socket: its own writer id)
        e = d.resume()
        assert e.init.get("resumed") is True and shown(e, "count") == "2"


UserId = NewType("UserId", int)
T = TypeVar("T")


class Boxed(Protocol[T]):  # not runtime_checkable: isinstance cannot tell
    def get(self) -> T: ...


@reactive
class Typed:
    n: int = 0
    x: float = 0.0
    flag: bool = False
    s: str = ""
    maybe: int | None = None
    either: Union[int, str] = 0  # noqa: UP007 (typing.Union: the other spelling of a union)
    lit: Literal["a", "b"] = "a"
    units: Annotated[int, "metres"] = 0
    ints: list[int] | None = None
    anys: list[Any] | None = None
    table: dict[str, int] | None = None
    pair: tuple[int, str] | None = None
    row: tuple[int, ...] | None = None
    bare_list: list | None = None  # type: ignore[type-arg]
    bare_dict: dict | None = None  # type: ignore[type-arg]
    bare_tuple: tuple | None = None  # type: ignore[type-arg]
    tags: set[str] | None = None
    anything: Any = None
    empty: tuple[()] | None = None
    uid: UserId = UserId(0)
    free: T | None = None  # type: ignore[valid-type]  # a TypeVar: not checked
    boxed: Boxed[int] | None = None  # a protocol isinstance cannot check: not checked


# field -> (values that fit its declared type, values that do not), as a snapshot holds them
TYPED_CASES: dict[str, tuple[list[Any], list[Any]]] = {
    "n": ([3, True], ["3", 1.5, None]),
    "x": ([1.5, 2], ["1.5", None]),
    "flag": ([True], [1, "true"]),
    "s": (["a"], [1, None]),
    "maybe": ([None, 2], ["2"]),
    "either": ([1, "a"], [1.5, None]),
    "lit": (["b"], ["c", None]),
    "units": ([2], ["2"]),
    "ints": ([{"$l": [1, 2]}, None], [{"$l": [1, "2"]}, "x"]),
    "anys": ([{"$l": [1, "a"]}], [{"$t": [1]}]),
    "table": ([{"$d": [["a", 1]]}], [{"$d": [["a", "1"]]}, {"$d": [[1, 1]]}, {"$l": []}]),
    "pair": ([{"$t": [1, "a"]}], [{"$t": [1, 2]}, {"$t": [1]}, {"$t": [1, "a", 2]}, {"$l": [1, "a"]}]),
    "row": ([{"$t": [1, 2, 3]}, {"$t": []}], [{"$t": [1, "2"]}, {"$l": [1]}]),
    "bare_list": ([{"$l": [1, "a"]}], ["x", {"$t": [1]}]),
    "bare_dict": ([{"$d": [["a", 1]]}], [1, {"$l": []}]),
    "bare_tuple": ([{"$t": [1, "a"]}], [{"$l": [1]}]),
    "tags": ([None], [{"$l": ["a"]}]),
    "anything": ([1, "a", {"$l": [1]}], []),
    "empty": ([{"$t": []}, None], [{"$t": [1]}]),
    "uid": ([3], ["3", None]),
    "free": ([1, "a"], []),
    "boxed": ([1, "a"], []),
}


def typed_page(writer_id: Any) -> Any:
    typed = Typed()
    return (lambda: div(component("t", lambda: span(repr(vars_of(typed)))))), {}


def vars_of(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in TYPED_CASES}


def test_each_restored_value_must_fit_its_fields_declared_type() -> None:
    """What the store holds is untrusted: a value of another type than its field's annotation
    (resolved from the record's module) gives a fresh session; a fitting one is restored."""
    for field, (fits, misfits) in TYPED_CASES.items():
        for value, fitting in [(v, True) for v in fits] + [(v, False) for v in misfits]:
            store, broker = MemoryStore(), LocalPubSub()
            opts = dict(session_store=store, broker=broker, secret_key="k" * 32)
            a, b = App("typed", typed_page, **opts), App("typed", typed_page, **opts)
            c = Client(a, "/")
            c.lose()
            altered(store, lambda doc, f=field, v=value: doc["objs"][0][2].update({f: v}))
            a.sessions.clear()
            d = c.resume(b)
            assert (d.init.get("resumed") is True) is fitting, (field, value)


# -- lists and dicts, records made on restore, the setup changing ------------------------------


@reactive
class Box:
    items: Any = None  # an RList a handler makes: reached from the setup's records, made on restore
    table: Any = None  # an RDict a handler makes
    label: str = ""


def boxes(writer_id: Any) -> Any:
    from rweb import RDict

    box, rows, names = Box(), RList([0]), RDict(z=0)

    def fill(params: dict[str, Any]) -> None:
        from rweb import RDict

        box.items, box.table = RList([1, 2]), RDict(a=1)
        rows.append(len(rows))
        names["k"] = "v"
        box.label = f"n{len(rows)}"

    def render() -> Any:
        items = list(box.items) if box.items is not None else None
        table = dict(box.table.items()) if box.table is not None else None
        return div(component("b", lambda: span(repr((items, table, list(rows), dict(names.items()), box.label)))))

    return render, {"fill": fill}


def box_pair(setup: Any = boxes) -> tuple[App, App, MemoryStore]:
    store, broker = MemoryStore(), LocalPubSub()
    opts = dict(session_store=store, broker=broker, secret_key="k" * 32, actions=("fill",))
    return App("boxes", boxes, **opts), App("boxes", setup, **opts), store


def test_lists_and_dicts_of_the_setup_and_those_made_later_are_restored() -> None:
    a, b, _ = box_pair()
    c = Client(a, "/")
    c.send("fill")
    c.lose()
    a.sessions.clear()
    d = c.resume(b)
    assert d.init.get("resumed") is True, d.init
    assert shown(d, "b") == repr(([1, 2], {"a": 1}, [0, 1], {"z": 0, "k": "v"}, "n2")).replace("'", "&#x27;")


def test_a_field_the_snapshot_lacks(caplog: pytest.LogCaptureFixture) -> None:
    """A field missing from a saved record: a setup's record keeps its setup value; a record made
    on restore would hold None, which must fit its declared type (a ``str`` here: a fresh session)."""
    a, b, store = box_pair()
    c = Client(a, "/")
    c.send("fill")
    c.lose()
    altered(store, lambda doc: doc["objs"][0][2].pop("items"))  # the first field: the others still are
    a.sessions.clear()
    d = c.resume(b)
    expected = repr((None, {"a": 1}, [0, 1], {"z": 0, "k": "v"}, "n2")).replace("'", "&#x27;")
    assert d.init.get("resumed") is True and shown(d, "b") == expected
    a2, b2, store2 = pair()
    c = Client(a2, "/")
    c.send("add", {"text": "milk"})
    c.lose()

    def drop_text(doc: dict[str, Any]) -> None:
        next(o for o in doc["objs"] if o[0] == "r" and o[1].endswith(":Todo"))[2].pop("text")

    altered(store2, drop_text)
    a2.sessions.clear()
    with caplog.at_level(logging.WARNING):
        d = c.resume(b2)
    assert d.init.get("fresh") is True
    assert any("Todo.text is declared str" in r.getMessage() for r in caplog.records)


def test_what_a_snapshot_could_not_save_keeps_the_setup_value_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def page(writer_id: Any) -> Any:
        rows = RList([0])
        return (lambda: div(component("r", lambda: span(len(rows))))), {"odd": lambda p: rows.append(object())}

    store, broker = MemoryStore(), LocalPubSub()
    opts = dict(session_store=store, broker=broker, secret_key="k" * 32, actions=("odd",))
    a, b = App("o", page, **opts), App("o", page, **opts)
    c = Client(a, "/")
    with caplog.at_level(logging.WARNING, "rweb.snapshot"):
        c.send("odd")  # an RList holding an object(): saved as "not saved"
        c.lose()
    assert orjson.loads(next(iter(store.data.values()))[0])["objs"][0] == ["x"]
    a.sessions.clear()
    caplog.clear()
    with caplog.at_level(logging.WARNING, "rweb.snapshot"):
        d = c.resume(b)
    assert d.init.get("resumed") is True and shown(d, "r") == "1"
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_a_setup_that_changed_is_named_in_the_warning_once(caplog: pytest.LogCaptureFixture) -> None:
    """The warning is the user's guidance: which object, what it was, what the setup makes now."""

    def swapped(writer_id: Any) -> Any:  # the next version: other kinds of objects, in other places
        rows, box, more = RList([5]), Box(label="new"), RList()
        return (lambda: div(component("b", lambda: span(repr((list(rows), box.label, list(more))))))), {}

    a, b, _ = box_pair(swapped)
    clients = []
    for wid in (1, 2):
        c = Client(a, "/", writer_id=wid)
        for _ in range(wid):
            c.send("fill")  # the sessions' states differ: one warning each all the same
        c.lose()
        clients.append(c)
    a.sessions.clear()
    with caplog.at_level(logging.WARNING, "rweb.snapshot"):
        for c in clients:
            d = c.resume(b)
            assert d.init.get("resumed") is True and shown(d, "b") == "([5], &#x27;new&#x27;, [])"
    said = [r.getMessage() for r in caplog.records if "did the setup change" in r.getMessage()]
    was_now = [(f"{__name__}:Box", "RList"), ("an RList", "Box"), ("an RDict", "RList")]
    assert said == [
        f"session snapshot: object {i} was {was}, the page's setup now makes {now}: not restored "
        "(did the setup change between the two processes?)"
        for i, (was, now) in enumerate(was_now)
    ]


def test_a_restored_session_is_saved_once_per_change_and_counted() -> None:
    """A restored session is saved again (the store's copy was taken) at the next interval, once
    however many changes came before it, with the changes to the records made on restore."""
    a, b, store = pair(snapshot_interval=1.0)
    for wid in (1, 2):
        c = Client(a, "/", writer_id=wid)
        c.send("add", {"text": f"milk{wid}"})
        c.lose()
        a.sessions.clear()
        d = c.resume(b)
        assert d.init.get("resumed") is True
    assert b.snapshots.restored == 2 and a.snapshots.restored == 0
    d.send("done")  # only the restored Todo changes
    d.send("inc")
    d.advance(1.0)
    assert b.snapshots.saved == 2  # each session once
    d.advance(5.0)
    assert b.snapshots.saved == 2  # nothing changed since
    assert sum(b'"done":true' in blob for blob, _ in store.data.values()) == 1
    d.send("done")
    d.send("inc")
    d.advance(1.0)
    assert b.snapshots.saved == 3


@reactive
class Odd:
    nothing: None = None  # only None fits
    ghost: NotDefinedAnywhere = 0  # type: ignore[name-defined]  # noqa: F821 (unresolvable: anything fits)
    after: int = 0  # checked although the field before it could not be resolved


def test_a_field_declared_none_and_one_after_an_unresolvable_annotation_are_checked() -> None:
    def page(writer_id: Any) -> Any:
        odd = Odd()
        return (lambda: div(component("o", lambda: span(repr(odd.ghost))))), {}

    for field, value, fitting in [
        ("nothing", None, True), ("nothing", 1, False), ("ghost", "any", True),
        ("after", 2, True), ("after", "2", False),
    ]:
        store, broker = MemoryStore(), LocalPubSub()
        opts = dict(session_store=store, broker=broker, secret_key="k" * 32)
        a, b = App("odd", page, **opts), App("odd", page, **opts)
        c = Client(a, "/")
        c.lose()
        altered(store, lambda doc, f=field, v=value: doc["objs"][0][2].update({f: v}))
        a.sessions.clear()
        assert (c.resume(b).init.get("resumed") is True) is fitting, (field, value)


class Silent:
    """A snapshot store that never answers (a store out of reach): its take never completes."""

    def store(self, key: str, data: bytes, ttl: float) -> None:
        pass

    def forget(self, key: str) -> None:
        pass

    async def take(self, key: str, limit: int) -> bytes | None:
        import asyncio

        await asyncio.Event().wait()
        return None

    async def sync(self, timeout: float) -> bool:
        return True


def test_a_store_that_does_not_answer_gives_a_fresh_session_in_time(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    import rweb.snapshot

    monkeypatch.setattr(rweb.snapshot, "CLAIM_TIMEOUT", 0.2)
    a, _, _ = pair()
    b = App("board", board(), session_store=Silent(), broker=LocalPubSub(), secret_key="k" * 32, actions=ACTIONS)
    c = Client(a, "/")
    c.send("inc")
    c.lose()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, "rweb.snapshot"):
        d = c.resume(b)
    assert d.init.get("fresh") is True and time.monotonic() - started < 1.5
    assert any("could not be read" in r.getMessage() for r in caplog.records)


def test_a_malformed_value_or_object_gives_a_fresh_session(caplog: pytest.LogCaptureFixture) -> None:
    restored_fresh(caplog, lambda doc: state_of(doc).update(count={"$z": 1}), "a malformed snapshot value")
    for odd in (["q"], [], {"r": 1}):
        restored_fresh(caplog, lambda doc, o=odd: doc["objs"].append(o), "a malformed snapshot object")
    restored_fresh(caplog, lambda doc: doc["objs"].__setitem__(0, ["q"]), "a malformed snapshot object")


def test_a_record_class_this_process_lacks_gives_a_fresh_session(caplog: pytest.LogCaptureFixture) -> None:
    def change(doc: dict[str, Any]) -> None:
        next(o for o in doc["objs"] if o[0] == "r" and o[1].endswith(":Todo"))[1] = "app:Gone"

    restored_fresh(caplog, change, "no @reactive class app:Gone in this process")


def test_records_made_on_restore_are_the_sessions_own_under_the_split_state_check() -> None:
    """With a broker the server refuses a page's read of state that is not its own (startup
    installs the check): a todo made on restore is the restored session's, as one its handler
    made would be."""
    from rweb.reactive import on_shared_state

    a, b, _ = pair()
    c = Client(a, "/")
    c.send("add", {"text": "milk"})
    c.lose()
    a.sessions.clear()
    b.refuse_split_state()  # what b's startup does with a broker
    try:
        d = c.resume(b)
        assert d.init.get("resumed") is True and "milk" in d.html("todos")
        d.send("done")
        assert "milk (done)" in d.html("todos")
    finally:
        on_shared_state(None)


def test_the_class_names_snapshots_remember_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record classes made on the fly do not stay in the class-name table for good."""
    from rweb.live import snapshot

    monkeypatch.setattr(snapshot, "_NAMES", {})
    monkeypatch.setattr(snapshot, "_NAMES_MAX", 8)
    for i in range(20):
        made = reactive(type(f"Made{i}", (), {"__annotations__": {"n": int}, "__module__": __name__}))
        entry = snapshot._Encoder([made(i)], None).encode()[0]  # type: ignore[arg-type]  # no warning to give
        assert entry[:2] == ["r", f"{__name__}:Made{i}"]
        assert len(snapshot._NAMES) <= 8
