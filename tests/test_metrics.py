"""Prometheus metrics (``app.metrics()``), scraped from the real server and read with prometheus_client's parser.

In-process (``rweb.testing.serve``) for one process; as a real
``start_rweb(workers=2)`` subprocess for the multi-process mode, where the
totals must count both workers whichever answers the scrape.  Every wait is
bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import ServerProcess, free_port

from rweb import App, reactive
from rweb.core.meter import BUCKETS, SAMPLE_EVERY, Meter, Stat
from rweb.html import button, component, div, span
from rweb.server.picows_transport import Server
from rweb.testing import serve

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

APP = r"""
import os, sys
from rweb import App, reactive, start_rweb
from rweb.html import button, component, div, span

app = App("metrics")
app.metrics()

@reactive
class Counter:
    value: int

@app.page("/")
def page(writer_id):
    counter = Counter(0)

    def inc(params):
        counter.value += 1

    render = lambda: div(span(f"pid {os.getpid()}."), component("display", lambda: div(span("Count: "), span(counter.value))),
                         button("+", data_action="inc"))
    return render, {"inc": inc}

if __name__ == "__main__":
    start_rweb(int(sys.argv[1]), app, host="127.0.0.1", workers=2, ping_interval=None)
"""


@reactive
class Counter:
    value: int


def counter_app(**options: Any) -> App:
    app = App("metrics", **options)

    @app.page("/")
    def page(writer_id: Any) -> Any:
        counter = Counter(0)

        def inc(params: Any) -> None:
            counter.value += 1

        def render() -> Any:
            return div(
                component("display", lambda: div(span("Count: "), span(counter.value))),
                button("+", data_action="inc"),
            )

        return render, {"inc": inc}

    return app


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def scrape(
    port: int, headers: dict[str, str] | None = None
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /_rweb/metrics: (name, sorted labels) -> value, through the Prometheus text parser."""
    status, body = get(port, "/_rweb/metrics", headers)
    assert status == 200, body
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def clicks(
    wire: Any, url: str, sockets: int, per_socket: int, extra: list[str] | None = None
) -> None:
    socks = []
    for _ in range(sockets):
        ws = await wire.connect(url)
        assert (await wire.recv(ws))["t"] == "init"
        socks.append(ws)
    for ws in socks:
        for _ in range(per_socket):
            await wire.click(ws)
        for action in extra or []:
            await wire.ask(ws, {"action": action, "params": {}})
    for ws in socks:
        await ws.close()


def test_off_by_default_and_nothing_measured(wire: Any) -> None:
    with serve(counter_app()) as srv:
        assert get(srv.port, "/_rweb/metrics")[0] == 404
        assert srv.app.metering is None
        assert srv.app.meter is None  # what each connection reads once: no counting per message
        # The server answers messages with its plain method: no timing, no counting call.
        assert srv.call(lambda: srv.server.answer.__func__) is Server.answer


