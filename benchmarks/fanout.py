#!/usr/bin/env python3
"""Real time, measured: fan-out of one write, and what a broker costs a click that shares nothing.

Against real servers (``benchmarks/fanout_app.py``, started here as subprocesses on free
127.0.0.1 ports), with clients in this process (picows on uvloop):

1. **Fan-out**: N reader sessions show a record that every session shares; one extra
   session writes it (an action), ``--writes`` times, spaced out. Per write: the time from
   sending the action to the moment the *last* of the N readers has its push, and
   deliveries/s = N / that time. P50 / P99 over the writes (with 20 writes, the P99 is the
   slowest write), the median deliveries/s, and the server's CPU per delivery. Servers:
   - ``bare``: the ceiling, a bare picows server that forwards each message to every other
     connection (what ``shared/reference/anchors.md`` measures Phoenix against);
   - ``local``: rweb, 1 worker, no broker (the record is shared in-process);
   - ``redis``: rweb, 2 workers, ``broker=redis://...`` and ``app.share``: the readers are
     split evenly between the workers (each session's page shows its worker's pid; sessions
     are opened until both have their half, the surplus closed), the writer is on one
     worker, and the other half of the readers get the write through Redis;
   - ``own``: ``local`` where each reader's component also reads a record of its own, so
     that each renders on its own (no shared render): the per-reader path, its garbage;
   - ``redis1``: the same app and broker on 1 worker (the publish goes out, nobody else
     reads it): what the second worker adds, like for like (``--modes local,redis1,redis``).

   Issue 19's latency targets, a second table for the same rows (n/a for ``bare``, which
   answers no write and forwards every message):
   - **the writer's reply**: per counted write, the time from sending it to the writer's own
     answer (``{"t":"r",...}``: its page's change comes in it, before the other readers'
     pushes); P50 and P99 pooled over the rounds (target: P50 < 5 ms at 5,000 readers);
   - **the writes' spread**: P99 / P50 of send -> last delivery (target: <= 2 at 10,000);
   - **a bystander's click**: after the counted writes, ``--bystander-writes`` more (default:
     as many), during which a session of ``fanout_app.py``'s page ``/clicks`` (a counter of
     its own, nothing shared) on the writer's worker (sessions are opened until one's page
     shows the writer's pid) clicks from a process of its own (``fanout.py bystander``, so
     that the readers' deliveries to this process do not delay its replies), one click in
     flight at a time, the next ``--bystander-pause`` ms after the reply; kept: the round
     trips of the clicks in flight while a write was being delivered (sent before its last
     delivery, answered after it was sent), how many, P50 and P99 pooled over the rounds
     (target: P99 < 50 ms at 5,000 readers), and its idle round trip (0.3 s of clicks before
     those writes). These writes count in no other figure (the server's CPU stops before).
2. **Click path** (``rweb bench``): the seed's counter, per-session state only, with and
   without ``broker=redis://...``, same workers, both servers up at once, interleaved
   rounds (a warm-up each first): server CPU µs/click (its processes from /proc, each
   counted once) and throughput, with / without. The goal: no cost at all.
3. **Floor**: Redis pub/sub, publish -> one subscriber's receive (redis-py, as
   ``redis_client.py`` measures it), and the same through rweb's ``RedisPubSub``.

Prints markdown tables on stdout (progress on stderr). Every loop is bounded in count and
time; every process started here is stopped (SIGTERM, then SIGKILL) also on errors.

    python benchmarks/fanout.py                      # 1,000, 5,000 and 10,000 sessions, 20 writes, 5 rounds
    python benchmarks/fanout.py --quick              # 200 sessions, 5 writes, small click runs
    python benchmarks/fanout.py --sessions 1000 --writes 50 --parts fanout
    python benchmarks/fanout.py --sessions 5000 --modes local,redis --parts fanout --bystander-writes 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter_ns
from typing import Any, TypeVar

import orjson
from picows import WSListener, WSMsgType, WSTransport, ws_connect

from rweb.bench import procfs
from rweb.words.protocol import Key, MessageType

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))  # compare.py and redis_client.py, beside this file

import compare  # noqa: E402
import redis_client  # noqa: E402

HOST = "127.0.0.1"
APP = BENCH / "fanout_app.py"
TEXT, CLOSE = WSMsgType.TEXT, WSMsgType.CLOSE
REPLY = orjson.dumps({Key.T.value: MessageType.REPLY.value})[:-1]  # b'{"t":"r"': an answer begins so
CLICKS_PAGE = "?url=%2Fclicks"  # fanout_app.py's bystander page: a counter of its own, nothing shared
T = TypeVar("T")

# shared/reference/anchors.md, "fan-out, 1 writer -> 1000 readers x 100 posts", each as a
# ratio to a bare picows server forwarding every post to every other connection, same run.
ANCHORS: dict[str, dict[str, float]] = {
    "deliveries/s, share of bare": {"rweb (then)": 0.66, "Phoenix LiveView 0.20": 0.38, "PyView 0.9": 0.12},
    "server CPU per delivery, x bare": {"rweb (then)": 2.3, "Phoenix LiveView 0.20": 5.6, "PyView 0.9": 14},
    "post to last delivery P50, x bare": {"rweb (then)": 1.4, "Phoenix LiveView 0.20": 2.6, "PyView 0.9": 7.6},
}

MODES = {
    "bare": "bare picows fan-out (1 process) = ceiling",
    "local": "rweb, 1 worker, no broker",
    "redis": "rweb, 2 workers, Redis broker",
    "redis1": "rweb, 1 worker, Redis broker",
    "own": "rweb, 1 worker, no broker, a render per reader",
}
REDIS_MODES = {"redis": 2, "redis1": 1}  # mode -> workers, each with broker=redis://... and app.share


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop (as the servers and ``rweb bench`` do) when it is installed."""
    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))]


def schedstat_ns(pid: int) -> tuple[int, int] | None:
    """A process's time on a CPU and time runnable but waiting for one (ns), its live threads
    summed: the first two fields of /proc/PID/task/*/schedstat (the second is the kernel's run
    delay); None where the process or its schedstat is missing."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    run = wait = 0
    ok = False
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                fields = f.read().split()
            run += int(fields[0])
            wait += int(fields[1])
            ok = True
        except (OSError, ValueError, IndexError):
            continue
    return (run, wait) if ok else None


def cpu_snapshot_ns(pids: list[int]) -> dict[int, int]:
    """CPU time (ns) of each process, its live threads summed (:func:`schedstat_ns`: nanoseconds;
    /proc/PID/stat counts 10 ms ticks, too coarse for a few hundred ms of work). Falls back to the
    ticks where schedstat is missing."""
    out: dict[int, int] = {}
    for pid in pids:
        got = schedstat_ns(pid)
        if got is not None:
            out[pid] = got[0]
            continue
        ticks = procfs.cpu_ticks(pid)
        if ticks is not None:
            out[pid] = ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    return out


def wait_snapshot_ns(groups: dict[str, list[int]]) -> dict[str, int]:
    """Per group of processes (the servers, the client, Redis), the time they spent runnable
    but waiting for a CPU so far (ns, :func:`schedstat_ns`); a group none of whose processes
    can be read is left out."""
    out: dict[str, int] = {}
    for name, pids in groups.items():
        got = [w for pid in pids if (w := schedstat_ns(pid)) is not None]
        if got:
            out[name] = sum(wait for _, wait in got)
    return out


def cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """Between two snapshots; a process that appeared in between counts from zero."""
    return sum(v - before.get(p, 0) for p, v in after.items()) / 1e9


def other_benchmarks() -> list[int]:
    """Pids of a ``compare.py`` run (another benchmark) on this machine, which would disturb this one."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"compare.py") for a in argv[:3]):
            found.append(int(name))
    return found


SEEN_BUSY: set[int] = set()


