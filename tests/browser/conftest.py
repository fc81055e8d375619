"""Browser tests: the real client (rweb.js) in headless Chromium against the real server.

Two drivers, both on Debian's Chromium (nothing is downloaded):

- CDP (``cdp.py``): one Chromium for the whole run (``browser``), a fresh tab
  per test (``page``), and ``open_app(session_setup)`` to serve an app on a
  free loopback port and load it;
- Playwright for Python: one Chromium per test module (``pw_browser``), a new
  context (fresh cookies and storage) and page per test (``pw_page``), and
  ``pw_open(app, path)`` to serve an ``rweb.App`` and load one of its pages.

Skipped when Chromium (or, for the Playwright tests, the playwright package)
is not installed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from cdp import Browser, Page, find_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser as PWBrowser
    from playwright.sync_api import BrowserContext as PWContext
    from playwright.sync_api import Page as PWPage

    from rweb import App
    from rweb.testing import Served

# Installed in every tab before any page script: records the client's window
# events, and tags the server-rendered elements (readyState "interactive" comes
# before deferred scripts run) so tests can tell whether the client replaced them.
RECORDER = r"""
(() => {
  window.__rweb_events = [];
  window.__rweb_updates = 0;
  for (const type of ["rweb:connected", "rweb:disconnected", "rweb:update", "rweb:error"]) {
    addEventListener(type, (e) => {
      const d = e.detail || {};
      if (type === "rweb:update") window.__rweb_updates++;
      window.__rweb_events.push({
        type, t: d.msg ? d.msg.t : (d.t || null), components: d.components || null,
        code: d.code || null, ref: d.ref === undefined ? null : d.ref,
      });
    });
  }
  document.addEventListener("readystatechange", () => {
    if (document.readyState !== "interactive") return;
    for (const el of document.querySelectorAll("*")) el.__server_rendered = true;
    window.__mutations = [];
    new MutationObserver((records) => {
      for (const r of records) window.__mutations.push({
        type: r.type, target: r.target.nodeName, added: r.addedNodes.length,
        removed: r.removedNodes.length, attr: r.attributeName,
      });
    }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
  });
})();
"""


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    b = Browser.launch()
    try:
        yield b
    finally:
        b.quit()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    p = browser.new_page(init_script=RECORDER)
    try:
        yield p
        with contextlib.suppress(Exception):
            p.evaluate("1", timeout=2)  # collect the last console messages and exceptions
        assert not p.exceptions, f"uncaught exceptions in the page: {p.exceptions}"
    finally:
        p.close()


@dataclass
class OpenApp:
    page: Page
    server: Any
    url: str
    proxy: TcpProxy | None = None

    def updates(self) -> int:
        return int(self.page.evaluate("window.__rweb_updates"))

    def click_and_wait(self, selector: str, timeout: float = 5.0) -> None:
        """Click ``selector`` for real and wait for the reply's DOM update."""
        n = self.updates()
        self.page.click(selector)
        self.page.wait_for(f"window.__rweb_updates > {n}", timeout, f"(after clicking {selector})")

    def text(self, selector: str) -> str | None:
        return self.page.evaluate(f"document.querySelector({selector!r})?.textContent ?? null")


@pytest.fixture
def open_app(page: Page) -> Iterator[Callable[..., OpenApp]]:
    """``open_app(session_setup, proxy=False, **serve_options)``: serve, load, wait for init."""
    from rweb.testing import serve

    with contextlib.ExitStack() as stack:

        def opener(
            session_setup: Callable[..., Any], *, proxy: bool = False, **opts: Any
        ) -> OpenApp:
            srv = stack.enter_context(serve(session_setup, **opts))
            px = stack.enter_context(TcpProxy(srv.port)) if proxy else None
            url = px.url if px else srv.url
            page.navigate(url)
            page.wait_for(
                "window.rweb && window.rweb.connected", 10, "(the client did not connect)"
            )
            return OpenApp(page, srv, url, px)

        yield opener


class TcpProxy:
    """A loopback TCP proxy in front of the server, to drop connections the hard way.

    ``cut()`` closes every proxied connection; while ``refusing`` is set, new
    connections are accepted and closed at once (the client sees a failed
    handshake).
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.refusing = False
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._frozen: set[socket.socket] = set()  # black holes: open, but nothing gets through
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="rweb-test-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        self.cut()

    def freeze(self) -> None:
        """Every proxied connection turns into a black hole: open, silent both ways
        (a sleeping laptop, a proxy that dropped the connection without telling)."""
        with self._lock:
            self._frozen |= self._socks

    def cut(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, set()
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            try:
                up = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            up.settimeout(None)
            with self._lock:
                self._socks.update((client, up))
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if src in self._frozen or dst in self._frozen:
                    continue  # swallowed
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


# -- Playwright ---------------------------------------------------------------------

PW_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PW_TIMEOUT_MS = 10_000  # the bound on every Playwright wait, action and page load

# The CDP tests' recorder, plus the client's navigation and cookie events.
PW_RECORDER = (
    RECORDER
    + r"""
(() => {
  window.__rweb_navs = [];
  window.__rweb_cookies = [];
  addEventListener("rweb:navigate", (e) => {
    const d = e.detail || {};
    window.__rweb_navs.push({url: d.url, kind: d.kind, current: d.current, t: d.msg ? d.msg.t : null});
  });
  addEventListener("rweb:cookie", (e) => window.__rweb_cookies.push(e.detail));
  // Survives page loads in this tab: was the "Reconnecting" banner ever shown?
  addEventListener("rweb:disconnected", () => sessionStorage.setItem("rweb-was-down", location.pathname));
})();
"""
)


@pytest.fixture(scope="module")
def pw_browser() -> Iterator[PWBrowser]:
    """Debian's Chromium driven by Playwright (one per module: Playwright's sync API
    keeps an event loop marked running in this thread while it is started)."""
    path = find_chromium()
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        # launch() gives the browser a fresh temporary profile, removed on close.
        browser = pw.chromium.launch(executable_path=path, args=PW_ARGS, timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def pw_context(pw_browser: PWBrowser) -> Iterator[PWContext]:
    """A new browser context per test: its own cookies, storage and cache."""
    context = pw_browser.new_context()
    context.set_default_timeout(PW_TIMEOUT_MS)
    context.set_default_navigation_timeout(PW_TIMEOUT_MS)
    context.add_init_script(PW_RECORDER)
    try:
        yield context
    finally:
        context.close()


@dataclass
class PWPageErrors:
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def pw_page(pw_context: PWContext) -> Iterator[PWPage]:
    """A page in a fresh context; fails the test if its scripts threw."""
    page = pw_context.new_page()
    seen = PWPageErrors()
    page.on("pageerror", lambda exc: seen.errors.append(str(exc)))
    yield page
    assert not seen.errors, f"uncaught exceptions in the page: {seen.errors}"


@dataclass
class LiveApp:
    """An app served on a loopback port and shown in a Playwright page."""

    page: PWPage
    server: Served

    @property
    def base(self) -> str:
        return f"http://{self.server.host}:{self.server.port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def goto(self, path: str = "/", *, connected: bool = True) -> None:
        """Load ``path`` for real; wait for the client's socket to be up (when ``connected``)."""
        self.page.goto(self.url(path))
        if connected:
            self.wait_connected()

    def wait_connected(self) -> None:
        # A function, not an expression: Playwright polls an expression with eval() in the page, which a
        # strict Content-Security-Policy (no 'unsafe-eval') refuses, and reports, whenever the first check
        # is false (a slow join); a function is called through the DevTools protocol, which the CSP lets be.
        self.page.wait_for_function("() => window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)

    @property
    def path(self) -> str:
        """The path and query shown in the address bar."""
        u = urlsplit(self.page.url)
        return u.path + ("?" + u.query if u.query else "")

    def text(self, selector: str) -> str | None:
        return self.page.evaluate(
            "(s) => document.querySelector(s)?.textContent ?? null", selector
        )


@pytest.fixture
def pw_open(pw_page: PWPage) -> Iterator[Callable[..., LiveApp]]:
    """``pw_open(app, path="/", connected=True)``: serve ``app`` (an ``rweb.App``), load ``path``."""
    from rweb.testing import serve

    with contextlib.ExitStack() as stack:

        def opener(app: App, path: str = "/", *, connected: bool = True) -> LiveApp:
            live = LiveApp(pw_page, stack.enter_context(serve(app)))
            live.goto(path, connected=connected)
            return live

        yield opener
