"""Tests of the benchmark tool (``rweb bench``) against tiny loopback servers.

Only counts and shapes are asserted, never timings. The CLI runs as a subprocess (it forks
client worker processes); the servers are either ``benchmarks/bare_picows.py`` or small
picows servers running in a thread of the test process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from picows import (
    WSCloseCode,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from rweb.bench import liveview, stats
from rweb.html import button, div
from rweb.testing import serve

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


def run_bench(*args: str, timeout: float = 60) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "rweb.bench", "--json", "--quiet", "--max-time", "30", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        cwd=ROOT,
    )
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"no JSON on stdout (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode, data, proc.stderr


@pytest.fixture(scope="module")
def bare_server() -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "bare_picows.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "bare picows listening on ws://127.0.0.1:PORT/ (pid N)"
        assert "listening on" in line, line
        url = line.split()[4]
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class LoopThread:
    """An asyncio loop in a background thread, for in-process test servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@contextlib.contextmanager
def thread_server(factory: Any) -> Iterator[int]:
    lt = LoopThread()
    server = lt.run(ws_create_server(factory, "127.0.0.1", 0))
    try:
        yield server.sockets[0].getsockname()[1]
    finally:

        async def close() -> None:
            server.close()

        lt.run(close())
        lt.stop()


# -- the rweb protocol against the bare picows server ---------------------------------
@pytest.mark.parametrize("procs", [1, 2])
def test_clicks_all_counted(bare_server: tuple[str, int], procs: int, tmp_path: Path) -> None:
    url, pid = bare_server
    report = tmp_path / "report.html"
    rc, r, err = run_bench(
        "--url", url, "--clients", "5", "--clicks", "20", "--procs", str(procs),
        "--server-pid", str(pid), "--report", str(report),
    )
    assert rc == 0, err
    assert r["ok"] is True
    assert r["clicks"] == {"expected": 100, "answered": 100, "lost": 0}
    assert r["failures"] == {} and r["failed_sessions"] == 0
    assert r["connect"]["ok"] == 5
    assert r["config"]["procs"] == procs
    lat = r["latency_us"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]
    assert r["seed"]["success_clients"] == 5 and r["seed"]["failed_clients"] == 0
    assert r["seed"]["avg_latency_p50_ms"] <= r["seed"]["avg_latency_p99_ms"]
    assert r["bytes_per_click"] == 58.0  # the bare server's fixed reply
    assert r["server"]["pids"] == [pid]
    assert r["server"]["cpu_s"] >= 0
    assert r["server"]["cpu_s_by_pid"] == {str(pid): r["server"]["cpu_s"]}  # each process's share
    assert sum(r["distribution"]["counts"]) == 100
    page = report.read_text()
    assert "<svg" in page and "http" not in page.split("<body>")[0].replace("http-equiv", "")


def test_server_pid_auto(bare_server: tuple[str, int]) -> None:
    url, pid = bare_server
    rc, r, err = run_bench("--url", url, "--clients", "2", "--clicks", "5", "--server-pid", "auto")
    assert rc == 0, err
    assert pid in r["server"]["pids"]


def test_idle_mode(bare_server: tuple[str, int]) -> None:
    url, pid = bare_server
    rc, r, err = run_bench(
        "--url", url, "--mode", "idle", "--clients", "8", "--server-pid", str(pid),
        "--settle", "0.1", "--hold", "0.2",
    )
    assert rc == 0, err
    idle = r["idle"]
    assert idle["sessions"] == 8 and idle["open_after_hold"] == 8
    assert idle["rss_before_kib"] > 0 and idle["kib_per_session"] is not None


def test_connection_refused_is_counted() -> None:
    import socket

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, r, _ = run_bench("--url", f"ws://127.0.0.1:{port}/ws", "--clients", "3", "--clicks", "2")
    assert rc == 1
    assert r["connect"]["ok"] == 0
    assert r["failed_sessions"] == 3
    assert all(k.startswith("connect: ConnectionRefusedError") for k in r["failures"])


def test_refuses_remote_target() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rweb.bench", "--url", "ws://192.0.2.1/ws", "--clients", "1"],
        capture_output=True, text=True, timeout=30, env=_env(),
    )
    assert proc.returncode != 0 and "loopback" in proc.stderr


# -- a server that never answers ------------------------------------------------------
class Silent(WSListener):
    def on_ws_connected(self, transport: WSTransport) -> None:
        transport.send(WSMsgType.TEXT, b'{"page":1}')

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()


