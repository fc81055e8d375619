"""App-wide startup and shutdown: ``app.on_startup``, ``app.on_shutdown`` and ``app.spawn``.

Each transport runs them: the built-in server (a real subprocess with two
worker processes, stopped with SIGTERM), uvicorn through the ASGI lifespan
(a real ``python -m uvicorn`` child), and ``with TestClient(app)``.  The app
(below, written to a temporary directory) notes each event with its process
id in a file; every wait is bounded.
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
from processes import ServerProcess, children_of, free_port

from rweb import App
from rweb.testing import TestClient

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork, signals and /proc")

APP = r'''
import asyncio, gc, os, sys
import rweb
from rweb import App, start_rweb

EVENTS = os.environ["RWEB_TEST_EVENTS"]
FAIL = os.environ.get("RWEB_TEST_FAIL") == "1"


def note(*words):
    with open(EVENTS, "a") as f:
        f.write(" ".join(map(str, (os.getpid(), *words))) + "\n")


def build():
    app = App("lifecycle")
    state = {"ready": False, "ticks": 0}

    @app.on_startup
    def first():
        note("startup-sync", app.loop() is asyncio.get_running_loop())

    @app.on_startup
    async def second():
        await asyncio.sleep(0.2)  # the server serves nothing before this is done
        state["ready"] = True
        app.spawn(ticker())
        note("startup-async")
        if FAIL:
            raise RuntimeError("no database here")

    async def ticker():
        try:
            while True:
                state["ticks"] += 1
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            note("task-cancelled")
            raise

    @app.on_shutdown
    async def closing():
        await asyncio.sleep(0)
        note("shutdown-async", state["ticks"] > 0)

    @app.on_shutdown
    def closed():
        note("shutdown-sync")

    @app.get("/state")
    def get_state(request):
        return {"pid": os.getpid(), "ready": state["ready"], "ticks": state["ticks"],
                "frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}

    return app


def asgi_app():
    return rweb.asgi(build())


if __name__ == "__main__":
    gc_off = {"gc_freeze": False, "gc_threshold": None} if os.environ.get("RWEB_TEST_GC_OFF") == "1" else {}
    start_rweb(int(sys.argv[1]), build(), host="127.0.0.1", workers=int(sys.argv[2]), **gc_off)
'''

WAIT = 20.0


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _events(path: Path) -> list[tuple[int, str, list[str]]]:
    """(pid, event, its words) for each line noted so far."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        pid, event, *rest = line.split()
        out.append((int(pid), event, rest))
    return out


def _wait_for(check: Any, what: str, log: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    pytest.fail(f"{what} within {timeout} s:\n{log()}")


@contextlib.contextmanager
def builtin(
    tmp_path: Path, workers: int, *, fail: bool = False, gc_off: bool = False
) -> Iterator[tuple[ServerProcess, Path]]:
    script = tmp_path / "lifecycle_app.py"
    script.write_text(APP)
    events = tmp_path / "events.txt"
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RWEB_TEST_EVENTS": str(events), "RWEB_TEST_FAIL": "1" if fail else "0",
           "RWEB_TEST_GC_OFF": "1" if gc_off else "0"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(port), str(workers)],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    srv = ServerProcess(proc, port, log_path)
    try:
        yield srv, events
    finally:
        srv.stop()


def test_every_worker_runs_the_hooks_before_serving_and_again_when_stopped(tmp_path: Path) -> None:
    with builtin(tmp_path, 2) as (srv, events):
        srv.wait_listening()
        # The parent listens before its workers start: a request queues until one has started.
        status, body = _get(srv.port, "/state")
        assert status == 200
        state = json.loads(body)
        assert state["ready"] is True and state["ticks"] >= 1  # the startup hooks ran, the task runs

        def both_started() -> list[int]:
            pids = {pid for pid, event, _ in _events(events) if event == "startup-async"}
            return sorted(pids) if len(pids) == 2 else []

        pids = _wait_for(both_started, "two workers did not start", srv.log)
        assert pids == sorted(children_of(srv.proc.pid))  # the workers, not the supervisor
        assert state["pid"] in pids
        for pid in pids:
            mine = [(event, words) for p, event, words in _events(events) if p == pid]
            assert mine[:2] == [("startup-sync", ["True"]), ("startup-async", [])]  # in order, on the loop

        srv.proc.terminate()  # SIGTERM: a graceful stop of every worker
        assert srv.proc.wait(WAIT) == 0, srv.log()
    for pid in pids:
        mine = [(event, words) for p, event, words in _events(events) if p == pid]
        # Once each; the task is cancelled first, then the shutdown hooks run in order.
        assert mine == [
            ("startup-sync", ["True"]),
            ("startup-async", []),
            ("task-cancelled", []),
            ("shutdown-async", ["True"]),
            ("shutdown-sync", []),
        ], srv.log()


def test_a_failing_startup_hook_fails_the_start_loudly(tmp_path: Path) -> None:
    with builtin(tmp_path, 1, fail=True) as (srv, events):
        try:
            code = srv.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server still runs with a failed startup hook:\n{srv.log()}")
        log = srv.log()
        assert code != 0
        assert "startup hook build.<locals>.second failed" in log and "RuntimeError: no database here" in log
        # No shutdown hook runs for a start that failed (what the hooks spawned is cancelled).
        noted = [event for _, event, _ in _events(events)]
        assert noted[:2] == ["startup-sync", "startup-async"] and not any(e.startswith("shutdown") for e in noted)


