"""Fan-out: a component that reads only shared state renders once per write for every reader.

The real server runs in a thread (``test_limits.threaded_server``) so that the
test can count how often a component's function runs and what each socket was
sent; the readers are real WebSocket clients on plain sockets.  What must hold:

- safety first: a component that also reads anything of its session (a
  per-session record, a filter captured per session, a plain per-session
  value) never gets another session's bytes;
- the shared path is taken: N readers, one write, the function runs once;
- several writes in one loop turn make one push per reader, every reader sees
  the writes in order and ends on the last value, the writer's own reply
  carries its write;
- a fan-out to 5,000 readers is delivered in slices: a click of an unrelated
  session is answered before the fan-out is done;
- readers left at different outputs by a write landing mid-fan-out each get
  the patch from the output they hold.

Every wait is bounded.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from test_limits import RawClient, masked_frame, threaded_server

from rweb import App, process_local, reactive
from rweb.html import button, component, div, span
from rweb.wire.codec import apply_message

# A fan-out's delivery warms the next pages' objects through methods that cannot raise to their
# caller (rweb.render.ViewOwner.warm): an exception there is only "ignored".  Here it fails the test.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


@reactive
class Room:
    value: int
    text: str


@reactive
class Me:
    name: str


def frames(client: RawClient, until: Callable[[dict[str, Any]], bool], limit: int = 200) -> list[dict[str, Any]]:
    """Messages read from ``client`` up to the first one ``until`` accepts (at most ``limit``)."""
    seen = []
    for _ in range(limit):
        opcode, payload = client.read_frame()
        assert opcode == 0x1
        msg = json.loads(payload)
        seen.append(msg)
        if until(msg):
            return seen
    raise AssertionError(f"not seen in {limit} messages: {seen[-3:]}")


def click(client: RawClient, action: str, **params: Any) -> None:
    client.sock.sendall(masked_frame(0x1, json.dumps({"action": action, "params": params}).encode()))


def value_in(msg: dict[str, Any], name: str) -> str | None:
    """The first dynamic of component ``name`` in a message (a patch or the whole component)."""
    c = (msg.get("d") or msg.get("c") or {}).get(name)
    if c is None:
        return None
    if "sl" in c:  # a whole component sent like another (rows of one shape): rweb.codec rebuilds it
        comps: dict[str, Any] = {}
        apply_message(comps, msg)
        c = comps[name]
    return c["d"][0] if "d" in c else c.get("0")


def room_app(room: Room, calls: dict[str, int]) -> App:
    """A page of components over a shared room: one that shares (``v``), and three that must not."""

    def shown(name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        def render() -> Any:
            calls[name] = calls.get(name, 0) + 1
            return fn()

        return render

    counted = shown("v", lambda: span(room.value))

    # Components given arguments (component(name, fn, *args)): one function for every session.
    def room_line(r: Room) -> Any:  # the shared room its argument: shared
        calls["va"] = calls.get("va", 0) + 1
        return span(r.value)

    def labelled(label: str, r: Room) -> Any:  # a per-session value its argument: never shared
        return span(f"{label}: {r.value}")

    def named(who: Me, r: Room) -> Any:  # a per-session record its argument: never shared
        return span(f"{who.name}: {r.value}")

    def odd(keep: int, r: Room) -> Any:  # a filter its argument: the same output at first, whatever it is
        return span(" ".join(c for c in r.text.split() if len(c) % 2 == keep))

    def setup(writer_id: Any) -> Any:
        me = Me(f"reader-{writer_id}")  # a per-session record
        secret = f"secret-{writer_id}"  # a plain per-session value
        keep = writer_id % 2  # a per-session filter

        def page() -> Any:
            return div(
                component("v", lambda: counted()),
                component("name", lambda: span(f"{me.name}: {room.value}")),
                component("plain", lambda: span(f"{secret}: {room.value}")),
                component("odd", lambda: span(" ".join(c for c in room.text.split() if len(c) % 2 == keep))),
                component("va", room_line, room),
                component("sa", labelled, secret, room),
                component("ma", named, me, room),
                component("oa", odd, keep, room),
                button("+", data_action="set"),
                button("?", data_action="poke"),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "set":
                room.value = int(params["value"])
                if "text" in params:
                    room.text = params["text"]

        return page, on_action

    return App("room", setup)


def open_readers(port: int, n: int) -> list[RawClient]:
    readers = []
    for _ in range(n):
        r = RawClient(port)
        r.read_frame()  # init
        readers.append(r)
    return readers


def test_a_shared_component_renders_once_and_per_session_state_never_crosses() -> None:
    room = process_local(Room(0, ""))
    calls: dict[str, int] = {}
    n = 40
    with threaded_server(room_app(room, calls)) as server:
        readers = open_readers(server.port, n)
        writer = RawClient(server.port)
        init = json.loads(writer.read_frame()[1])
        wid = int(value_in(init, "name").split(":")[0].removeprefix("reader-"))  # type: ignore[union-attr]
        names = [f"reader-{w}" for w in range(wid - n, wid)]
        states: list[dict[str, Any]] = [{} for _ in readers]
        for k in range(1, 4):
            before = dict(calls)
            text = "a bb ccc dddd" if k % 2 else "xx y zzz"
            click(writer, "set", value=k, text=text)
            reply = frames(writer, lambda m: m["t"] == "r")[-1]
            # The writer's reply carries its own write.
            assert value_in(reply, "v") == str(k), reply
            keep_of = {name: int(name.removeprefix("reader-")) % 2 for name in names}
            for i, r in enumerate(readers):
                mine = names[i]
                want = {
                    "v": str(k),
                    "name": f"{mine}: {k}",
                    "plain": f"secret-{mine.removeprefix('reader-')}: {k}",
                    "odd": " ".join(c for c in text.split() if len(c) % 2 == keep_of[mine]),
                    "va": str(k),
                    "sa": f"secret-{mine.removeprefix('reader-')}: {k}",
                    "ma": f"{mine}: {k}",
                    "oa": " ".join(c for c in text.split() if len(c) % 2 == keep_of[mine]),
                }
                shown = states[i]
                raw = []

                def done(
                    m: dict[str, Any], shown: dict[str, Any] = shown, raw: list[str] = raw, want: dict[str, str] = want
                ) -> bool:
                    raw.append(json.dumps(m))
                    for name in want:
                        got = value_in(m, name)
                        if got is not None:
                            shown[name] = got
                    return all(shown.get(name) == v for name, v in want.items())

                frames(r, done)
                # Its own name and secret, never another session's.
                for other in names:
                    if other != mine:
                        assert not any(f"{other}:" in x or f"secret-{other.removeprefix('reader-')}:" in x
                                       for x in raw), (mine, raw)
            # The shared components ran once for the n readers and the writer.
            assert calls["v"] - before.get("v", 0) == 1, (calls, before)
            assert calls["va"] - before.get("va", 0) == 1, (calls, before)
        for r in [*readers, writer]:
            r.close()


def test_writes_in_one_turn_make_one_push_and_readers_see_them_in_order() -> None:
    room = process_local(Room(0, ""))
    calls: dict[str, int] = {}
    with threaded_server(room_app(room, calls)) as server:
        readers = open_readers(server.port, 20)
        call = server.call_in_loop

        def three_writes() -> None:
            for v in (1, 2, 3):
                room.value = v

        before = calls.get("v", 0)
        call(three_writes)  # one loop turn
        for v in range(4, 10):  # then one write a turn
            call(lambda v=v: setattr(room, "value", v))
        for r in readers:
            seen = [value_in(m, "v") for m in frames(r, lambda m: value_in(m, "v") == "9")]
            values = [int(x) for x in seen if x is not None]
            assert values[0] == 3, seen  # the three writes of one turn: one push, the last value
            assert values == sorted(values) and len(set(values)) == len(values), seen  # in order, no repeat
            assert values[-1] == 9
        assert calls["v"] - before <= 7, calls  # one render per turn that wrote, not one per reader
        for r in readers:
            r.close()


def test_a_page_held_by_an_async_handler_gets_a_shared_write_in_its_reply() -> None:
    # The page whose action writes is told at once (rweb.render.acting); a page that awaits in an
    # async handler meanwhile gets the write through the delivery: marked dirty, as held pages are,
    # so the reply its handler ends with carries it (and no push comes before that reply).
    import asyncio

    room = process_local(Room(0, ""))
    gate: dict[str, asyncio.Event] = {}

    def setup(writer_id: Any) -> Any:
        def page() -> Any:
            return div(component("v", lambda: span(room.value)), button("+", data_action="set"))

        async def wait(params: dict[str, Any]) -> None:
            gate["open"] = asyncio.Event()
            await gate["open"].wait()

        def set_value(params: dict[str, Any]) -> None:
            room.value = int(params["value"])

        return page, {"set": set_value, "wait": wait}

    with threaded_server(App("held", setup)) as server:
        waiter, reader = open_readers(server.port, 2)
        writer = RawClient(server.port)
        writer.read_frame()
        click(waiter, "wait")
        for _ in range(500):  # bounded: the handler is awaiting once its gate exists
            if server.call_in_loop(lambda: "open" in gate):
                break
            threading.Event().wait(0.01)
        click(writer, "set", value=7)
        assert value_in(frames(writer, lambda m: m["t"] == "r")[-1], "v") == "7"  # the writer's reply
        frames(reader, lambda m: value_in(m, "v") == "7")  # delivered: the waiter's slice went too
        server.call_in_loop(lambda: gate["open"].set())
        first = frames(waiter, lambda m: True)[0]
        assert first["t"] == "r" and value_in(first, "v") == "7", first
        for c in (waiter, reader, writer):
            c.close()


@pytest.fixture
def gil_handed_over_often() -> Iterator[None]:
    """The server runs in a thread of this process and holds the GIL while its loop is busy: hand it
    over often, so that the clients' threads run between the server's loop turns as another process would."""
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(switch)


@pytest.mark.usefixtures("gil_handed_over_often")
def test_a_bystanders_click_is_answered_during_a_5000_reader_fan_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from rweb import render
    from rweb.bench.procfs import raise_nofile_limit

    raise_nofile_limit()
    # Smaller slices: the fan-out spans hundreds of loop turns, so the bystander's client (a thread of
    # this process, which needs the GIL to send) gets its click in even on a loaded machine; what is
    # checked is that a click between two slices is answered before the next ones, not a time.
    monkeypatch.setattr(render, "FANOUT_SLICE", 8)

    room = process_local(Room(0, ""))
    sent = [0]
    seen_by_bystander: list[int] = []
    lock = threading.Lock()

    def setup(writer_id: Any) -> Any:
        def page() -> Any:
            return div(component("v", lambda: span(room.value)), button("+", data_action="set"))

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "set":
                room.value = int(params["value"])
            elif action == "poke":  # a session that reads nothing shared
                seen_by_bystander.append(sent[0])

        return page, on_action

    app = App("fan", setup, actions=["set", "poke"])
    n = 5000
    with threaded_server(app) as server:
        readers = open_readers(server.port, n)
        writer = RawClient(server.port)
        writer.read_frame()
        bystander = RawClient(server.port)
        bystander.read_frame()

        def count_sends() -> None:  # every reader's pushes, counted where the server sends them
            for listener in server.live:
                conn = listener.conn

                def counted(data: bytes, send: Any = conn.send) -> None:
                    with lock:
                        sent[0] += 1
                    send(data)

                conn.send = counted

        server.call_in_loop(count_sends)
        click(writer, "set", value=1)
        frames(writer, lambda m: m["t"] == "r")  # its reply: the fan-out is under way
        click(bystander, "poke")
        frames(bystander, lambda m: m["t"] == "r")
        for r in readers:
            assert value_in(frames(r, lambda m: value_in(m, "v") == "1")[-1], "v") == "1"
        assert sent[0] >= n
        # The bystander was answered while the fan-out was still going out.
        assert seen_by_bystander and seen_by_bystander[0] < n, (seen_by_bystander, n)
        for r in [*readers, writer, bystander]:
            r.close()


def test_shared_records_written_in_one_action_are_published_before_any_local_push(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Publish first (app.share): every record an action writes is published before the first
    push of its fan-out, shared renders included, so that with a broker the other processes
    start theirs at once.  Counted where the server sends: no reader had a push when each
    record's publish reached its topic's subscribers (in-process here: synchronous)."""
    from rweb import render
    from rweb.live.sharing import TOPIC

    monkeypatch.setattr(render, "FANOUT_SLICE", 8)  # several slices per record's fan-out
    names = [f"room{i}" for i in range(4)]
    app = App("publish first", actions=["set"])
    rooms = [app.share(name, Room(0, "")) for name in names]

    def shows(room: Room) -> Callable[[], Any]:
        return lambda: span(room.value)

    views = [shows(room) for room in rooms]  # the same function for every session: renders shared

    @app.page("/")
    def home(writer_id: Any) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            for room in rooms:
                room.value = int(params["value"])

        return lambda: div(*(component(n, v) for n, v in zip(names, views, strict=True))), on_action

    sent = [0]
    at_publish: dict[str, list[int]] = {}
    n = 40
    with threaded_server(app) as server:
        readers = open_readers(server.port, n)
        writer = RawClient(server.port)
        writer.read_frame()

        def watch() -> None:
            for listener in server.live:  # every session's pushes, counted where the server sends them
                conn = listener.conn

                def counted(data: bytes, send: Any = conn.send) -> None:
                    sent[0] += 1
                    send(data)

                conn.send = counted
            for name in names:
                app.pubsub.subscribe(
                    TOPIC + name,
                    lambda _t, m, name=name: at_publish.setdefault(name, []).append(sent[0]) if "state" in m else None,
                )

        server.call_in_loop(watch)
        click(writer, "set", value=7)
        frames(writer, lambda m: m["t"] == "r")
        for r in readers:
            shown: dict[str, str] = {}

            def all_seven(m: dict[str, Any], shown: dict[str, str] = shown) -> bool:
                for name in names:
                    got = value_in(m, name)
                    if got is not None:
                        shown[name] = got
                return all(shown.get(name) == "7" for name in names)

            frames(r, all_seven)
        assert sent[0] >= n
        # Each record published once, before any of the pushes.
        assert at_publish == {name: [0] for name in names}, at_publish
        for r in [*readers, writer]:
            r.close()


