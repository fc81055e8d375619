"""A server restart (SIGTERM, then the same port again): no banner flash when it is quick.

A stopping server closes its sockets with 1012 (service restart). The client
retries within a few hundred ms and shows its "Reconnecting" banner only if
the page is still not connected ``rwebConfig.restartBanner`` ms (2 s) after
the close. The server here is a real process (the seed's counter example,
one worker) stopped with SIGTERM and started again on the same port; its new
process does not know the old session, so the page gets a fresh one. For the
quick restart the new process is started up (imports, the client script
compressed) before the old one stops, as a loaded machine stretches that
second of CPU to several: the restart is then the stop and the new listen.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from browser_apps import BUTTONS
from conftest import PW_TIMEOUT_MS
from playwright.sync_api import Page
from processes import free_port

ROOT = Path(__file__).resolve().parents[2]
COUNTER = ROOT / "examples" / "rweb_counter.py"
DISPLAY = '[data-rc="display"]'

# Before any page script: when the client's sockets were opened, their close codes, and whether (and when)
# the disconnected state was ever shown.
RECORDER = """
window.__closes = [];
window.__opens = [];
const WS = window.WebSocket;
window.WebSocket = class extends WS {
  constructor(...args) {
    super(...args);
    window.__opens.push(performance.now());
    this.addEventListener("close", (e) => window.__closes.push({code: e.code, at: performance.now()}));
  }
};
window.__down_at = [];
new MutationObserver(() => {
  if (document.documentElement.classList.contains("rweb-disconnected")) window.__down_at.push(performance.now());
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["class"]});
"""


# What `python rweb_counter.py ARGS` does, in two steps: the imports and the start-up work
# (the client script compressed, the kit's assets) first, then a byte on the pipe
# $WARM_FD says so and a line on stdin starts the server itself (20 ms of CPU, against
# 100 ms without the imports start_rweb does and 0.5 s in all).
WARM = """
import os, runpy, sys
import rweb.server.picows_transport, rweb.server.reload, uvloop  # what start_rweb imports when called
from rweb import ui
from rweb.web.client_script import client_encoded
client_encoded()
for asset in ui.ASSETS:
    asset.encoded()
fd = int(os.environ.pop("WARM_FD"))
os.write(fd, b"w")
os.close(fd)
sys.stdin.readline()
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