def test_reply_timeouts_counted_with_reason() -> None:
    with thread_server(lambda req: Silent()) as port:
        rc, r, _ = run_bench(
            "--url", f"ws://127.0.0.1:{port}/ws", "--clients", "3", "--clicks", "5",
            "--timeout", "0.3",
        )
    assert rc == 1
    assert r["ok"] is False
    assert r["connect"]["ok"] == 3
    assert r["failures"] == {"reply timeout": 3}
    assert r["clicks"]["answered"] == 0 and r["clicks"]["lost"] == 15


# -- rweb's pushes and error replies --------------------------------------------------
class PushThenReply(Silent):
    """Speaks rweb's format: on each click, a push at once and the reply 20 ms later.
    Counts clicks that arrive while a reply is still owed (the client took the push
    for the reply)."""

    early = 0

    def __init__(self) -> None:
        self.owed = False

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            super().on_ws_frame(transport, frame)
            return
        if self.owed:
            PushThenReply.early += 1
        self.owed = True
        transport.send(WSMsgType.TEXT, b'{"t":"p","d":{"clock":{"0":"12:00"}}}')

        def reply() -> None:
            self.owed = False
            transport.send(WSMsgType.TEXT, b'{"t":"r","d":{"display":{"0":"1"}}}')

        asyncio.get_running_loop().call_later(0.02, reply)


def test_rweb_pushes_are_not_taken_for_replies() -> None:
    PushThenReply.early = 0
    with thread_server(lambda req: PushThenReply()) as port:
        rc, r, err = run_bench("--url", f"ws://127.0.0.1:{port}/ws", "--clients", "3", "--clicks", "5")
    assert rc == 0, err
    assert r["clicks"] == {"expected": 15, "answered": 15, "lost": 0}
    assert PushThenReply.early == 0
    assert r["extra_messages"] == 15
    assert r["latency_us"]["min"] >= 15_000  # every click waited for its own reply


def test_rweb_error_replies_are_failures() -> None:
    def setup(writer_id: Any) -> Any:
        return (lambda: div(button("+", data_action="inc"))), (lambda action, params: None)

    with serve(setup) as srv:
        rc, r, _ = run_bench("--url", srv.ws_url, "--clients", "2", "--clicks", "5", "--action", "nope")
    assert rc == 1
    assert r["failures"] == {"error reply (unknown_action)": 2}
    assert r["clicks"]["answered"] == 0


def test_cycle_and_param_reach_the_server_in_turn() -> None:
    """``--param`` goes with every click; ``--cycle id=3`` takes 0, 1, 2, 0, ... per session."""
    seen: list[tuple[str, str, str]] = []

    def setup(writer_id: Any) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            seen.append((action, params["id"], params["list"]))

        return (lambda: div(button("t", data_action="toggle"))), on_action

    with serve(setup) as srv:
        rc, r, err = run_bench("--url", srv.ws_url, "--clients", "2", "--clicks", "4",
                               "--action", "toggle", "--param", "list=a", "--cycle", "id=3")
    assert rc == 0, err
    assert r["clicks"]["answered"] == 8
    assert r["config"]["params"] == {"list": "a"} and r["config"]["cycle"] == "id=3"
    assert sorted(seen) == sorted([("toggle", i, "a") for i in ("0", "1", "2", "0")] * 2)


def test_cycle_refuses_bad_values() -> None:
    proc = subprocess.run([sys.executable, "-m", "rweb.bench", "--url", "ws://127.0.0.1:9/ws", "--cycle", "id=0"],
                          capture_output=True, text=True, timeout=60, env=_env(), cwd=ROOT)
    assert proc.returncode != 0 and "--cycle wants KEY=N" in proc.stderr


# -- the LiveView protocol against a tiny fake Phoenix server -------------------------
CSRF = "csrf+tok/en=="
PAGE = (
    b'<html><head><meta name="csrf-token" content="csrf+tok/en==" /></head><body>'
    b'<div data-phx-main="true" data-phx-session="SESS&amp;ION" data-phx-static="STATIC" '
    b'id="phx-Fabc123"><span>Count: 0</span></div></body></html>'
)


