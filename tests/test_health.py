"""Liveness, readiness and the drain: the endpoints directly, a real SIGTERM, and nginx failing over.

The in-process tests run the real server in a thread (``rweb.testing.serve``)
and drain it by hand (``Server.start_drain``); the others run the app below as
real server processes (``start_rweb(..., drain=...)``) and send them signals:
during a drain readiness says 503 while the sockets the process holds are
still served, and nginx (``proxy_next_upstream error timeout http_503``, as
docs/operations.md configures it) sends new requests and sockets to the
other instance.  Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from processes import ServerProcess, children_of, free_port

from rweb import App, reactive
from rweb.html import button, component, div, span
from rweb.testing import Served, serve
from rweb.web.health import LIVE_PATH, READY_PATH

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork, signals and /proc")

APP = r"""
import json, os, sys
from rweb import App, reactive, start_rweb
from rweb.html import button, component, div, span

name, port, workers, drain = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
app = App("drain " + name)

@reactive
class Counter:
    value: int

@app.page("/")
def page(writer_id):
    counter = Counter(0)

    def render():
        return div(span(f"instance {name} pid {os.getpid()}"), component("display", lambda: div(span("Count: "), span(counter.value))),
                   button("+", data_action="inc"))

    def inc(params):
        counter.value += 1

    return render, {"inc": inc}

@app.get("/state")
def state(request):
    return {"instance": name, "pid": os.getpid()}

@app.post("/echo")
def echo(request):
    return {"instance": name, "body": request.body.decode()}

if __name__ == "__main__":
    start_rweb(port, app, host="127.0.0.1", workers=workers, drain=drain, ping_interval=None)