def note_other_benchmarks() -> None:
    pids = other_benchmarks()
    if pids and not SEEN_BUSY.issuperset(pids):
        log(f"warning: benchmarks/compare.py is running (pids {pids}): these figures are disturbed")
    SEEN_BUSY.update(pids)


# -- processes -----------------------------------------------------------------------------
class Proc(compare.GroupProcess):
    """A server of this benchmark (compare.py's process handling: own group, log, SIGTERM then SIGKILL)."""

    def __init__(self, argv: list[str], name: str, port: int, env: dict[str, str] | None = None) -> None:
        self.name = name
        super().__init__(argv, f"fanout-{name}", port, env)

    def wait_listening(self, timeout: float = 30.0) -> None:
        err = self.wait_ready(timeout)
        if err is not None:
            raise RuntimeError(f"{self.name}: {err}")

    def pids(self) -> list[int]:
        """The server's processes: the parent and its workers, each once."""
        return procfs.with_descendants([self.proc.pid])

    def tail(self, lines: int = 3) -> str:
        return self.log_tail(lines)


@contextlib.contextmanager
def app_server(page: str, name: str, workers: int = 1, broker: str | None = None,
               extra: list[str] | None = None, src: Path | None = None) -> Iterator[Proc]:
    """``fanout_app.py`` serving ``page``; on the rweb of ``src`` (another built checkout's
    ``src/``) if given, else this checkout's."""
    port = compare.free_port()
    argv = [sys.executable, str(APP), "--page", page, "--host", HOST, "--port", str(port),
            "--workers", str(workers), *(extra or [])]
    if broker:
        argv += ["--broker", broker]
    proc = Proc(argv, name, port, None if src is None else {"PYTHONPATH": str(src)})
    try:
        proc.wait_listening()
        time.sleep(0.5 if workers == 1 else 1.0)  # every worker up (and, with a broker, subscribed)
        yield proc
    finally:
        proc.stop()


# The private redis-server's pid while it runs (its waits for a CPU are counted: fanout_client).
REDIS_PIDS: list[int] = []


@contextlib.contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """A private redis-server on a free loopback port (redis_client.start_redis), or ``url``."""
    if url is not None:
        yield url
        return
    proc, url, workdir = redis_client.start_redis()
    REDIS_PIDS.append(proc.pid)
    try:
        yield url
    finally:
        REDIS_PIDS.remove(proc.pid)
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


# -- the fan-out client --------------------------------------------------------------------
class Reader(WSListener):
    """One session. Its first message (the page) tells its worker's pid; after that, the
    first message of each write that carries the write's value is its delivery."""

    __slots__ = ("c", "closing", "i", "pid", "ready", "seen", "transport")

    def __init__(self, c: FanoutClient, i: int) -> None:
        super().__init__()
        self.c = c
        self.i = i  # index in c.times; -1: the writer
        self.pid = 0
        self.seen = -1  # the last write it got
        self.closing = False
        self.transport: WSTransport | None = None
        self.ready: asyncio.Future[None] = c.loop.create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        now = perf_counter_ns()
        mt = frame.msg_type
        if mt is CLOSE:
            self.closing = True
            transport.disconnect()
            return
        if mt is not TEXT:
            return
        c = self.c
        if not self.pid:
            if self.ready.done():
                return
            try:
                self.pid = page_pid(frame.get_payload_as_bytes())
            except (ValueError, KeyError, IndexError, TypeError):
                text = frame.get_payload_as_bytes()[:120].decode(errors="replace")
                self.ready.set_exception(ConnectionError(f"not a page: {text}"))
                self.ready.exception()  # retrieved (open_one awaits it)
                return
            self.ready.set_result(None)
            return
        data = frame.get_payload_as_bytes()
        if self.i < 0:  # the writer: its reply (the first one per write; no push comes to it)
            if not c.reply_ns and data.startswith(REPLY):
                c.reply_ns = now
            if b'"e":{"code"' in data and c.error is None:
                c.error = data.decode(errors="replace")[:200]
            return
        if self.seen != c.seq and c.expect and c.expect in data:
            self.seen = c.seq
            c.times[self.i] = now
            c.left -= 1
            if c.left == 0 and not c.done.done():
                c.done.set_result(None)
        else:
            c.other += 1

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.closing:
            self.c.lost += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("disconnected before the page came"))
            self.ready.exception()  # retrieved

    def close(self) -> None:
        self.closing = True
        t = self.transport
        if t is not None and not t.is_disconnected:
            with contextlib.suppress(Exception):
                t.send_close()
                t.disconnect()


def page_pid(data: bytes) -> int:
    """The worker pid on a page: rweb's init (component ``pid``) or the bare server's."""
    msg = orjson.loads(data)
    if "pid" in msg:
        return int(msg["pid"])
    return int(msg["c"]["pid"]["d"][0])


@dataclass
class WriteResult:
    t_last_ns: int | None  # send -> last delivery
    missed: int
    t0_ns: int = 0  # when the write was sent (perf_counter_ns: CLOCK_MONOTONIC, the bystander's too)
    reply_ns: int | None = None  # send -> the writer's reply
    per_pid_last_ns: dict[int, int] = field(default_factory=dict)
    per_pid_first_ns: dict[int, int] = field(default_factory=dict)
    client_cpu_s: float = 0.0
    wall_s: float = 0.0


class FanoutClient:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.readers: list[Reader] = []
        self.writer: Reader | None = None
        self.times: list[int] = []
        self.seq = -1
        self.expect = b""
        self.left = 0
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.lost = 0  # sessions the server dropped
        self.other = 0  # messages that were no delivery
        self.connect_failed: Counter[str] = Counter()
        self.opened = 0  # reader sessions opened, the surplus closed while balancing included
        self.error: str | None = None
        self.reply_ns = 0  # when the writer's reply to the current write came (0: not yet)

    async def open_one(self, i: int) -> Reader | None:
        r = Reader(self, i)
        self.opened += 1 if i >= 0 else 0
        try:
            await asyncio.wait_for(
                ws_connect(lambda: r, self.url, websocket_handshake_timeout=self.timeout,
                           read_buffer_init_size=2048, max_redirects=0),
                self.timeout,
            )
            await asyncio.wait_for(asyncio.shield(r.ready), self.timeout)
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            self.connect_failed[f"{type(exc).__name__}: {exc}"[:80]] += 1
            r.close()
            return None
        return r

    async def open_many(self, n: int, concurrency: int = 200) -> list[Reader]:
        sem = asyncio.Semaphore(concurrency)

        async def one() -> Reader | None:
            async with sem:
                return await self.open_one(0)

        got = await asyncio.gather(*(one() for _ in range(n)))
        return [r for r in got if r is not None]

    async def connect(self, n: int, workers: int, fd_budget: int, max_rounds: int = 20) -> None:
        """The writer, then ``n`` readers, ``n / workers`` on each worker (by their pages' pids).

        Which worker accepts a connection is the kernel's choice: sessions are opened until
        every worker has its share (bounded rounds), and the surplus is closed each round.
        """
        self.writer = await self.open_one(-1)
        if self.writer is None:
            raise RuntimeError(f"the writer could not connect: {dict(self.connect_failed)}")
        readers = await self.open_many(n)
        for rnd in range(max_rounds + 1):
            counts = Counter(r.pid for r in readers)
            pids = sorted(counts, key=lambda p: -counts[p])[:workers]
            quota = {p: n // workers + (1 if k < n % workers else 0) for k, p in enumerate(pids)}
            keep: list[Reader] = []
            for r in readers:
                if quota.get(r.pid, 0) > 0:
                    quota[r.pid] -= 1
                    keep.append(r)
                else:
                    r.close()  # on a worker that already has its share
            readers = keep
            want = min(max(2 * (n - len(readers)), 16), fd_budget - len(readers))
            if len(readers) == n or rnd == max_rounds or want <= 0:
                break
            readers += await self.open_many(want)
        for i, r in enumerate(readers):
            r.i = i
        self.readers = readers
        self.times = [0] * len(readers)
        if len(readers) < n:
            raise RuntimeError(f"{len(readers):,} of {n:,} sessions connected, {n // workers:,} per "
                               f"worker wanted (split {self.split()}); failures: {dict(self.connect_failed)}")

    def split(self) -> dict[int, int]:
        return dict(Counter(r.pid for r in self.readers))

    async def write(self, seq: int, value: int, rweb: bool) -> WriteResult:
        assert self.writer is not None and self.writer.transport is not None
        self.seq = seq
        self.expect = (b'"%d"' if rweb else b"%d") % value
        self.left = len(self.readers)
        self.reply_ns = 0
        self.done = self.loop.create_future()
        times = self.times
        for i in range(len(times)):
            times[i] = 0
        msg = orjson.dumps({"action": "set", "params": {"value": value}})
        cpu0 = time.process_time()
        t0 = perf_counter_ns()
        self.writer.transport.send(TEXT, msg)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.done), self.timeout)
        wall = (perf_counter_ns() - t0) / 1e9
        cpu = time.process_time() - cpu0
        if rweb:  # its reply comes before the pushes; should it not have come yet, a bounded wait
            for _ in range(100):
                if self.reply_ns:
                    break
                await asyncio.sleep(0.01)
        got = [t for t in times if t]
        last: dict[int, int] = {}
        first: dict[int, int] = {}
        for r in self.readers:
            t = times[r.i]
            if t:
                last[r.pid] = max(last.get(r.pid, 0), t - t0)
                first[r.pid] = min(first.get(r.pid, t - t0), t - t0)
        return WriteResult(max(got) - t0 if got else None, len(times) - len(got), t0,
                           self.reply_ns - t0 if self.reply_ns else None, last, first, cpu, wall)

    async def close(self) -> None:
        everyone = [*self.readers, *([self.writer] if self.writer else [])]
        for r in everyone:
            r.close()
        waits = [asyncio.ensure_future(r.transport.wait_disconnected())
                 for r in everyone if r.transport is not None and not r.transport.is_disconnected]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=3)
            for p in pending:
                p.cancel()


