"""Sessions resumed in another process through a real Redis: another instance, and a restarted server.

Two instances of tests/multi_instance_app.py (one worker each, the same
secret key, the same redis-server) stand for two workers or two machines
behind a load balancer.  A browser's session lives on instance one; its socket
is lost (aborted: no close frame), or stays half-open, or instance one is
stopped (SIGTERM) and started again.  The browser (a websockets client doing
what rweb.js does) joins again with its token and gets its session back, with
the actions it sends again applied once.

Loopback only; every wait is bounded; the processes are stopped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from redis_server import RedisServer, free_port, wait_until
from test_multi_instance import (
    STEP,
    Instance,
    missing,
    part,
    start_instance,
    stop_process,
    tail,
    wait_serving,
)

from rweb.live.snapshot import FINAL
from rweb.wire.codec import apply_message

SECRET = "resume-across-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def deployment() -> Iterator[tuple[Path, RedisServer, dict[str, Instance]]]:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="rweb-resume-"))
        stack.callback(shutil.rmtree, workdir, True)
        redis = RedisServer()
        stack.callback(redis.close)
        redis.start()
        instances = {name: start_instance(workdir, name, redis.url, SECRET) for name in ("one", "two")}
        stack.callback(lambda: [stop_process(i.proc) for i in instances.values()])
        for instance in instances.values():
            wait_serving(instance)
        yield workdir, redis, instances


async def connect(instance: Instance, token: str | None = None) -> tuple[Any, dict[str, Any]]:
    from websockets.asyncio.client import connect as ws_connect

    url = f"ws://127.0.0.1:{instance.port}/ws?url=/"
    if token is not None:
        url += "&tok=" + quote(token, safe="")
    ws = await ws_connect(url, proxy=None, compression=None, open_timeout=STEP, close_timeout=2, ping_interval=None)
    init = json.loads(await asyncio.wait_for(ws.recv(), STEP))
    assert init["t"] == "init", init
    return ws, init


async def click(ws: Any, ref: int) -> dict[str, Any]:
    """Send ``inc`` with ``ref``; its reply (pushes before it are skipped)."""
    await ws.send(json.dumps({"action": "inc", "params": {}, "ref": ref}))
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), STEP))
        if msg["t"] == "r" and msg.get("ref") == ref:
            return msg


def count(msg: dict[str, Any]) -> str | None:
    """The count an init shows, or the new count a reply carries (None: unchanged).

    The board's component ``count`` is the number; the seed counter's ``display`` ends with it.
    """
    if msg["t"] == "init":
        comps: dict[str, Any] = {}
        apply_message(comps, msg)  # (a component may come "like" another: rweb.codec rebuilds it)
        comp = comps.get("count") or comps["display"]
        return str(comp["d"][-1])
    d = msg.get("d") or {}
    patch = d.get("count") or d.get("display")
    return str(list(patch.values())[-1]) if patch else None


def abort(ws: Any) -> None:
    """The network drops the socket: no close frame."""
    ws.transport.abort()


def run(coro: Any, timeout: float = 60.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_a_socket_lost_on_one_instance_resumes_on_the_other(deployment: Any) -> None:
    _, _, instances = deployment

    async def main() -> None:
        ws, init = await connect(instances["one"])
        for ref in (1, 2, 3):
            await click(ws, ref)
        abort(ws)
        ws2, init2 = await connect(instances["two"], init["tok"])
        try:
            assert init2.get("resumed") is True and init2["last"] == 3, init2
            assert "instance two" in part(init2, "me") and count(init2) == "3"
            # The reply to ref 3 was lost with the socket: sent again, applied once.
            assert count(await click(ws2, 3)) is None
            assert count(await click(ws2, 4)) == "4"
        finally:
            await ws2.close()

    run(main())


def test_a_half_open_socket_hands_its_latest_state_over(deployment: Any) -> None:
    """The browser gave up on a socket the server still thinks open: the holder saves it now and lets go."""
    _, _, instances = deployment

    async def main() -> None:
        ws, init = await connect(instances["one"])
        for ref in (1, 2):
            await click(ws, ref)  # within the snapshot interval: only instance one knows
        ws2, init2 = await connect(instances["two"], init["tok"])
        try:
            assert init2.get("resumed") is True and init2["last"] == 2, init2
            assert count(init2) == "2"
        finally:
            await ws2.close()
            abort(ws)

    run(main())


def test_a_restarted_server_resumes_its_sessions(deployment: Any) -> None:
    workdir, redis, instances = deployment
    # A server that stops keeps its sessions' snapshots for resume_grace: the fixture's 1 s is
    # shorter than a restart on a loaded machine (a new interpreter, its imports), so this test's
    # instance waits 30 s, as a deployment would.
    stop_process(instances["one"].proc)
    one = start_instance(workdir, "one", redis.url, SECRET, "--resume-grace", "30", port=instances["one"].port)
    instances["one"] = one
    wait_serving(one)

    async def main() -> float:
        from websockets.exceptions import ConnectionClosed

        ws, init = await connect(one)
        for ref in (1, 2, 3):
            await click(ws, ref)
        t0 = time.monotonic()
        one.proc.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), STEP)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        await asyncio.to_thread(one.proc.wait, STEP)
        again = start_instance(workdir, "one", redis.url, SECRET, "--resume-grace", "30", port=one.port)
        instances["one"] = again
        await asyncio.to_thread(wait_serving, again)
        ws2, init2 = await connect(again, init["tok"])
        elapsed = time.monotonic() - t0
        try:
            assert init2.get("resumed") is True and init2["last"] == 3, (init2, tail(again.log))
            assert count(init2) == "3"
            assert count(await click(ws2, 4)) == "4"
        finally:
            await ws2.close()
        return elapsed

    elapsed = run(main())
    print(f"stop -> restarted server -> resumed page: {elapsed:.2f} s")


def test_a_resume_landing_on_another_worker_restores_the_session(tmp_path: Path, redis_server: Any) -> None:
    """start_rweb(workers=2) with a broker: whichever worker the reconnect lands on, the session is back."""
    port = free_port()
    log = tmp_path / "server.log"
    counter = Path(__file__).resolve().parent.parent / "examples" / "rweb_counter.py"
    env = dict(os.environ, RWEB_SECRET_KEY=SECRET, PYTHONUNBUFFERED="1")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(counter), "--port", str(port), "--workers", "2", "--broker", redis_server.url],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )
    server = Instance("workers", port, log, proc)

    def worker_of(init: dict[str, Any]) -> int:
        return int(init["tok"].split(".")[1]) % 2  # writer ids are worker index + k * workers

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            return False

    async def main() -> None:
        ws, init = await connect(server)
        first = worker_of(init)
        for ref in (1, 2, 3):
            await click(ws, ref)
        token, last_count = init["tok"], "3"
        for i in range(300):  # the kernel picks the worker: try until the other one answers
            abort(ws)
            await asyncio.sleep(0.002 * (i % 5))  # vary the timing: the idler worker tends to win
            ws, init = await connect(server, token)
            assert init.get("resumed") is True, (init, tail(log))
            assert count(init) == last_count
            token = init["tok"]
            if worker_of(init) != first:
                break
        else:
            pytest.fail("300 reconnects never landed on the other worker")
        assert count(await click(ws, 4)) == "4"
        await ws.close()

    try:
        assert wait_until(listening, 20), tail(log)
        run(main())
        assert "restored from another process's snapshot" in log.read_text(errors="replace")
    finally:
        stop_process(proc)


# -- one token, one session ---------------------------------------------------------------


async def racing(instances: dict[str, Instance], token: str, where: tuple[str, ...]) -> list[dict[str, Any]]:
    """Join every instance named in ``where`` at once with ``token``: their inits."""
    joined = await asyncio.gather(*(connect(instances[name], token) for name in where))
    for ws, _ in joined:
        await ws.close()
    return [init for _, init in joined]


def test_sockets_racing_with_one_token_across_processes_resume_one_session(deployment: Any) -> None:
    _, _, instances = deployment

    async def main() -> None:
        for live in (False, True):  # a lost socket (a final snapshot); a half-open one (its holder answers)
            ws, init = await connect(instances["one"])
            await click(ws, 1)
            if not live:
                abort(ws)
            inits = await racing(instances, init["tok"], ("two", "two", "one", "two"))
            resumed = [i for i in inits if i.get("resumed") is True]
            assert len(resumed) == 1 and count(resumed[0]) == "1", inits
            assert sum(i.get("fresh") is True for i in inits) == 3, inits
            if live:
                abort(ws)

    run(main())


def test_a_spent_token_is_dead_in_every_process(deployment: Any) -> None:
    _, _, instances = deployment

    async def stale(token: str) -> None:
        for name in ("two", "one"):  # wherever it is presented
            ws, init = await connect(instances[name], token)
            assert init.get("fresh") is True and count(init) == "0", (name, init)
            await ws.close()

    async def main() -> None:
        ws, init = await connect(instances["one"])
        first = init["tok"]
        await click(ws, 1)
        abort(ws)
        ws, init = await connect(instances["one"], first)  # resumed where it was
        assert init.get("resumed") is True and init["tok"] != first, init
        second = init["tok"]
        await click(ws, 2)
        abort(ws)
        await stale(first)
        ws, init = await connect(instances["two"], second)  # resumed in another process
        assert init.get("resumed") is True and count(init) == "2", init
        third = init["tok"]
        abort(ws)
        await stale(second)
        ws, init = await connect(instances["one"], third)
        assert init.get("resumed") is True and count(init) == "2", init
        await ws.close()

    run(main())


def test_a_snapshot_over_the_limit_in_redis_is_refused_unread(deployment: Any) -> None:
    """Something wrote 20 MiB under a session's key: the claim sees its length and deletes it unread."""
    import redis as redis_py

    _, redis, instances = deployment
    two = instances["two"]

    def peak_rss_kib(pid: int) -> int:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")

    async def main() -> None:
        ws, init = await connect(instances["one"])
        await click(ws, 1)
        token = init["tok"]
        abort(ws)
        boot, wid = token.split(".")[:2]
        client = redis_py.Redis.from_url(redis.url)
        try:

            def saved() -> list[bytes]:
                # The final snapshot, saved once instance one saw its socket go: one saved before
                # that (its interval's) would be saved over by the final one, maybe after the
                # write below, and then instance two would rightly read what it finds.
                name = f"rweb:snap:{boot}.{wid}".encode()
                keys = [k for k in client.scan_iter(name + b"*", count=1000) if k.partition(name)[2][:1] in b"."]
                return [k for k in keys if (client.get(k) or b"").startswith(FINAL)]

            assert await asyncio.to_thread(wait_until, saved, STEP), "no final snapshot saved"
            (key,) = saved()
            doc = json.loads(client.get(key))
            record = next(o for o in doc["objs"] if o[0] == "r")
            field = next(iter(record[2]))
            record[2][field] = "x" * (20 * 1024 * 1024)  # a final snapshot, as one would write it
            client.set(key, json.dumps(doc).encode(), px=30_000)
            before = peak_rss_kib(two.proc.pid)
            t0 = time.monotonic()
            ws2, init2 = await connect(two, token)
            elapsed = time.monotonic() - t0
            await ws2.close()
            assert not client.exists(key)  # deleted, so that nobody reads it later
        finally:
            client.close()
        grown = peak_rss_kib(two.proc.pid) - before
        assert grown < 8 * 1024, f"instance two's peak RSS grew by {grown} KiB: the snapshot was read"
        assert "deleted unread" in await asyncio.to_thread(tail, two.log, 20_000)
        # Its holder still had the session: it saved it again and handed it over; or it had let it go.
        assert init2.get("resumed") is True or init2.get("fresh") is True, init2
        print(f"20 MiB snapshot refused in {elapsed * 1000:.0f} ms, peak RSS +{grown} KiB")

    run(main())