"""


@reactive
class Counter:
    value: int


def counter_app() -> App:
    app = App("health")

    @app.page("/")
    def page(writer_id: Any) -> Any:
        counter = Counter(0)

        def inc(params: Any) -> None:
            counter.value += 1

        return (
            lambda: div(
                component("display", lambda: div(span("Count: "), span(counter.value))),
                button("+", data_action="inc"),
            )
        ), {"inc": inc}

    @app.post("/echo")
    def echo(request: Any) -> Any:
        return {"body": request.body.decode()}

    return app


def request(
    port: int,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


async def upgrade_status(url: str) -> int:
    """The HTTP status a WebSocket handshake to ``url`` gets (101: opened)."""
    try:
        async with websockets.connect(url, proxy=None, open_timeout=10):
            return 101
    except websockets.InvalidStatus as exc:
        return int(exc.response.status_code)


# -- the endpoints --------------------------------------------------------------------


def test_live_and_ready_answer_ok_uncached() -> None:
    with serve(counter_app()) as srv:
        for path in (LIVE_PATH, READY_PATH):
            status, headers, body = request(srv.port, path)
            assert (status, body) == (200, b"ok\n")
            assert headers["cache-control"] == "no-store"
            assert headers["content-type"].startswith("text/plain")
            status, headers, body = request(srv.port, path, "HEAD")
            assert (status, body, headers["content-length"]) == (200, b"", "3")
            status, headers, _ = request(srv.port, path, "POST", b"x")
            assert status == 405 and headers["allow"] == "GET, HEAD"


def test_the_paths_are_configurable_and_can_be_turned_off() -> None:
    app = counter_app()
    app.health(live="/healthz", ready=None)
    with serve(app) as srv:
        assert request(srv.port, "/healthz")[:3:2] == (200, b"ok\n")
        assert request(srv.port, LIVE_PATH)[0] == 404
        assert request(srv.port, READY_PATH)[0] == 404
    with pytest.raises(ValueError):
        app.health(ready="healthz")


def test_a_drain_says_503_at_readiness_while_the_open_sockets_are_served(
    wire: Any, count_of: Any
) -> None:
    async def scenario(srv: Served) -> None:
        async with wire.connect(srv.ws_url) as ws:
            assert (await wire.recv(ws))["t"] == "init"
            assert count_of(await wire.click(ws)) == "1"
            srv.call(srv.server.start_drain)
            status, headers, body = await asyncio.to_thread(request, srv.port, READY_PATH)
            assert (status, body) == (503, b"draining\n")
            assert headers["cache-control"] == "no-store" and headers["retry-after"] == "5"
            assert (await asyncio.to_thread(request, srv.port, LIVE_PATH))[0] == 200
            # The socket held is served as before.
            assert count_of(await wire.click(ws)) == "2"
            # New sockets and pages are refused: a proxy that retries sends them elsewhere.
            assert await upgrade_status(srv.ws_url) == 503
            status, headers, _ = await asyncio.to_thread(request, srv.port, "/")
            assert (
                status == 503 and headers["retry-after"] == "5" and headers["connection"] == "close"
            )
            # A POST is served (a proxy would not retry it).
            status, _, body = await asyncio.to_thread(request, srv.port, "/echo", "POST", b"hi")
            assert status == 200 and json.loads(body) == {"body": "hi"}
            assert count_of(await wire.click(ws)) == "3"

    with serve(counter_app()) as srv:
        wire.run(scenario(srv))


def test_a_drain_without_refusals_only_changes_readiness(wire: Any) -> None:
    async def scenario(srv: Served) -> None:
        assert await upgrade_status(srv.ws_url) == 101
        assert (await asyncio.to_thread(request, srv.port, "/"))[0] == 200

    with serve(counter_app()) as srv:

        def drain() -> None:
            srv.server.drain_refuse = False
            srv.server.start_drain()

        srv.call(drain)
        assert request(srv.port, READY_PATH)[0] == 503
        wire.run(scenario(srv))


# -- SIGTERM, for real ------------------------------------------------------------------


@contextlib.contextmanager
def instance(
    workdir: Path, name: str, *, workers: int = 1, drain: float = 30.0
) -> Iterator[ServerProcess]:
    script = workdir / "drain_app.py"
    if not script.exists():
        script.write_text(APP)
    port = free_port()
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(script), name, str(port), str(workers), str(drain)],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    srv = ServerProcess(proc, port, log_path)
    try:
        srv.wait_listening()
        deadline = time.monotonic() + 20
        while len(children_of(proc.pid)) < (workers if workers > 1 else 0):
            assert time.monotonic() < deadline, srv.log()
            time.sleep(0.02)
        # Until every worker answers (a worker that has not set its signal handlers yet would not drain).
        pids: set[int] = set()
        for _ in range(400):
            pids.add(json.loads(request(port, "/state")[2])["pid"])
            if len(pids) == workers:
                break
        assert len(pids) == workers, srv.log()
        yield srv
    finally:
        srv.stop()


def wait_for(pred: Any, what: str, timeout: float = 10.0, log: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {timeout} s\n{log}")
        time.sleep(0.02)


def test_sigterm_drains_every_worker_and_a_second_sigterm_ends_the_drain(
    tmp_path: Path, wire: Any, count_of: Any
) -> None:
    with instance(tmp_path, "a", workers=2, drain=30.0) as srv:
        assert request(srv.port, READY_PATH)[0] == 200

        async def scenario() -> None:
            socks, pids = [], set()
            for _ in range(100):  # until both workers hold sockets (the kernel spreads the accepts)
                ws = await wire.connect(srv.url)
                init = json.dumps(await wire.recv(ws))
                socks.append(ws)
                pids.add(init.split(" pid ")[1].split("<")[0])
                if len(pids) == 2 and len(socks) >= 4:
                    break
            assert len(pids) == 2
            srv.proc.send_signal(signal.SIGTERM)
            # Every connection (whichever worker accepts it) hears 503 at readiness, 200 at liveness.
            await asyncio.to_thread(
                wait_for,
                lambda: request(srv.port, READY_PATH)[0] == 503,
                "readiness 503",
                10.0,
                srv.log(),
            )
            for _ in range(6):
                assert (await asyncio.to_thread(request, srv.port, READY_PATH))[0] == 503
                assert (await asyncio.to_thread(request, srv.port, LIVE_PATH))[0] == 200
            assert await upgrade_status(srv.url) == 503
            # The sockets held, in both workers, are still served a second into the drain.
            await asyncio.sleep(1.0)
            for ws in socks:
                assert count_of(await wire.click(ws)) == "1"
            assert srv.proc.poll() is None
            # A second SIGTERM: no more waiting, the sockets close with 1012 (service restart).
            started = time.monotonic()
            srv.proc.send_signal(signal.SIGTERM)
            for ws in socks:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
            await asyncio.to_thread(srv.proc.wait, 10)
            assert time.monotonic() - started < 10

        wire.run(scenario())
        assert srv.proc.returncode == 0, srv.log()
        assert srv.log().count("draining: readiness answers 503") == 2, srv.log()


def test_sigint_stops_without_a_drain(tmp_path: Path) -> None:
    with instance(tmp_path, "a", workers=1, drain=30.0) as srv:
        started = time.monotonic()
        srv.proc.send_signal(signal.SIGINT)
        srv.proc.wait(10)
        assert time.monotonic() - started < 10
        assert "draining" not in srv.log()


# -- nginx fails over to the other instance -------------------------------------------------


def test_nginx_sends_new_requests_and_sockets_to_the_other_instance_while_one_drains(
    tmp_path: Path, wire: Any, count_of: Any
) -> None:
    from test_multi_instance import NGINX, nginx_conf, start_nginx, stop_process

    if NGINX is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light)")
    workdir = Path(tempfile.mkdtemp(prefix="rweb-drain-"))
    workdir.chmod(0o755)  # nginx's workers (nobody, when the tests run as root) use its temp paths
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        a = stack.enter_context(instance(workdir, "a"))
        b = stack.enter_context(instance(workdir, "b"))
        port = free_port()
        nginx = start_nginx(workdir, nginx_conf(workdir, port, [a.port, b.port], b.port), port)
        stack.callback(stop_process, nginx)
        site = f"http://127.0.0.1:{port}"
        ws_url = f"ws://127.0.0.1:{port}/ws"

        def served_by(path: str = "/state") -> str:
            status, _, body = request(port, path)
            assert status == 200, body
            return str(json.loads(body)["instance"])

        assert {served_by() for _ in range(4)} == {"a", "b"}  # round robin

        async def join(want: str) -> Any:
            for _ in range(10):
                ws = await wire.connect(ws_url, origin=site)
                init = await wire.recv(ws)
                if f"instance {want}" in json.dumps(init):
                    return ws
                await ws.close()
            raise AssertionError(f"nginx never sent a socket to instance {want}")

        async def scenario() -> None:
            held = await join("a")
            assert count_of(await wire.click(held)) == "1"
            a.proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(
                wait_for, lambda: request(a.port, READY_PATH)[0] == 503, "a draining", 10.0, a.log()
            )
            # New requests and sockets through nginx all reach b, none fails.
            for _ in range(8):
                assert await asyncio.to_thread(served_by) == "b"
                status, _, page = await asyncio.to_thread(request, port, "/")
                assert status == 200 and b"instance b" in page
            for _ in range(4):
                ws = await wire.connect(ws_url, origin=site)
                assert "instance b" in json.dumps(await wire.recv(ws))
                await ws.close()
            # The socket a holds is still served through nginx.
            assert count_of(await wire.click(held)) == "2"
            # Once a stops, its socket hears 1012 and nginx keeps sending everything to b.
            a.proc.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(held.recv(), 10)
            await asyncio.to_thread(a.proc.wait, 10)
            for _ in range(4):
                assert await asyncio.to_thread(served_by) == "b"

        wire.run(scenario())
        log = (workdir / "access.log").read_text()
        assert " 503 " not in log, log  # no client saw a 503: nginx retried each on b