async def fanout_client(url: str, n: int, workers: int, writes: int, warmup: int, gap: float,
                        timeout: float, rweb: bool, server: Proc, fd_budget: int,
                        bystander_writes: int = 0, bystander_pause: float = 0.001,
                        on_counted: Callable[[bool], None] | None = None) -> dict[str, Any]:
    """One fan-out run against ``server``; ``on_counted(True)`` is called as the counted writes
    begin and ``on_counted(False)`` as they end (fanout_perf.py records the server between)."""
    c = FanoutClient(url, timeout)
    t = time.monotonic()
    try:
        await c.connect(n, workers, fd_budget)
        connect_s = time.monotonic() - t
        assert c.writer is not None
        writer_pid = c.writer.pid
        results: list[WriteResult] = []
        cpu0: dict[int, int] = {}
        waits = {"servers": server.pids(), "client": [os.getpid()], "redis": list(REDIS_PIDS)}
        wait0: dict[str, int] = {}
        for k in range(warmup + writes):
            if k == warmup:
                if on_counted is not None:
                    on_counted(True)
                cpu0 = cpu_snapshot_ns(server.pids())
                wait0 = wait_snapshot_ns(waits)
            res = await c.write(k, 90_000_000 + k, rweb)
            if k >= warmup:
                results.append(res)
            await asyncio.sleep(gap)
        cpu1 = cpu_snapshot_ns(server.pids())
        wait1 = wait_snapshot_ns(waits)
        if on_counted is not None:
            on_counted(False)
        server_cpu_s = cpu_seconds(cpu0, cpu1)
        lost_during = c.lost
        by: dict[str, Any] | None = None
        if rweb and bystander_writes:  # after the counted writes: their figures stay a bystander's free
            by = await bystander_phase(c, url, writer_pid, warmup + writes, bystander_writes, gap, timeout,
                                       bystander_pause)
    finally:
        await c.close()
    done = [r.t_last_ns / 1e6 for r in results if r.t_last_ns is not None and not r.missed]
    delivered = sum(n - r.missed for r in results)
    out: dict[str, Any] = {
        "sessions": n,
        "split": c.split(),
        "writer_pid": writer_pid,
        "connect_s": connect_s,
        "opened_sessions": c.opened,
        "writes": len(results),
        "complete_writes": len(done),
        "missed": sum(r.missed for r in results),
        "lost_sessions": lost_during,
        "other_messages": c.other,
        "writer_error": c.error,
        "t_last_ms": [r.t_last_ns / 1e6 if r.t_last_ns is not None else None for r in results],
        "writer_reply_ms": [r.reply_ns / 1e6 if r.reply_ns is not None else None for r in results]
        if rweb else None,
        "bystander": by,
        "server_cpu_us_per_delivery": server_cpu_s * 1e6 / delivered if delivered else None,
        "server_cpu_ms_per_write": server_cpu_s * 1e3 / len(results) if results else None,
        # runnable but not running, per counted write: who waited for one of the cores, and how long
        "wait_ms_per_write": {g: (wait1[g] - wait0[g]) / 1e6 / len(results)
                              for g in wait1 if g in wait0 and results},
        "client_cores": (sum(r.client_cpu_s for r in results) / sum(r.wall_s for r in results)
                         if results else None),
        "client_cpu_ms_per_write": sum(r.client_cpu_s for r in results) * 1e3 / len(results) if results else None,
    }
    if done:
        out["p50_ms"] = pct(done, 50)
        out["p99_ms"] = pct(done, 99)
        out["p99_over_p50"] = out["p99_ms"] / out["p50_ms"]
        out["deliveries_per_s"] = statistics.median(n / (ms / 1000) for ms in done)
    if workers > 1:
        local = [r.per_pid_last_ns[writer_pid] / 1e6 for r in results
                 if not r.missed and writer_pid in r.per_pid_last_ns]
        other = [max(v for p, v in r.per_pid_last_ns.items() if p != writer_pid) / 1e6
                 for r in results if not r.missed and len(r.per_pid_last_ns) > 1]
        other_first = [min(v for p, v in r.per_pid_first_ns.items() if p != writer_pid) / 1e6
                       for r in results if not r.missed and len(r.per_pid_first_ns) > 1]
        out["writer_worker_p50_ms"] = statistics.median(local) if local else None
        out["other_worker_p50_ms"] = statistics.median(other) if other else None
        out["other_worker_first_p50_ms"] = statistics.median(other_first) if other_first else None
        local_first = [r.per_pid_first_ns[writer_pid] / 1e6 for r in results
                       if not r.missed and writer_pid in r.per_pid_first_ns]
        out["writer_worker_first_p50_ms"] = statistics.median(local_first) if local_first else None
    return out


# -- the bystander: a session of its own on the writer's worker, clicking while a post fans out --
CLICK = orjson.dumps({"action": "inc", "params": {}})


