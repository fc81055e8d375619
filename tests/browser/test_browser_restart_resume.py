"""A server restart loses nothing: the page keeps its count, and a click made meanwhile is applied once.

The seed's counter (examples/rweb_counter.py) runs as a real server process
with the Redis broker (a real redis-server) and a fixed secret key.  Chromium
counts to 3; the server gets SIGTERM (it saves its sessions and closes the
socket with 1012); a click is made while it is down; a new server process
starts on the same port.  The page comes back at 3, then shows 4: the click
made during the outage, applied exactly once, in a session the browser was
not told is fresh.

Loopback only; every wait is bounded; the processes are stopped afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from browser_apps import BUTTONS
from conftest import PW_TIMEOUT_MS
from playwright.sync_api import Page

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from redis_server import RedisServer, free_port

COUNTER = Path(__file__).resolve().parents[2] / "examples" / "rweb_counter.py"
DISPLAY = '[data-rc="display"]'
SECRET = "browser-restart-test-secret-0123456789abcdef"

# Before any page script: rweb:fresh events, and every action sent on any socket.
RECORDER = """
window.__fresh = 0;
addEventListener("rweb:fresh", () => { window.__fresh += 1; });
window.__sent = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (typeof data === "string" && data.includes('"action"')) window.__sent.push(data);
  return send.call(this, data);
};
"""


def start(port: int, redis: RedisServer, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, RWEB_SECRET_KEY=SECRET, PYTHONUNBUFFERED="1")
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, str(COUNTER), "--port", str(port), "--workers", "1", "--broker", redis.url],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"the server did not listen:\n{log.read_text(errors='replace')}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wait_count(page: Page, n: int) -> None:
    page.wait_for_function(
        "([s, t]) => document.querySelector(s)?.textContent === t", arg=[DISPLAY, f"Count: {n}"],
        timeout=PW_TIMEOUT_MS,
    )


def test_a_restarted_server_keeps_the_count_and_applies_the_outage_click_once(
    pw_page: Page, redis_server: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    proc = start(port, redis_server, log)
    try:
        pw_page.add_init_script(RECORDER)
        pw_page.goto(f"http://127.0.0.1:{port}/")
        pw_page.wait_for_function("window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)
        for n in (1, 2, 3):
            pw_page.click(BUTTONS["inc"])
            wait_count(pw_page, n)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, log.read_text(errors="replace")
        pw_page.wait_for_function("!window.rweb.connected", timeout=PW_TIMEOUT_MS)
        pw_page.click(BUTTONS["inc"])  # while no server runs: queued, shown as pending
        assert pw_page.evaluate("document.querySelector('.rweb-pending') !== null")

        proc = start(port, redis_server, log)
        wait_count(pw_page, 4)  # restored at 3, then the queued click
        pw_page.wait_for_function("window.rweb.connected", timeout=PW_TIMEOUT_MS)
        time.sleep(0.5)  # a click applied twice would show by now
        assert pw_page.text_content(DISPLAY) == "Count: 4"
        assert pw_page.evaluate("window.__fresh") == 0  # the same session, not a new one
        assert pw_page.evaluate("document.querySelector('.rweb-pending') === null")
        text = log.read_text(errors="replace")
        assert "restored from another process's snapshot" in text, text
        # The page goes on working.
        pw_page.click(BUTTONS["inc"])
        wait_count(pw_page, 5)
    finally:
        stop(proc)
