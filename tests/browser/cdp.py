"""A minimal Chrome DevTools Protocol driver for the browser tests.

Launches Debian's headless Chromium with a fresh profile, talks CDP over one
WebSocket (the ``websockets`` package's sync client, flattened target
sessions), and offers what the tests need: navigate, evaluate, wait_for, real
mouse clicks, typing and key presses.  Nothing is downloaded; only loopback
addresses are used; every wait is bounded by a timeout.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any

import tools
from websockets.sync.client import connect

__all__ = ["Browser", "CDPError", "JSError", "Page", "find_chromium"]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-sync",
    "--no-proxy-server",
    "--password-store=basic",
    "--mute-audio",
    # Several tabs in one browser: keep timers of background tabs running.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--window-size=1024,768",
]


class CDPError(RuntimeError):
    """A CDP command failed."""


class JSError(RuntimeError):
    """JavaScript evaluated in the page threw."""


def find_chromium() -> str | None:
    """The Chromium executable: $RWEB_CHROMIUM, /usr/bin/chromium, or chromium on PATH."""
    return tools.chromium()


class Browser:
    """One headless Chromium process and its CDP connection."""

    def __init__(self, proc: subprocess.Popen[bytes], ws: Any, profile: str) -> None:
        self.proc = proc
        self.ws = ws
        self.profile = profile
        self._ids = itertools.count(1)
        self._events: dict[str | None, collections.deque[dict[str, Any]]] = collections.defaultdict(
            collections.deque
        )
        self._replies: dict[int, dict[str, Any]] = {}

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def launch(cls, executable: str | None = None, timeout: float = 30.0) -> Browser:
        exe = executable or find_chromium()
        if exe is None:
            raise FileNotFoundError("chromium not found")
        profile = tempfile.mkdtemp(prefix="rweb-chromium-")
        log = open(os.path.join(profile, "stderr.log"), "wb")
        try:
            proc = subprocess.Popen(
                [
                    exe,
                    *CHROMIUM_FLAGS,
                    "--remote-debugging-port=0",
                    f"--user-data-dir={profile}",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        try:
            port, path = cls._wait_port(proc, profile, timeout)
            # Entered as a context manager (websockets >= 16 warns otherwise).
            ws = contextlib.ExitStack().enter_context(
                connect(
                    f"ws://127.0.0.1:{port}{path}",
                    max_size=None,
                    open_timeout=timeout,
                    close_timeout=2,
                    compression=None,
                    # No keepalive: websockets draws each ping's payload from the random module's
                    # shared state (random.getrandbits), in this connection's background thread,
                    # every 20 s for the whole run, which moved the sequence under tests that seed
                    # it (Hypothesis warned, now in one property test, now in another). A loopback
                    # socket to a child process needs no heartbeat: each command has its timeout.
                    ping_interval=None,
                )
            )
        except BaseException:
            _stop(proc)
            shutil.rmtree(profile, ignore_errors=True)
            raise
        return cls(proc, ws, profile)

    @staticmethod
    def _wait_port(proc: subprocess.Popen[bytes], profile: str, timeout: float) -> tuple[int, str]:
        marker = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {proc.returncode}: {_tail(profile)}")
            with contextlib.suppress(OSError):
                with open(marker) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].strip().isdigit() and lines[1].strip():
                    return int(lines[0]), lines[1].strip()
            time.sleep(0.05)
        raise TimeoutError(
            f"chromium did not open its DevTools port within {timeout} s: {_tail(profile)}"
        )

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close", timeout=5)
        with contextlib.suppress(Exception):
            self.ws.close()
        _stop(self.proc)
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- the protocol ------------------------------------------------------

    def _pump(self, timeout: float) -> None:
        """Read one message (a reply or an event) within ``timeout`` seconds."""
        raw = self.ws.recv(timeout=max(timeout, 0.001))
        msg = json.loads(raw)
        if "id" in msg:
            self._replies[msg["id"]] = msg
        else:
            self._events[msg.get("sessionId")].append(msg)

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        mid = next(self._ids)
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while mid not in self._replies:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"CDP {method}: no reply within {timeout} s")
            try:
                self._pump(left)
            except TimeoutError:
                continue
        reply = self._replies.pop(mid)
        if "error" in reply:
            raise CDPError(f"CDP {method}: {reply['error']}")
        return reply.get("result", {})

    def events(self, session: str | None) -> collections.deque[dict[str, Any]]:
        return self._events[session]

    def wait_event(self, session: str | None, method: str, timeout: float) -> dict[str, Any]:
        queue = self._events[session]
        deadline = time.monotonic() + timeout
        while True:
            for ev in queue:
                if ev["method"] == method:
                    queue.remove(ev)
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"CDP event {method} did not come within {timeout} s")
            with contextlib.suppress(TimeoutError):
                self._pump(left)

    # -- pages -------------------------------------------------------------

    def new_page(self, init_script: str | None = None) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, target, session)
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Emulation.setFocusEmulationEnabled", {"enabled": True})
        if init_script:
            page.call("Page.addScriptToEvaluateOnNewDocument", {"source": init_script})
        return page


class Page:
    """One tab, driven through a flattened CDP session."""

    def __init__(self, browser: Browser, target: str, session: str) -> None:
        self.browser = browser
        self.target = target
        self.session = session
        self.exceptions: list[str] = []
        self.console: list[tuple[str, str]] = []

    def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        result = self.browser.call(method, params, self.session, timeout)
        self._collect()
        return result

    def _collect(self) -> None:
        """Move console messages and uncaught exceptions out of the event queue."""
        queue = self.browser.events(self.session)
        keep = []
        while queue:
            ev = queue.popleft()
            method = ev["method"]
            if method == "Runtime.exceptionThrown":
                d = ev["params"]["exceptionDetails"]
                self.exceptions.append(_describe(d))
            elif method == "Runtime.consoleAPICalled":
                p = ev["params"]
                text = " ".join(_remote_str(a) for a in p.get("args", []))
                self.console.append((p["type"], text))
            else:
                keep.append(ev)
        queue.extend(keep)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.browser.call("Target.closeTarget", {"targetId": self.target}, timeout=5)

    # -- navigation and script -------------------------------------------

    def navigate(self, url: str, timeout: float = 10.0) -> None:
        queue = self.browser.events(self.session)
        for ev in [e for e in queue if e["method"] == "Page.loadEventFired"]:
            queue.remove(ev)
        result = self.call("Page.navigate", {"url": url}, timeout=timeout)
        if result.get("errorText"):
            raise CDPError(f"navigating to {url}: {result['errorText']}")
        self.browser.wait_event(self.session, "Page.loadEventFired", timeout)
        self._collect()

    def evaluate(self, expression: str, timeout: float = 10.0, await_promise: bool = True) -> Any:
        """Evaluate ``expression`` in the page; returns its value (JSON-able)."""
        result = self.call(
            "Runtime.evaluate",
            {
                "expression": expression,
                "awaitPromise": await_promise,
                "returnByValue": True,
                "timeout": int(timeout * 1000),
            },
            timeout=timeout + 1,
        )
        if "exceptionDetails" in result:
            raise JSError(f"{_describe(result['exceptionDetails'])}\n  in: {expression}")
        return result["result"].get("value")

    def wait_for(
        self, predicate: str, timeout: float = 5.0, message: str = "", interval: float = 0.02
    ) -> Any:
        """Poll the JS expression ``predicate`` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            last = self.evaluate(predicate, timeout=max(1.0, timeout))
            if last:
                return last
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"waited {timeout} s for {predicate!r} (last value {last!r}) {message}"
                )
            time.sleep(interval)

    # -- input --------------------------------------------------------------

    def center(self, selector: str) -> tuple[float, float]:
        """Scroll the element into view; the viewport coordinates of its center."""
        found = self.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: "center", inline: "center"}});
                const r = el.getBoundingClientRect();
                const x = r.left + r.width / 2, y = r.top + r.height / 2;
                const hit = document.elementFromPoint(x, y);
                return [x, y, !!hit && (hit === el || el.contains(hit)), hit ? hit.outerHTML.slice(0, 80) : null];
            }})()"""
        )
        if found is None:
            raise LookupError(f"no element matches {selector!r}")
        x, y, reachable, hit = found
        if not reachable:
            raise LookupError(f"{selector!r} is covered at its center by {hit!r}")
        return x, y

    def click(self, selector: str) -> None:
        """A real left click (move, press, release) at the element's center."""
        x, y = self.center(selector)
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        self.call(
            "Input.dispatchMouseEvent",
            {
                "type": "mousePressed",
                "x": x,
                "y": y,
                "button": "left",
                "buttons": 1,
                "clickCount": 1,
            },
        )
        self.call(
            "Input.dispatchMouseEvent",
            {
                "type": "mouseReleased",
                "x": x,
                "y": y,
                "button": "left",
                "buttons": 0,
                "clickCount": 1,
            },
        )

    def type(self, text: str) -> None:
        """Type ``text`` into the focused element, one character (one input event) at a time."""
        for ch in text:
            self.call("Input.insertText", {"text": ch})

    def press(self, key: str) -> None:
        """Press and release a named key: Enter, Tab, Backspace, ArrowLeft, ArrowRight..."""
        code, vk, text = _KEYS[key]
        down: dict[str, Any] = {
            "type": "keyDown",
            "key": key,
            "code": code,
            "windowsVirtualKeyCode": vk,
        }
        if text:
            down.update(text=text, unmodifiedText=text)
        else:
            down["type"] = "rawKeyDown"
        self.call("Input.dispatchKeyEvent", down)
        self.call(
            "Input.dispatchKeyEvent",
            {"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk},
        )

    def screenshot(self, path: str) -> None:
        import base64

        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


_KEYS = {
    "Enter": ("Enter", 13, "\r"),
    "Tab": ("Tab", 9, ""),
    "Backspace": ("Backspace", 8, ""),
    "ArrowLeft": ("ArrowLeft", 37, ""),
    "ArrowRight": ("ArrowRight", 39, ""),
    "Home": ("Home", 36, ""),
    "End": ("End", 35, ""),
}


def _describe(details: dict[str, Any]) -> str:
    exc = details.get("exception") or {}
    return exc.get("description") or details.get("text") or repr(details)


def _remote_str(obj: dict[str, Any]) -> str:
    if "value" in obj:
        return str(obj["value"])
    return str(obj.get("description", obj.get("type", "?")))


def _tail(profile: str) -> str:
    with contextlib.suppress(OSError), open(os.path.join(profile, "stderr.log"), "rb") as f:
        return f.read()[-2000:].decode("utf-8", "replace")
    return ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the Chromium we started (and its helper processes, in its own process group)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
