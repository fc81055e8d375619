"""``rweb new DIR``: the project it writes, its own tests, and its app served by ``rweb run``.

The generated tests run with this checkout's Python (``PYTHONPATH`` at
``src``): no venv, no pip.  Every wait is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    "PYTHONUNBUFFERED": "1",
}
FILES = [".gitignore", "Makefile", "README.md", "app.py", "pyproject.toml", "static/style.css", "tests/test_app.py"]


def rweb(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rweb", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("new")
    done = rweb("new", "My Shop", cwd=where)
    assert done.returncode == 0, done.stderr
    assert "make run" in done.stdout
    return where / "My Shop"


def test_the_project_has_its_files(project: Path) -> None:
    found = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert found == FILES
    app = (project / "app.py").read_text()
    assert "@app.page(\"/\"" in app and "@app.page(\"/todos\"" in app and "@app.get(\"/api/hello\")" in app
    assert "data_navigate=True" in app and 'action="add"' in app and 'conn.reset("#add")' in app
    assert "assets=[*ui.ASSETS, Asset.file(" in app  # the kit, then the app's stylesheet: behind the root path
    assert "from rweb.testing import Page, TestClient" in (project / "tests" / "test_app.py").read_text()
    pyproject = (project / "pyproject.toml").read_text()
    assert 'name = "my-shop"' in pyproject and 'dependencies = ["rweb"]' in pyproject
    assert "# My Shop" in (project / "README.md").read_text()
    assert ".venv/" in (project / ".gitignore").read_text().splitlines()


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_the_makefile_installs_rweb_from_RWEB_and_serves_with_reload(project: Path) -> None:
    def dry_run(*args: str) -> str:
        done = subprocess.run(["make", "-n", *args], cwd=project, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    default = dry_run("run")
    # Made from this checkout: it installs this checkout (a package named rweb on an index
    # could be another project), unless RWEB says otherwise.
    assert f'.venv/bin/python -m pip install -q "{ROOT}" "pytest>=8"' in default
    assert ".venv/bin/python -m rweb run app.py --reload --host 127.0.0.1 --port 8080" in default
    local = dry_run("test", "RWEB=../elsewhere/rweb", "PORT=9000")
    assert 'pip install -q "../elsewhere/rweb" "pytest>=8"' in local
    assert ".venv/bin/python -m pytest -q" in local
    assert not (project / ".venv").exists()  # -n: nothing ran


def test_the_generated_tests_pass(project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


def test_rweb_run_serves_the_generated_app(project: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rweb", "run", "app.py", "--port", str(port), "--workers", "1"],
        cwd=project,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/")
                resp = conn.getresponse()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the app was not served within 20 s")
                time.sleep(0.1)
        page = resp.read().decode()
        assert resp.status == 200
        assert "<title>Counter</title>" in page and '<span id="count">0</span>' in page
        conn.request("GET", "/api/hello?name=Ada")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == {"hello": "Ada"}
        conn.request("GET", "/todos")
        resp = conn.getresponse()
        assert resp.status == 200 and "Nothing to do." in resp.read().decode()
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def test_an_existing_directory_with_files_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    done = rweb("new", "taken", cwd=tmp_path)
    assert done.returncode == 1
    assert "not empty" in done.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert (target / "notes.txt").read_text() == "mine"

    empty = tmp_path / "empty"
    empty.mkdir()
    assert rweb("new", "empty", cwd=tmp_path).returncode == 0
    assert (empty / "app.py").is_file()
    (tmp_path / "a-file").write_text("x")
    assert rweb("new", "a-file", cwd=tmp_path).returncode == 1
