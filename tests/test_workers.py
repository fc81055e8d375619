"""The seed's counter served by ``--workers 2``: 1000 concurrent WebSocket sessions.

The server runs as a real subprocess (``python examples/rweb_counter.py``) on a
free 127.0.0.1 port; its workers share the port with SO_REUSEPORT and each
session lives wholly in one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import children_of, free_port

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT workers and /proc")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

CONNECTIONS = 1000
CLICKS = 5
HANDSHAKE_CONCURRENCY = 100


def raise_nofile_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CONNECTIONS + 200:
        pytest.skip(f"RLIMIT_NOFILE hard limit {soft} is too low for {CONNECTIONS} sockets")


def tcp_inodes(port: int, state: str) -> set[str]:
    """Socket inodes on 127.0.0.1:``port`` in ``state`` (0A: LISTEN, 01: ESTABLISHED)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, st, inode = fields[1], fields[3], fields[9]
        if int(local.split(":")[1], 16) == port and st == state:
            inodes.add(inode)
    return inodes


def socket_inodes(pid: int) -> set[str]:
    found = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    found.add(target[8:-1])
    return found


@pytest.fixture
def counter_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    raise_nofile_limit()  # the server inherits the raised limit too
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "rweb_counter.py"), "--port", str(port),
             "--host", "127.0.0.1", "--workers", "2"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        wait_until_serving(proc, port, log_path)
        yield proc, port, log_path
    finally:
        if proc.poll() is None:
            for pid in children_of(proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.kill()
            proc.wait(10)


def wait_until_serving(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Bounded wait until both workers listen on the port."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited early ({proc.returncode}):\n{log_path.read_text()}")
        workers = children_of(proc.pid)
        listening = tcp_inodes(port, "0A")
        if len(workers) == 2 and all(socket_inodes(w) & listening for w in workers):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return
        time.sleep(0.05)
    pytest.fail(f"the server did not start listening within 20 s:\n{log_path.read_text()}")


def stop_and_wait(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


@pytest.mark.slow
def test_1000_concurrent_sessions_over_two_workers(
    counter_workers: tuple[subprocess.Popen[bytes], int, Path], wire: Any
) -> None:
    proc, port, log_path = counter_workers
    url = f"ws://127.0.0.1:{port}/ws"
    workers = children_of(proc.pid)

    async def main() -> dict[int, int]:
        gate = asyncio.Semaphore(HANDSHAKE_CONCURRENCY)
        stack = contextlib.AsyncExitStack()
        async with stack:

            async def open_one() -> Any:
                async with gate:
                    ws = await stack.enter_async_context(wire.connect(url))
                    init = await wire.recv(ws)
                    assert init["t"] == "init"
                    assert init["c"]["display"]["d"] == ["0"]
                    return ws

            sockets = await asyncio.gather(*(open_one() for _ in range(CONNECTIONS)))
            # All 1000 are open at once: see how the kernel spread them.
            established = tcp_inodes(port, "01")
            per_worker = {w: len(socket_inodes(w) & established) for w in workers}

            async def clicks(k: int, ws: Any) -> None:
                for i in range(1, CLICKS + 1):
                    reply = await wire.click(ws, ref=k)
                    assert reply == {"t": "r", "d": {"display": {"0": str(i)}}, "ref": k}
                # One reply each: the next message answers the next request.
                reply = await wire.click(ws, "dec", ref="last")
                assert reply["ref"] == "last" and reply["d"]["display"]["0"] == str(CLICKS - 1)

            await asyncio.gather(*(clicks(k, ws) for k, ws in enumerate(sockets)))
            return per_worker

    per_worker = wire.run(main(), timeout=60)
    assert sum(per_worker.values()) == CONNECTIONS, per_worker
    assert all(n > 0 for n in per_worker.values()), f"a worker got no sessions: {per_worker}"

    assert stop_and_wait(proc, 15) == 0
    log = log_path.read_text()
    assert "Traceback" not in log and "crashed" not in log and "restarting" not in log, log
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "workers outlived the server"


def test_sigterm_with_open_sessions_closes_them_and_exits(
    counter_workers: tuple[subprocess.Popen[bytes], int, Path], wire: Any
) -> None:
    from websockets.exceptions import ConnectionClosed

    proc, port, log_path = counter_workers
    url = f"ws://127.0.0.1:{port}/ws"
    workers = children_of(proc.pid)

    async def main() -> None:
        async with wire.connect(url) as a, wire.connect(url) as b:
            for ws in (a, b):
                await wire.recv(ws)
                assert (await wire.click(ws))["d"]["display"]["0"] == "1"
            proc.send_signal(signal.SIGTERM)
            for ws in (a, b):
                # Open sessions do not keep a stopping server alive, and they
                # are told why: 1012 "service restart", so the client reconnects at once.
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012

    wire.run(main(), timeout=25)
    try:
        code = proc.wait(10)
    except subprocess.TimeoutExpired:
        code = None
    assert code == 0, log_path.read_text()
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "workers outlived the server"


def test_single_worker_serves_and_stops(tmp_path: Path, wire: Any) -> None:
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "rweb_counter.py"), "--port", str(port),
             "--host", "127.0.0.1", "--workers", "1"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.05)
        assert proc.poll() is None, log_path.read_text()

        async def main() -> None:
            async with wire.connect(f"ws://127.0.0.1:{port}/ws") as ws:
                await wire.recv(ws)
                for i in range(1, 4):
                    assert (await wire.click(ws))["d"] == {"display": {"0": str(i)}}

        wire.run(main())
        assert stop_and_wait(proc, 10) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_workers_refuse_a_port_that_is_taken() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import rweb_counter as m; "
            f"m.start_rweb({port}, 't', m.session_setup, host='127.0.0.1', workers=2)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(EXAMPLES)],
            capture_output=True, timeout=20, cwd=ROOT,
        )
    assert done.returncode != 0
    assert b"Address already in use" in done.stderr, done.stderr.decode()


def test_workers_must_be_at_least_one(counter_example: Any) -> None:
    from rweb import start_rweb

    with pytest.raises(ValueError, match="at least 1"):
        start_rweb(free_port(), "t", counter_example.session_setup, workers=0)
