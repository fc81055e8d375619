"""State that sessions share is refused where processes would split it: at its first read.

Several workers without a broker (or any app with a broker): a page that reads
a record its session did not create (module-level state, another session's)
is refused the first time it reads it, whatever worker the connection landed
on, and its user is told (the join's ``init`` carries a ``shared_state``
error).  A session's own state (made by its setup or its actions, and what
that holds) and records declared ``process_local`` or ``app.share`` never are.

The in-process tests drive the app of ``shared_state_app.py`` through
``rweb.testing.Client`` with the refusal installed as ``start_rweb`` installs
it; the others start that app as a real server (2 workers, 1 worker, 2 workers
with a Redis broker) and talk to it over real WebSockets.  Every wait is
bounded.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shared_state_app as sa
from processes import ServerProcess
from redis_server import RedisServer
from shared_state_app import server

from rweb.reactive import on_shared_state
from rweb.testing import Client


@pytest.fixture
def refusing() -> Iterator[Any]:
    """The app, with the refusal start_rweb installs for 2 workers without a broker."""
    app = sa.make_app()
    app.refuse_split_state(2)
    try:
        yield app
    finally:
        on_shared_state(None)


def test_module_level_state_is_refused_at_its_first_read(refusing: Any, caplog: pytest.LogCaptureFixture) -> None:
    for path in ("/tally", "/todos"):
        first = Client(refusing, path, writer_id=1)  # alone in its process: refused all the same
        assert first.init["e"]["code"] == "shared_state", first.init
        assert "Total" not in first.html() and "data-rweb-error" in first.html()
        # Never the exception's message (not in debug mode): its type and a reference to the log.
        assert first.init["e"]["message"].startswith("component") and "(ref " in first.init["e"]["message"]
        assert "without a broker" not in first.init["e"]["message"]
    assert any("read by a session that did not create it" in r.getMessage() and "run workers=1" in r.getMessage()
               for r in caplog.records)


def test_another_sessions_record_is_refused(refusing: Any) -> None:
    sa.PEEK.clear()
    one = Client(refusing, "/peek", writer_id=1)
    assert "e" not in one.init and "<li>1</li>" in one.html()  # its own record only
    two = Client(refusing, "/peek", writer_id=2)  # reads session 1's
    assert two.init["e"]["code"] == "shared_state"


def test_a_sessions_own_state_is_never_refused(refusing: Any) -> None:
    pages = [Client(refusing, "/own", writer_id=w) for w in (1, 2)]
    for page in pages:
        assert "e" not in page.init, page.init
    for i in range(1, 4):
        for page in pages:
            reply = page.send("add")
            assert "e" not in reply, reply
            assert f"Count: {i}" in page.html()
            assert f"todo {i}: new, seen" in page.html()  # made by the action, in its list, its tags
            assert f"kept {i}" in page.html()  # made by the action, kept in a plain variable


def test_process_local_state_is_not_refused(refusing: Any) -> None:
    pages = [Client(refusing, "/local", writer_id=w) for w in (1, 2)]
    for page in pages:
        assert "e" not in page.init, page.init
        reply = page.send("add")  # a todo made by an action, in the process_local board
        assert "e" not in reply, reply
    for page in pages:
        page.run_pending()
        assert "from 1: local" in page.html() and "from 2: local" in page.html()


def test_without_the_refusal_nothing_is_checked() -> None:
    page = Client(sa.make_app(), "/tally", writer_id=1)
    assert "e" not in page.init and "Total:" in page.html()


# -- real servers -------------------------------------------------------------------------


async def join(wire: Any, srv: ServerProcess, path: str) -> tuple[Any, dict[str, Any]]:
    ws = await wire.connect(f"{srv.url}?url={path}")
    return ws, await wire.recv(ws)


pytestmark_linux = pytest.mark.skipif(sys.platform != "linux", reason="fork and /proc")


@pytestmark_linux
def test_two_workers_without_a_broker_refuse_module_state_for_every_session(tmp_path: Path, wire: Any) -> None:
    with server(tmp_path, 2) as srv:

        async def main() -> None:
            # One session alone on the server: its worker has no other session, refused all the same.
            ws, init = await join(wire, srv, "/tally")
            assert init["t"] == "init" and init["e"]["code"] == "shared_state", init
            await ws.close()
            # Several at once, wherever the kernel puts them: every one refused.
            socks = []
            for path in ("/tally", "/todos") * 3:
                ws, init = await join(wire, srv, path)
                socks.append(ws)
                assert init["e"]["code"] == "shared_state", init
            # Their own state, and process_local state: never refused, through clicks too.
            for path in ("/own", "/local"):
                for _ in range(3):
                    ws, init = await join(wire, srv, path)
                    socks.append(ws)
                    assert "e" not in init, init
                    for _ in range(2):
                        reply = await wire.click(ws, "add")
                        assert "e" not in reply, reply
            for ws in socks:
                await ws.close()

        wire.run(main())
        log = srv.log()
        assert "Tally record Tally(n=0) is read by a session that did not create it" in log
        assert "run workers=1, or declare it rweb.process_local(record)" in log


@pytestmark_linux
def test_one_worker_refuses_nothing(tmp_path: Path, wire: Any) -> None:
    with server(tmp_path, 1) as srv:

        async def main() -> None:
            for path in ("/tally", "/todos", "/tally"):
                ws, init = await join(wire, srv, path)
                assert "e" not in init, init
                reply = await wire.click(ws, "add" if path == "/todos" else "inc")
                assert "e" not in reply, reply
                await ws.close()

        wire.run(main())


@pytestmark_linux
def test_with_a_broker_shared_records_pass_and_module_state_is_refused(
    tmp_path: Path, wire: Any, redis_server: RedisServer
) -> None:
    with server(tmp_path, 2, redis_server.url) as srv:

        async def main() -> None:
            for _ in range(3):
                ws, init = await join(wire, srv, "/shared")
                assert "e" not in init, init
                await ws.send('{"action": "inc"}')
                reply = await wire.reply(ws)  # past pushes of the other worker's earlier clicks
                assert reply["t"] == "r" and "e" not in reply, reply
                await ws.close()
            ws, init = await join(wire, srv, "/tally")
            assert init["e"]["code"] == "shared_state", init
            await ws.close()

        wire.run(main())
        assert "this app runs with a broker" in srv.log()


def component_value(msg: dict[str, Any], name: str) -> str | None:
    """The first dynamic of component ``name`` in an init (whole component) or a push (a patch)."""
    c = (msg.get("c") or msg.get("d") or {}).get(name)
    if c is None:
        return None
    return str(c["d"][0] if "d" in c else c.get("0"))


@pytestmark_linux
def test_with_a_broker_a_shared_write_is_published_before_any_local_push(
    tmp_path: Path, wire: Any, redis_server: RedisServer
) -> None:
    """Publish first: the writer's worker hands the write's PUBLISH to Redis (written to the
    socket, nothing left queued) before it renders and pushes to any of its own readers, so
    that the other worker starts its fan-out while this one does its own.  Each reader
    renders on its own (it reads its own record beside the shared one) and shows what its
    worker had published when it rendered: every reader of both workers shows the write."""
    readers = 40
    with server(tmp_path, 2, redis_server.url) as srv:

        async def main() -> None:
            async def one() -> tuple[Any, str]:
                ws, init = await join(wire, srv, "/order")
                assert "e" not in init, init
                assert component_value(init, "seen") == "n=0/0 published=none", init
                return ws, str(component_value(init, "pid"))

            # Opened in small batches until each worker holds its half: the kernel picks the
            # worker, and the second may still be starting (bounded in rounds and time).
            per_worker: dict[str, list[Any]] = {}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                for ws, pid in await asyncio.gather(*(one() for _ in range(10))):
                    mine = per_worker.setdefault(pid, [])
                    if len(mine) < readers // 2:
                        mine.append(ws)
                    else:
                        await ws.close()  # this worker has its half
                if len(per_worker) == 2 and all(len(v) == readers // 2 for v in per_worker.values()):
                    break
                await asyncio.sleep(0.1)
            socks = [(ws, pid) for pid, wss in per_worker.items() for ws in wss]
            (writer, writer_pid), rest = socks[0], socks[1:]
            # Joins and closes send the session store's commands on the same link: let them be
            # answered, so that the write's PUBLISH finds it idle (else it queues behind them).
            await asyncio.sleep(0.5)
            here = [ws for ws, pid in rest if pid == writer_pid]
            there = [ws for ws, pid in rest if pid != writer_pid]
            assert len(here) >= 5 and there, f"{len(here)} readers on the writer's worker, {len(there)} on the other"
            reply = await wire.click(writer, "inc")
            assert "e" not in reply, reply
            for ws, _ in rest:
                push = await wire.recv(ws)
                assert push["t"] == "p", push
                # n=1 (the write), 0 (its own record); published: the write, 0 publishes queued.
                assert component_value(push, "seen") == "n=1/0 published=1/0", (
                    f"{'the writer' if ws in here else 'the other'}'s worker pushed before publishing: {push}"
                )
            for ws, _ in socks:
                await ws.close()

        wire.run(main())