def test_one_process_counts_joins_actions_bytes_and_http(wire: Any) -> None:
    app = counter_app()
    app.metrics()
    with serve(app) as srv:

        async def scenario() -> None:
            # Three sockets, 7 clicks each, then one unknown action each (an error: no label of its own).
            await clicks(wire, srv.ws_url, 3, 7, ["no-such-action"])
            socks = [await wire.connect(srv.ws_url) for _ in range(2)]  # left open: live sessions
            for ws in socks:
                await wire.recv(ws)
            samples = await asyncio.to_thread(scrape, srv.port)
            assert value(samples, "rweb_joins_total") == 5
            # Every message counted, one in SAMPLE_EVERY timed (the first one of the process included).
            assert value(samples, "rweb_actions_total", action="inc") == 21
            assert value(samples, "rweb_actions_total", action="other") == 3
            timed = value(samples, "rweb_action_seconds_count", action="inc") + value(
                samples, "rweb_action_seconds_count", action="other"
            )
            assert timed == -(-24 // SAMPLE_EVERY)
            assert value(samples, "rweb_action_seconds_bucket", action="inc", le="+Inf") == value(
                samples, "rweb_action_seconds_count", action="inc"
            )
            assert 0 < value(samples, "rweb_action_seconds_sum", action="inc") < 21 * 0.5
            assert value(samples, "rweb_errors_total", code="unknown_action") == 3
            renders = value(samples, "rweb_render_seconds_count")  # 21 re-renders, sampled
            assert renders == -(-21 // SAMPLE_EVERY)
            assert 0 < value(samples, "rweb_render_seconds_sum") < renders * 0.5
            assert value(samples, "rweb_messages_out_total") == 24
            assert value(samples, "rweb_bytes_out_total") > 24 * 20
            assert value(samples, "rweb_sessions", state="live") == 2
            for ws in socks:
                await ws.close()

        for _ in range(4):
            assert get(srv.port, "/")[0] == 200
        assert get(srv.port, "/nothing-here")[0] == 404
        wire.run(scenario())
        samples = scrape(srv.port)
        # By route pattern and status: the pages, the scrapes, one label for what no route answered.
        assert value(samples, "rweb_http_responses_total", route="/", status="200") == 4
        assert value(samples, "rweb_http_responses_total", route="/_rweb/metrics", status="200") >= 1
        assert value(samples, "rweb_http_responses_total", route="unmatched", status="404") == 1
        assert ("rweb_actions_total", (("action", "no-such-action"),)) not in samples
        for i in range(3):  # paths a client makes up share the one label
            assert get(srv.port, f"/made-up-{i}")[0] == 404
        samples = scrape(srv.port)
        assert value(samples, "rweb_http_responses_total", route="unmatched", status="404") == 4


def test_the_endpoint_is_loopback_only_or_needs_the_token() -> None:
    app = counter_app()
    app.metrics()
    with serve(app) as srv:
        assert get(srv.port, "/_rweb/metrics")[0] == 200
        # Through a proxy, a loopback peer says nothing about the client.
        assert get(srv.port, "/_rweb/metrics", {"X-Forwarded-For": "203.0.113.9"})[0] == 403
    app.metrics(token="s3cret-token")
    with serve(app) as srv:
        assert get(srv.port, "/_rweb/metrics")[0] == 403
        assert get(srv.port, "/_rweb/metrics", {"Authorization": "Bearer wrong"})[0] == 403
        assert get(srv.port, "/_rweb/metrics", {"Authorization": "Bearer s3cret-token"})[0] == 200


@contextlib.contextmanager
def two_workers(tmp_path: Path) -> Iterator[ServerProcess]:
    script = tmp_path / "metrics_app.py"
    script.write_text(APP)
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(port)],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**env, "PYTHONUNBUFFERED": "1"},
        )
    srv = ServerProcess(proc, port, log_path)
    try:
        srv.wait_listening()
        yield srv
    finally:
        srv.stop()


def test_two_workers_count_together_whichever_answers_the_scrape(tmp_path: Path, wire: Any) -> None:
    with two_workers(tmp_path) as srv:

        async def scenario() -> tuple[int, set[str]]:
            pids: set[str] = set()
            socks = []
            # Until both workers hold sockets. wait_listening() saw one worker listen: the other
            # binds its own socket (SO_REUSEPORT) when it is ready, later on a busy machine, so
            # the loop is bounded in time as well as in sockets, and waits a little while only
            # one worker answers.
            deadline = time.monotonic() + 30
            while len(socks) < 400 and time.monotonic() < deadline:
                ws = await wire.connect(srv.url)
                pids.add(json.dumps(await wire.recv(ws)).split("pid ")[1].split(".")[0])
                socks.append(ws)
                for _ in range(6):
                    await wire.click(ws)
                if len(pids) == 2 and len(socks) >= 4:
                    break
                if len(pids) < 2:
                    await asyncio.sleep(0.05)
            for ws in socks:
                await ws.close()
            return len(socks), pids

        sockets, pids = wire.run(scenario())
        assert len(pids) == 2
        clicks_total = sockets * 6
        deadline = time.monotonic() + 30
        while True:  # the other worker publishes once a second
            samples = scrape(srv.port)
            if (
                value(samples, "rweb_actions_total", action="inc") == clicks_total
                and value(samples, "rweb_joins_total") == sockets
            ):
                break
            assert time.monotonic() < deadline, (samples, srv.log())
            time.sleep(0.2)
        # Several scrapes, answered by either worker, say the same.
        for _ in range(6):
            samples = scrape(srv.port)
            assert value(samples, "rweb_actions_total", action="inc") == clicks_total
            assert value(samples, "rweb_messages_out_total") == clicks_total
            assert 1 <= value(samples, "rweb_action_seconds_count", action="inc") <= clicks_total


def test_upload_bytes_are_counted() -> None:
    """The upload frames' bytes, counted where the connection takes them (rweb_upload_bytes)."""
    from rweb.html import form
    from rweb.testing import Client

    app = App("uploads")

    @app.page("/")
    def page(writer_id: Any, conn: Any) -> Any:
        up = conn.allow_upload("doc", accept=(".txt",), max_size=1 << 20)
        return (lambda: div(form(up.input(), button("Save"), data_onsubmit="save"))), {"save": lambda p: None}

    app.metrics()
    assert app.meter is not None and app.meter.upload_bytes == 0
    client = Client(app, "/")
    content = b"x" * 70_000
    reply = client.upload("doc", [("a.txt", content, "text/plain")], chunk=32_000)
    assert "e" not in reply, reply
    # Three frames: each a 5-byte header (kind, file id) and its chunk.
    assert app.meter.upload_bytes == len(content) + 3 * 5


