"""Testing helpers: a real server on a free port, an in-process live client, an in-process HTTP client.

``serve(app_or_setup)`` starts the real picows server in a background thread
(its own event loop) on 127.0.0.1 and a free port::

    with serve(session_setup) as srv:
        ...  # srv.url == "http://127.0.0.1:PORT/", srv.ws_url == "ws://127.0.0.1:PORT/ws"

``Client(app_or_setup, url)`` joins the page at ``url`` in-process, through
the same wire protocol (JSON in, JSON out) and the same
:class:`~rweb.connection.Connection` as a real socket, and keeps the browser's
view of the page (each component's statics and dynamics) so that ``html()``
is what the browser would show.  It does what the browser client does with
the server's effects: it follows live navigation (``conn.navigate``,
``conn.patch``), redeems cookie tokens (``conn.set_cookie``) over HTTP, and
records full page loads (``Redirect``, ``conn.redirect``) in ``loaded``.

``TestClient(app)`` answers plain HTTP requests in-process through
:meth:`App.handle_http` (no socket, no thread), keeps a cookie jar across
requests, and opens live sessions that carry its cookies
(``http.live("/")``): log in over HTTP, then drive the protected page.
``with TestClient(app) as http:`` also starts the app as a server does (its
``on_startup`` hooks, whose ``app.spawn`` tasks run while the client waits or
``run_pending()`` runs) and stops it at the block's end (``on_shutdown``).

``Page(app, url)`` (or ``http.page(url)``, ``Page(client)``) drives a
``Client`` by CSS selectors and user steps (``click``, ``fill``, ``check``,
``select``, ``submit``, ``follow``), sending for each what the browser client
would send; see :mod:`rweb.testing.page` and :mod:`rweb.dom`.

Work that the app schedules on its event loop (pushes after a write outside
an action, :meth:`App.call_soon`, :meth:`App.in_session`) waits in a queue
shared by every in-process client of the app, until a test calls
``run_pending()``, which runs it as the event loop would.  Async handlers run
as tasks on a private asyncio loop, while a client's ``send`` waits for the
reply.
"""

from __future__ import annotations

import asyncio
import heapq
import html as _html
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import orjson

from ..app.app import App
from ..hosting.http_dispatch import sendable
from ..live.connection import Connection, page_info
from ..live.upload import chunk_frame
from ..rendering.clock import SYSTEM_CLOCK, Clock
from ..sessions.session import ConnectionInfo
from ..web.http import Request, Response, error_response
from ..wire.codec import apply_message, apply_stream, effects_of, page_html
from ..wire.effects import Cookie, Effect, Navigate, StreamOps, UploadStop
from ..wire.flash import flash_cookie_name
from ..words.protocol import JOIN_FLASH_PARAM, EffectKind

__all__ = [
    "Client",
    "CookieJar",
    "Served",
    "SetCookie",
    "TestClient",
    "TestResponse",
    "VirtualClock",
    "serve",
]

# rweb.testing.page.Page, which drives a Client (so it sits above this module): it installs
# itself here for TestClient.page() when imported, as ``import rweb.testing`` does.
_page_type: Any = None


def use_page_type(page_type: Any) -> None:
    """What :meth:`TestClient.page` returns (rweb.testing.page installs :class:`~rweb.testing.Page`)."""
    global _page_type
    _page_type = page_type


BASE_URL = "http://testserver"
USER_AGENT = "rweb-testclient"
MAX_REDIRECTS = 20
MAX_EFFECTS = 100  # effects followed for one message: a redirect loop fails instead of hanging
MAX_PENDING = 100_000  # callbacks run by one run_pending(): a callback that reschedules itself fails

# Effects that talk to the server: carried out once the message that brought them is handled.
_FOLLOWED = frozenset({EffectKind.NAV, EffectKind.COOKIE})

Params = Mapping[str, Any] | Iterable[tuple[str, Any]]
HeaderArg = Mapping[str, str | None]


def _as_app(app_or_setup: Callable[..., Any] | App, app_options: dict[str, Any]) -> App:
    if isinstance(app_or_setup, App):
        if app_options:
            raise TypeError(f"options {sorted(app_options)} are for App(title, session_setup, ...), not an App")
        return app_or_setup
    return App(session_setup=app_or_setup, **app_options)


# -- the real server ---------------------------------------------------------------


