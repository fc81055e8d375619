"""Version skew on deploys: a page whose script is another build's reloads, keeping what was typed.

Two builds of rweb: this checkout, and a copy of its package whose browser client
differs by one byte (so another client version, ``vsn``). A page loaded from a server
of the first build, with text typed in its fields, sees that server stopped (SIGTERM,
1012) and one of the second build started on the same port: its reconnect is answered
``stale_client``, and it reloads, the typed fields put back and the bound one sent to
the new server. The same build started again is resumed as before, without a reload.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PW_TIMEOUT_MS
from playwright.sync_api import Page
from processes import free_port

ROOT = Path(__file__).resolve().parents[2]

APP = '''
import sys
from rweb import App, reactive, start_rweb
from rweb.html import component, div, input_, span


@reactive
class Note:
    text: str


def setup(writer_id):
    note = Note("")

    def render_page():
        return div(
            input_(id="text", type="text", value=note.text, data_oninput="typed"),
            input_(id="free", type="text"),
            component("echo", lambda: span(note.text, id="echo")),
        )

    def on_action(action, params):
        if action == "typed":
            note.text = params.get("value", "")

    return render_page, on_action


if __name__ == "__main__":
    start_rweb(int(sys.argv[1]), App("Skew", setup), host="127.0.0.1", workers=1)
'''


class Server:
    """The app above served by one process of a build (its ``src`` folder) on ``port``."""

    def __init__(self, app: Path, port: int, log: Path) -> None:
        self.app, self.port, self.log = app, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, src: Path) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(self.app), str(self.port)], cwd=self.app.parent, stdout=out,
                stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(src)},
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited early:\n{self.log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                return
            time.sleep(0.02)
        pytest.fail(f"the server did not listen within 20 s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    app = tmp_path / "skew_app.py"
    app.write_text(APP)
    srv = Server(app, free_port(), tmp_path / "server.log")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def other_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this checkout's package whose browser client differs by one byte: another version."""
    from rweb.core._build import copy_plain_python

    src = tmp_path_factory.mktemp("other-build")
    client = copy_plain_python(src) / "rweb" / "client"
    last = max(client.glob("*.js"))
    last.write_bytes(last.read_bytes() + b"\n")
    return src


def load_and_type(page: Page, server: Server) -> str:
    """Load the page, type in both fields (the bound one reaches the server); the script's URL."""
    page.goto(f"http://127.0.0.1:{server.port}/")
    page.wait_for_function("window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)
    page.evaluate("window.__loaded_before = true")  # gone once the page reloads
    page.fill("#text", "hello")
    page.fill("#free", "not bound")
    page.wait_for_function("document.querySelector('#echo').textContent === 'hello'", timeout=PW_TIMEOUT_MS)
    return str(page.evaluate("document.querySelector('script[src*=\"/_rweb/rweb.\"]').src"))


def test_a_page_of_another_build_reloads_and_keeps_its_fields(
    pw_page: Page, server: Server, other_build: Path
) -> None:
    server.start(ROOT / "src")
    script = load_and_type(pw_page, server)
    server.stop()
    server.start(other_build)
    # The reconnect is answered stale_client: the page reloads (the mark is gone) from the new build.
    pw_page.wait_for_function("!window.__loaded_before && window.rweb && window.rweb.connected",
                              timeout=PW_TIMEOUT_MS)
    assert pw_page.evaluate("document.querySelector('script[src*=\"/_rweb/rweb.\"]').src") != script
    assert pw_page.input_value("#text") == "hello"
    assert pw_page.input_value("#free") == "not bound"
    # The bound field was sent to the new server's session: it echoes it.
    pw_page.wait_for_function("document.querySelector('#echo').textContent === 'hello'", timeout=PW_TIMEOUT_MS)


def test_the_same_build_again_does_not_reload(pw_page: Page, server: Server) -> None:
    server.start(ROOT / "src")
    script = load_and_type(pw_page, server)
    pw_page.evaluate("window.__fresh = 0; addEventListener('rweb:fresh', () => window.__fresh++)")
    server.stop()
    server.start(ROOT / "src")
    # A fresh session on the same page (the new process does not know the old one): no reload.
    pw_page.wait_for_function("window.__fresh === 1 && window.rweb.connected", timeout=PW_TIMEOUT_MS)
    assert pw_page.evaluate("window.__loaded_before") is True
    assert pw_page.evaluate("document.querySelector('script[src*=\"/_rweb/rweb.\"]').src") == script
    assert pw_page.input_value("#text") == "hello"
    pw_page.wait_for_function("document.querySelector('#echo').textContent === 'hello'", timeout=PW_TIMEOUT_MS)