class FakeLive(WSListener):
    def __init__(self, cookie: str | None, query: str) -> None:
        self.cookie = cookie
        self.query = query
        self.count = 0

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()
            return
        join_ref, ref, topic, event, payload = json.loads(frame.get_payload_as_bytes())
        if event == "phx_join":
            ok = (
                topic == "lv:phx-Fabc123"
                and payload["params"]["_csrf_token"] == CSRF
                and payload["session"] == "SESS&ION"
                and payload["static"] == "STATIC"
                and self.cookie == "_app_key=s3cr3t"
                and "_csrf_token=csrf%2Btok%2Fen%3D%3D" in self.query
                and "vsn=2.0.0" in self.query
            )
            status = "ok" if ok else "error"
            reply = [join_ref, ref, topic, "phx_reply", {"status": status, "response": {}}]
        elif event == "event" and payload["event"] == "inc":
            self.count += 1
            # a separate push first: the client must skip it and wait for its reply
            push = [None, None, topic, "diff", {"0": str(self.count)}]
            transport.send(WSMsgType.TEXT, json.dumps(push).encode())
            reply = [join_ref, ref, topic, "phx_reply",
                     {"status": "ok", "response": {"diff": {"0": str(self.count)}}}]
        else:
            reply = [join_ref, ref, topic, "phx_reply", {"status": "error", "response": {}}]
        transport.send(WSMsgType.TEXT, json.dumps(reply).encode())


def fake_phoenix(request: WSUpgradeRequest) -> Any:
    path = request.path.decode()
    if path.startswith("/live/websocket"):
        return FakeLive(request.headers.get("Cookie"), path.partition("?")[2])
    response = WSUpgradeResponse.create_ok_response(
        PAGE, {"Content-Type": "text/html", "Set-Cookie": "_app_key=s3cr3t; path=/; HttpOnly"}
    )
    return WSUpgradeResponseWithListener(response, None)


def test_liveview_protocol() -> None:
    with thread_server(fake_phoenix) as port:
        rc, r, err = run_bench(
            "--protocol", "liveview", "--url", f"http://127.0.0.1:{port}/",
            "--clients", "3", "--clicks", "10",
        )
    assert rc == 0, (err, r["failures"])
    assert r["clicks"]["answered"] == 30
    assert r["failures"] == {}
    assert r["seed"]["success_clients"] == 3


def test_liveview_join_failure_counted() -> None:
    def no_cookie(request: WSUpgradeRequest) -> Any:
        if request.path.startswith(b"/live/websocket"):
            return FakeLive(None, request.path.decode())  # as if the cookie was lost
        return fake_phoenix(request)

    with thread_server(no_cookie) as port:
        rc, r, _ = run_bench(
            "--protocol", "liveview", "--url", f"http://127.0.0.1:{port}/",
            "--clients", "2", "--clicks", "3",
        )
    assert rc == 1
    assert r["failures"] == {"join: status error": 2}


# -- pure helpers ---------------------------------------------------------------------
def test_scrape_liveview_page() -> None:
    csrf, session, static, phx_id = liveview.scrape(PAGE.decode())
    assert (csrf, session, static, phx_id) == (CSRF, "SESS&ION", "STATIC", "phx-Fabc123")
    with pytest.raises(liveview.LiveViewError):
        liveview.scrape("<html></html>")


def test_event_message_shape() -> None:
    info = liveview.PageInfo("http://h/", "ws://h/live", CSRF, "S", "", "lv:phx-x")
    prefix, suffix = info.event_parts("inc", {})
    msg = json.loads(prefix + b"7" + suffix)
    assert msg == ["1", "7", "lv:phx-x", "event", {"type": "click", "event": "inc", "value": {}}]
    join = json.loads(info.join_message())
    assert join[:4] == ["1", "1", "lv:phx-x", "phx_join"]
    assert join[4]["params"] == {"_csrf_token": CSRF}


def test_stats_helpers() -> None:
    values = sorted(range(1000, 101_000, 1000))  # 100 values, ns
    assert stats.percentile(values, 50) == 50_000
    assert stats.percentile(values, 99) == 99_000
    assert stats.percentile(values, 100) == 100_000
    summary = stats.latency_summary_us(values)
    assert summary["p50"] == 50.0 and summary["max"] == 100.0
    seed = stats.seed_avg_figures_ms([3e6, 1e6, 2e6])
    assert seed["avg_latency_p50_ms"] == 2.0
    dist = stats.distribution(values)
    assert sum(dist["counts"]) == 100
    assert len(dist["edges_us"]) == len(dist["counts"]) + 1
    tl = stats.merge_timelines([[(0, 0), (10**9, 500)], [(0, 0), (10**9, 500)]], 0, 10**9)
    assert abs(sum(tl["rates"]) * tl["bucket_s"] - 1000) < 1e-6
