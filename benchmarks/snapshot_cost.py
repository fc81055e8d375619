"""What saving sessions for a resume elsewhere costs a click, and how fast a restarted server resumes them.

    python benchmarks/snapshot_cost.py [--rounds 5] [--clients 1000] [--clicks 100] [--sessions 200]
        [--per N] [--callgrind] [--only 1|1b|2]

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
1.05) and to ``no broker``.  The server's figure is its own process tree's
(the supervisor and its worker, each once), in the click phase only, as in
every mode; the Redis server is not in that tree, so its CPU in the same
window is given apart (``rweb bench`` is handed both pids and tells them
apart), and the ratio again with it included.

What makes this ratio: a session that clicks is saved once per interval, so
the save's cost is spread over the clicks a session makes in an interval, the
clicks/s over the sessions: the same change measures worse on a busier
machine (fewer clicks/s).  Part 1b clicks as often as part 1 measured.

Part 1b, in-process (no sockets to browsers; the real Redis), where the
machine's noise is far smaller: the counter's own work per click with
snapshots and with resuming off, each in a fresh process, 1,000 sessions each
clicking ``--per`` times per interval (default: the median clicks/s with
snapshots in part 1 over ``--clients``), then the interval's save, written to
Redis and its replies read, included.  ``--callgrind`` adds the instructions
per click (Callgrind, 200 sessions; minutes).

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
import re
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


def bench(port: int, pids: str, clients: int, clicks: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "rweb.bench", "--json", "--quiet", "--url", f"ws://{HOST}:{port}/ws",
           "--server-pid", pids, "--clients", str(clients), "--clicks", str(clicks), "--max-time", "300"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=400, cwd=ROOT)
    return dict(json.loads(out.stdout))


def part1(redis: Redis, rounds: int, clients: int, clicks: int) -> tuple[list[str], float]:
    """The table, and the median clicks/s with snapshots (part 1b clicks as often per interval)."""
    modes = {
        "no broker": [],
        "redis, resume off": ["--broker", redis.url, "--resume-grace", "0"],
        "redis, snapshots": ["--broker", redis.url],
    }
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    rcpu: dict[str, list[float]] = {m: [] for m in modes}
    rate: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(rounds):
        order = list(modes) if r % 2 == 0 else list(reversed(modes))  # no mode always runs first
        for mode in order:
            port = free_port()
            proc = serve(port, *modes[mode])
            try:
                time.sleep(0.5)
                # Redis's CPU in the same window, told apart: what the snapshots cost it is a cost
                # of saving sessions too (the server's own figure leaves it out, in every mode).
                result = bench(port, f"{proc.pid},{redis.proc.pid}", clients, clicks)
            finally:
                stop(proc)
            server = result.get("server") or {}
            answered = (result.get("clicks") or {}).get("answered") or 0
            by_pid = server.get("cpu_s_by_pid") or {}
            if by_pid and answered:
                own = sum(v for k, v in by_pid.items() if int(k) != redis.proc.pid)
                cpu[mode].append(own * 1e6 / answered)
                rcpu[mode].append(by_pid.get(str(redis.proc.pid), 0.0) * 1e6 / answered)
            if result.get("throughput"):
                rate[mode].append(float(result["throughput"]))
            print(f"  round {r + 1} {mode}: {cpu[mode][-1:]} us/click", file=sys.stderr)
    med = {m: statistics.median(v) if v else float("nan") for m, v in cpu.items()}
    rmed = {m: statistics.median(v) if v else float("nan") for m, v in rcpu.items()}
    lines = [
        f"### Snapshot cost per click ({clients} sessions x {clicks} clicks, 1 worker, {rounds} rounds)",
        "",
        "| mode | server CPU per click (median) | each round | Redis CPU per click (median) | clicks/s (median) |",
        "|---|---:|---|---:|---:|",
    ]
    for m in modes:
        each = ", ".join(f"{x:.1f}" for x in cpu[m])
        qmed = statistics.median(rate[m]) if rate[m] else float("nan")
        lines.append(f"| {m} | {med[m]:.2f} us | {each} | {rmed[m]:.2f} us | {qmed:,.0f} |")
    on, off = "redis, snapshots", "redis, resume off"
    lines += [
        "",
        f"- snapshots / resume off: **{med[on] / med[off]:.3f}** (goal: under 1.05)",
        f"- snapshots / resume off, Redis's CPU included: {(med[on] + rmed[on]) / (med[off] + rmed[off]):.3f}",
        f"- snapshots / no broker: {med[on] / med['no broker']:.3f}",
        "",
    ]
    return lines, statistics.median(rate[on]) if rate[on] else float("nan")


# Part 1b, in a fresh process per mode: the counter's sessions click ``per`` times each, then the
# interval's save runs (its timer's callback) and the link writes it to Redis and reads the
# replies: an interval's work with a real Redis, without sockets to browsers.
INPROCESS = r"""
import sys, os, random, asyncio, time, logging
_seeded = random.Random(0)  # under Callgrind: the same tokens, so the same work, each run
os.urandom = random._urandom = _seeded.randbytes
sys.path.insert(0, sys.argv[1])
logging.disable(logging.WARNING)
from rweb import App, ConnectionInfo
from rweb.live.connection import Connection
from rweb_counter import session_setup
sessions, rounds, per, mode, url = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]