class Clicker(WSListener):
    """The bystander's session, in a process of its own (``fanout.py bystander``), so that the
    readers' deliveries, which keep this script's process busy, do not delay its replies.
    While a window is open it clicks, one click in flight at a time, the next one sent
    ``pause_s`` after the reply comes (a person's pace, not a load generator's: a click every
    reply would keep a core and the server busy; at most ``max_clicks`` per window); each click's send and reply times
    (perf_counter_ns: CLOCK_MONOTONIC, the same clock in every process) are kept."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_clicks: int, pause_s: float) -> None:
        super().__init__()
        self.loop = loop
        self.pause_s = pause_s
        self.transport: WSTransport | None = None
        self.pid = 0
        self.ready: asyncio.Future[None] = loop.create_future()
        self.window = -1
        self.clicking = False
        self.sent_ns = 0  # the click in flight (0: none)
        self.in_window = 0
        self.max_clicks = max_clicks
        self.clicks: list[tuple[int, int, int]] = []  # (window, sent, reply)

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        now = perf_counter_ns()
        if frame.msg_type is CLOSE:
            transport.disconnect()
            return
        if frame.msg_type is not TEXT:
            return
        data = frame.get_payload_as_bytes()
        if not self.ready.done():
            try:
                self.pid = page_pid(data)
            except (ValueError, KeyError, IndexError, TypeError):
                self.ready.set_exception(ConnectionError(f"not a page: {data[:120]!r}"))
                self.ready.exception()  # retrieved
                return
            self.ready.set_result(None)
        elif self.sent_ns and data.startswith(REPLY):
            self.clicks.append((self.window, self.sent_ns, now))
            self.sent_ns = 0
            self.loop.call_later(self.pause_s, self.click)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.clicking = False
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("disconnected before the page came"))
            self.ready.exception()

    def click(self) -> None:
        t = self.transport
        if self.clicking and not self.sent_ns and self.in_window < self.max_clicks \
                and t is not None and not t.is_disconnected:
            self.in_window += 1
            self.sent_ns = perf_counter_ns()
            t.send(TEXT, CLICK)

    def start(self) -> None:
        self.window += 1
        self.in_window = 0
        self.clicking = True
        self.click()

    def stop(self, window: int | None = None) -> None:
        if window is None or window == self.window:
            self.clicking = False

    def close(self) -> None:
        t = self.transport
        if t is not None and not t.is_disconnected:
            with contextlib.suppress(Exception):
                t.send_close()
                t.disconnect()


async def bystander_child(url: str, want_pid: int, timeout: float, pause_s: float, max_clicks: int = 5000,
                          window_s: float = 30.0, max_time: float = 600.0, attempts: int = 64) -> int:
    """``fanout.py bystander URL PID TIMEOUT PAUSE``: open sessions until one is on the worker ``PID`` (at
    most ``attempts``), say ``ready PID ATTEMPTS`` on stdout, then obey stdin's lines: ``g``
    opens a click window (closed by ``s``, or after ``window_s``), ``q`` (or EOF, or
    ``max_time``) ends: the clicks, as one JSON line on stdout."""
    loop = asyncio.get_running_loop()
    me: Clicker | None = None
    others: list[Clicker] = []
    tried, error = 0, ""
    while tried < attempts and me is None:
        tried += 1
        c = Clicker(loop, max_clicks, pause_s)
        try:
            await asyncio.wait_for(ws_connect(lambda c=c: c, url, websocket_handshake_timeout=timeout,
                                              max_redirects=0), timeout)
            await asyncio.wait_for(asyncio.shield(c.ready), timeout)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
            c.close()
            continue
        if c.pid == want_pid:
            me = c
        else:
            others.append(c)  # open until the search ends: the kernel spreads new sockets anew
    for c in others:
        c.close()
    if me is None:
        print(json.dumps({"error": f"no session on worker {want_pid} in {tried} tries {error}".strip()}),
              flush=True)
        return 1
    print(f"ready {me.pid} {tried}", flush=True)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    deadline = loop.time() + max_time
    while True:
        try:
            line = await asyncio.wait_for(stdin.readline(), max(0.1, deadline - loop.time()))
        except TimeoutError:
            break
        if line == b"g\n":
            me.start()
            loop.call_later(window_s, me.stop, me.window)
        elif line == b"s\n":
            me.stop()
        else:  # q, EOF
            break
    me.stop()
    for _ in range(100):  # the click in flight, bounded
        if not me.sent_ns:
            break
        await asyncio.sleep(0.01)
    me.close()
    print(json.dumps({"pid": me.pid, "tries": tried, "unanswered": int(bool(me.sent_ns)),
                      "clicks": me.clicks}), flush=True)
    return 0


async def bystander_phase(c: FanoutClient, url: str, writer_pid: int, seq0: int, writes: int, gap: float,
                          timeout: float, pause_s: float, idle_s: float = 0.3) -> dict[str, Any]:
    """A bystander (``bystander_child``, a process of its own) on the writer's worker clicks
    during ``writes`` more writes, and for ``idle_s`` before them (its idle round trip).
    The clicks in flight while a write was being delivered (sent before its last delivery,
    answered after it was sent) are its figures."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "bystander", url + CLICKS_PAGE, str(writer_pid),
        str(timeout), str(pause_s), stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdin is not None and proc.stdout is not None
    windows: list[tuple[int, int]] = []
    replies: list[float | None] = []
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30 + timeout)
        if not line.startswith(b"ready "):
            return {"error": line.decode(errors="replace").strip()[:300] or "the bystander did not start"}
        proc.stdin.write(b"g\n")  # its idle round trip: no write under way
        await asyncio.sleep(idle_s)
        proc.stdin.write(b"s\n")
        await asyncio.sleep(0.05)
        for k in range(writes):
            proc.stdin.write(b"g\n")
            res = await c.write(seq0 + k, 90_000_000 + seq0 + k, True)
            proc.stdin.write(b"s\n")
            end = res.t_last_ns if res.t_last_ns is not None and not res.missed else int(res.wall_s * 1e9)
            windows.append((res.t0_ns, res.t0_ns + end))
            replies.append(res.reply_ns / 1e6 if res.reply_ns is not None else None)
            await asyncio.sleep(gap)
        out, _ = await asyncio.wait_for(proc.communicate(b"q\n"), 30)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    got = json.loads(out.decode().strip().splitlines()[-1])
    if "error" in got:
        return dict(got)
    idle = [(b - a) / 1e6 for w, a, b in got["clicks"] if w == 0]
    during = [round((b - a) / 1e6, 4) for w, a, b in got["clicks"]
              if 0 < w <= len(windows) and a < windows[w - 1][1] and b > windows[w - 1][0]]
    return {"pid": got["pid"], "on_writer_worker": got["pid"] == writer_pid, "tries": got["tries"],
            "writes": len(windows), "clicks": len(got["clicks"]), "unanswered": got["unanswered"],
            "idle_n": len(idle), "idle_p50_ms": pct(idle, 50) if idle else None,
            "during_ms": during, "writer_reply_ms": replies}


def run_fanout(mode: str, n: int, args: argparse.Namespace, redis_url: str | None) -> dict[str, Any]:
    workers = REDIS_MODES.get(mode, 1)
    page = mode if mode in ("bare", "own") else "fanout"
    broker = redis_url if mode in REDIS_MODES else None
    if mode in REDIS_MODES and broker is None:
        return {"error": "no Redis"}
    log(f"fan-out: {MODES[mode]}, {n:,} sessions, {args.writes} writes")
    note_other_benchmarks()

    async def bounded(server: Proc) -> dict[str, Any]:
        url = f"ws://{HOST}:{server.port}/" + ("" if mode == "bare" else "ws")
        timeout = max(10.0, n / 1000)  # one connection, one write
        return await asyncio.wait_for(
            fanout_client(url, n, workers, args.writes, args.warmup, args.gap, timeout,
                          mode != "bare", server, args.fd_budget, args.bystander_writes,
                          args.bystander_pause / 1000),
            args.max_time,
        )

    gc_dir = Path(tempfile.mkdtemp(prefix="rweb-fanout-gc-"))
    extra = [] if mode == "bare" else ["--gc-log", str(gc_dir / "gc"), *args.server_args]
    try:
        with app_server(page, f"{mode}-{n}", workers, broker, extra) as server:
            result = run_loop(bounded(server))
            if server.proc.poll() is not None:
                result["error"] = f"the server exited: {server.tail()}"
        if extra and "t_last_ms" in result:
            result["gc"] = gc_during_writes(gc_dir, args.warmup, result["t_last_ms"])
    except Exception as exc:  # this row fails; the others still run
        result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        shutil.rmtree(gc_dir, ignore_errors=True)
    log("  " + one_line(result))
    return result


