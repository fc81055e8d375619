"""What saving sessions for a resume elsewhere costs a click, and how fast a restarted server resumes them.

    python benchmarks/snapshot_cost.py [--rounds 5] [--clients 1000] [--clicks 100] [--sessions 200]

Part 1, CPU per click: the seed's counter (examples/rweb_counter.py, one
worker) runs in three modes, in interleaved rounds on the same machine, each
loaded by ``rweb bench`` (closed loop, ``--clients`` sessions x ``--clicks``):

- ``no broker``: today's default;
- ``redis, resume off``: the Redis broker, ``--resume-grace 0`` (no snapshots);
- ``redis, snapshots``: the Redis broker with sessions saved (the default
  with a broker): every session that changed is written to Redis once per
  ``snapshot_interval`` (1 s).

It prints the median server CPU per click of each mode and the ratio of
``snapshots`` to ``resume off`` (the cost of saving sessions; goal: under
1.05) and to ``no broker``.

Part 1b, in-process (no network, no Redis: a memory store), where the
machine's noise is far smaller: the counter's own work per click with and
without snapshots, 200 sessions each clicking 64 times per snapshot interval
(about what 1,000 sessions at 64,000 clicks/s do), the interval's save of
every session included.

Part 2, restart to resumed page: ``--sessions`` sessions click three times;
the server gets SIGTERM (it saves them and closes the sockets with 1012), a
new server starts on the same port, and every session joins again with its
token.  Printed: the time from SIGTERM to the first and to the last resumed
page, and how many came back with their count.

Needs Debian's redis-server and redis-py.  Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
COUNTER = ROOT / "examples" / "rweb_counter.py"
HOST = "127.0.0.1"
SECRET = "snapshot-cost-benchmark-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            socket.create_connection((HOST, port), 0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Redis:
    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="rweb-bench-redis-")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        wait_port(self.port, self.proc)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def close(self) -> None:
        stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def serve(port: int, *flags: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, RWEB_SECRET_KEY=SECRET, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, str(COUNTER), "--port", str(port), "--host", HOST, "--workers", "1", *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
    )
    wait_port(port, proc)
    return proc


def bench(port: int, pid: int, clients: int, clicks: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "rweb.bench", "--json", "--quiet", "--url", f"ws://{HOST}:{port}/ws",
           "--server-pid", str(pid), "--clients", str(clients), "--clicks", str(clicks), "--max-time", "300"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=400, cwd=ROOT)
    return dict(json.loads(out.stdout))


def part1(redis: Redis, rounds: int, clients: int, clicks: int) -> list[str]:
    modes = {
        "no broker": [],
        "redis, resume off": ["--broker", redis.url, "--resume-grace", "0"],
        "redis, snapshots": ["--broker", redis.url],
    }
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    rate: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(rounds):
        order = list(modes) if r % 2 == 0 else list(reversed(modes))  # no mode always runs first
        for mode in order:
            port = free_port()
            proc = serve(port, *modes[mode])
            try:
                time.sleep(0.5)
                result = bench(port, proc.pid, clients, clicks)
            finally:
                stop(proc)
            server = result.get("server") or {}
            if server.get("cpu_us_per_click") is not None:
                cpu[mode].append(float(server["cpu_us_per_click"]))
            if result.get("throughput"):
                rate[mode].append(float(result["throughput"]))
            print(f"  round {r + 1} {mode}: {server.get('cpu_us_per_click')} us/click", file=sys.stderr)
    med = {m: statistics.median(v) if v else float("nan") for m, v in cpu.items()}
    lines = [
        f"### Snapshot cost per click ({clients} sessions x {clicks} clicks, 1 worker, {rounds} rounds)",
        "",
        "| mode | server CPU per click (median) | each round | clicks/s (median) |",
        "|---|---:|---|---:|",
    ]
    for m in modes:
        each = ", ".join(f"{x:.1f}" for x in cpu[m])
        rmed = statistics.median(rate[m]) if rate[m] else float("nan")
        lines.append(f"| {m} | {med[m]:.2f} us | {each} | {rmed:,.0f} |")
    lines += [
        "",
        f"- snapshots / resume off: **{med['redis, snapshots'] / med['redis, resume off']:.3f}** (goal: under 1.05)",
        f"- snapshots / no broker: {med['redis, snapshots'] / med['no broker']:.3f}",
        "",
    ]
    return lines


def part1b(rounds: int = 5) -> list[str]:
    sys.path.insert(0, str(COUNTER.parent))
    import logging

    from rweb_counter import session_setup

    from rweb import App
    from rweb.snapshot import MemoryStore
    from rweb.testing import Client
    from rweb.testing.client import _pending_loop

    logging.disable(logging.WARNING)  # no secret key: the warning says so, once per app

    def run(store: Any) -> float:
        app = App("c", session_setup, session_store=store)
        conns = [Client(app, "/", writer_id=i).conn for i in range(200)]
        loop = _pending_loop(app)
        msg = b'{"action":"inc","params":{}}'
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(64):
                for conn in conns:
                    conn.receive(msg)
            loop.advance(1.0)  # the interval's save
            times.append((time.perf_counter() - t0) / (64 * 200) * 1e6)
        return statistics.median(times)

    pairs = [(run(None), run(MemoryStore())) for _ in range(rounds)]
    off = statistics.median(a for a, _ in pairs)
    on = statistics.median(b for _, b in pairs)
    logging.disable(logging.NOTSET)
    return [
        f"### In-process: the counter's own work per click ({rounds} alternating rounds, medians)",
        "",
        f"- snapshots off: {off:.3f} us; on (a memory store, one save per 64 clicks): {on:.3f} us; "
        f"difference **{on - off:+.3f} us per click** ({', '.join(f'{b - a:+.2f}' for a, b in pairs)})",
        "",
    ]


async def _resume_all(port: int, redis: Redis, sessions: int) -> list[str]:
    from websockets.asyncio.client import connect

    async def join(token: str | None = None) -> tuple[Any, dict[str, Any]]:
        url = f"ws://{HOST}:{port}/ws?url=/" + ("&tok=" + quote(token, safe="") if token else "")
        ws = await connect(url, proxy=None, compression=None, open_timeout=20, ping_interval=None)
        return ws, json.loads(await asyncio.wait_for(ws.recv(), 20))

    async def clicks(ws: Any) -> None:
        for ref in (1, 2, 3):
            await ws.send(json.dumps({"action": "inc", "params": {}, "ref": ref}))
            await asyncio.wait_for(ws.recv(), 20)

    proc = serve(port, "--broker", redis.url)
    socks = [await join() for _ in range(sessions)]
    await asyncio.gather(*(clicks(ws) for ws, _ in socks))
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    for ws, _ in socks:
        try:
            await asyncio.wait_for(ws.recv(), 20)
        except Exception:  # the 1012 close
            pass
    await asyncio.to_thread(proc.wait, 20)
    stopped = time.monotonic() - t0
    proc2 = serve(port, "--broker", redis.url)
    up = time.monotonic() - t0
    try:
        done: list[float] = []
        restored = 0

        async def back(token: str) -> None:
            nonlocal restored
            ws, init = await join(token)
            done.append(time.monotonic() - t0)
            count = init["c"]["display"]["d"]
            if init.get("resumed") and "3" in json.dumps(count):
                restored += 1
            await ws.close()

        await asyncio.gather(*(back(init["tok"]) for _, init in socks))
    finally:
        stop(proc2)
    return [
        f"### Restart to resumed page ({sessions} sessions, 1 worker, Redis)",
        "",
        f"- SIGTERM -> old server gone (sessions saved, sockets closed with 1012): {stopped * 1000:.0f} ms",
        f"- SIGTERM -> new server listening: {up * 1000:.0f} ms",
        f"- SIGTERM -> first resumed page: {min(done) * 1000:.0f} ms; last: {max(done) * 1000:.0f} ms",
        f"- sessions back with their count: {restored} of {sessions}",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--clicks", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=200)
    args = parser.parse_args()
    redis = Redis()
    try:
        lines = part1(redis, args.rounds, args.clients, args.clicks)
        lines += part1b()
        lines += asyncio.run(asyncio.wait_for(_resume_all(free_port(), redis, args.sessions), 300))
    finally:
        redis.close()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