def test_resumes_are_counted_by_how() -> None:
    """rweb_resumes_total{result}: taken over in this process, or failed (the token spent: a fresh session)."""
    from rweb.testing import Client

    app = counter_app()
    app.metrics()
    assert app.meter is not None
    first = Client(app, "/")
    first.send("inc")
    first.lose()
    second = first.resume()
    assert second.init.get("resumed") is True
    assert app.meter.resumes == {"process": 1}
    second.lose()
    stale = first.resume()  # the first token again: spent, a fresh session
    assert stale.init.get("fresh") is True
    assert app.meter.resumes == {"process": 1, "failed": 1}


def test_publish_lag_is_a_time_held_publishes_included() -> None:
    """``rweb_broker_publish_lag_seconds``: a histogram of the seconds from a publish to Redis's reply,
    against a real redis-server; publishes held while it is down count the time they were held."""
    from redis_server import RedisServer, redis_py_missing, wait_until

    if (why := redis_py_missing()) is not None:
        pytest.skip(why)
    redis = RedisServer()
    redis.start()
    try:
        app = counter_app(broker=redis.url)
        app.metrics()
        with serve(app) as s:
            assert wait_until(lambda: s.call(lambda: s.app.pubsub.stats()["connected"]), 10)
            for i in range(20):
                s.call(lambda i=i: s.app.pubsub.publish("lag", i))
            assert wait_until(lambda: s.call(lambda: s.app.pubsub.stats()["sent"]) >= 20, 10)
            samples = scrape(s.port)
            count = value(samples, "rweb_broker_publish_lag_seconds_count")
            assert count >= 20
            assert value(samples, "rweb_broker_publish_lag_seconds_bucket", le="+Inf") == count
            assert 0 < value(samples, "rweb_broker_publish_lag_seconds_sum") < count * 1.0
            sent = s.call(lambda: s.app.pubsub.stats()["sent"])

            redis.stop()  # held while Redis is down: their lag is the time held, and more
            assert wait_until(lambda: not s.call(lambda: s.app.pubsub.stats()["connected"]), 10)
            for i in range(5):
                s.call(lambda i=i: s.app.pubsub.publish("lag", i))
            held_from = time.monotonic()
            time.sleep(0.6)
            redis.start()
            assert wait_until(lambda: s.call(lambda: s.app.pubsub.stats()["sent"]) >= sent + 5, 15)
            held = time.monotonic() - held_from
            samples = scrape(s.port)
            total = value(samples, "rweb_broker_publish_lag_seconds_count")
            assert total >= count + 5
            slow = total - value(samples, "rweb_broker_publish_lag_seconds_bucket", le="0.5")
            assert slow >= 5, samples  # the 5 held ones, each held 0.6 s at least
            assert value(samples, "rweb_broker_publish_lag_seconds_sum") >= 5 * 0.6
            assert held >= 0.6
    finally:
        redis.stop()


def test_the_meter_counts_each_name_under_its_own_label_in_any_order() -> None:
    """Names as a decode makes them (a new str each message): the label of the last action is
    compared first, any other name looked up; past the bound, and None, it is ``other``."""
    meter = Meter(2, every=1)
    names = ["inc", "inc", "dec", "inc", "reset", "dec", None, "reset", "dec", "dec"]
    for name in names:
        meter.begin()
        meter.end(None if name is None else "".join(["", *name]), b"xy")
    assert {label: stat.count for label, stat in meter.actions.items()} == {"inc": 3, "dec": 4}
    assert meter.other.count == 3  # reset twice (past the bound of 2), None once
    assert meter.messages_out == len(names) and meter.bytes_out == 2 * len(names)
    assert sum(stat.timed for stat in (*meter.actions.values(), meter.other)) == len(names)  # every=1


def test_a_stat_counts_its_times_per_bucket_and_hands_them_out_once() -> None:
    stat = Stat("x")
    for _ in range(300):  # past the small ints Python keeps
        stat.time(BUCKETS[0] / 2)
    stat.time(BUCKETS[-1] * 2)
    count, timed, seconds, buckets = stat.take()
    assert (count, timed) == (0, 301)
    assert buckets == [300] + [0] * (len(BUCKETS) - 1) + [1]
    assert seconds == pytest.approx(300 * BUCKETS[0] / 2 + BUCKETS[-1] * 2)
    assert stat.take() == (0, 0, 0.0, [0] * (len(BUCKETS) + 1))