def gc_during_writes(gc_dir: Path, warmup: int, t_last_ms: list[float | None]) -> dict[str, Any] | None:
    """The servers' garbage collections (fanout_app.py --gc-log) from the first counted write
    to the last one's last delivery: per generation, how many, their total and longest pause."""
    logs = [json.loads(p.read_text()) for p in sorted(gc_dir.glob("gc.*"))]
    writes = next((lg["writes"] for lg in logs if lg["writes"]), [])
    if len(writes) <= warmup:
        return None
    start = writes[warmup]
    last = writes[min(len(writes), warmup + len(t_last_ms)) - 1]  # the bystander's writes come after
    end = last + max((t or 0.0) for t in t_last_ms) / 1000 + 0.01
    out: dict[str, Any] = {"frozen": [lg["frozen"] for lg in logs],
                           "tracked": [n for lg in logs for n in lg["tracked"]]}
    for gen in (0, 1, 2):
        pauses = [ms for lg in logs for t, g, ms, _ in lg["collections"] if g == gen and start <= t <= end]
        out[f"gen{gen}"] = {"n": len(pauses), "total_ms": sum(pauses), "max_ms": max(pauses, default=0.0)}
    return out


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median deliveries/s (the rounds' range kept in it); the last error if all
    failed. The writer's replies and the bystander's clicks are pooled over every round."""
    good = sorted((r for r in runs if r.get("deliveries_per_s")), key=lambda r: r["deliveries_per_s"])
    if not good:
        return runs[-1]
    mid = dict(good[(len(good) - 1) // 2])
    mid["rounds"] = len(runs)
    mid["deliveries_per_s_range"] = [good[0]["deliveries_per_s"], good[-1]["deliveries_per_s"]]
    mid.update(latencies(runs))
    return mid


def latencies(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The writer's reply (P50, P99 over the counted writes) and the bystander's clicks in flight
    during a delivery (how many, P50, P99; its idle P50: the median of the runs'), over ``runs``."""
    replies = [x for r in runs for x in (r.get("writer_reply_ms") or []) if x is not None]
    bys = [b for r in runs if (b := r.get("bystander")) and "error" not in b]
    during = [x for b in bys for x in b["during_ms"]]
    idle = [b["idle_p50_ms"] for b in bys if b.get("idle_p50_ms") is not None]
    errors = [b["error"] for r in runs if (b := r.get("bystander")) and "error" in b]
    return {
        "writer_reply_n": len(replies),
        "writer_reply_p50_ms": pct(replies, 50) if replies else None,
        "writer_reply_p99_ms": pct(replies, 99) if replies else None,
        "bystander_n": len(during),
        "bystander_p50_ms": pct(during, 50) if during else None,
        "bystander_p99_ms": pct(during, 99) if during else None,
        "bystander_idle_p50_ms": statistics.median(idle) if idle else None,
        "bystander_on_writer_worker": all(b["on_writer_worker"] for b in bys) if bys else None,
        "bystander_errors": errors,
    }


def one_line(r: dict[str, Any]) -> str:
    if "error" in r:
        return str(r["error"])
    gc_ = r.get("gc") or {}
    full = gc_.get("gen2") or {}
    lat = latencies([r])
    return (f"P50 {fmt_ms(r.get('p50_ms'))}, P99 {fmt_ms(r.get('p99_ms'))}, "
            f"{r.get('deliveries_per_s') or 0:,.0f} deliveries/s, split {sorted(r['split'].values())}, "
            f"{r['missed']} missed, connect {r['connect_s']:.1f} s"
            + (f", writer's reply P50 {fmt_ms(lat['writer_reply_p50_ms'])}" if lat["writer_reply_n"] else "")
            + (f", bystander P50 {fmt_ms(lat['bystander_p50_ms'])} P99 {fmt_ms(lat['bystander_p99_ms'])} "
               f"({lat['bystander_n']} clicks)" if lat["bystander_n"] else "")
            + "".join(f", bystander: {e}" for e in lat["bystander_errors"])
            + (f", full collections {full['n']} (longest {full['max_ms']:.0f} ms)" if full else ""))


# -- the click path: a broker's cost when nothing is shared -----------------------------------
def run_bench(server: Proc, clients: int, clicks: int, max_time: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "rweb.bench", "--json", "--quiet", "--url", f"ws://{HOST}:{server.port}/ws",
           "--clients", str(clients), "--clicks", str(clicks), "--server-pid", str(server.proc.pid),
           "--max-time", str(max_time)]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=compare.bench_env(), timeout=max_time + 60, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": "rweb bench did not finish in time"}
    try:
        return dict(json.loads(proc.stdout))
    except json.JSONDecodeError:
        return {"error": f"rweb bench failed (exit code {proc.returncode})"}


def click_path(args: argparse.Namespace, redis_url: str) -> dict[str, Any]:
    w = args.click_workers
    log(f"click path: counter, {w} worker(s), {args.click_clients} clients x {args.click_clicks} clicks, "
        f"{args.click_rounds} rounds, with and without a broker")
    runs: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
    with app_server("counter", "counter-no-broker", w) as a, \
            app_server("counter", "counter-redis", w, redis_url) as b:
        servers = {"without": a, "with": b}
        redis_clients = broker_connections(redis_url)
        for srv in servers.values():  # warm-up, not counted
            run_bench(srv, args.click_clients, args.click_clicks, 120)
        for rnd in range(args.click_rounds):
            order = ["without", "with"] if rnd % 2 == 0 else ["with", "without"]
            for key in order:
                note_other_benchmarks()
                r = run_bench(servers[key], args.click_clients, args.click_clicks, 120)
                runs[key].append(r)
                if "error" in r:
                    log(f"  round {rnd + 1} {key} broker: {r['error']}")
                else:
                    log(f"  round {rnd + 1} {key} broker: {r['throughput']:,.0f} clicks/s, "
                        f"{(r.get('server') or {}).get('cpu_us_per_click') or 0:.1f} µs/click, "
                        f"{r['failed_sessions']} failed")
    return {"workers": w, "runs": runs, "redis_clients": redis_clients}


def broker_connections(url: str) -> int | None:
    """Connections to Redis other than this one's (the broker's: two per worker), or None."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=5)
        try:
            return max(0, len(client.client_list()) - 1)
        finally:
            client.close()
    except Exception:
        return None


# -- the floor: Redis pub/sub to one subscriber -------------------------------------------------
def floor(args: argparse.Namespace, redis_url: str) -> dict[str, Any]:
    log(f"floor: Redis pub/sub to one subscriber, {args.floor_rounds} rounds of {args.floor_messages} messages")
    out: dict[str, list[dict[str, float]]] = {"redis-py": [], "rweb": []}
    for _ in range(args.floor_rounds):
        out["redis-py"].append(run_loop(redis_client.run_redis_py(
            redis_url, args.floor_messages, args.floor_burst, 100)))
        out["rweb"].append(run_loop(redis_client.run_rweb_broker(
            redis_url, args.floor_messages, args.floor_burst, 100)))
    return {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in out.items() if v}


# -- formatting ---------------------------------------------------------------------------------
def fmt_ms(ms: float | None) -> str:
    return "-" if ms is None else compare.fmt_lat(ms * 1000)


def fmt_x(a: float | None, b: float | None, digits: int = 2) -> str:
    return f"{a / b:.{digits}f}" if a and b else "-"


def spread(r: dict[str, Any]) -> str:
    lo_hi = r.get("deliveries_per_s_range")
    return f" <sub>({lo_hi[0]:,.0f}-{lo_hi[1]:,.0f})</sub>" if lo_hi and r.get("rounds", 1) > 1 else ""


def fanout_table(data: dict[str, dict[str, dict[str, Any]]], sizes: list[int], modes: list[str]) -> list[str]:
    out = [
        "| server | sessions | readers per worker | writes | to last delivery P50 | P99 | P99/P50 "
        "| deliveries/s (median) | x bare: deliveries/s | x bare: P50 | server CPU µs/delivery | x bare: CPU "
        "| client cores | missed |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        rows = data.get(str(n), {})
        bare = rows.get("bare") or {}
        for mode in modes:
            r = rows.get(mode)
            if r is None:
                continue
            if "error" in r and "p50_ms" not in r:
                out.append(f"| {MODES[mode]} | {n:,} | not run: {r['error']} |" + " |" * 11)
                continue
            split = " / ".join(f"{v:,}" for v in sorted(r["split"].values(), reverse=True))
            cpu = r.get("server_cpu_us_per_delivery")
            missed = f"{r['missed']:,}" + (f" ({r['lost_sessions']} sessions lost)" if r["lost_sessions"] else "")
            if r.get("error"):
                missed += f"; {r['error']}"
            out.append(
                f"| {MODES[mode]} | {n:,} | {split} | {r['writes']} | {fmt_ms(r.get('p50_ms'))} | "
                f"{fmt_ms(r.get('p99_ms'))} | {fmt_x(r.get('p99_ms'), r.get('p50_ms'))} | "
                f"{r.get('deliveries_per_s') or 0:,.0f}{spread(r)} | "
                f"{fmt_x(r.get('deliveries_per_s'), bare.get('deliveries_per_s'))} | "
                f"{fmt_x(r.get('p50_ms'), bare.get('p50_ms'))} | {f'{cpu:.2f}' if cpu else '-'} | "
                f"{fmt_x(cpu, bare.get('server_cpu_us_per_delivery'))} | "
                f"{r['client_cores']:.2f} | {missed} |"
            )
    return out


def latency_table(data: dict[str, dict[str, dict[str, Any]]], sizes: list[int], modes: list[str]) -> list[str]:
    """Issue 19's latency targets, per fan-out row: the writer's reply, the spread of the
    writes (P99/P50 of send -> last delivery), a bystander's click on the writer's worker."""
    out = [
        "| server | sessions | writer's reply P50 (target < 5 ms) | P99 | to last delivery P99/P50 "
        "(target <= 2 at 10,000) | bystander: clicks in flight during a delivery | click P50 "
        "| click P99 (target < 50 ms) | idle click P50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    na = "n/a"
    for n in sizes:
        for mode in modes:
            r = data.get(str(n), {}).get(mode)
            if r is None or ("error" in r and "p50_ms" not in r):
                continue
            ratio = fmt_x(r.get("p99_ms"), r.get("p50_ms"))
            if mode == "bare":  # no reply to a write, no clicks: it forwards every message
                out.append(f"| {MODES[mode]} | {n:,} | {na} | {na} | {ratio} | {na} | {na} | {na} | {na} |")
                continue
            lat = r if "writer_reply_n" in r else {**r, **latencies([r])}  # median_of pooled the rounds
            note = "" if lat["bystander_on_writer_worker"] in (True, None) else " (not on the writer's worker)"
            errs = "; ".join(lat["bystander_errors"])
            out.append(
                f"| {MODES[mode]} | {n:,} | {fmt_ms(lat['writer_reply_p50_ms'])} | "
                f"{fmt_ms(lat['writer_reply_p99_ms'])} | {ratio} | "
                f"{lat['bystander_n']:,}{note}{f' ({errs})' if errs else ''} | {fmt_ms(lat['bystander_p50_ms'])} | "
                f"{fmt_ms(lat['bystander_p99_ms'])} | {fmt_ms(lat['bystander_idle_p50_ms'])} |"
            )
    return out


def workers_table(data: dict[str, dict[str, dict[str, Any]]], sizes: list[int],
                  fl: dict[str, Any] | None) -> list[str]:
    """The Redis rows, per worker: when the writer's worker was done, when the other began."""
    rows = [(n, data.get(str(n), {}).get("redis") or {}) for n in sizes]
    rows = [(n, r) for n, r in rows if r.get("other_worker_p50_ms") is not None]
    if not rows:
        return []
    floor_p50 = ((fl or {}).get("redis-py") or {}).get("p50_us")
    out = [
        "| sessions (per worker) | writer's worker: first delivery | last delivery | other worker: first delivery "
        "| last delivery | first on the other worker minus first on the writer's |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for n, r in rows:
        a, b, c = r["writer_worker_p50_ms"], r["other_worker_first_p50_ms"], r["other_worker_p50_ms"]
        a0 = r.get("writer_worker_first_p50_ms")
        out.append(f"| {n:,} ({' / '.join(f'{v:,}' for v in sorted(r['split'].values(), reverse=True))}) | "
                   f"{fmt_ms(a0)} | {fmt_ms(a)} | {fmt_ms(b)} | {fmt_ms(c)} | "
                   f"{fmt_ms(b - a0) if a0 is not None and b is not None else '-'} |")
    if floor_p50:
        out += ["", f"Medians over the writes, from sending the write. Redis pub/sub alone (the floor "
                f"below): {compare.fmt_lat(floor_p50)} publish -> receive."]
    return out


def scaling_table(rounds: dict[str, dict[str, list[dict[str, Any]]]], sizes: list[int],
                  medians: dict[str, dict[str, dict[str, Any]]] | None = None) -> list[str]:
    """Two workers through Redis against one worker (with the broker, and without): deliveries/s,
    the ratio of each alternated round's runs (so that a machine busy for a while weighs on both),
    their median and range; then, from ``medians`` (the modes' medians), what the target would
    take on this machine (:func:`core_bound`)."""
    out: list[str] = []
    for n in sizes:
        runs = rounds.get(str(n), {})
        two = runs.get("redis") or []
        for base in ("redis1", "local"):
            one = runs.get(base) or []
            ratios = [a["deliveries_per_s"] / b["deliveries_per_s"] for a, b in zip(two, one, strict=False)
                      if a.get("deliveries_per_s") and b.get("deliveries_per_s")]
            if ratios:
                each = ", ".join(f"{x:.2f}" for x in ratios)
                out.append(f"| {n:,} | {MODES[base]} | {statistics.median(ratios):.2f} | {each} |")
    if not out:
        return []
    lines = ["| sessions | 2 workers through Redis against | deliveries/s ratio (median of rounds) | each round |",
             "|---:|---|---:|---|", *out]
    bound = [row for n in sizes if (row := core_bound(n, (medians or {}).get(str(n), {})))]
    if bound:
        lines += ["", f"What 1.3x one worker would take on this machine ({os.cpu_count()} cores, the client's "
                  "among them): cores = deliveries/s x (server CPU + client CPU) per delivery, each of "
                  "the medians above. The client's CPU per delivery is its cores over the 2-worker run's "
                  "deliveries/s.", "",
                  "| sessions | 1 worker: cores busy (server + client) | 1.3x: cores needed at the 2 workers' "
                  "server CPU per delivery | 1.3x: cores needed even at the bare server's | cores here |",
                  "|---:|---:|---:|---:|---:|", *bound]
    return lines


def wait_table(data: dict[str, dict[str, dict[str, Any]]], sizes: list[int], modes: list[str]) -> list[str]:
    """Per fan-out row (its median run): the CPU that one write took, the servers' and the client's,
    beside the time to its last delivery and the time each party spent runnable but waiting for a
    core (:func:`wait_snapshot_ns`), per write. Rows without the waits (a run before they were
    measured, or no schedstat) are left out."""
    out = ["| server | sessions | to last delivery P50 | CPU per write: servers | client "
           "| waiting for a core per write: servers | client | Redis |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        for mode in modes:
            r = data.get(str(n), {}).get(mode) or {}
            waits = r.get("wait_ms_per_write")
            if not waits or r.get("p50_ms") is None:
                continue
            out.append(
                f"| {MODES[mode]} | {n:,} | {fmt_ms(r['p50_ms'])} | {fmt_ms(r.get('server_cpu_ms_per_write'))} | "
                f"{fmt_ms(r.get('client_cpu_ms_per_write'))} | {fmt_ms(waits.get('servers'))} | "
                f"{fmt_ms(waits.get('client'))} | {fmt_ms(waits.get('redis'))} |"
            )
    return out if len(out) > 2 else []


def core_bound(n: int, med: dict[str, dict[str, Any]]) -> str | None:
    """One row of :func:`scaling_table`'s bound: the cores that the 1-worker run kept busy, and the
    cores that 1.3x its deliveries/s would need, with the 2-worker run's server and client CPU per
    delivery, and with the bare server's in place of rweb's (a floor no server of this protocol
    goes below here); None when a figure is missing."""
    one, two, bare = med.get("local") or {}, med.get("redis") or {}, med.get("bare") or {}
    try:
        d1, d2 = one["deliveries_per_s"], two["deliveries_per_s"]
        busy = d1 * (one["server_cpu_us_per_delivery"] + one["client_cores"] / d1 * 1e6) / 1e6
        client2 = two["client_cores"] / d2 * 1e6
        need = 1.3 * d1 * (two["server_cpu_us_per_delivery"] + client2) / 1e6
        floor = 1.3 * d1 * (bare["server_cpu_us_per_delivery"] + client2) / 1e6
    except (KeyError, TypeError, ZeroDivisionError):
        return None
    return f"| {n:,} | {busy:.2f} | {need:.2f} | {floor:.2f} | {os.cpu_count()} |"


def anchor_table(data: dict[str, dict[str, dict[str, Any]]], sizes: list[int]) -> list[str]:
    cols = [n for n in sizes if (data.get(str(n), {}).get("bare") or {}).get("p50_ms")
            and (data.get(str(n), {}).get("local") or {}).get("p50_ms")]
    if not cols:
        return []
    peers = list(next(iter(ANCHORS.values())))
    out = [
        "| measure (x bare, same run) | " + " | ".join(f"rweb 1 worker, {n:,} sessions" for n in cols)
        + " | " + " | ".join(f"{p} (anchors)" for p in peers) + " |",
        "|---|" + "---:|" * (len(cols) + len(peers)),
    ]
    keys = {
        "deliveries/s, share of bare": "deliveries_per_s",
        "server CPU per delivery, x bare": "server_cpu_us_per_delivery",
        "post to last delivery P50, x bare": "p50_ms",
    }
    for label, key in keys.items():
        here = [fmt_x(data[str(n)]["local"].get(key), data[str(n)]["bare"].get(key)) for n in cols]
        there = [f"{ANCHORS[label][p]:g}" for p in peers]
        out.append(f"| {label} | " + " | ".join(here + there) + " |")
    return out


def click_table(cp: dict[str, Any]) -> list[str]:
    w = cp["workers"]
    med: dict[str, dict[str, Any]] = {}
    out = [
        f"| counter, {w} worker(s) | clicks/s (median, range) | server CPU µs/click (median, range) "
        "| P50 | P99 | failed sessions |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in (("without", "no broker"), ("with", "broker=redis://...")):
        good = [r for r in cp["runs"][key] if "error" not in r]
        if not good:
            out.append(f"| {label} | failed | | | | |")
            continue
        tput = [r["throughput"] for r in good]
        cpu = [c for c in ((r.get("server") or {}).get("cpu_us_per_click") for r in good) if c]
        med[key] = {"tput": statistics.median(tput), "cpu": statistics.median(cpu) if cpu else None,
                    "p50": statistics.median(r["latency_us"]["p50"] for r in good),
                    "p99": statistics.median(r["latency_us"]["p99"] for r in good)}
        m = med[key]
        out.append(
            f"| {label} | {m['tput']:,.0f} <sub>({min(tput):,.0f}-{max(tput):,.0f})</sub> | "
            + (f"{m['cpu']:.1f} <sub>({min(cpu):.1f}-{max(cpu):.1f})</sub>" if cpu else "-")
            + f" | {compare.fmt_lat(m['p50'])} | {compare.fmt_lat(m['p99'])} | "
            f"{sum(r['failed_sessions'] for r in good)} |"
        )
    if len(med) == 2:
        a, b = med["with"], med["without"]
        pairs = [(x, y) for x, y in zip(cp["runs"]["with"], cp["runs"]["without"], strict=False)
                 if "error" not in x and "error" not in y]
        cpu_r = [((x.get("server") or {}).get("cpu_us_per_click") or 0) / c for x, y in pairs
                 if (c := (y.get("server") or {}).get("cpu_us_per_click"))]
        tput_r = [x["throughput"] / y["throughput"] for x, y in pairs if y["throughput"]]

        def rng(v: list[float]) -> str:
            return f" <sub>(rounds {min(v):.2f}-{max(v):.2f})</sub>" if v else ""

        out.append(
            f"| with / without | {a['tput'] / b['tput']:.3f}{rng(tput_r)} | "
            f"{fmt_x(a['cpu'], b['cpu'], 3)}{rng(cpu_r)} | {fmt_x(a['p50'], b['p50'])} | "
            f"{fmt_x(a['p99'], b['p99'])} | |"
        )
    return out


def floor_table(fl: dict[str, Any]) -> list[str]:
    out = ["| path | publish -> receive P50 | P99 | msgs/s (pipelined burst) |", "|---|---:|---:|---:|"]
    labels = {"redis-py": "Redis pub/sub, redis-py client -> 1 subscriber",
              "rweb": "rweb's RedisPubSub -> another RedisPubSub"}
    for key, label in labels.items():
        m = fl.get(key)
        if m:
            out.append(f"| {label} | {compare.fmt_lat(m['p50_us'])} | {compare.fmt_lat(m['p99_us'])} | "
                       f"{m['msgs_per_s']:,.0f} |")
    return out


# -- main ---------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", default=None, help="reader sessions per fan-out run, comma list "
                   "(default 1000,5000,10000; --quick 200)")
    p.add_argument("--writes", type=int, default=None, help="counted writes per run (default 20; --quick 5)")
    p.add_argument("--rounds", type=int, default=None, help="alternated rounds per size, the median kept "
                   "(default 5; --quick 1)")
    p.add_argument("--bystander-writes", type=int, default=None, help="writes after the counted ones, "
                   "during which a bystander on the writer's worker clicks (default: --writes; 0: none)")
    p.add_argument("--bystander-pause", type=float, default=1.0, help="ms between a bystander's reply "
                   "and its next click (default 1)")
    p.add_argument("--warmup", type=int, default=2, help="writes before the counted ones (default 2)")
    p.add_argument("--gap", type=float, default=0.1, help="seconds between writes (default 0.1)")
    p.add_argument("--modes", default="bare,local,redis", help="fan-out servers (default bare,local,redis)")
    p.add_argument("--parts", default="fanout,clicks,floor", help="what to run (default fanout,clicks,floor)")
    p.add_argument("--click-clients", type=int, default=None, help="default 300 (--quick 100)")
    p.add_argument("--click-clicks", type=int, default=None, help="default 200 (--quick 100)")
    p.add_argument("--click-rounds", type=int, default=None, help="default 5 (--quick 3)")
    p.add_argument("--click-workers", type=int, default=2)
    p.add_argument("--floor-rounds", type=int, default=3)
    p.add_argument("--floor-messages", type=int, default=None, help="default 2000 (--quick 300)")
    p.add_argument("--floor-burst", type=int, default=None, help="default 20000 (--quick 3000)")
    p.add_argument("--redis-url", default=None, help="a running loopback Redis (default: start one)")
    p.add_argument("--max-time", type=float, default=300.0, help="bound on one fan-out run, s (default 300)")
    p.add_argument("--server-args", default="", help="more fanout_app.py arguments for the rweb servers, "
                   "space-separated (e.g. '--gc-freeze 0' or '--gc-threshold 700,10,10')")
    p.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    a = p.parse_args(argv)
    q = a.quick
    a.sessions = [int(x) for x in (a.sessions or ("200" if q else "1000,5000,10000")).split(",") if x]
    a.rounds = a.rounds if a.rounds is not None else (1 if q else 5)
    a.writes = a.writes if a.writes is not None else (5 if q else 20)
    a.bystander_writes = a.writes if a.bystander_writes is None else a.bystander_writes
    a.click_clients = a.click_clients or (100 if q else 300)
    a.click_clicks = a.click_clicks or (100 if q else 200)
    a.click_rounds = a.click_rounds or (3 if q else 5)
    a.floor_messages = a.floor_messages or (300 if q else 2000)
    a.floor_burst = a.floor_burst or (3000 if q else 20000)
    a.modes = [m for m in a.modes.split(",") if m]
    a.server_args = a.server_args.split()
    a.parts = [m for m in a.parts.split(",") if m]
    for m in a.modes:
        if m not in MODES:
            p.error(f"unknown mode {m!r} (one of {', '.join(MODES)})")
    if a.redis_url and not a.redis_url.startswith(("redis://127.", "redis://localhost")):
        p.error("loopback Redis only")
    if a.rounds < 1:
        p.error("--rounds must be >= 1")
    if a.writes < 1 or a.warmup < 0 or a.gap < 0 or a.bystander_writes < 0 or a.bystander_pause < 0 or a.click_rounds < 1 or a.floor_rounds < 1:
        p.error("--writes, --click-rounds, --floor-rounds must be >= 1; --warmup, --gap, --bystander-writes, --bystander-pause >= 0")
    return a


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bystander"]:  # bystander_phase's child: URL PID TIMEOUT PAUSE
        return run_loop(bystander_child(argv[1], int(argv[2]), float(argv[3]), float(argv[4])))
    args = parse_args(argv)

    def terminated(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds through the cleanups below

    signal.signal(signal.SIGTERM, terminated)
    soft, hard = procfs.raise_nofile_limit()
    args.fd_budget = soft - 200  # sockets this process may hold at once (stdio, Redis, pipes...)
    started = time.monotonic()
    data: dict[str, Any] = {"fanout": {}, "nofile": [soft, hard], "probe": compare.speed_probe()}
    notes: list[str] = []
    redis_ok = shutil.which("redis-server") is not None or args.redis_url is not None
    try:
        import redis  # noqa: F401
    except ImportError:
        redis_ok = False
    if not redis_ok:
        notes.append("No Redis (redis-server or redis-py missing): the Redis rows were not run.")
    try:
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(redis_server(args.redis_url)) if redis_ok else None
            if "fanout" in args.parts:
                for n in args.sessions:
                    need = n + 200  # readers, the writer, a surplus while balancing, the rest
                    if need > soft:
                        reason = (f"needs about {need:,} file descriptors in this client process; "
                                  f"the limit is {soft:,} (hard {hard:,})")
                        data["fanout"][str(n)] = {m: {"error": reason} for m in args.modes}
                        notes.append(f"{n:,} sessions: {reason}.")
                        continue
                    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in args.modes}
                    for rnd in range(args.rounds):  # alternated: bare, local, redis, bare, ...
                        if args.rounds > 1:
                            log(f"round {rnd + 1}/{args.rounds}, {n:,} sessions")
                        for m in args.modes:
                            runs[m].append(run_fanout(m, n, args, url))
                    data["fanout"][str(n)] = {m: median_of(r) for m, r in runs.items()}
                    data.setdefault("fanout_rounds", {})[str(n)] = runs
            if "clicks" in args.parts and url:
                data["clicks"] = click_path(args, url)
            if "floor" in args.parts and url:
                data["floor"] = floor(args, url)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        Proc.stop_all()
    note_other_benchmarks()
    if SEEN_BUSY:
        notes.append(f"benchmarks/compare.py was running during this run (pids {sorted(SEEN_BUSY)}): "
                     "the figures are disturbed; run again on a quiet machine.")
    data["seconds"] = time.monotonic() - started
    print_report(data, args, notes)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2, default=str))
    return 0


def print_report(data: dict[str, Any], args: argparse.Namespace, notes: list[str]) -> None:
    probe = data["probe"]
    lines = [
        f"# Fan-out (real time): {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"took {data['seconds'] / 60:.1f} min",
        "",
        f"{os.cpu_count()} cores, client and servers on one machine; speed probes: pure-Python loop "
        f"{probe['python_ms']} ms, loopback TCP ping-pong {probe['tcp_rtt_us']} µs (see BENCHMARKS.md); "
        f"file descriptors: {data['nofile'][0]:,} (hard {data['nofile'][1]:,}).",
    ]
    if data["fanout"]:
        lines += [
            "",
            f"## One write, N readers: time until the last has it ({args.writes} writes, "
            f"{args.gap:g} s apart, after {args.warmup} warm-up; the median of {args.rounds} alternated rounds)",
            "",
            *fanout_table(data["fanout"], args.sessions, args.modes),
        ]
        lat = latency_table(data["fanout"], args.sessions, args.modes)
        if len(lat) > 2:
            by = (f"then {args.bystander_writes} more writes, during which" if args.bystander_writes
                  else "with --bystander-writes 0, no bystander:")
            lines += [
                "", "### While the post fans out: the writer's reply, the writes' spread, a bystander's click", "",
                "The writer's reply: from sending the write to the writer's own answer (`{\"t\":\"r\"...}`, "
                "which carries the change for its page), over the counted writes above. P99/P50: of the "
                f"table above (send -> last delivery). The bystander: {by} another session, on the "
                "writer's worker (its page's pid says so), that reads nothing shared (fanout_app.py's "
                "`/clicks`: a counter of its own), clicks from a process of its own (so that the readers' "
                "deliveries do not delay its replies here), one click in flight at a time, the next sent "
                f"{args.bystander_pause:g} ms after the reply comes; counted are the clicks in flight while a write was being delivered "
                "(sent before its last delivery, answered after it was sent); idle: its clicks for 0.3 s "
                "with no write under way (its round trip on a quiet server). Replies and clicks are pooled over the rounds. The bare server "
                "has neither (it forwards every message): n/a.",
                "", *lat,
            ]
        across = workers_table(data["fanout"], args.sessions, data.get("floor"))
        if across:
            lines += ["", "### Through Redis, per worker (the writer's session is on one of the two)",
                      "", *across]
        scaling = scaling_table(data.get("fanout_rounds", {}), args.sessions, data["fanout"])
        if scaling:
            lines += ["", "### Two workers against one (issue 19's target: 1.3x)", "", *scaling]
        waited = wait_table(data["fanout"], args.sessions, args.modes)
        if waited:
            lines += ["", "### Who waited for a core (the median run of each row; schedstat's run delay "
                      "over the counted writes, per write)", "",
                      "A write's work is its servers' CPU and the client's (which reads every delivery). "
                      "Time runnable but not running means another process had the core: on this "
                      f"machine's {os.cpu_count()} cores the servers, the client and Redis take turns.",
                      "", *waited]
        anchors = anchor_table(data["fanout"], args.sessions)
        if anchors:
            lines += ["", "### Against the anchors (shared/reference/anchors.md: 1 writer -> 1,000 "
                      "readers; every figure a ratio to the bare server of its own run)", "", *anchors]
    if "clicks" in data:
        cp = data["clicks"]
        lines += ["", f"## A click that shares nothing: the broker's cost ({args.click_clients} clients x "
                  f"{args.click_clicks} clicks, {args.click_rounds} interleaved rounds)", "", *click_table(cp)]
        if cp.get("redis_clients") is not None:
            lines += ["", f"The server with a broker held {cp['redis_clients']} connections to Redis "
                      f"({cp['workers']} workers, a publisher and a subscriber each)."]
    if "floor" in data:
        lines += ["", f"## Floor: Redis pub/sub to one subscriber (median of {args.floor_rounds} rounds of "
                  f"{args.floor_messages:,} messages, one at a time)", "", *floor_table(data["floor"])]
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
