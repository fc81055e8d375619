#!/usr/bin/env python3
"""Which asyncio Redis client for rweb's broker: redis-py against coredis, measured.

Both clients talk to one local ``redis-server`` (started here on a free
loopback port, or ``--url`` for a running one) through two connections, a
publisher and a subscriber, the way :class:`rweb.broker_redis.RedisPubSub`
uses them:

* **latency**: one message at a time, publish → the subscriber receives it
  (P50 / P99 / max over ``--messages`` round trips, in microseconds);
* **throughput**: ``--burst`` messages published in pipelined batches of
  ``--batch`` while the subscriber drains them; messages/s from the first
  send to the last receive.

A third row, ``rweb``, runs the same two measurements through rweb's own
broker (:class:`~rweb.broker_redis.RedisPubSub`, on redis-py: two brokers as
two processes would have), and what ``publish()`` costs its caller.

Rounds alternate between the clients (the machine's load moves); medians are
printed.  Every loop is bounded and every wait has a timeout.

    python benchmarks/redis_client.py [--rounds 3] [--messages 2000] [--burst 50000]

Needs ``redis`` (the ``rweb[redis]`` extra) and, for the comparison, ``coredis``;
a client that is not installed is skipped.  Runs on uvloop when it is present,
as the server does.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

CHANNEL = "bench:redis-client"
WAIT = 10.0  # bound on any single wait


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis() -> tuple[subprocess.Popen[bytes], str, str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit(
            "redis-server is not installed (apt-get install redis-server), or pass --url"
        )
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="rweb-bench-redis-")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0", workdir
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not answer PING")


def payload(i: int) -> bytes:
    # About what a shared-state message weighs: a topic event with a few fields.
    return orjson.dumps({"o": "bench-process-1", "m": {"op": "set", "field": "count", "value": i}})


def summary(samples_ns: list[int]) -> dict[str, float]:
    s = sorted(samples_ns)
    n = len(s)
    return {
        "p50_us": s[n // 2] / 1000,
        "p99_us": s[min(n - 1, (n * 99) // 100)] / 1000,
        "max_us": s[-1] / 1000,
    }


# -- redis-py ------------------------------------------------------------------


async def run_redis_py(url: str, messages: int, burst: int, batch: int) -> dict[str, float]:
    import redis.asyncio as aredis

    pub = aredis.Redis.from_url(url)
    sub_client = aredis.Redis.from_url(url)
    ps = sub_client.pubsub(ignore_subscribe_messages=True)
    await ps.subscribe(CHANNEL)

    async def receive() -> bytes:
        while True:
            # None also when it read (and skipped) a subscribe confirmation.
            msg = await ps.get_message(ignore_subscribe_messages=True, timeout=WAIT)
            if msg is not None and msg["type"] == "message":
                return bytes(msg["data"])

    async def publish_one(data: bytes) -> None:
        await pub.publish(CHANNEL, data)

    async def publish_batch(datas: list[bytes]) -> None:
        pipe = pub.pipeline(transaction=False)
        for d in datas:
            pipe.publish(CHANNEL, d)
        await pipe.execute()

    try:
        return await measure(publish_one, publish_batch, receive, messages, burst, batch)
    finally:
        await ps.unsubscribe(CHANNEL)
        await ps.aclose()
        await sub_client.aclose()
        await pub.aclose()


# -- coredis -------------------------------------------------------------------


async def run_coredis(url: str, messages: int, burst: int, batch: int) -> dict[str, float]:
    import coredis

    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    async with (
        coredis.Redis(host=host, port=int(port)) as pub,
        coredis.Redis(host=host, port=int(port)) as sub_client,
    ):
        async with sub_client.pubsub(channels=[CHANNEL], ignore_subscribe_messages=True) as ps:

            async def receive() -> bytes:
                while True:
                    msg = await ps.get_message(ignore_subscribe_messages=True, timeout=WAIT)
                    if msg is not None and msg["type"] == "message":
                        return bytes(msg["data"])

            async def publish_one(data: bytes) -> None:
                await pub.publish(CHANNEL, data)

            async def publish_batch(datas: list[bytes]) -> None:
                async with pub.pipeline(transaction=False) as pipe:
                    for d in datas:
                        pipe.publish(CHANNEL, d)

            return await measure(publish_one, publish_batch, receive, messages, burst, batch)


# -- the measurement, the same for both -----------------------------------------


async def measure(
    publish_one: Callable[[bytes], Awaitable[None]],
    publish_batch: Callable[[list[bytes]], Awaitable[None]],
    receive: Callable[[], Awaitable[bytes]],
    messages: int,
    burst: int,
    batch: int,
) -> dict[str, float]:
    # Warm up both connections.
    for i in range(50):
        await asyncio.gather(publish_one(payload(i)), asyncio.wait_for(receive(), WAIT))

    samples: list[int] = []
    for i in range(messages):
        data = payload(i)
        t0 = time.perf_counter_ns()
        _, got = await asyncio.gather(publish_one(data), asyncio.wait_for(receive(), WAIT))
        samples.append(time.perf_counter_ns() - t0)
        if got != data:
            raise AssertionError("message out of order")
    result: dict[str, float] = summary(samples)

    datas = [payload(i) for i in range(burst)]

    async def send_all() -> None:
        for start in range(0, burst, batch):
            await publish_batch(datas[start : start + batch])

    async def receive_all() -> None:
        for i in range(burst):
            got = await receive()
            if got != datas[i]:
                raise AssertionError(f"message {i} out of order")

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(send_all(), receive_all()), 120)
    result["msgs_per_s"] = burst / (time.perf_counter() - started)
    return result


# -- rweb's broker on the chosen client ------------------------------------------------


async def run_rweb_broker(url: str, messages: int, burst: int, batch: int) -> dict[str, float]:
    """The same two measurements through RedisPubSub (two brokers, as two processes would be).

    Also ``publish_us``: what ``publish()`` costs its caller (encode + queue;
    it never awaits), measured over the burst.
    """
    from rweb.broker_redis import RedisPubSub

    a = RedisPubSub(url, max_pending=burst + 1, batch_size=batch)
    b = RedisPubSub(url)
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    b.subscribe("bench", lambda _topic, message: inbox.put_nowait(message))
    try:
        if not (await a.start(wait=WAIT) and await b.start(wait=WAIT) and await b.flush(WAIT)):
            raise SystemExit("the rweb broker did not connect")
        for i in range(50):
            a.publish("bench", i)
            await asyncio.wait_for(inbox.get(), WAIT)
        samples: list[int] = []
        for i in range(messages):
            t0 = time.perf_counter_ns()
            a.publish("bench", {"op": "set", "field": "count", "value": i})
            got = await asyncio.wait_for(inbox.get(), WAIT)
            samples.append(time.perf_counter_ns() - t0)
            if got["value"] != i:
                raise AssertionError("message out of order")
        result: dict[str, float] = summary(samples)

        caller_ns = 0
        started = time.perf_counter()
        for start in range(0, burst, batch):
            t0 = time.perf_counter_ns()
            for i in range(start, min(start + batch, burst)):
                a.publish("bench", {"op": "set", "field": "count", "value": i})
            caller_ns += time.perf_counter_ns() - t0
            await asyncio.sleep(0)  # the server's loop goes on between clicks
        for i in range(burst):
            got = await asyncio.wait_for(inbox.get(), WAIT)
            if got["value"] != i:
                raise AssertionError(f"message {i} out of order")
        result["msgs_per_s"] = burst / (time.perf_counter() - started)
        result["publish_us"] = caller_ns / burst / 1000
        return result
    finally:
        await a.close()
        await b.close()


CLIENTS: dict[str, tuple[str, Callable[..., Awaitable[dict[str, float]]]]] = {
    "redis-py": ("redis", run_redis_py),
    "coredis": ("coredis", run_coredis),
    "rweb": ("redis", run_rweb_broker),  # RedisPubSub, on redis-py
}


def version(module: str) -> str:
    from importlib.metadata import version as v

    try:
        return v(module)
    except Exception:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--url", help="a running Redis (default: start redis-server on a free loopback port)"
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--messages", type=int, default=2000, help="latency samples per round")
    ap.add_argument("--burst", type=int, default=50000, help="messages in the throughput run")
    ap.add_argument("--batch", type=int, default=100, help="publishes per pipeline")
    args = ap.parse_args()
    if args.url and not args.url.startswith("redis://127.") and "localhost" not in args.url:
        raise SystemExit("loopback Redis only")

    try:
        import uvloop

        loop_name = f"uvloop {version('uvloop')}"
        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        loop_name = "asyncio"
        runner = asyncio.run

    available = {name: fn for name, (mod, fn) in CLIENTS.items() if importlib.util.find_spec(mod)}
    if not available:
        raise SystemExit("neither redis nor coredis is installed")
    proc = None
    workdir = None
    url = args.url
    if url is None:
        proc, url, workdir = start_redis()
    try:
        hiredis = importlib.util.find_spec("hiredis") is not None
        print(
            f"Python {sys.version.split()[0]}, {loop_name}, {os.cpu_count()} CPUs, "
            f"hiredis {'present' if hiredis else 'absent'}"
        )
        for name in available:
            print(f"  {name} {version('redis' if name == 'redis-py' else name)}")
        results: dict[str, list[dict[str, float]]] = {name: [] for name in available}
        for r in range(args.rounds):
            for name, fn in available.items():
                res = runner(fn(url, args.messages, args.burst, args.batch))
                results[name].append(res)
                extra = f"  publish() {res['publish_us']:.2f} us" if "publish_us" in res else ""
                print(
                    f"round {r + 1} {name:9s} p50 {res['p50_us']:7.1f} us  p99 {res['p99_us']:7.1f} us"
                    f"  max {res['max_us']:8.1f} us  {res['msgs_per_s']:9.0f} msg/s{extra}",
                    flush=True,
                )
        print(
            f"\nmedians over {args.rounds} rounds ({args.messages} round trips, "
            f"{args.burst} pipelined in batches of {args.batch}):"
        )
        for name, rs in results.items():
            med = {k: statistics.median(x[k] for x in rs) for k in rs[0]}
            extra = (
                f"   publish() costs its caller {med['publish_us']:.2f} us"
                if "publish_us" in med
                else ""
            )
            print(
                f"  {name:9s} publish->receive P50 {med['p50_us']:7.1f} us  P99 {med['p99_us']:7.1f} us"
                f"   {med['msgs_per_s']:9.0f} msg/s{extra}"
            )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