async def main():
    app = App("c", session_setup, slow_callback_ms=None, broker=url, resume_grace=30.0 if mode == "on" else 0,
              snapshot_interval=1e9, secret_key="snapshot-cost-benchmark-secret-0123456789")
    await app.startup()
    link = app.pubsub.link
    await link.wait_connected()
    conns = [Connection(app, i, ConnectionInfo(), lambda b: None, lambda f: None) for i in range(sessions)]
    for c in conns:
        assert c.open()[1]
    snaps = app.snapshots
    assert (snaps is not None) == (mode == "on")
    msg = b'{"action":"inc","params":{}}'
    t0 = time.process_time()
    for _ in range(rounds):
        for _ in range(per):
            for c in conns:
                c.receive(msg)
        if snaps is not None:
            snaps.flush()
        assert await link.flush(30, subscriptions=False)
    print((time.process_time() - t0) / (rounds * per * sessions) * 1e6)
    if snaps is not None:
        assert snaps.saved == rounds * sessions, snaps.saved
    await app.shutdown()

asyncio.run(main())
"""
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def inprocess(redis: Redis, mode: str, sessions: int, rounds: int, per: int, callgrind: bool = False) -> float:
    """Microseconds per click; under Callgrind, the instructions of the whole run."""
    cmd = [sys.executable, "-c", INPROCESS, str(COUNTER.parent), str(sessions), str(rounds), str(per), mode, redis.url]
    if callgrind:
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd]
        if shutil.which("setarch"):  # the same addresses, so the same hashes, each run
            cmd = ["setarch", os.uname().machine, "-R", *cmd]
    env = dict(os.environ, PYTHONHASHSEED="0")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, cwd=ROOT, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the in-process run failed:\n{out.stderr[-2000:]}")
    if callgrind:
        found = COLLECTED.search(out.stderr)
        if found is None:
            raise RuntimeError(f"no Callgrind total:\n{out.stderr[-2000:]}")
        return float(found.group(1))
    return float(out.stdout.split()[-1])


def part1b(redis: Redis, per: int, rounds: int = 5, callgrind: bool = False) -> list[str]:
    pairs = [(inprocess(redis, "off", 1000, 8, per), inprocess(redis, "on", 1000, 8, per)) for _ in range(rounds)]
    off = statistics.median(a for a, _ in pairs)
    on = statistics.median(b for _, b in pairs)
    lines = [
        f"### In-process: the counter's own work per click, {per} clicks per session per snapshot interval",
        "",
        f"1,000 sessions x {per} clicks, then the interval's save of every one, written to Redis, 8 times a "
        f"run; {rounds} alternating runs, medians:",
        "",
        f"- resume off: {off:.3f} us; snapshots: {on:.3f} us; difference **{on - off:+.3f} us per click** "
        f"({', '.join(f'{b - a:+.2f}' for a, b in pairs)})",
    ]
    if callgrind:  # instructions per click: (a run of 4 intervals - a run of 2) / the 2 more intervals' clicks
        got = {}
        for mode in ("off", "on"):
            low = inprocess(redis, mode, 200, 2, per, callgrind=True)
            high = inprocess(redis, mode, 200, 4, per, callgrind=True)
            got[mode] = (high - low) / (2 * per * 200)
        lines.append(
            f"- Callgrind, instructions per click (200 sessions): resume off {got['off']:,.0f}; "
            f"snapshots {got['on']:,.0f} ({got['on'] / got['off'] - 1:+.1%})"
        )
    return [*lines, ""]


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
    parser.add_argument("--per", type=int, default=0,
                        help="part 1b's clicks per session per interval (default: as measured in part 1)")
    parser.add_argument("--callgrind", action="store_true", help="part 1b in instructions too (valgrind; minutes)")
    parser.add_argument("--only", choices=("1", "1b", "2"), help="run one part only")
    args = parser.parse_args()
    redis = Redis()
    try:
        lines: list[str] = []
        rate = float("nan")
        if args.only in (None, "1"):
            part, rate = part1(redis, args.rounds, args.clients, args.clicks)
            lines += part
        if args.only in (None, "1b"):
            per = args.per or (round(rate / args.clients) if rate == rate else 25)
            lines += part1b(redis, max(per, 1), callgrind=args.callgrind)
        if args.only in (None, "2"):
            lines += asyncio.run(asyncio.wait_for(_resume_all(free_port(), redis, args.sessions), 300))
    finally:
        redis.close()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