@dataclass
class Served:
    """A running test server."""

    host: str
    port: int
    app: App
    loop: asyncio.AbstractEventLoop
    server: Any = None  # the rweb.server.picows_transport.Server (touch it only via call())

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def call(self, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Run ``fn`` on the server's event loop thread and return its result."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)


@contextmanager
def serve(
    session_setup: Callable[..., Any] | App,
    title: str = "rweb test",
    *,
    host: str = "127.0.0.1",
    **app_options: Any,
) -> Iterator[Served]:
    """Run the real server in a background thread for the duration of the block."""
    from ..server.picows_transport import Server

    app = session_setup if isinstance(session_setup, App) else App(title, session_setup, **app_options)
    started = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        server = Server(app, host, 0)
        try:
            await server.start()
        except BaseException as exc:
            state["error"] = exc
            started.set()
            raise
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        state.update(server=server, loop=loop, stop=stop)
        started.set()
        try:
            await stop
        finally:
            await server.close()

    def run() -> None:
        try:
            import uvloop

            uvloop.run(main())
        except BaseException as exc:  # reported to the caller through state
            state.setdefault("error", exc)
            started.set()

    thread = threading.Thread(target=run, name="rweb-test-server", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the test server did not start within 10 s")
    if "error" in state:
        raise RuntimeError("the test server failed to start") from state["error"]
    loop: asyncio.AbstractEventLoop = state["loop"]
    try:
        yield Served(host, state["server"].port, app, loop, state["server"])
    finally:
        loop.call_soon_threadsafe(lambda: state["stop"].done() or state["stop"].set_result(None))
        thread.join(10)


# -- the in-process event loop -----------------------------------------------------


class _Timer:
    """A timer of the in-process loop (what ``loop.call_later`` returns)."""

    __slots__ = ("args", "cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when, self.fn, self.args, self.cancelled = when, fn, args, False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock(Clock):
    """The clock of an app driven in-process (``app.clock``): it moves only when a test advances it.

    ``monotonic()`` is the test loop's time, which timers (``conn.every``)
    run on; ``time()`` is the wall clock, which starts at the real time when
    the app's first test client is made and moves with it.  ``set(when)``
    puts the wall clock at ``when`` (a Unix time or an aware ``datetime``),
    as a clock adjusted by NTP would be: timers and ``monotonic()`` stay.
    """

    __slots__ = ("_loop", "_offset")

    def __init__(self, loop: _PendingLoop) -> None:
        self._loop = loop
        self._offset = time.time() - loop.now

    def time(self) -> float:
        return self._offset + self._loop.now

    def monotonic(self) -> float:
        return self._loop.now

    def set(self, when: float | datetime) -> None:
        """Put the wall clock at ``when``; it goes on moving with :meth:`Client.advance`."""
        if isinstance(when, datetime):
            if when.tzinfo is None:
                raise ValueError("set() takes an aware datetime (tzinfo=UTC, say), not a naive one")
            when = when.timestamp()
        self._offset = when - self._loop.now


class _PendingLoop:
    """Stands in for the event loop of an app driven in-process: callbacks wait for ``run_pending``.

    It offers what :meth:`App.call_soon` and the connections use
    (``call_soon``, ``call_soon_threadsafe``); nothing runs until a test asks.
    """

    def __init__(self) -> None:
        self.ready: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self.clients: weakref.WeakSet[Client] = weakref.WeakSet()  # the app's live test clients
        self.aio: asyncio.AbstractEventLoop | None = None  # runs async handlers (App.spawn)
        # Timers (conn.every): on a virtual clock that only :meth:`advance` moves.
        self.now = 0.0
        self.timers: list[tuple[float, int, _Timer]] = []
        self._seq = 0
        self.clock = VirtualClock(self)  # what the app reads (app.clock) while it runs on this loop

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> _Timer:
        return self.call_at(self.now + max(0.0, delay), fn, *args)

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> _Timer:
        timer = _Timer(when, fn, args)
        self._seq += 1
        heapq.heappush(self.timers, (when, self._seq, timer))
        return timer

    def advance(self, seconds: float) -> int:
        """Move the virtual clock by ``seconds``: timers fall due in order, each followed by what it queued.

        Returns how many callbacks ran (timers included).
        """
        end = self.now + seconds
        n = 0
        while self.timers and self.timers[0][0] <= end:
            when, _, timer = heapq.heappop(self.timers)
            self.now = max(self.now, when)
            if timer.cancelled:
                continue
            n += 1
            timer.fn(*timer.args)
            n += self.run_pending()
        self.now = end
        return n + self.run_pending()

    def create_task(self, coro: Any) -> asyncio.Task[Any]:
        """A task (an async handler's) on this loop's asyncio loop: it runs while a client waits (:meth:`run_until`)."""
        aio = self.aio
        if aio is None or aio.is_closed():
            aio = self.aio = asyncio.new_event_loop()
            weakref.finalize(self, aio.close)
        return aio.create_task(coro)

    def run_until(self, done: Callable[[], bool], timeout: float) -> None:
        """Run the tasks until ``done()``: TimeoutError after ``timeout`` s, RuntimeError if none is left to run.

        Callbacks queued with ``call_soon`` still wait for :meth:`run_pending`.
        """
        deadline = time.monotonic() + timeout
        while not done():
            aio = self.aio
            tasks = asyncio.all_tasks(aio) if aio is not None and not aio.is_closed() else set()
            if not tasks:
                raise RuntimeError("waiting for a reply that no running handler will send")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply within {timeout} s: an async handler still runs")
            assert aio is not None
            aio.run_until_complete(asyncio.wait(tasks, timeout=left, return_when=asyncio.FIRST_COMPLETED))

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run ``coro`` to its end as a task of this loop (the app's startup or shutdown): its result."""
        task = self.create_task(coro)
        self.run_until(task.done, timeout)
        return task.result()

    def settle(self, timeout: float = 1.0) -> None:
        """Let cancelled tasks (the handlers of closed sessions) finish, so none is destroyed pending."""
        aio = self.aio
        if aio is None or aio.is_closed() or aio.is_running():
            return
        tasks = [t for t in asyncio.all_tasks(aio) if t.cancelling()]
        if tasks:
            aio.run_until_complete(asyncio.wait(tasks, timeout=timeout))

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.ready.append((fn, args))

    call_soon_threadsafe = call_soon

    def schedule(self, fn: Callable[[], Any]) -> None:
        self.ready.append((fn, ()))

    def run_pending(self) -> int:
        """Run the queued callbacks, and those they queue, until none is left; how many ran.

        Each client then carries out the effects its pushes brought (a
        navigation may queue more work, which runs too).
        """
        n = 0
        ready = self.ready
        while True:
            while ready:
                n += 1
                if n > MAX_PENDING:
                    raise RuntimeError(f"more than {MAX_PENDING} callbacks in one run_pending(): a loop?")
                fn, args = ready.popleft()
                fn(*args)
            for client in list(self.clients):
                client.follow_effects()
            if not ready and self._step_tasks():
                continue  # a background task (conn.spawn) ran and may have queued work
            if not ready:
                return n

    def _step_tasks(self) -> bool:
        """Let the background tasks run up to their next real wait; True if there were any."""
        aio = self.aio
        if aio is None or aio.is_closed() or aio.is_running():
            return False
        if not [t for t in asyncio.all_tasks(aio) if not t.done()]:
            return False
        before = len(self.ready)
        aio.run_until_complete(asyncio.sleep(0))
        return len(self.ready) > before


def _socket_info(
    app: App,
    http: TestClient,
    url: str | None,
    info: ConnectionInfo | None,
    cookies: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
    flash: str | None = None,
) -> ConnectionInfo:
    """What the socket request of a page at ``url`` carries: the join, headers, cookies, the
    flash messages its first paint handed on."""
    if info is not None and url is None and cookies is None and headers is None and flash is None:
        return info
    if url is not None and not (url.startswith("/") and not url.startswith("//")):
        raise ValueError(f"url is a path within the app (/x?y=1), not {url!r}")
    socket_path = app.root_path + app.socket_path
    if info is not None:
        query = dict(info.query)
        hdrs = dict(info.headers)
        jar = dict(info.cookies)
        path, client = info.path, info.client
    else:
        query, jar, path, client = {}, {}, socket_path, http.client
        hdrs = {
            "host": http.host,
            "origin": http.base_url,
            "user-agent": USER_AGENT,
        }
        jar = http.cookies.for_path(socket_path)
    if url is not None:
        query["url"] = url
    if flash is not None:
        query[JOIN_FLASH_PARAM] = flash
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    jar.update(cookies or {})
    if jar:
        hdrs["cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
    return ConnectionInfo(path=path, query=query, headers=hdrs, cookies=jar, client=client)


_FLASH_META = re.compile(r'<meta name="rweb-flash" content="([^"]*)">')

_LOOPS: weakref.WeakKeyDictionary[App, _PendingLoop] = weakref.WeakKeyDictionary()
_LOOPS_LOCK = threading.Lock()


def _pending_loop(app: App) -> _PendingLoop:
    """The app's in-process loop, shared by all its test clients; binds the app to it if unbound."""
    with _LOOPS_LOCK:
        loop = _LOOPS.get(app)
        if loop is None:
            loop = _LOOPS[app] = _PendingLoop()
        if app.scheduler.loop is None:  # not served for real: app.call_soon / in_session queue here
            app.bind(cast(asyncio.AbstractEventLoop, loop))
            if app.clock is SYSTEM_CLOCK:  # the app reads the virtual time (not a clock of its own)
                app.clock = loop.clock
        return loop


# -- cookies -----------------------------------------------------------------------


@dataclass
class SetCookie:
    """One ``Set-Cookie`` header, parsed: the cookie and its attributes."""

    name: str
    value: str
    path: str | None = None
    domain: str | None = None
    max_age: int | None = None
    expires: float | None = None  # a Unix time
    secure: bool = False
    httponly: bool = False
    samesite: str | None = None  # as sent: "Lax", "Strict", "None"
    partitioned: bool = False
    raw: str = field(default="", repr=False)

    @classmethod
    def parse(cls, header: str) -> SetCookie | None:
        """Parse one ``Set-Cookie`` value (None when it has no ``name=``)."""
        first, *attrs = header.split(";")
        name, eq, value = first.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name:
            return None
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookie = cls(name, value, raw=header)
        for attr in attrs:
            key, _, val = attr.partition("=")
            key, val = key.strip().lower(), val.strip()
            if key == "path":
                cookie.path = val if val.startswith("/") else None
            elif key == "domain":
                cookie.domain = val.lstrip(".").lower() or None
            elif key == "max-age":
                try:
                    cookie.max_age = int(val)
                except ValueError:
                    pass
            elif key == "expires":
                try:
                    cookie.expires = parsedate_to_datetime(val).timestamp()
                except (TypeError, ValueError, IndexError):
                    pass
            elif key == "secure":
                cookie.secure = True
            elif key == "httponly":
                cookie.httponly = True
            elif key == "samesite":
                cookie.samesite = val
            elif key == "partitioned":
                cookie.partitioned = True
        return cookie

    def expiry(self, now: float) -> float | None:
        """When the cookie expires (Unix time; Max-Age wins over Expires), None for a session cookie."""
        if self.max_age is not None:
            return now + self.max_age if self.max_age > 0 else 0.0
        return self.expires


@dataclass
class _Stored:
    name: str
    value: str
    path: str
    expires: float | None  # Unix time; None: until the jar is cleared
    cookie: SetCookie


def _default_path(request_path: str) -> str:
    """RFC 6265 5.1.4: the directory of the request path."""
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[: request_path.rindex("/")]


def _path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 5.1.4 path-match."""
    if request_path == cookie_path:
        return True
    if request_path.startswith(cookie_path):
        return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    return False


class CookieJar:
    """The cookies of one test browser, keyed by name and path, as RFC 6265 stores them.

    ``jar["sid"]`` is the value of ``sid`` (the one with the longest path when
    several paths hold one); cookies set with ``Max-Age=0`` or an
    ``Expires`` in the past are removed; ``Secure`` cookies are kept and sent
    over plain ``http://`` too, since a test talks to the app in-process.
    ``Domain`` is not checked: there is one host.
    """

    def __init__(self, cookies: Mapping[str, str] | None = None, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._cookies: dict[tuple[str, str], _Stored] = {}
        self.clock = clock  # expiries are on it: a TestClient's jar is on the app's (virtual) clock
        for name, value in (cookies or {}).items():
            self.set(name, value)

    # -- reading -----------------------------------------------------------------

    def _live(self) -> list[_Stored]:
        now = self.clock.time()
        dead = [k for k, c in self._cookies.items() if c.expires is not None and c.expires <= now]
        for k in dead:
            del self._cookies[k]
        return sorted(self._cookies.values(), key=lambda c: -len(c.path))

    def for_path(self, path: str) -> dict[str, str]:
        """The cookies a browser sends with a request for ``path`` (longer paths first)."""
        out: dict[str, str] = {}
        for c in self._live():
            if _path_matches(path, c.path):
                out.setdefault(c.name, c.value)
        return out

    def header(self, path: str) -> str:
        """The ``Cookie`` header for a request to ``path`` ("" when none)."""
        return "; ".join(f"{k}={v}" for k, v in self.for_path(path).items())

    def attributes(self, name: str) -> SetCookie | None:
        """The ``Set-Cookie`` that stored ``name`` (its attributes), if the jar holds it."""
        for c in self._live():
            if c.name == name:
                return c.cookie
        return None

    def get(self, name: str, default: str | None = None) -> str | None:
        for c in self._live():
            if c.name == name:
                return c.value
        return default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(c.name for c in self._live()))

    def __len__(self) -> int:
        return len(dict.fromkeys(c.name for c in self._live()))

    def __bool__(self) -> bool:
        return bool(self._live())

    def as_dict(self) -> dict[str, str]:
        return {name: self[name] for name in self}

    def __repr__(self) -> str:
        return f"CookieJar({self.as_dict()!r})"

    # -- writing ------------------------------------------------------------------

    def set(self, name: str, value: str, *, path: str = "/") -> None:
        """Store a cookie as the browser would (a session cookie, no attributes)."""
        self._cookies[(name, path)] = _Stored(name, value, path, None, SetCookie(name, value, path=path))

    def delete(self, name: str, *, path: str | None = None) -> None:
        """Remove ``name`` (at ``path``, or at every path)."""
        for key in [k for k in self._cookies if k[0] == name and (path is None or k[1] == path)]:
            del self._cookies[key]

    def clear(self) -> None:
        self._cookies.clear()

    def store(self, cookie: SetCookie, request_path: str = "/") -> None:
        """Apply one parsed ``Set-Cookie`` received for ``request_path``."""
        path = cookie.path or _default_path(request_path)
        key = (cookie.name, path)
        now = self.clock.time()
        expires = cookie.expiry(now)
        if expires is not None and expires <= now:
            self._cookies.pop(key, None)
            return
        self._cookies[key] = _Stored(cookie.name, cookie.value, path, expires, cookie)

    def update_from(self, headers: Iterable[tuple[str, str]], request_path: str = "/") -> list[SetCookie]:
        """Apply every ``Set-Cookie`` among ``headers``; returns them parsed."""
        received: list[SetCookie] = []
        for k, v in headers:
            if k.lower() == "set-cookie":
                cookie = SetCookie.parse(v)
                if cookie is not None:
                    self.store(cookie, request_path)
                    received.append(cookie)
        return received


# -- plain HTTP in-process -------------------------------------------------------------


class TestResponse:
    """What :class:`TestClient` answers: the app's :class:`~rweb.http.Response` and helpers.

    ``status``, ``headers`` (a list of pairs, names as the app gave them),
    ``header(name)``, ``body`` (as sent), ``content`` (its ``Content-Encoding``
    undone), ``text``, ``json()`` (both decoded), ``cookies`` (the values
    this response set: ``{name: value}``, ``""`` for a deletion),
    ``set_cookies`` (the same, parsed with their attributes), ``location``,
    ``url`` (what was asked for), ``request`` and ``history`` (the redirects
    followed to get here).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        response: Response,
        request: Request,
        url: str,
        set_cookies: list[SetCookie],
        history: list[TestResponse] | None = None,
    ) -> None:
        self.response = response
        self.request = request
        self.url = url
        self.set_cookies = set_cookies
        self.history = history or []

    @property
    def status(self) -> int:
        return self.response.status

    @property
    def headers(self) -> list[tuple[str, str]]:
        return self.response.headers

    @property
    def body(self) -> bytes:
        """The body as it went on the wire (compressed, if the request asked and the app compressed it)."""
        return self.response.body

    @property
    def content(self) -> bytes:
        """The body with its ``Content-Encoding`` undone (gzip, br), as a browser reads it."""
        from ..web.compression import decompress

        return decompress(self.response.body, self.header("content-encoding"))

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), or ``default``."""
        return self.response.header(name, default)

    def header_list(self, name: str) -> list[str]:
        """Every value of header ``name`` (``Set-Cookie`` repeats)."""
        low = name.lower()
        return [v for k, v in self.response.headers if k.lower() == low]

    @property
    def text(self) -> str:
        ctype = self.header("content-type") or ""
        charset = "utf-8"
        for part in ctype.split(";")[1:]:
            key, _, val = part.partition("=")
            if key.strip().lower() == "charset" and val.strip():
                charset = val.strip().strip('"')
        return self.content.decode(charset, errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.content)

    @property
    def cookies(self) -> dict[str, str]:
        return {c.name: c.value for c in self.set_cookies}

    def cookie(self, name: str) -> SetCookie | None:
        """The parsed ``Set-Cookie`` for ``name`` in this response (its attributes), if any."""
        for c in reversed(self.set_cookies):
            if c.name == name:
                return c
        return None

    @property
    def location(self) -> str | None:
        return self.header("location")

    @property
    def is_redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and self.location is not None

    def __repr__(self) -> str:
        return f"<TestResponse {self.status} {self.request.method} {self.url}>"


class TestClient:
    """Plain HTTP to an app, in-process: ``get``, ``post``, ... through :meth:`App.handle_http`.

    Like a browser on ``base_url`` (``http://testserver``): it sends
    ``Host``, a ``User-Agent`` and, on requests other than GET and HEAD,
    ``Origin`` (as browsers do for a form post or a ``fetch``); it keeps the
    cookies the app sets (``cookies``, a :class:`CookieJar`) and sends them
    back; ``data=`` sends a url-encoded form, ``json=`` a JSON body,
    ``content=`` raw bytes.  A header given as ``None`` is not sent.
    ``live(url)`` joins a reactive page with the jar's cookies.  As a context
    manager it runs the app's ``on_startup`` hooks on entry and its
    ``on_shutdown`` hooks on exit, as a server does (docs/lifecycle.md).

    Async handlers run on a private event loop (no thread); a TestClient
    cannot be used from inside a running loop (an ``async def`` test): await
    ``app.handle_http(request)`` there instead.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        app_or_setup: Callable[..., Any] | App,
        base_url: str = BASE_URL,
        *,
        headers: HeaderArg | None = None,
        cookies: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
        client: str | None = "127.0.0.1",
        **app_options: Any,
    ) -> None:
        self.app = _as_app(app_or_setup, app_options)
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL with a host, not {base_url!r}")
        self.base_url = f"{parts.scheme}://{parts.netloc}"
        self.scheme = parts.scheme
        self.host = parts.netloc
        self.headers: dict[str, str | None] = {k.lower(): v for k, v in (headers or {}).items()}
        self.pending = _pending_loop(self.app)
        self.cookies = CookieJar(cookies, clock=self.app.clock)
        self.follow_redirects = follow_redirects
        self.client = client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._live: list[Client] = []
        self._started = False  # the app started by `with TestClient(app)`: stopped at its end

    # -- requests ----------------------------------------------------------------

    def get(self, url: str, **kw: Any) -> TestResponse:
        return self.request("GET", url, **kw)

    def head(self, url: str, **kw: Any) -> TestResponse:
        return self.request("HEAD", url, **kw)

    def post(self, url: str, **kw: Any) -> TestResponse:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> TestResponse:
        return self.request("PUT", url, **kw)

    def patch(self, url: str, **kw: Any) -> TestResponse:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: Any) -> TestResponse:
        return self.request("DELETE", url, **kw)

    def options(self, url: str, **kw: Any) -> TestResponse:
        return self.request("OPTIONS", url, **kw)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        data: Params | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: HeaderArg | None = None,
        cookies: Mapping[str, str] | None = None,
        follow_redirects: bool | None = None,
    ) -> TestResponse:
        """One request (and the redirects that follow, with ``follow_redirects``)."""
        method = method.upper()
        if sum(x is not None for x in (data, json, content)) > 1:
            raise TypeError("give at most one of data=, json= and content=")
        body = b""
        ctype = None
        if data is not None:
            body, ctype = urlencode(_pairs(data)).encode(), "application/x-www-form-urlencoded"
        elif json is not None:
            body, ctype = orjson.dumps(json), "application/json"
        elif content is not None:
            body = content.encode() if isinstance(content, str) else bytes(content)
        extra: dict[str, str | None] = {}
        if ctype is not None:
            extra["content-type"] = ctype
        if headers:
            extra.update({k.lower(): v for k, v in headers.items()})
        follow = self.follow_redirects if follow_redirects is None else follow_redirects
        history: list[TestResponse] = []
        target = self._target(url, params)
        while True:
            response = self._send(method, target, body, extra, cookies)
            if not (follow and response.is_redirect):
                response.history = history
                return response
            history.append(response)
            if len(history) > MAX_REDIRECTS:
                raise RuntimeError(f"more than {MAX_REDIRECTS} redirects from {url!r}")
            assert response.location is not None
            nxt = urljoin(self.base_url + target, response.location)
            parts = urlsplit(nxt)
            if f"{parts.scheme}://{parts.netloc}" != self.base_url:
                response.history = history[:-1]
                return response  # another site: not ours to follow
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                if method != "HEAD":
                    method = "GET"
                body = b""
                extra = {k: v for k, v in extra.items() if k not in ("content-type",)}

    def _target(self, url: str, params: Params | None) -> str:
        if url.startswith(("http://", "https://")):
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" != self.base_url:
                raise ValueError(f"{url!r} is not on {self.base_url}")
            url = parts.path + (f"?{parts.query}" if parts.query else "")
        if not url.startswith("/"):
            raise ValueError(f"a request URL is a path (/x) or a URL on {self.base_url}, not {url!r}")
        url = url.partition("#")[0]
        if params:
            extra = urlencode(_pairs(params))
            url += ("&" if "?" in url else "?") + extra
        return url

    def _request_headers(
        self, method: str, path: str, body: bytes, extra: Mapping[str, str | None],
        cookies: Mapping[str, str] | None,
    ) -> list[tuple[str, str]]:
        hdrs: dict[str, str | None] = {"host": self.host, "user-agent": USER_AGENT}
        if method not in ("GET", "HEAD"):
            hdrs["origin"] = self.base_url
        jar = self.cookies.for_path(path)
        if cookies:
            jar.update(cookies)
        if jar:
            hdrs["cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        if body:
            hdrs["content-length"] = str(len(body))
        hdrs.update(self.headers)
        hdrs.update(extra)
        return [(k, v) for k, v in hdrs.items() if v is not None]

    def _send(
        self, method: str, target: str, body: bytes, extra: Mapping[str, str | None],
        cookies: Mapping[str, str] | None,
    ) -> TestResponse:
        raw_path, _, qs = target.partition("?")
        app = self.app
        root_path = ""
        path = unquote(raw_path) or "/"
        if app.root_path and (path == app.root_path or path.startswith(app.root_path + "/")):
            root_path, path = app.root_path, path[len(app.root_path) :] or "/"
        request = Request(
            method,
            path,
            query_string=qs,
            headers=self._request_headers(method, raw_path, body, extra, cookies),
            body=body,
            client=self.client,
            scheme=self.scheme,
            root_path=root_path,
        )
        if len(body) > app.max_body_size:  # what the transports answer, without calling the app
            response = error_response(413, headers={"Connection": "close"})
        else:
            response = sendable(self._run(app.handle_http(request)))  # as the transports write it
        if method == "HEAD" and response.body:  # the transports send HEAD's headers only
            response.body = b""
        received = self.cookies.update_from(response.headers, raw_path)
        return TestResponse(response, request, target, received)

    def _run(self, coro: Any) -> Response:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coro.close()
            raise RuntimeError(
                "TestClient cannot run inside a running event loop (an async test): "
                "use `await app.handle_http(rweb.Request(...))` there"
            )
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
            weakref.finalize(self, self._loop.close)  # also when close() is never called
        return cast(Response, self._loop.run_until_complete(coro))

    # -- live sessions ---------------------------------------------------------------

    def live(self, url: str = "/", **kw: Any) -> Client:
        """Join the reactive page at ``url`` with this client's cookies (see :class:`Client`).

        Cookies set by the session (``conn.set_cookie``) are redeemed through
        this client and land in its jar.
        """
        if "flash" not in kw and "info" not in kw:
            kw["flash"] = self._first_paint_flash(url)
        if "writer_id" not in kw:
            wid = self.app.next_writer_id()
            while wid in self.app.sessions:  # a Client made with an explicit id holds it
                wid = self.app.next_writer_id()
            kw["writer_id"] = wid
        client = Client(self.app, url, http=self, **kw)
        self._live.append(client)
        return client

    def _first_paint_flash(self, url: str) -> str | None:
        """With a flash cookie in the jar, the page's first paint (GET ``url``), as the browser's load
        does: it reads and deletes the cookie and hands the messages to the join (rweb.flash).
        Without one the first paint changes nothing the join sees, and is skipped."""
        jar = self.cookies.for_path(self.app.root_path + url.partition("?")[0])
        if flash_cookie_name("http") not in jar and flash_cookie_name("https") not in jar:
            return None
        found = _FLASH_META.search(self.get(url).text)
        return _html.unescape(found.group(1)) if found else None

    def page(self, url: str = "/", *, raise_errors: bool = True, **kw: Any) -> Any:
        """The page at ``url`` as a :class:`~rweb.testing.Page` (selectors, clicks, forms) with this client's cookies."""
        if _page_type is None:  # pragma: no cover (rweb.testing imports rweb.testing.page, which sets it)
            raise RuntimeError("import rweb.testing (its page module) first")
        return _page_type(self.live(url, **kw), raise_errors=raise_errors)  # a rweb.testing.Page

    def run_pending(self) -> int:
        """Run the work the app queued on its (in-process) event loop; see :meth:`Client.run_pending`."""
        return self.pending.run_pending()

    def advance(self, seconds: float) -> int:
        """Let ``seconds`` of virtual time pass (``app.clock`` and the timers); see :meth:`Client.advance`.

        Cookies in :attr:`cookies` expire on this clock too.
        """
        return self.pending.advance(seconds)

    def close(self) -> None:
        """Close the live sessions this client opened, and its event loop."""
        for c in self._live:
            c.close()
        self._live.clear()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> TestClient:
        """Start the app as a server would (its broker, then its ``on_startup`` hooks); ``__exit__`` stops it."""
        self.pending.run(self.app.startup())
        self._started = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        if self._started:
            self._started = False
            self.pending.run(self.app.shutdown())
            self.pending.settle()


def _recorded(fx: Effect) -> None:
    """An effect this client only records (``Client.effects``): it has no DOM, no JavaScript."""


def _pairs(values: Params) -> list[tuple[str, str]]:
    items = values.items() if isinstance(values, Mapping) else values
    out: list[tuple[str, str]] = []
    for k, v in items:
        if isinstance(v, list | tuple):
            out.extend((k, _str(x)) for x in v)
        else:
            out.append((k, _str(v)))
    return out


def _str(v: Any) -> str:
    if v is True or v is False:
        return "true" if v else "false"
    return str(v)


# -- live sessions in-process ---------------------------------------------------------


class Client:
    """Drive one live session in-process, through the wire protocol, as a browser tab would.

    ``Client(app_or_setup, url)`` joins the page at ``url`` (``/`` by default)
    the way the browser's socket does (the join URL in the socket's query),
    with ``cookies`` and ``headers`` on the socket request, and ``flash``: the
    flash messages a first paint handed on (``TestClient.page`` does the
    first paint when its jar holds a flash cookie, as the browser's load would).  For a bare
    ``session_setup``, an :class:`~rweb.App` is made (``**app_options`` go to
    it).  ``info`` gives the socket's :class:`~rweb.ConnectionInfo` as is
    (its query's ``url`` names the page; without one the page is ``/``).

    - ``send(action, params)``: one action; returns the decoded reply;
    - ``navigate(url)``: what a click on a ``data-navigate`` link does (a new
      history entry, then the ``nav`` message); an ``init`` reply replaces the
      page; returns the reply.  ``back()`` and ``forward()`` walk the history;
    - ``html(name)``: a component's HTML (the whole page by default), rebuilt
      with :func:`rweb.protocol.assemble` from what the server sent;
    - ``url``, ``title``: what the browser shows; ``history``;
    - ``effects``: every effect (``fx``) received, in order, as
      ``(kind, data)``; ``nav`` effects with mode ``push``/``replace`` are
      followed like the browser does, ``cookie`` effects are redeemed over
      HTTP (``cookies`` is the jar), a ``load`` (a ``Redirect``,
      ``conn.redirect``, a link to a plain page) is recorded in ``loaded``
      and ``redirected_to`` and ends the session, as leaving the page does;
      ``stream`` effects change ``streams``, an ``upload_stop`` stops that
      upload's chunks; ``reset``, ``focus`` and ``js`` act on a DOM, which a
      :class:`Page` over this client keeps (``effect_handlers``: each kind's
      handler, the table rweb.js's ``runEffects`` has);
    - ``pushes``: the messages the server sent on its own; ``run_pending()``
      runs the work queued on the app's event loop (pushes after a write
      outside an action, ``app.in_session``, ``app.call_soon``);
    - an async handler runs on a private asyncio loop while ``send`` waits
      for its reply (at most ``timeout`` seconds, 10 by default);
    - ``close()``: the tab is closed (the session's ``on_close`` and end
      hooks run).

    A join refused with an error (``setup_error``, ``not_found``) raises
    ``RuntimeError``; one refused with a redirect does not: ``ok`` is False
    and ``redirected_to`` says where the browser went.
    """

    def __init__(
        self,
        app_or_setup: Callable[..., Any] | App,
        url: str | None = None,
        *,
        writer_id: Any = 1,
        info: ConnectionInfo | None = None,
        cookies: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        http: TestClient | None = None,
        flash: str | None = None,
        **app_options: Any,
    ) -> None:
        if http is not None:
            if app_options or (not isinstance(app_or_setup, App)) or app_or_setup is not http.app:
                raise TypeError("a Client given http= drives that TestClient's app")
            app = http.app
        else:
            app = _as_app(app_or_setup, app_options)
            http = TestClient(app)
        self.app = app
        self.http = http
        self.writer_id = writer_id
        self.pushes: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []
        self.effects: list[tuple[str, dict[str, Any]]] = []
        self.loaded: list[str] = []
        self.components: dict[str, dict[str, Any]] = {}
        self.streams: dict[str, dict[str, str]] = {}  # stream name -> its rows' HTML by key, in order
        self.title: str | None = None
        self.closed = False
        self._left = False  # the tab went away (close(), a page load): its effects are not carried out
        self.timeout = 10.0  # seconds send() waits for the reply of an async handler
        self._ref = 0
        self._fx: deque[Effect] = deque()  # effects that talk to the server (nav, cookie): followed after the message
        self._stopped: set[str] = set()  # uploads whose sending the server stopped (upload_stop)
        # What this client does with each effect kind (rweb.js's runEffects); a Page adds the DOM's.
        self.effect_handlers: dict[EffectKind, Callable[[Any], None]] = {
            EffectKind.NAV: self._navigate_effect,
            EffectKind.COOKIE: self._cookie_effect,
            EffectKind.STREAM: self._stream,
            EffectKind.UPLOAD_STOP: self._upload_stop,
            # The page's client hooks are JavaScript: the event is recorded in ``effects``.
            EffectKind.EVENT: _recorded,
            # No DOM here: recorded in ``effects``; a Page (rweb.testing.Page) applies them.
            EffectKind.RESET: _recorded,
            EffectKind.FOCUS: _recorded,
            EffectKind.JS: _recorded,
        }
        self._watchers: list[Callable[[dict[str, Any]], None]] = []  # told of each message applied (Page)
        self._loop = _pending_loop(app)
        info = _socket_info(app, http, url, info, cookies, headers, flash)
        if url is None:
            page = page_info(info)
            url = page.path + (f"?{urlencode(list(page.query.items()))}" if page.query else "")
        self.history: list[str] = [url]
        self._at = 0
        self.conn = Connection(app, writer_id, info, self._on_push, self._loop.schedule, self._hangup)
        self._loop.clients.add(self)
        raw, close = self.conn.start()
        self.ok = close is None
        if raw is None:  # a session being restored, or an async guard awaited: its init comes later
            self._loop.run_until(lambda: bool(self.pushes), self.timeout)
            first = self.pushes.pop(0)
            self.components = {}
            raw, self.ok = orjson.dumps(first), self.ok and not self.closed
        self.init: dict[str, Any] = orjson.loads(raw)
        if not self.ok and "e" in self.init:
            self.close()  # the transport closes the socket
            raise RuntimeError(f"the session did not open: {self.init['e']}")
        self._receive(self.init)
        self._follow()  # a refused join carries a "load" effect, which closes
        if not self.ok and not self.closed:
            self.close()

    # -- what the browser shows ---------------------------------------------------------

    @property
    def url(self) -> str:
        """The app URL the browser shows (path and query within the app)."""
        return self.history[self._at]

    @property
    def redirected_to(self) -> str | None:
        """Where the last full page load went (None when none happened)."""
        return self.loaded[-1] if self.loaded else None

    @property
    def cookies(self) -> CookieJar:
        """The browser's cookie jar (shared with the TestClient this session came from)."""
        return self.http.cookies

    def html(self, name: str = "root") -> str:
        """The HTML of component ``name`` and its children, as the browser builds it (streams' rows included)."""
        return page_html(self.components, self.streams, name)

    # -- what the user does ----------------------------------------------------------------

    def send(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send an action (a click, an input, a form) and return the server's reply."""
        self._ref += 1
        msg = {"action": action, "params": params or {}, "ref": self._ref}
        return self.send_raw(orjson.dumps(msg))

    def send_raw(self, data: bytes | str) -> dict[str, Any]:
        """Send one raw text message and return the decoded reply."""
        self._check_open()
        reply = self._exchange(data)
        self._follow()
        return reply

    def upload(
        self, name: str, files: Iterable[tuple[str, bytes, str]], *, chunk: int | None = None
    ) -> dict[str, Any]:
        """Upload ``files`` (``(file name, content, type)``) to the page's upload ``name``, as the browser does.

        The request (``{"t": "upload", ...}``), then each file's chunks as
        binary frames (``chunk`` bytes each, the server's size by default),
        then the pushes they caused (progress, an ``upload_failed``).  Returns
        the request's reply: its ``up`` holds the files' ids, or its ``e``
        says why the request was refused (then nothing is sent).  Send the
        form's action next: its handler's ``consume()`` gets the files.
        """
        self._check_open()
        files = list(files)
        self._ref += 1
        msg = {
            "t": "upload",
            "name": name,
            "files": [{"name": n, "size": len(data), "type": t} for n, data, t in files],
            "ref": self._ref,
        }
        reply = self.send_raw(orjson.dumps(msg))
        up = reply.get("up")
        if up is None:
            return reply
        size = chunk or up["chunk"]
        self._stopped.discard(name)
        for fid, (_, data, _) in zip(up["ids"], files, strict=True):
            for at in range(0, len(data), size):
                if name in self._stopped:  # the server dropped the upload: the browser stops sending
                    return reply
                self.send_binary(chunk_frame(fid, data[at : at + size]))
        return reply

    def cancel_upload(self, name: str) -> dict[str, Any]:
        """What a ``data-upload-cancel`` button does: drop the upload's files; returns the reply."""
        self._ref += 1
        return self.send_raw(orjson.dumps({"t": "upload_cancel", "name": name, "ref": self._ref}))

    def send_binary(self, data: bytes) -> dict[str, Any] | None:
        """Send one binary frame; returns the reply it got (an error), or None (an upload's chunk: no reply).

        The pushes it caused are run (``pushes``).
        """
        self._check_open()
        raw = self.conn.receive_binary(data)
        reply = None
        if raw is not None:
            reply = orjson.loads(raw)
            self.replies.append(reply)
            self._receive(reply)
        self.run_pending()
        self._follow()
        return reply

    def navigate(self, url: str, *, replace: bool = False) -> dict[str, Any]:
        """Show the app's page at ``url`` live (a ``data-navigate`` link); returns the reply."""
        self._check_open()
        if replace:
            self.history[self._at] = url
        else:
            del self.history[self._at + 1 :]
            self.history.append(url)
            self._at += 1
        reply = self._nav(url)
        self._follow()
        return reply

    def back(self) -> dict[str, Any]:
        """The browser's back button (between live-navigated entries)."""
        return self._go(-1)

    def forward(self) -> dict[str, Any]:
        """The browser's forward button."""
        return self._go(1)

    def _go(self, step: int) -> dict[str, Any]:
        self._check_open()
        at = self._at + step
        if not 0 <= at < len(self.history):
            raise IndexError("no history entry there")
        self._at = at
        reply = self._nav(self.history[at])
        self._follow()
        return reply

    def run_pending(self) -> int:
        """Run what the app queued on its event loop (pushes, ``call_soon``, ``in_session``), as the loop would.

        The queue is the app's, shared by every in-process client of the app:
        other sessions' pushes run too.  Returns how many callbacks ran.
        """
        return self._loop.run_pending()

    def advance(self, seconds: float) -> int:
        """Let ``seconds`` of (virtual) time pass: timers (``conn.every``) fire in order, their pushes arrive.

        The clock is the app's in-process loop's, shared by its clients; what
        the app reads from ``app.clock`` moves with it (a timer firing at
        ``t`` reads ``t``).  Returns how many callbacks ran.
        """
        return self._loop.advance(seconds)

    def close(self) -> None:
        """The tab goes away: the session ends (``on_close``, end hooks; an async handler still running is cancelled)."""
        self.closed = True
        self._left = True
        self.conn.close()
        self._loop.settle()

    def _hangup(self, code: int) -> None:
        self.ok = False
        self.closed = True

    def lose(self) -> None:
        """The socket drops without a close (the network, a sleeping laptop): the session waits for its browser.

        Then :meth:`resume` joins again with the session's token, as the
        browser client does; the session ends when ``app.resume_grace``
        passes first (``advance`` the virtual clock).
        """
        self._check_open()
        self.closed = True
        self.conn.ended(None)

    def resume(self, app: App | None = None, **kw: Any) -> Client:
        """A new socket from this browser, presenting the session's token: the session, resumed.

        ``app``: join another App (another worker or server: with a shared
        ``session_store`` it restores the session from its snapshot).  The new
        client's ``init`` says ``resumed`` (with ``last``, the last action
        applied) or ``fresh``.  As in the browser, a token resumes once: the new
        client's ``init`` holds the next one (resume *it* after a second drop),
        and this client's is spent.
        """
        token = self.init.get("tok")
        if token is None:
            raise RuntimeError("this session has no resume token (App(resume_grace=0)?)")
        target = app or self.app
        http = self.http if target is self.app else TestClient(target)  # another server: its own jar
        info = _socket_info(target, http, self.url, None, None, None)
        info.query["tok"] = token  # type: ignore[index]  # _socket_info's query is a dict
        client = Client(target, info=info, http=http, **kw)
        client._ref = self._ref  # the browser's refs go on growing
        return client

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the wire --------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            where = f" (the browser loaded {self.redirected_to})" if self.loaded else ""
            raise RuntimeError(f"the session is closed{where}")

    def _nav(self, url: str) -> dict[str, Any]:
        self._ref += 1
        return self._exchange(orjson.dumps({"t": "nav", "url": url, "ref": self._ref}))

    def _exchange(self, data: bytes | str) -> dict[str, Any]:
        """One message to the server -> its reply, waited for while an async handler runs."""
        n = len(self.replies)
        raw = self.conn.receive(data)
        if raw is None:  # the reply comes through _on_push once the handler is done
            self._loop.run_until(lambda: len(self.replies) > n or self.closed, self.timeout)
            if len(self.replies) <= n:
                raise RuntimeError("the session closed before its reply came")
            return self.replies[n]
        reply: dict[str, Any] = orjson.loads(raw)
        self.replies.append(reply)
        self._receive(reply)
        return reply

    def _on_push(self, data: bytes) -> None:
        msg = orjson.loads(data)
        t = msg.get("t")
        # A reply sent later: an async handler's, one that waited for it, or a navigation's to a
        # page whose guard is async (an init with the navigation's ref).
        if t == "r" or (t == "init" and msg.get("ref") is not None):
            self.replies.append(msg)
        else:
            self.pushes.append(msg)
        self._receive(msg)

    def _receive(self, msg: dict[str, Any]) -> None:
        """A server message, as rweb.js's onMessage: the patches, the stream rows, the morph (Page), the effects."""
        if msg.get("t") == "init":
            self.components = {}
            if msg.get("title") is not None:
                self.title = msg["title"]
        apply_message(self.components, msg)
        self.effects.extend((kind, data) for kind, data in msg.get("fx") or ())
        effects = effects_of(msg)
        for fx in effects:
            if type(fx) is StreamOps:  # the page's rows change with the message, as in the browser
                self._stream(fx)
        for watch in self._watchers:
            watch(msg)
        for fx in effects:
            if fx.kind in _FOLLOWED:
                self._fx.append(fx)
            elif type(fx) is not StreamOps:
                self.effect_handlers[fx.kind](fx)

    def _stream(self, fx: StreamOps) -> None:
        """Apply a stream effect's ops to ``streams`` (see rweb.stream and rweb.js's applyStream)."""
        apply_stream(self.streams, fx)

    def _upload_stop(self, fx: UploadStop) -> None:
        self._stopped.add(fx.name)

    def follow_effects(self) -> None:
        """Carry out the effects received and not carried out yet (the in-process loop calls it
        after running what was pending), as the browser client does."""
        self._follow()

    def watch(self, fn: Callable[[dict[str, Any]], None]) -> None:
        """Call ``fn(message)`` after each message from the server is applied (a Page keeps its DOM so)."""
        self._watchers.append(fn)

    def _follow(self) -> None:
        """Carry out the effects received that talk to the server (nav, cookie), in order, as the browser does."""
        done = 0
        while self._fx:
            fx = self._fx.popleft()
            done += 1
            if done > MAX_EFFECTS:
                raise RuntimeError(f"more than {MAX_EFFECTS} effects in a row: a navigation loop?")
            self.effect_handlers[fx.kind](fx)

    def _cookie_effect(self, fx: Cookie) -> None:
        self.http.post(fx.url, content=fx.token, headers={"content-type": "text/plain"})

    def _navigate_effect(self, fx: Navigate) -> None:
        url, mode = fx.url, fx.mode
        if self._left or (self.closed and mode != "load"):
            # The page is gone (the browser left it), or its socket (the server closed it after
            # sending the page elsewhere: that load happens).
            return
        if mode == "load":
            self.loaded.append(url)
            self.close()
        elif mode in ("push", "replace"):
            if mode == "replace":
                self.history[self._at] = url
            else:
                del self.history[self._at + 1 :]
                self.history.append(url)
                self._at += 1
            self._nav(url)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "live"
        return f"<Client {self.url!r} {state} writer_id={self.writer_id!r}>"