class CounterProcess:
    """The counter example served by its own process on ``port`` (one worker)."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.warm: subprocess.Popen[bytes] | None = None  # the next process, started up (prepare())

    def prepare(self) -> None:
        """Start the next server process up to the point where it would listen (bounded).

        A real process start-up is a second of CPU or so, which a loaded machine stretches
        to several: done ahead, a restart is the old process stopping and the new one
        listening, which is what a quick restart here is about.
        """
        assert self.warm is None
        ready, w = os.pipe()
        try:
            with open(self.log, "ab") as out:
                self.warm = subprocess.Popen(
                    [sys.executable, "-c", WARM, *self.command()],
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**self.env(), "WARM_FD": str(w)},
                    pass_fds=(w,),
                )
        finally:
            os.close(w)
        try:
            done, _, _ = select.select([ready], [], [], 30)
            if not done or os.read(ready, 1) != b"w":
                pytest.fail(f"the next server process did not start up within 30 s:\n{self.log.read_text()}")
        finally:
            os.close(ready)

    def command(self) -> list[str]:
        return [str(COUNTER), "--port", str(self.port), "--host", "127.0.0.1", "--workers", "1"]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT / "src")}

    def start(self) -> float:
        """Start it (the prepared process, if any); returns once it answers (bounded), with the seconds that took."""
        t0 = time.monotonic()
        if self.warm is not None:
            self.proc, self.warm = self.warm, None
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.close()
        else:
            with open(self.log, "ab") as out:
                self.proc = subprocess.Popen(
                    [sys.executable, *self.command()],
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self.env(),
                )
        deadline = t0 + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited early ({self.proc.returncode}):\n{self.log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                return time.monotonic() - t0
            time.sleep(0.01)
        pytest.fail(f"the server did not listen within 15 s:\n{self.log.read_text()}")

    def stop(self) -> None:
        """SIGTERM, and wait (bounded) for the process to exit."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(10) == 0, self.log.read_text()

    def kill(self) -> None:
        for proc in (self.proc, self.warm):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def counter(pw_page: Page, tmp_path: Path) -> Iterator[Callable[..., CounterProcess]]:
    """``counter(config=None)``: serve the counter in a process, load it (``config``: rwebConfig)."""
    procs: list[CounterProcess] = []
    pw_page.add_init_script(RECORDER)

    def opener(config: dict[str, Any] | None = None) -> CounterProcess:
        if config is not None:
            pw_page.add_init_script(f"window.rwebConfig = {json.dumps(config)};")
        proc = CounterProcess(free_port(), tmp_path / "server.log")
        procs.append(proc)
        proc.start()
        pw_page.goto(f"http://127.0.0.1:{proc.port}/")
        pw_page.wait_for_function("window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)
        return proc

    try:
        yield opener
    finally:
        for p in procs:
            p.kill()


def count(page: Page) -> str | None:
    return page.evaluate("(s) => document.querySelector(s)?.textContent ?? null", DISPLAY)


def wait_count(page: Page, n: int) -> None:
    page.wait_for_function(
        "([s, t]) => document.querySelector(s)?.textContent === t", arg=[DISPLAY, f"Count: {n}"], timeout=PW_TIMEOUT_MS
    )


def wait_closed(page: Page) -> dict[str, Any]:
    page.wait_for_function("window.__closes.length > 0", timeout=PW_TIMEOUT_MS)
    return page.evaluate("window.__closes[0]")


def wait_reconnected(page: Page, old: Any) -> None:
    page.wait_for_function(
        "(s) => window.rweb.connected && window.rweb._socket !== null && window.rweb._socket !== s",
        arg=old,
        timeout=PW_TIMEOUT_MS,
    )


def queue_a_click(page: Page) -> None:
    """Click + while the server is away (one round trip): queued, shown as pending."""
    queued = page.evaluate(
        """(s) => {
          const el = document.querySelector(s);
          el.click();
          return [window.rweb.pending, el.classList.contains("rweb-pending")];
        }""",
        BUTTONS["inc"],
    )
    assert queued == [1, True]


def no_banner(page: Page) -> None:
    """The disconnected state (html.rweb-disconnected: what shows the banner) never came."""
    seen = page.evaluate("({closes: window.__closes, opens: window.__opens, down: window.__down_at})")
    assert seen["down"] == [], seen
    assert page.evaluate("__rweb_events.filter(e => e.type === 'rweb:disconnected').length") == 0
    assert page.evaluate("getComputedStyle(document.getElementById('rweb-status')).display") == "none"


def test_a_quick_restart_shows_no_banner(counter, pw_page: Page) -> None:
    page = pw_page
    server = counter()
    page.click(BUTTONS["inc"])
    wait_count(page, 1)
    old = page.evaluate_handle("window.rweb._socket")

    server.prepare()  # the next process is started up: the restart is the stop and its listen
    server.stop()
    closed = wait_closed(page)
    assert closed["code"] == 1012
    queue_a_click(page)
    server.start()
    away = page.evaluate("performance.now()") - closed["at"]  # it listens again at most this long after the close
    assert away < 1500, f"the restart was not quick ({away:.0f} ms): this test says nothing"

    wait_reconnected(page, old)
    # A new process: a fresh session (0), which got the queued click.
    wait_count(page, 1)
    page.wait_for_function("window.rweb.pending === 0", timeout=PW_TIMEOUT_MS)
    assert page.evaluate("document.querySelectorAll('.rweb-pending').length") == 0
    no_banner(page)
    # The first retry came quickly (100-250 ms after the 1012 close, whether it found the server or not).
    retry_at = page.evaluate("(t) => window.__opens.find((at) => at > t)", closed["at"])
    assert retry_at - closed["at"] < 400
    page.click(BUTTONS["inc"])
    wait_count(page, 2)


def test_a_restart_back_before_the_banner_is_found_before_it(counter, pw_page: Page) -> None:
    """The server back long after the close, but before the banner's delay ends: no banner.

    The retries' jitter is pinned at the top of its range (Math.random): the backoff alone
    would try 0.25, 0.65, 1.45, 3.05 and 6.24 s after the close, so a server back at 3.6 s
    would be found at 6.24 s, after a 6 s banner delay. Until the delay ends the client
    tries every 100-250 ms instead.
    """
    page = pw_page
    page.add_init_script("Math.random = () => 0.999;")
    server = counter({"restartBanner": 6000})
    old = page.evaluate_handle("window.rweb._socket")

    server.prepare()
    server.stop()
    closed = wait_closed(page)
    assert closed["code"] == 1012
    queue_a_click(page)
    page.wait_for_function("(t) => performance.now() > t", arg=closed["at"] + 3600, timeout=PW_TIMEOUT_MS)
    server.start()
    away = page.evaluate("performance.now()") - closed["at"]
    assert away < 5000, f"the restart took {away:.0f} ms: this test says nothing"

    wait_reconnected(page, old)
    wait_count(page, 1)  # a fresh session, with the queued click
    no_banner(page)


@pytest.mark.parametrize(("config", "banner_ms", "away_s"), [(None, 2000, 2.8), ({"restartBanner": 400}, 400, 1.2)])
def test_a_slow_restart_shows_the_banner_after_the_delay(
    counter, pw_page: Page, config: dict[str, Any] | None, banner_ms: int, away_s: float
) -> None:
    page = pw_page
    server = counter(config)
    old = page.evaluate_handle("window.rweb._socket")
    server.stop()
    closed = wait_closed(page)
    assert closed["code"] == 1012
    page.wait_for_function(
        "document.documentElement.classList.contains('rweb-disconnected')", timeout=PW_TIMEOUT_MS
    )
    (down_at,) = page.evaluate("window.__down_at")
    waited = down_at - closed["at"]
    assert banner_ms - 50 <= waited < banner_ms + 1000
    assert page.evaluate("document.getElementById('rweb-status').textContent") == "Reconnecting\u2026"
    assert page.evaluate("getComputedStyle(document.getElementById('rweb-status')).display") == "block"
    page.evaluate("(s) => document.querySelector(s).click()", BUTTONS["inc"])  # the banner may cover it
    assert page.evaluate("document.getElementById('rweb-status').textContent") == "Reconnecting\u2026 (1 pending)"

    time.sleep(max(0.0, away_s - waited / 1000))  # away for about away_s in all
    server.start()
    wait_reconnected(page, old)
    wait_count(page, 1)  # a fresh session, with the queued click
    assert not page.evaluate("document.documentElement.classList.contains('rweb-disconnected')")
    page.click(BUTTONS["inc"])
    wait_count(page, 2)
