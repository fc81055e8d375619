"""The live dashboard (rweb.dashboard): real servers, real sockets, real workers; every wait bounded.

In-process (``rweb.testing.serve``) for one process: the page, who may see it,
live updates over the socket, the busiest actions and pages, recent errors
with their log reference. As a real ``start_rweb(workers=2)`` subprocess: both
workers' samples reach the page whichever worker serves it (shared files), and
through a real redis-server with a broker.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from processes import ServerProcess, free_port

from rweb import App, reactive
from rweb.dashboard import mount_dashboard, percentile
from rweb.html import button, component, div, span
from rweb.testing import serve
from rweb.web.metrics import BUCKETS

pytest.importorskip("prometheus_client")

PATH = "/_rweb/dashboard"


@reactive
class Counter:
    value: int


def counter_app(**dash: Any) -> App:
    app = App("dash")

    @app.page("/")
    def page(writer_id: Any) -> Any:
        counter = Counter(0)

        def inc(params: Any) -> None:
            counter.value += 1

        def boom(params: Any) -> None:
            raise RuntimeError("kaboom")

        def render() -> Any:
            return div(component("display", lambda: span(counter.value)),
                       button("+", data_action="inc"), button("!", data_action="boom"))

        return render, {"inc": inc, "boom": boom}

    mount_dashboard(app, interval=dash.pop("interval", 0.2), **dash)
    return app


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace"), dict(resp.getheaders())
    finally:
        conn.close()


def worker_pids(body: str) -> set[str]:
    """The pids of the workers table's rows."""
    table = body.split('id="workers"', 1)[-1].split("</table>", 1)[0]
    return set(re.findall(r"<td>[^<:]+:(\d+)</td>", table))


def poll(port: int, pattern: str, timeout: float = 15.0, pids: int = 0) -> str:
    """GET the dashboard until its first paint matches ``pattern`` and shows ``pids`` workers (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body, _ = get(port, PATH)
        assert status == 200, body
        if re.search(pattern, body, re.DOTALL) and len(worker_pids(body)) >= pids:
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"the dashboard never showed {pattern!r}:\n{body[-3000:]}")
        time.sleep(0.1)


def test_percentile_interpolates_within_buckets() -> None:
    buckets = [0] * (len(BUCKETS) + 1)
    assert percentile(buckets, 0.5) is None
    buckets[0] = 10  # ten values at or under 0.1 ms
    assert percentile(buckets, 0.5) == pytest.approx(BUCKETS[0] / 2)
    buckets[-1] = 90  # and ninety past the last bound
    assert percentile(buckets, 0.99) == BUCKETS[-1]


def test_only_loopback_without_auth_and_the_app_rule_with_it() -> None:
    with serve(counter_app()) as srv:
        assert get(srv.port, PATH)[0] == 200
        assert get(srv.port, PATH, {"X-Forwarded-For": "203.0.113.9"})[0] == 403
    with serve(counter_app(auth=lambda conn: conn.cookies.get("admin") == "yes", login="/")) as srv:
        status, _, headers = get(srv.port, PATH)
        assert status == 303 and headers["Location"].endswith("/")
        assert get(srv.port, PATH, {"Cookie": "admin=yes"})[0] == 200


def test_live_counts_actions_pages_and_errors(wire: Any) -> None:
    with serve(counter_app()) as srv:
        dash_url = f"{srv.ws_url}?url={quote(PATH)}"

        async def scenario() -> str:
            dash = await wire.connect(dash_url)
            assert (await wire.recv(dash))["t"] == "init"
            socks = [await wire.connect(srv.ws_url) for _ in range(3)]
            for ws in socks:
                await wire.recv(ws)
            for _ in range(5):
                for ws in socks:
                    await wire.click(ws)
            reply = await wire.ask(socks[0], {"action": "boom", "params": {}})
            ref = re.search(r"ref ([0-9a-f]{8})", reply["e"]["message"]).group(1)
            deadline = time.monotonic() + 10
            seen = ""
            while time.monotonic() < deadline:
                push = await wire.recv(dash)
                seen = str(push)
                if ref in seen and "inc" in seen:
                    break
            for ws in [dash, *socks]:
                await ws.close()
            return f"{ref}|{seen}"

        ref, seen = wire.run(scenario()).split("|", 1)
        assert ref in seen  # the recent error, with the reference its log line carries
        assert "inc" in seen  # among the busiest actions
        body = poll(srv.port, r"id=\"pages\".*<td>/</td>")
        assert ref in body


APP = r"""
import os, sys
from rweb import App, start_rweb
from rweb.dashboard import mount_dashboard
from rweb.html import button, div, span

app = App("dash", broker=sys.argv[2] if len(sys.argv) > 2 else None)

@app.page("/")
def page(writer_id):
    return (lambda: div(span(f"pid {os.getpid()}."), button("+", data_action="inc"))), {"inc": lambda p: None}

mount_dashboard(app, interval=0.2)

if __name__ == "__main__":
    start_rweb(int(sys.argv[1]), app, host="127.0.0.1", workers=2, ping_interval=None)
"""


def run_two_workers(tmp_path: Path, *broker: str, shows: str = r"id=\"workers\"") -> None:
    """Both workers' rows and the total, once the page also matches ``shows``."""
    script = tmp_path / "dash_app.py"
    script.write_text(APP)
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, str(script), str(port), *broker], cwd=tmp_path,
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    server = ServerProcess(proc, port, log_path)
    try:
        server.wait_listening()
        body = poll(port, shows, pids=2)
        assert len(worker_pids(body)) == 2, body
        assert re.search(r'<tr class="total"><th>total</th>', body)
    finally:
        server.stop()


def test_two_workers_share_through_files(tmp_path: Path) -> None:
    run_two_workers(tmp_path)


def test_two_workers_share_through_the_broker(tmp_path: Path, redis_server: Any) -> None:
    # The samples travel through the broker: its publish lag (rweb_broker_publish_lag_seconds) shows.
    run_two_workers(tmp_path, redis_server.url, shows=r"id=\"broker\".*connected, [^<]*publish lag P99 [\d.,]+ ms")