def test_a_failing_startup_hook_keeps_a_supervised_worker_from_serving(tmp_path: Path) -> None:
    with builtin(tmp_path, 2, fail=True) as (srv, _events_path):
        srv.wait_listening()
        _wait_for(lambda: srv.log().count("worker 0 crashed") >= 1 and "restarting it in" in srv.log(),
                  "no failed worker was restarted", srv.log)
        log = srv.log()
        assert "startup hook build.<locals>.second failed" in log
        # The port is the supervisor's: it queues connections, but no worker answers them.
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=1)
        try:
            with pytest.raises(OSError):
                conn.request("GET", "/state")
                conn.getresponse()
        finally:
            conn.close()


# -- under uvicorn: the ASGI lifespan -----------------------------------------------------------------


def _uvicorn(tmp_path: Path, events: Path, port: int, fail: bool) -> subprocess.Popen[bytes]:
    (tmp_path / "lifecycle_app.py").write_text(APP)
    env = {**os.environ, "RWEB_TEST_EVENTS": str(events), "RWEB_TEST_FAIL": "1" if fail else "0"}
    cmd = [sys.executable, "-m", "uvicorn", "lifecycle_app:asgi_app", "--factory", "--app-dir", str(tmp_path),
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "info", "--lifespan", "on"]
    return subprocess.Popen(cmd, cwd=tmp_path, stdout=open(tmp_path / "uvicorn.log", "wb"), stderr=subprocess.STDOUT,
                            env=env)


def test_uvicorn_runs_the_hooks_at_the_lifespan(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    events = tmp_path / "events.txt"
    port = free_port()
    proc = _uvicorn(tmp_path, events, port, fail=False)
    log = lambda: (tmp_path / "uvicorn.log").read_text(errors="replace")  # noqa: E731
    try:
        _wait_for(lambda: "startup-async" in (events.read_text() if events.exists() else ""), "no startup", log)

        def answered() -> Any:
            with contextlib.suppress(OSError):
                return json.loads(_get(port, "/state")[1])
            return None

        state = _wait_for(answered, "uvicorn did not answer", log)
        assert state["ready"] is True and state["ticks"] >= 1
        proc.terminate()
        assert proc.wait(WAIT) in (0, -15), log()  # uvicorn >= 0.29 re-raises SIGTERM once it has stopped
        assert "Application shutdown complete" in log()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert [event for _, event, _ in _events(events)] == [
        "startup-sync", "startup-async", "task-cancelled", "shutdown-async", "shutdown-sync"
    ]


def test_uvicorn_does_not_serve_when_a_startup_hook_fails(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    events = tmp_path / "events.txt"
    proc = _uvicorn(tmp_path, events, free_port(), fail=True)
    try:
        code = proc.wait(WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    log = (tmp_path / "uvicorn.log").read_text(errors="replace")
    assert code != 0, log
    assert "startup hook build.<locals>.second failed" in log and "no database here" in log
    assert "Application startup failed" in log


# -- in-process: rweb.testing ---------------------------------------------------------------------


def test_test_client_runs_startup_on_entry_and_shutdown_on_exit() -> None:
    app = App("t")
    seen: list[str] = []
    ticks = [0]

    async def ticker() -> None:
        try:
            while True:
                ticks[0] += 1
                await asyncio.sleep(0)
        finally:
            seen.append("cancelled")

    @app.on_startup
    def sync_hook() -> None:
        seen.append("startup-sync")

    @app.on_startup
    async def async_hook() -> None:
        await asyncio.sleep(0)
        app.spawn(ticker())
        seen.append("startup-async")

    @app.on_shutdown
    async def stop() -> None:
        seen.append("shutdown")

    app.get("/ticks")(lambda request: {"ticks": ticks[0]})

    with TestClient(app) as http:
        assert seen == ["startup-sync", "startup-async"]
        http.run_pending()  # the background task runs when the loop does
        assert http.get("/ticks").json()["ticks"] >= 1
    assert seen == ["startup-sync", "startup-async", "cancelled", "shutdown"]
    assert not app.lifecycle.tasks


def test_spawn_before_the_app_is_served_says_so() -> None:
    app = App("t")

    async def work() -> None:
        pass

    with pytest.raises(RuntimeError, match="on_startup"):
        app.spawn(work())


def test_a_failing_startup_hook_fails_the_test_client() -> None:
    app = App("t")

    @app.on_startup
    def broken() -> None:
        raise ValueError("bad config")

    with pytest.raises(ValueError, match="bad config"), TestClient(app):
        pass


def test_a_task_that_fails_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = App("t")

    async def boom() -> None:
        raise KeyError("gone")

    app.on_startup(lambda: app.spawn(boom()))
    with TestClient(app) as http:
        http.run_pending()
    assert "background task" in caplog.text and "KeyError: 'gone'" in caplog.text


@pytest.mark.parametrize("workers", [1, 2])
def test_a_serving_process_freezes_what_startup_made_and_sets_the_gc_threshold(tmp_path: Path, workers: int) -> None:
    """start_rweb's garbage collection (docs/operations.md): each serving process, once started,
    has frozen what was alive (full collections walk only its sessions' objects) and runs with
    GC_THRESHOLD; both can be turned off."""
    from rweb.server import GC_THRESHOLD

    for gc_off in (False, True):
        with builtin(tmp_path, workers, gc_off=gc_off) as (srv, _events_path):
            srv.wait_listening()
            status, body = _get(srv.port, "/state")
            assert status == 200
            state = json.loads(body)
            if gc_off:
                assert state["frozen"] == 0 and state["threshold"] == [700, 10, 10], state
            else:
                # The modules, the app and its services: thousands of objects, frozen after startup.
                assert state["frozen"] > 5000 and state["threshold"] == list(GC_THRESHOLD), state
