"""Development mode: ``rweb run app.py --reload`` and ``start_rweb(reload=True)``.

The reloader runs as a real subprocess on a free loopback port, serving an app
written to a temporary directory; the test edits the file and talks to the
server with a real WebSocket client.  Every wait is bounded.  Also ``rweb
run``'s loading of an app (in-process) and the reloader's file scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import children_of, free_port

from rweb import App
from rweb.dev.runner import AppNotFound, load_app, watch_dirs
from rweb.server.reload import changes, scan

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals, /proc")

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"

APP = '''
from rweb import App
from rweb.html import p

app = App("reloading")


@app.page("/")
def home(writer_id):
    return (lambda: p("TEXT", id="text")), {}
'''


def app_source(text: str) -> str:
    return APP.replace("TEXT", text)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(check: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(what())
        time.sleep(0.05)


class Reloading:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.proc = proc
        self.port = port
        self.log_path = log_path

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws?url=/"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, count: int = 1, timeout: float = 20.0) -> None:
        wait_until(
            lambda: self.log().count(text) >= count,
            timeout,
            lambda: f"{text!r} not logged {count} time(s) within {timeout} s:\n{self.log()}",
        )

    def wait_listening(self, timeout: float = 20.0) -> None:
        """Until the port accepts connections (the reloader binds it before any server starts)."""

        def listening() -> bool:
            assert self.proc.poll() is None, f"the reloader exited:\n{self.log()}"
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
            except OSError:
                return False
            return True

        wait_until(listening, timeout, lambda: f"nothing listened within {timeout} s:\n{self.log()}")

    def get(self, path: str = "/") -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@contextlib.contextmanager
def reloading(tmp_path: Path, command: list[str], env: dict[str, str] | None = None) -> Iterator[Reloading]:
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, *[c.replace("PORT", str(port)) for c in command]],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
                **(env or {}),
            },
        )
    srv = Reloading(proc, port, log_path)
    try:
        srv.wait_listening()
        yield srv
    finally:
        kids = children_of(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def edit(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    if path.stat().st_mtime_ns == before:  # a coarse clock: make the change visible
        os.utime(path, ns=(before + 10_000_000, before + 10_000_000))


async def init_text(wire: Any, url: str, timeout: float = 20.0) -> str:
    """The init of a new socket, as text (the socket waits in the backlog while no server runs)."""
    async with wire.connect(url, open_timeout=timeout) as ws:
        init = await wire.recv(ws, timeout)
        assert init["t"] == "init", init
        return json.dumps(init)


# -- rweb run --reload, for real ----------------------------------------------------------


def test_rweb_run_reload_restarts_on_changes_survives_a_syntax_error_and_stops(tmp_path: Path, wire: Any) -> None:
    app = tmp_path / "app.py"
    app.write_text(app_source("first version"))
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "noise.py").write_text("x = 1\n")
    with reloading(tmp_path, ["-m", "rweb", "run", "app.py", "--reload", "--port", "PORT", "--workers", "3"]) as srv:
        assert srv.log().count("reload runs one server process: workers=3 ignored") == 1

        async def first_then_edit() -> str:
            async with wire.connect(srv.ws_url, open_timeout=20) as ws:
                init = await wire.recv(ws, 20)
                assert init["t"] == "init" and "first version" in json.dumps(init)
                # A file in an ignored directory changes nothing.
                (tmp_path / ".venv" / "noise.py").write_text("x = 22\n")
                await asyncio.sleep(1.0)
                assert srv.log().count("changed: restarting") == 0
                edit(app, app_source("second version"))
                from websockets.exceptions import ConnectionClosed

                with pytest.raises(ConnectionClosed) as closed:
                    await wire.recv(ws, 20)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
            return await init_text(wire, srv.ws_url)

        assert "second version" in wire.run(first_then_edit(), 60)
        srv.wait_log("app.py changed: restarting the server", 1)

        # A syntax error: the server cannot start, the reloader logs it and stays up.
        edit(app, app_source("third version") + "\nbroken = (\n")
        srv.wait_log("waiting for a change to start it again")
        assert "SyntaxError" in srv.log()
        assert srv.proc.poll() is None
        assert children_of(srv.proc.pid) == []  # no server runs meanwhile

        # Fixed: served again (meanwhile the reloader answers with the error: see below).
        edit(app, app_source("fourth version"))
        srv.wait_log("changed: restarting the server", 3)
        assert "fourth version" in wire.run(init_text(wire, srv.ws_url), 40)
        status, page = srv.get("/")
        assert status == 200 and "fourth version" in page
        assert srv.log().count("changed: restarting the server") == 3

        kids = children_of(srv.proc.pid)
        assert len(kids) == 1 and children_of(kids[0]) == []  # one server, no workers of its own
        assert srv.log().count("workers=3 ignored") == 1
        started = time.monotonic()
        assert srv.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 12
        wait_until(lambda: not alive(kids[0]), 5, lambda: f"the server outlived its reloader:\n{srv.log()}")
        assert "reloader stopped" in srv.log()


def test_start_rweb_reload_from_the_environment_runs_one_worker_and_stops_on_sigint(tmp_path: Path) -> None:
    app = tmp_path / "script.py"
    script = app_source("@WORD@") + (
        "\nif __name__ == '__main__':\n"
        "    import sys\n"
        "    from rweb import start_rweb\n"
        "    start_rweb(int(sys.argv[1]), app, workers=4)\n"
    )
    app.write_text(script.replace("@WORD@", "alpha"))
    with reloading(tmp_path, ["script.py", "PORT"], env={"RWEB_RELOAD": "1"}) as srv:
        status, page = srv.get("/")
        assert status == 200 and "alpha" in page
        assert "reload runs one server process: workers=4 ignored" in srv.log()
        assert len(children_of(srv.proc.pid)) == 1  # the one server; it forks no workers
        first = children_of(srv.proc.pid)[0]
        assert children_of(first) == []
        edit(app, script.replace("@WORD@", "beta"))
        srv.wait_log("script.py changed: restarting the server")
        wait_until(lambda: srv.get("/")[1].count("beta") == 1, 20, srv.log)
        assert children_of(srv.proc.pid) != [first]
        assert srv.stop(signal.SIGINT) == 0
        assert children_of(srv.proc.pid) == []


def test_a_taken_port_is_an_error_not_a_silent_reloader(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(app_source("x"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "rweb", "run", "app.py", "--reload", "--port", str(port)],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(SRC)},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


# -- the scan -------------------------------------------------------------------------


def test_the_scan_sees_app_files_and_skips_environments_caches_and_builds(tmp_path: Path) -> None:
    for rel in [
        "app.py",
        "pkg/views.py",
        "templates/page.html",
        "static/site.css",
        "notes.md",
        ".venv/lib/x.py",
        "venv/lib/x.py",
        "__pycache__/app.cpython-311.pyc",
        "pkg/__pycache__/views.py",
        "build/lib/app.py",
        ".git/hooks/x.py",
        ".hidden/y.py",
        "app.egg-info/z.py",
        "node_modules/m.js",
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("1")
    files = scan([tmp_path])
    assert sorted(os.path.relpath(p, tmp_path) for p in files) == [
        "app.py",
        "pkg/views.py",
        "static/site.css",
        "templates/page.html",
    ]
    assert sorted(scan([tmp_path], ["md"])) == [str(tmp_path / "notes.md")]

    (tmp_path / "pkg" / "views.py").write_text("22")  # modified (size)
    (tmp_path / "static" / "site.css").unlink()  # removed
    (tmp_path / "pkg" / "new.py").write_text("1")  # added
    (tmp_path / ".venv" / "lib" / "x.py").write_text("333")  # ignored
    assert [os.path.relpath(p, tmp_path) for p in changes(files, scan([tmp_path]))] == [
        "pkg/new.py",
        "pkg/views.py",
        "static/site.css",
    ]
    assert changes(files, files) == []


# -- rweb run: finding the app ---------------------------------------------------------------


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if str(getattr(sys.modules[name], "__file__", "")).startswith(str(tmp_path)):
            del sys.modules[name]


def test_load_app_finds_app_session_setup_or_a_named_object(module_dir: Path) -> None:
    (module_dir / "with_app.py").write_text(app_source("from a file") + "\nother = App('other')\n")
    (module_dir / "bare_setup.py").write_text(
        "from rweb.html import p\n\ndef session_setup(writer_id):\n    return (lambda: p('bare')), {}\n"
    )
    (module_dir / "nothing.py").write_text("x = 1\n")
    (module_dir / "helper.py").write_text("VALUE = 'from a sibling'\n")
    (module_dir / "sibling.py").write_text(
        "import helper\nfrom rweb import App\n\napp = App(helper.VALUE)\n"
    )

    app = load_app(str(module_dir / "with_app.py"))
    assert isinstance(app, App) and app.title == "reloading"
    assert load_app(f"{module_dir / 'with_app.py'}:other").title == "other"
    bare = load_app(str(module_dir / "bare_setup.py"))
    assert isinstance(bare, App) and bare.title == "bare_setup"
    assert load_app(str(module_dir / "bare_setup.py"), title="Mine").title == "Mine"
    assert load_app(str(module_dir / "sibling.py")).title == "from a sibling"  # its directory is on sys.path
    with pytest.raises(AppNotFound, match="no `app`"):
        load_app(str(module_dir / "nothing.py"))
    with pytest.raises(AppNotFound, match="has no 'missing'"):
        load_app(f"{module_dir / 'with_app.py'}:missing")
    with pytest.raises(AppNotFound, match=r"neither an rweb\.App"):
        load_app(f"{module_dir / 'nothing.py'}:x")
    with pytest.raises(AppNotFound, match="no such file"):
        load_app(str(module_dir / "absent.py"))
    assert watch_dirs(f"{module_dir / 'with_app.py'}:other") == [module_dir.resolve()]


def test_load_app_imports_a_module_from_the_current_directory(
    module_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (module_dir / "shop_pkg").mkdir()
    (module_dir / "shop_pkg" / "__init__.py").write_text("")
    (module_dir / "shop_pkg" / "web.py").write_text("from rweb import App\n\nshop = App('shop')\n")
    monkeypatch.chdir(module_dir)
    assert load_app("shop_pkg.web:shop").title == "shop"
    with pytest.raises(AppNotFound, match="no such module"):
        load_app("no_such_pkg_here:app")
    assert watch_dirs("shop_pkg.web:shop") == [module_dir]


def test_a_module_that_serves_at_import_is_refused_with_advice(module_dir: Path) -> None:
    (module_dir / "eager.py").write_text(
        "from rweb import start_rweb\nfrom rweb.html import p\n\n"
        "def session_setup(writer_id):\n    return (lambda: p('x')), {}\n\n"
        "start_rweb(1, 'eager', session_setup)\n"
    )
    with pytest.raises(RuntimeError, match="if __name__ == "):
        load_app(str(module_dir / "eager.py"))
    from rweb import server

    assert server._importing_app is None  # and rweb run's own start_rweb works afterwards


def test_a_failed_start_is_shown_on_the_page_and_the_socket_until_fixed(tmp_path: Path, wire: Any) -> None:
    app = tmp_path / "app.py"
    app.write_text(app_source("good"))
    with reloading(tmp_path, ["-m", "rweb", "run", "app.py", "--reload", "--port", "PORT"]) as srv:
        assert "good" in srv.get("/")[1]
        broken = app_source("good") + "\nbroken = ('<b>'\n"
        edit(app, broken)
        srv.wait_log("show the error until a file changes")
        line = broken.count("\n")  # the line of `broken = (`
        status, page = srv.get("/")
        assert status == 500
        assert f"{app}, line {line}" in page and "SyntaxError: &#x27;(&#x27; was never closed" in page
        assert "(&#x27;&lt;b&gt;&#x27;" in page and "<b>" not in page  # the source line, escaped

        async def held_then_closed() -> tuple[dict[str, Any], int | None]:
            async with wire.connect(srv.ws_url, open_timeout=20) as ws:
                msg = await wire.recv(ws, 20)
                await ws.send(json.dumps({"t": "ping", "ref": "hb1"}))
                assert await wire.recv(ws, 20) == {"t": "r", "d": {}, "ref": "hb1"}  # the heartbeat answered
                edit(app, app_source("fixed"))  # the fix closes the socket: service restart
                from websockets.exceptions import ConnectionClosed

                with pytest.raises(ConnectionClosed) as closed:
                    await wire.recv(ws, 20)
                return msg, closed.value.rcvd.code if closed.value.rcvd else None

        msg, code = wire.run(held_then_closed(), 60)
        assert msg["e"]["code"] == "app_failed" and code == 1012
        text = msg["e"]["message"]
        assert text.startswith(f"{app}, line {line}\nSyntaxError: '(' was never closed\n") and "('<b>'" in text
        assert "fixed" in wire.run(init_text(wire, srv.ws_url), 40)
        status, page = srv.get("/")
        assert status == 200 and "fixed" in page

        # Any exception at import, not only a syntax error.
        edit(app, app_source("fixed") + "\nraise LookupError('no config')\n")
        srv.wait_log("show the error until a file changes", 2)
        status, page = srv.get("/")
        assert status == 500 and "LookupError: no config" in page and f"{app}, line " in page
