#!/usr/bin/env python3
"""A normal GET's latency beside connections that pipeline GETs and never read the answers.

Starts the built-in server (one worker, ``start_rweb``) as a subprocess on a free
127.0.0.1 port, then opens ``--floods`` connections that each send ``--requests``
pipelined ``GET /n`` and never read, and meanwhile times one plain ``GET /n`` every
``--every`` seconds on a keep-alive connection of its own (``--seconds`` in all,
from the moment the flood starts). Prints the probe's P50 / P99 / max (and the
P99 with each slow GET also standing for the GETs it held back, every
``--every`` s: coordinated omission), its worst GET per second, how many of the
flood's requests the server answered, and the server's CPU seconds over the run.

Every loop is bounded in count and time; the server process is stopped (SIGTERM,
then SIGKILL) also on errors.

    python benchmarks/pipeline_flood.py                     # 50 x 20,000 GETs, 10 s
    python benchmarks/pipeline_flood.py --floods 10 --seconds 5
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import math
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

from rweb.bench import procfs
from rweb.bench.stats import percentile

SERVER = """
import sys
from rweb import App
from rweb.http import Response
from rweb.html import p
from rweb.server import start_rweb

app = App("pipeline flood")

@app.page("/")
def home(writer_id):
    return (lambda: p("hello")), {}

answered = [0]

@app.get("/n")
def n(request):
    answered[0] += 1
    return Response("n", media_type="text/plain")

@app.get("/answered")
def count(request):
    return Response(str(answered[0]), media_type="text/plain")

start_rweb(int(sys.argv[1]), app, workers=1)
"""

REQUEST = b"GET /n HTTP/1.1\r\nHost: bench\r\n\r\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(os.environ, RWEB_LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise SystemExit("the server exited early")
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start within 20 s") from None
                time.sleep(0.05)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def flood(port: int, floods: int, requests: int, until: float, sent: list[int]) -> None:
    """``floods`` connections each sending ``requests`` pipelined GETs, never reading, until ``until``."""
    payload = REQUEST * requests
    socks = []
    for _ in range(floods):
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.setblocking(False)
        socks.append(s)
    sent[:] = [0] * floods
    try:
        while time.monotonic() < until:
            pending = [s for i, s in enumerate(socks) if sent[i] < len(payload)]
            if not pending:
                break
            _, writable, _ = select.select([], pending, [], 0.1)
            for s in writable:
                i = socks.index(s)
                try:
                    sent[i] += s.send(payload[sent[i] : sent[i] + 65536])
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:  # the server closed it
                    sent[i] = len(payload)
        while time.monotonic() < until:  # hold the connections open, unread, to the end
            time.sleep(0.05)
    finally:
        for s in socks:
            s.close()


def get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def probe(port: int, seconds: float, every: float) -> list[tuple[float, float]]:
    """One GET every ``every`` s on a keep-alive connection: (when, since the start, in s; latency in ms)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    t0 = time.monotonic()
    end = t0 + seconds
    try:
        while time.monotonic() < end:
            start = time.perf_counter()
            conn.request("GET", "/n")
            resp = conn.getresponse()
            resp.read()
            times.append((time.monotonic() - t0, (time.perf_counter() - start) * 1000))
            time.sleep(every)
    finally:
        conn.close()
    return times


def held_back(times: list[float], every_ms: float) -> list[float]:
    """Each latency, plus the ones the GETs it delayed would have seen (a GET due every ``every_ms``)."""
    return [t - k * every_ms for t in times for k in range(int(t // every_ms) + 1)]


def pct(values: list[float], q: float) -> float:
    return percentile(sorted(values), q * 100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--floods", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--every", type=float, default=0.01)
    args = ap.parse_args()
    port = free_port()
    with server(port) as proc:
        baseline = [ms for _, ms in probe(port, 1.0, args.every)]
        cpu0 = procfs.cpu_snapshot([proc.pid])
        answered0 = int(get(port, "/answered"))
        sent: list[int] = []
        until = time.monotonic() + args.seconds + 1
        t = threading.Thread(target=flood, args=(port, args.floods, args.requests, until, sent), daemon=True)
        t.start()
        samples = probe(port, args.seconds, args.every)
        cpu = procfs.cpu_seconds_between(cpu0, procfs.cpu_snapshot([proc.pid]))
        answered = int(get(port, "/answered")) - answered0 - len(samples) - 1
        t.join(args.seconds + 10)
    times = [ms for _, ms in samples]
    total = len(REQUEST) * args.requests
    print(f"flood: {args.floods} connections x {args.requests} pipelined GETs ({total} bytes each), never read")
    print(f"probe alone:  {len(baseline)} GETs, P50 {pct(baseline, 0.5):.2f} ms, P99 {pct(baseline, 0.99):.2f} ms")
    print(
        f"beside flood: {len(times)} GETs in {args.seconds:g} s, P50 {pct(times, 0.5):.2f} ms, "
        f"P99 {pct(times, 0.99):.2f} ms, max {max(times):.2f} ms; "
        f"P99 counting the GETs held back: {pct(held_back(times, args.every * 1000), 0.99):.2f} ms"
    )
    for second in range(math.ceil(args.seconds)):
        part = [ms for at, ms in samples if second <= at < second + 1]
        if part:
            print(f"  second {second}: {len(part)} GETs, max {max(part):.2f} ms")
    print(
        f"flood requests the server answered: {answered} of {args.floods * args.requests} "
        f"({answered // args.floods} per connection)"
    )
    print(f"server CPU over the run: {cpu:.2f} s")


if __name__ == "__main__":
    main()