@reactive
class Pair:
    a: int
    b: int


def test_readers_behind_by_different_writes_each_get_the_patch_from_what_they_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In-process (Connection objects whose sends are applied to their pages): the fan-out goes in
    # slices of 2 and a write lands after one slice, so readers hold two different outputs when the
    # next write goes out.  Each must get the patch from what it holds (a patches object per old
    # output: render.SharedRender.patches_from), and every page end on the last write.  The writes
    # move `a` away and back: a reader given another's patch keeps a stale `a`.
    import asyncio

    from rweb import render
    from rweb.live.connection import Connection
    from rweb.sessions.session import ConnectionInfo
    from rweb.wire.codec import page_html

    monkeypatch.setattr(render, "FANOUT_SLICE", 2)
    pair = process_local(Pair(0, 0))
    calls = [0]

    def shown() -> Any:
        calls[0] += 1
        return span(pair.a, "-", pair.b)

    app = App("pairs", session_setup=lambda w: (lambda: div(component("v", shown)), {}))
    loop = asyncio.new_event_loop()
    try:
        app.bind(loop)
        pages: list[dict[str, Any]] = []
        conns = []
        for i in range(7):
            page: dict[str, Any] = {}
            pages.append(page)
            conn = Connection(app, i, ConnectionInfo(), lambda b, page=page: apply_message(page, json.loads(b)),
                              loop.call_soon)
            first, ok = conn.open()
            assert ok and first is not None
            apply_message(page, json.loads(first))
            conns.append(conn)

        def run_once() -> None:
            loop.call_soon(loop.stop)
            loop.run_forever()

        def showing(text: str) -> int:
            return sum(f'<span data-rc="v">{text}</span>' in page_html(p, {}) for p in pages)

        def drain() -> None:
            for _ in range(20):  # bounded: 7 pages in slices of 2
                run_once()

        opened = calls[0]
        pair.a = 1
        drain()
        assert showing("1-0") == 7
        pair.a = 5
        run_once()  # the first slice: two readers at 5-0
        pair.a = 1
        pair.b = 2
        drain()
        # The rest of that pass took the five at 1-0 to 1-2 (a patch of b alone), and a second pass
        # the two at 5-0 (a patch of a and b); the first pass's render at 5-0 was sent to two only.
        for p in pages:
            assert '<span data-rc="v">1-2</span>' in page_html(p, {}), page_html(p, {})
        assert calls[0] - opened == 3  # shared: one render per write, not one per reader
        for conn in conns:
            conn.close()
    finally:
        loop.close()
