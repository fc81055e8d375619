"""The application: routes, and the services every transport and session share.

An :class:`App` holds

- the **router**: reactive pages (``@app.page``) and plain HTTP handlers
  (``@app.get``, ``@app.post``, ...), static folders, the client script;
- the **registry** of this process's live sessions by writer id, and the
  writer-id allocation (unique across the server's worker processes);
- **hooks** run when a live session starts and ends;
- a **scheduler**: :meth:`App.call_soon` and :meth:`App.in_session` run work on
  the event loop that owns the sessions, from any thread;
- a **pub/sub** interface (:mod:`rweb.pubsub`), in-process by default.

Transports (``rweb.server`` on picows, ``rweb.asgi``, ``rweb.testing``) stay
thin: they turn bytes into a :class:`~rweb.http.Request` for
:meth:`App.handle_http`, or into a :class:`~rweb.connection.Connection` for a
WebSocket, and write back what they are given.

``App(title, session_setup)`` serves one page at ``/`` (as
``start_rweb(port, title, session_setup)`` builds); the older
``App(session_setup, title)`` still works, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import inspect
import logging
import os
import re
import secrets
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import orjson

from .assets import ASSET_PREFIX, Asset, asset_response, rooted
from .client_script import CLIENT_PREFIX, client_response
from .clock import SYSTEM_CLOCK, Clock
from .compression import compress_response
from .effects import Cookie, Event, Focus, Navigate, Reset, RunJs
from .flash import DISMISS_ACTION, Flashes, PageFlash, live_scheme, response_cookie
from .health import LIVE_PATH, READY_PATH, check_path, health_response
from .http import (
    Headers,
    HTTPError,
    QueryParams,
    Redirect,
    RedirectResponse,
    Request,
    Response,
    UnsafeRedirect,
    check_headers,
    check_redirect,
    error_response,
    format_cookie,
    is_local_path,
)
from .http_base import format_cookie_deletion, to_response
from .loglimit import LogLimit
from .origins import OriginPolicy
from .protocol import CloseCode
from .proxies import TrustedProxies
from .pubsub import LocalPubSub, PubSub
from .reactive import SharedStateError
from .registry import SessionRegistry
from .render import describe, error_ref
from .routing import Route, Router, takes_conn
from .scheduler import Scheduler
from .security import SAFE_METHODS, add_headers, csrf_cookie, header_defaults
from .session import ConnectionInfo, Session, SetupError, UnknownAction, _task_cancelled
from .signing import Signer
from .single_use import KEY_SIZE, UsedTokens

if TYPE_CHECKING:
    from .meter import Meter
    from .metrics import (
        Metrics,  # imported when app.metrics() is called (prometheus_client is optional)
    )

__all__ = ["App", "Conn", "Redirect", "SharedStateError"]

log = logging.getLogger("rweb.app")

COOKIE_PATH = "/_rweb/cookie"
SOCKET_PATH = "/ws"

Setup = Callable[..., tuple[Callable[[], Any], Any]]
Handler = Callable[[Request], Any]
Hook = Callable[["Conn"], Any]
LifeHook = Callable[[], Any]  # on_startup / on_shutdown: sync, or returning an awaitable
DEPRECATED_ORDER = (
    "App(session_setup, title) is deprecated: write App(title, session_setup), "
    "or App(title=..., session_setup=...) (the order start_rweb(port, title, session_setup) uses)"
)
# The topic App.disconnect publishes on (with the key after it); Conn.tag subscribes to it.
DISCONNECT_TOPIC = "rweb.disconnect:"
_LANG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")  # a BCP 47 language tag's shape
TASK_STOP_TIMEOUT = 5.0  # at shutdown, how long the app's cancelled background tasks may take to end


class Conn:
    """What a page's setup knows of its browser, and what it can ask of it.

    Read: ``path``, ``params`` (the route's path parameters), ``query``,
    ``headers``, ``cookies``, ``client``, ``live`` (False during the HTTP
    first paint, True in the live session), ``writer_id``, ``user`` (what
    the page's ``auth`` guard returned; None on a page without one).

    Ask (in the setup or later, in a handler): :meth:`set_cookie`,
    :meth:`clear_cookie`, :meth:`navigate`, :meth:`patch`, :meth:`redirect`,
    :meth:`reset`, :meth:`focus`, :meth:`flash`; register :meth:`on_close` and
    :meth:`on_params` callbacks.
    """

    __slots__ = (
        "_closers",
        "_connection",
        "_params_hook",
        "_response_cookies",
        "_uploads",
        "app",
        "client",
        "cookies",
        "headers",
        "live",
        "page_flash",
        "params",
        "path",
        "query",
        "route",
        "user",
        "writer_id",
    )

    def __init__(
        self,
        app: App,
        info: ConnectionInfo,
        *,
        route: Route | None = None,
        params: Mapping[str, Any] | None = None,
        live: bool = False,
        writer_id: Any = None,
    ) -> None:
        self.app = app
        self.path = info.path
        self.query = info.query
        self.headers = info.headers
        self.cookies = info.cookies
        self.client = info.client
        self.route = route
        self.params: Mapping[str, Any] = dict(params or {})
        self.live = live
        self.writer_id = writer_id
        self.user: Any = None  # what the route's auth guard returned (App.setup)
        self._connection: Any = None  # the live Connection, once there is one
        self._response_cookies: list[str] = []  # Set-Cookie values for the first paint
        self._closers: list[Callable[[], Any]] | None = None
        self._params_hook: Callable[..., Any] | None = None
        self._uploads: Any = None  # rweb.upload.Uploads, once the page allows an upload
        # The flash messages handed to this page (a redirect's cookie, the join, a live navigation) and its own.
        self.page_flash = PageFlash(app.signer, info.flash)

    # -- the live connection (rweb.connection; rweb.runtime.LiveConn) --------

    @property
    def connection(self) -> Any:
        """The live :class:`~rweb.connection.Connection` serving this session, or None
        (the HTTP first paint, or the session ended)."""
        return self._connection

    def attach(self, connection: Any) -> None:
        """Tie this conn to the live connection that serves it (None: no longer)."""
        self._connection = connection

    @property
    def uploads(self) -> Any:
        """The page's :class:`rweb.upload.Uploads`, or None when it allowed none."""
        return self._uploads

    @property
    def params_hook(self) -> Callable[..., Any] | None:
        """The :meth:`on_params` callback, or None."""
        return self._params_hook

    @property
    def response_cookies(self) -> list[str]:
        """The Set-Cookie values the setup asked for during the HTTP first paint (they ride on its response)."""
        return self._response_cookies

    def take_closers(self) -> list[Callable[[], Any]] | None:
        """The :meth:`on_close` callbacks, handed once to the ending session, which runs them."""
        closers, self._closers = self._closers, None
        return closers

    @property
    def url(self) -> str:
        """The page's path and query string, within the app."""
        from urllib.parse import urlencode

        return self.path + ("?" + urlencode(list(self.query.items())) if self.query else "")

    # -- cookies -------------------------------------------------------------

    def set_cookie(self, name: str, value: str, **attrs: Any) -> None:
        """Set a cookie in the browser, HttpOnly ones included (see :func:`rweb.http.format_cookie`).

        During the first paint it rides on the HTTP response.  In a live
        session the browser redeems a short-lived encrypted token over HTTP
        (``POST /_rweb/cookie``): JavaScript never sees an HttpOnly value.
        """
        self._cookie(format_cookie(name, value, **attrs))

    def clear_cookie(self, name: str, **attrs: Any) -> None:
        """Remove a cookie (give the path and domain it was set with)."""
        self._cookie(format_cookie_deletion(name, **attrs))

    def _cookie(self, header: str) -> None:
        if self._connection is None:
            self._response_cookies.append(header)
        else:
            # The session's own copy follows, so that a page reached by live
            # navigation sees the cookie as the browser will send it.
            name, _, rest = header.partition("=")
            value, _, attrs = rest.partition(";")
            cookies = dict(self.cookies)
            if "Max-Age=0" in attrs:
                cookies.pop(name, None)
            else:
                cookies[name] = value
            self.cookies = cookies
            token = self.app.cookie_token([header])
            # Effect URLs are within the app: the browser puts its root path in front.
            self._connection.effect(Cookie(COOKIE_PATH, token))

    # -- flash messages (rweb.flash, docs/flash.md) ---------------------------

    def flash(self, kind: str, message: str) -> None:
        """Show ``message`` to the visitor where the page places its flash region (``ui.flash(conn)``,
        ``ui.shell(..., flash=conn)``, or :func:`rweb.flash.flash_group`).

        ``kind``: ``info``, ``success``, ``warning`` or ``error`` (announced at
        once).  The message goes on to the next page once: a live navigation's,
        or the one :meth:`redirect` (or a ``Redirect`` from the setup) loads.
        """
        self.page_flash.flashes.add(kind, message)

    @property
    def flashes(self) -> Flashes:
        """This page's flash messages (:class:`rweb.flash.Flashes`): what the flash region shows."""
        return self.page_flash.flashes

    def framework_actions(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """The actions the framework answers on this live page (:attr:`rweb.session.Session.framework_actions`)."""
        return {DISMISS_ACTION: self.page_flash.dismissed}

    def flash_token(self) -> str | None:
        """The messages that go on to the page a live navigation shows next, signed; None when there are none."""
        return self.page_flash.token()

    def keep_flash(self, *, shown: bool = True) -> None:
        """The browser is sent to another page by a load: the messages that go on ride in the flash cookie
        (:meth:`redirect` does it; ``shown=False``: the page was never shown, those handed to it go on too)."""
        cookie = self.page_flash.cookie(live_scheme(self.headers), shown=shown)
        if cookie is not None:
            self._cookie(cookie)

    # -- navigation ----------------------------------------------------------

    def navigate(self, url: str, *, replace: bool = False) -> None:
        """Show another page of this app without a reload (a new session for it)."""
        self._nav(url, "replace" if replace else "push")

    def patch(self, url: str, *, replace: bool = False) -> None:
        """Change this page's URL and parameters: the session goes on when the page registered
        :meth:`on_params` (which is then called); otherwise the page mounts anew, as with navigate."""
        self._nav(url, "replace" if replace else "push")

    def redirect(self, url: str, *, external: bool = False) -> None:
        """Load ``url`` in the browser (a full page load): a path of this site, or another
        site's http(s) URL with ``external=True`` or a host in ``App(allowed_redirect_hosts=...)``
        (LiveView's ``redirect(to:)`` and ``redirect(external:)``); else :class:`~rweb.http.UnsafeRedirect`."""
        check_redirect(url, self.app.allowed_redirect_hosts, external=external)
        if self._connection is None:
            raise Redirect(url, external=True)
        self.keep_flash()
        self._connection.effect(Navigate(url, "load"))

    def _nav(self, url: str, mode: Literal["push", "replace"]) -> None:
        if not is_local_path(url):
            raise UnsafeRedirect(f"navigate() takes a path within the app, not {url!r}")
        if self._connection is None:
            raise Redirect(url)
        self._connection.effect(Navigate(url, mode))

    # -- form fields ---------------------------------------------------------

    def reset(self, selector: str) -> None:
        """Give the fields of the forms (or the fields) ``selector`` matches in the browser the
        values the server renders for them, even the focused one and what the user typed.

        The reset happens after this message's patches are applied: ``conn.reset("#new-todo")``
        in the handler of the form's submit empties a field the page renders without a value.
        Outside a live session (the HTTP first paint) it does nothing.
        """
        self._field_effect(Reset, selector)

    def focus(self, selector: str) -> None:
        """Move the browser's focus to the first element ``selector`` matches (after this
        message's patches). Outside a live session it does nothing: render ``autofocus``."""
        self._field_effect(Focus, selector)

    def _field_effect(self, effect: type[Reset | Focus], selector: str) -> None:
        if not isinstance(selector, str) or not selector.strip():
            raise ValueError(f"{effect.kind}() takes a CSS selector, not {selector!r}")
        if self._connection is not None:
            self._connection.effect(effect(selector))

    # -- callbacks -----------------------------------------------------------

    def push_event(self, name: str, payload: Any = None) -> None:
        """Send the page an event (LiveView's ``push_event``): the client hooks' ``handleEvent(name)``
        callbacks get ``payload`` (JSON), then the window event ``rweb:event`` ({name, payload})."""
        import orjson

        orjson.dumps(payload)  # JSON, or a TypeError here rather than in the message
        if self._connection is not None:
            self._connection.effect(Event(str(name), payload))

    def exec_js(self, js: Any) -> None:
        """Run JS commands (an ``rweb.JS``) in the page, with the next message."""
        if self._connection is not None:
            self._connection.effect(RunJs(js.cmds))

    def stream(
        self,
        name: str,
        row: Callable[[Any], Any],
        *,
        key: Callable[[Any], Any],
        tag: str = "div",
        limit: int | None = None,
        **attrs: Any,
    ) -> Any:
        """A :class:`rweb.stream.Stream`: a long list whose rows the browser keeps (LiveView's ``stream``).

        ``row(item)`` renders one row (an element), ``key(item)`` names it;
        the stream renders as ``<tag data-stream=name **attrs>``.  See rweb.stream.
        """
        from .stream import Stream

        return Stream(self, name, row, key=key, tag=tag, limit=limit, attrs=attrs)

    def allow_upload(
        self,
        name: str,
        *,
        accept: Iterable[str] | str,
        max_size: int | None = None,
        max_files: int = 1,
        auto: bool = False,
    ) -> Any:
        """Let the page upload files over its socket: a :class:`rweb.upload.Upload` (see docs/uploads.md).

        ``accept``: extensions (``".png"``) and MIME types (``"image/jpeg"``,
        ``"image/*"``), or ``"*"`` for any; ``max_size``: bytes per file (8
        MiB by default); ``max_files``: files per request; ``auto``: upload as
        soon as files are chosen, not on the form's submit.  Render
        ``up.input()`` in the form; its handler calls ``up.consume()``.
        """
        from .upload import DEFAULT_MAX_SIZE, Upload, Uploads

        if not isinstance(name, str) or not name:
            raise ValueError("an upload needs a name")
        if max_size is None:
            max_size = DEFAULT_MAX_SIZE
        if type(max_size) is not int or max_size <= 0 or type(max_files) is not int or max_files <= 0:
            raise ValueError("max_size and max_files must be positive integers")
        uploads = self._uploads
        if uploads is None:
            uploads = self._uploads = Uploads(self)
            if self.live:
                self.on_close(uploads.close)
        if name in uploads.by_name:
            raise ValueError(f"upload {name!r} is allowed already")
        up = uploads.by_name[name] = Upload(uploads, name, accept, max_size, max_files, auto)
        return up

    def on_close(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``fn()`` when this live session ends (tab closed, navigated away, server stopping)."""
        if self.live:
            if self._closers is None:
                self._closers = []
            self._closers.append(fn)
        return fn

    def on_params(self, fn: Callable[[Mapping[str, Any], QueryParams], Any]) -> Callable[..., Any]:
        """Keep the session on a patch to this page with new parameters: ``fn(params, query)``.

        Without it, navigating to the same page with other parameters mounts a fresh session.
        """
        self._params_hook = fn
        return fn

    # -- work tied to the session's life -------------------------------------

    def _in_session(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` inside this session (its writes pushed as one batch), if it still lives."""
        connection = self._connection
        if connection is None:
            return
        session = connection.session
        if session is None or session.view.hold:
            # Still in its setup, or inside its own action (it published to a topic
            # it reads): run now, and the page or the reply carries the writes.
            if session is not None or connection.joining():
                fn(*args)
            return
        connection.run(lambda _conn: fn(*args))

    def _live_only(self, what: str) -> None:
        """Checked before anything is created: the first paint's throwaway session has no life to tie to."""
        if not self.live:
            raise RuntimeError(f"conn.{what}() belongs to the live session: call it when conn.live is True")

    def _tie(self, stop: Callable[[], Any]) -> Callable[[], Any]:
        """``stop()`` runs when the session ends."""
        self.on_close(stop)
        return stop

    def every(self, seconds: float, fn: Callable[[], Any]) -> Callable[[], None]:
        """Call ``fn()`` in this session every ``seconds`` while it lives; returns ``cancel()``.

        ``fn``'s reactive writes reach the browser as one push.  An exception
        is logged (and shown as ``handler_error``) and the timer goes on.
        """
        self._live_only("every")
        if seconds <= 0:
            raise ValueError("every() needs a positive interval")
        loop = self.app.loop()
        handle: list[asyncio.TimerHandle | None] = [None]

        def tick() -> None:
            if handle[0] is None:
                return
            handle[0] = loop.call_later(seconds, tick)
            self._in_session(fn)

        handle[0] = loop.call_later(seconds, tick)

        def cancel() -> None:
            h, handle[0] = handle[0], None
            if h is not None:
                h.cancel()

        self._tie(cancel)
        return cancel

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task of this session: cancelled when the session ends.

        Reactive writes the task makes reach the browser as pushes, as any
        write outside an action does.
        """
        if not self.live:
            if hasattr(coro, "close"):
                coro.close()  # never started: no "never awaited" warning
            self._live_only("spawn")
        task: asyncio.Task[Any] = self.app.loop().create_task(coro)  # type: ignore[arg-type]
        self._tie(task.cancel)
        return task

    def subscribe(
        self, topic: str, fn: Callable[[Any], Any], *, on_gap: Callable[[], Any] | None = None
    ) -> Callable[[], None]:
        """Call ``fn(message)`` in this session for every message on ``topic``; returns ``unsubscribe()``.

        Messages come from :meth:`App.publish` in this process or, with a
        broker, in any process.  ``on_gap()`` runs in the session when
        messages may have been missed (the broker reconnected, or a publisher
        had to drop some): reload what the page shows from its source.
        Unsubscribed when the session ends.
        """
        self._live_only("subscribe")
        deliver = lambda _t, message: self._in_session(fn, message)  # noqa: E731
        if on_gap is None:
            off = self.app.pubsub.subscribe(topic, deliver)
        else:
            gap = lambda _t: self._in_session(on_gap)  # noqa: E731
            try:
                off = self.app.pubsub.subscribe(topic, deliver, on_gap=gap)  # type: ignore[call-arg]
            except TypeError:  # the in-process broker: no gaps to report
                off = self.app.pubsub.subscribe(topic, deliver)
        self._tie(off)
        return off

    def track(self, topic: str, key: str, meta: Any = None) -> None:
        """Be present in ``topic`` under ``key`` (with JSON ``meta``) until the session ends."""
        self._live_only("track")
        presence = self.app.presence_service()
        presence.track(topic, key, meta)
        self._tie(lambda: presence.untrack(topic, key))

    def watch(self, topic: str, fn: Callable[[dict[str, Any]], Any]) -> Callable[[], None]:
        """Call ``fn(members)`` in this session now and whenever ``topic``'s presence changes.

        ``members`` maps each key to its meta.  Returns the function that stops watching.
        """
        self._live_only("watch")
        presence = self.app.presence_service()

        def changed(*_args: Any) -> None:
            self._in_session(fn, presence.list(topic))

        off: Callable[[], None] = presence.subscribe(topic, on_join=changed, on_leave=changed)
        self._tie(off)
        fn(presence.list(topic))
        return off

    def tag(self, key: str) -> None:
        """Tie this live session to ``key`` (e.g. a user's login session): :meth:`App.disconnect`
        ``(key)`` from any process (across processes with a broker) ends it and closes its socket.

        Phoenix's ``live_socket_id``.  The browser is told to load the page
        again over HTTP first, where the page's guard sends it on (to the login
        page, once the login session is gone).  On the first paint (no socket
        yet): nothing to tie.  See docs/auth.md.
        """
        if self.live:
            workers = self.app.split_workers
            if workers is not None:
                # Correct by default: a disconnect that reaches one worker in N leaves the
                # user's pages on the others open (a revoked login still live).
                raise RuntimeError(
                    f"conn.tag({key!r}): app.disconnect reaches the sessions of every process through a "
                    f"broker, and this server runs {workers} workers without one: pass "
                    "broker='redis://...' to App, or run workers=1"
                )
            self.subscribe(DISCONNECT_TOPIC + key, self._disconnected)

    def _disconnected(self, _message: Any) -> None:
        connection = self._connection
        if connection is None:
            return
        self.redirect(self.url)  # the browser loads the page again: pushed with this run's patches

        def end() -> None:  # after the push: the session ends, the socket closes as for a redirect
            hangup = connection.hangup
            connection.close()
            if hangup is not None:
                hangup(CloseCode.NORMAL)

        connection.schedule(end)

    def __repr__(self) -> str:
        return f"<Conn {self.path!r} live={self.live} writer_id={self.writer_id!r}>"


class App:
    """An rweb application: pages, plain handlers, static files, and shared services.

    ``App("Shop", static={"/static": "public"})`` then ``@app.page("/")``,
    ``@app.get("/about")``...; or ``App(title, session_setup)`` for the
    single-page form that ``start_rweb(port, title, session_setup)`` uses.
    The title and the setup are the only positional arguments; every other
    setting is a keyword.

    Limits (all on by default): ``max_message_size`` (one WebSocket message),
    ``max_body_size`` (one HTTP request body), ``max_header_size`` (an HTTP
    request's headers, enforced by the transport), ``max_upload_bytes`` (the
    bytes of a session's uploaded files not consumed yet, see docs/uploads.md),
    ``max_cookie_tokens`` (cookie tokens redeemed within a minute without a
    broker: beyond, they are refused; docs/security.md).

    ``slow_callback_ms`` (default 100): a synchronous handler, page setup or
    render that holds the event loop longer is logged (a warning naming it,
    at most once a minute each; ``None`` or ``0``: never).  See docs/handlers.md.

    ``compress`` (default True): pages' first paints, and handlers' responses
    that set ``response.compress = True``, are gzipped when the client asks
    (``False``: never, e.g. behind a proxy that compresses).  The client script
    is always served compressed when asked.  See docs/deploy.md.

    ``assets`` (:class:`rweb.assets.Asset`): stylesheets and scripts every page
    loads, served under content-hashed URLs behind the root path, e.g.
    ``assets=rweb.ui.ASSETS`` for the component kit (docs/ui.md).

    ``lang`` (default ``"en"``): the language of the pages' text, a BCP 47 tag
    (``"fr"``, ``"pt-BR"``), set as every page's ``<html lang>`` (screen readers
    pick their voice by it, browsers offer to translate by it).
    """

    # Health endpoints (rweb.health, docs/operations.md): their paths (None: off), set by
    # app.health(...); draining: this process is stopping, readiness answers 503.
    live_path: str | None = LIVE_PATH
    ready_path: str | None = READY_PATH
    draining: bool = False
    metering: Metrics | None = None  # once app.metrics() turned them on
    meter: Meter | None = None  # metering.meter: what sessions count per message (rweb.meter)
    tracer: Any = None  # an OpenTelemetry tracer once app.tracing() turned spans on
    # Set by start_rweb when it runs several workers without a broker: what must reach every
    # process (conn.tag / app.disconnect) is refused then, not silently split.
    split_workers: int | None = None
    # The time the app reads (``app.clock.time()``, ``.monotonic()``, ``.now()``): the
    # system's, or the virtual clock of rweb.testing's clients (docs/testing.md).
    clock: Clock = SYSTEM_CLOCK

    def __init__(
        self,
        title: str = "rweb",
        session_setup: Setup | None = None,
        *,
        static: Mapping[str, str | os.PathLike[str]] | None = None,
        max_message_size: int = 64 * 1024,
        max_body_size: int = 1024 * 1024,
        max_header_size: int = 16 * 1024,
        actions: Iterable[str] = (),
        head: str = "",
        assets: Iterable[Asset] = (),
        lang: str = "en",
        secret_key: str | bytes | None = None,
        root_path: str = "",
        socket_path: str = SOCKET_PATH,
        favicon: str | None = None,
        allowed_origins: Iterable[str] | None = None,
        allowed_redirect_hosts: Iterable[str] = (),
        broker: str | PubSub | None = None,
        debug: bool = False,
        resume_grace: float = 30.0,
        session_store: Any = None,
        snapshot_interval: float = 1.0,
        snapshot_limit: int = 64 * 1024,
        slow_callback_ms: float | None = 100,
        max_upload_bytes: int = 64 * 1024 * 1024,
        security_headers: Mapping[str, str | None] | None = None,
        max_cookie_tokens: int = 10_000,
        max_detached: int = 10_000,
        max_detached_per_address: int | None = 100,
        trusted_proxies: Iterable[str] | None = None,
        proxy_header: str = "x-forwarded-for",
        compress: bool = True,
    ) -> None:
        if callable(title):  # the old order, App(session_setup, title): still served, deprecated
            warnings.warn(DEPRECATED_ORDER, DeprecationWarning, stacklevel=2)
            title, session_setup = (session_setup if isinstance(session_setup, str) else "rweb"), title  # type: ignore[assignment]
        elif session_setup is not None and not callable(session_setup):
            raise TypeError("session_setup must be callable")
        if not isinstance(title, str):
            raise TypeError("title must be a string")
        self.title = title
        self.max_message_size = max_message_size
        self.max_body_size = max_body_size
        self.max_header_size = max_header_size
        self.max_upload_bytes = max_upload_bytes  # what a session's uploads hold on disk, not consumed
        self.actions = frozenset(actions)
        self.head = head
        if not isinstance(lang, str) or _LANG.fullmatch(lang) is None:
            raise ValueError(f"lang is a language tag such as 'en' or 'pt-BR', got {lang!r}")
        self.lang = lang  # <html lang> of every page
        self.assets: tuple[Asset, ...] = tuple(assets)  # rweb.assets: linked by every page, served hashed
        self.root_path = root_path.rstrip("/")
        self.socket_path = socket_path
        self.favicon = favicon
        # None: a socket is accepted from a page of the host it connects to.
        self.origins = OriginPolicy(allowed_origins)  # rweb.origins
        self.allowed_origins = self.origins.allowed
        # What every HTTP response gets unless it sets the header itself (rweb.security).
        self.security_headers = header_defaults(security_headers)
        # Pages' first paints (and handlers' responses marked ``compress``) gzipped when asked (rweb.compression).
        self.compress = compress
        # Hosts (``example.com``, ``example.com:8443``) redirects may go to without external=True.
        if isinstance(allowed_redirect_hosts, str):
            raise TypeError("allowed_redirect_hosts is a list of hosts, not one string")
        self.allowed_redirect_hosts = frozenset(h.strip().lower() for h in allowed_redirect_hosts)
        if slow_callback_ms is not None and slow_callback_ms < 0:
            raise ValueError("slow_callback_ms must be positive (or None: never log)")
        self.slow_callback_ms = slow_callback_ms
        # In seconds, as sessions compare it (0.0: off).
        self.slow_callback = (slow_callback_ms or 0) / 1000
        self.router = Router()
        self.static: dict[str, Any] = {}
        for prefix, folder in (static or {}).items():
            self.mount_static(prefix, folder)
        if secret_key is None:
            secret_key = os.environ.get("RWEB_SECRET_KEY") or None
        # Without a key of its own the app makes one up (shared by forked workers):
        # tokens and cookies then mean nothing to another instance or after a restart.
        self.has_secret_key = secret_key is not None
        self.signer = Signer(secret_key if secret_key is not None else secrets.token_bytes(32))
        # -- services (per process: forked workers each get their own copy) --
        # broker: None (topics within this process), "redis://..." (rweb.broker_redis,
        # started in each worker by startup()), or a PubSub object.
        self.broker = broker
        self.debug = debug
        # A socket lost without a close keeps its session this long for the browser to resume it (0: off).
        self.resume_grace = resume_grace
        # Sessions held for their browsers (lost sockets) at most, in all and per client address
        # (None: no cap per address); past either, the oldest ends (docs/security.md).
        # The sessions' event loop once bound, its thread, and this process life's id (rweb.scheduler).
        self.scheduler = Scheduler()
        # The live sessions, their hooks, the writer ids, the resumes (rweb.registry).
        self.registry = SessionRegistry(
            self.signer,
            self.scheduler,
            lambda: self.snapshots,
            max_detached=max_detached,
            max_detached_per_address=max_detached_per_address,
            behind_trusted_proxies=trusted_proxies is not None,
        )
        self.sessions = self.registry.live  # writer id -> live Connection
        # The proxies whose proxy_header says who the client is (rweb.proxies; None: the peer is).
        self.trusted_proxies = None if trusted_proxies is None else TrustedProxies(trusted_proxies, proxy_header)
        # Where sessions' snapshots go for a resume in another process (rweb.snapshot):
        # a SnapshotStore, or None: the Redis broker's when there is one.
        if snapshot_interval <= 0 or snapshot_limit <= 0:
            raise ValueError("snapshot_interval and snapshot_limit must be positive")
        self.session_store = session_store
        self.snapshot_interval = snapshot_interval
        self.snapshot_limit = snapshot_limit
        self.snapshots: Any = None  # rweb.snapshot.Snapshots once served with a store
        self.pubsub: PubSub = broker if broker is not None and not isinstance(broker, str) else LocalPubSub()
        self._presence: tuple[Any, Any] | None = None
        self._started = False
        self._shared: dict[str, Any] = {}  # name -> rweb.sharing.Replica
        self._startup_hooks: list[LifeHook] = []  # on_startup / on_shutdown: per process
        self._shutdown_hooks: list[LifeHook] = []
        self._tasks: set[asyncio.Task[Any]] = set()  # app.spawn's, cancelled at shutdown
        # One callable for every session: renders shared between sessions are grouped by it (rweb.render).
        self.fanout = self.call_soon
        # Cookie tokens redeemed (the last COOKIE_TOKEN_TTL s), in memory the workers forked
        # from this process share; with a Redis broker, Redis keeps them instead.
        self._used_tokens = UsedTokens(max_cookie_tokens)
        self.pages = 0  # how many reactive pages (live navigation needs the socket's headers)
        self.session_setup: Setup | None = None
        if session_setup is not None:
            self.session_setup = session_setup
            self.page("/")(session_setup)

    # -- declaring routes ----------------------------------------------------

    def page(
        self,
        path: str,
        *,
        title: str | None = None,
        name: str | None = None,
        auth: Callable[[Conn], Any] | None = None,
    ) -> Callable[[Setup], Setup]:
        """A reactive page at ``path``: the decorated function is its ``session_setup(writer_id, conn)``.

        ``auth``: a guard ``auth(conn) -> user`` run before the setup wherever
        the page is set up (its first paint, a live join, a live navigation
        to it): it returns the user, which the setup reads as ``conn.user``,
        or raises :class:`Redirect` (e.g. to the login page) or
        :class:`~rweb.http.HTTPError`.  See docs/auth.md.
        """

        def register(setup: Setup) -> Setup:
            if not callable(setup):
                raise TypeError("a page's session_setup must be callable")
            self.router.add(
                Route(path, setup, "page", frozenset({"GET"}), name or "", title=title, auth=auth)
            )
            self.pages += 1
            return setup

        return register

    def route(
        self,
        path: str,
        methods: Iterable[str] = ("GET",),
        *,
        name: str | None = None,
        csrf: bool | str = True,
    ) -> Callable[[Handler], Handler]:
        """A plain HTTP handler ``handler(request) -> Response | str | dict | None`` (may be ``async``).

        ``csrf``: ``True`` refuses a POST, PUT, PATCH or DELETE from another
        site (403); ``"token"`` also requires ``request.csrf_token()``'s token;
        ``False`` accepts other sites (webhooks).  See docs/security.md.
        """
        ms = frozenset(m.upper() for m in methods)

        def register(handler: Handler) -> Handler:
            if not callable(handler):
                raise TypeError("a handler must be callable")
            self.router.add(Route(path, handler, "http", ms, name or "", csrf=csrf))
            return handler

        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route(path, ("GET",), **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route(path, ("POST",), **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route(path, ("PUT",), **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route(path, ("PATCH",), **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route(path, ("DELETE",), **kw)

    def mount_static(self, prefix: str, folder: str | os.PathLike[str] | Any, **options: Any) -> None:
        """Serve the files under ``folder`` at ``prefix/...`` (options: see :class:`rweb.static.StaticFiles`).

        ``folder`` may also be a ready ``StaticFiles``.  Routes come first: a
        static folder at ``/`` serves what no route answers.
        """
        from .static import StaticFiles

        prefix = "/" + prefix.strip("/")
        files = folder if isinstance(folder, StaticFiles) else StaticFiles(folder, **options)
        self.static[prefix.rstrip("/")] = files
        # The longest prefix first: /static/img before /static before /.
        self.static = dict(sorted(self.static.items(), key=lambda kv: -len(kv[0])))

    def url_for(self, name: str, **params: Any) -> str:
        """The URL (with the app's root path) of the route called ``name``."""
        return self.root_path + self.router.by_name(name).url_for(**params)

    def static_url(self, target: str | Asset) -> str:
        """The URL, behind the app's root path, of a file to link from a page.

        ``target`` is a path a static folder of the app serves
        (``app.static_url("/static/logo.png")`` -> ``/shop/static/logo.png``
        when the app is mounted at ``/shop``), or one of its ``assets``
        (its content-hashed URL).  Anything else raises ``ValueError``: the
        link would be a 404.  A stylesheet or script every page loads goes in
        ``App(assets=[Asset.file(...)])`` rather than ``App(head=...)``: the
        head is written before the root path is known.
        """
        if isinstance(target, Asset):
            if target not in self.assets:
                raise ValueError(f"{target!r} is not one of the app's assets (App(assets=...))")
            return target.url(self.root_path)
        if not any(target == prefix or target.startswith(prefix + "/") for prefix in self.static):
            served = ", ".join(p + "/" for p in self.static) or "none"
            raise ValueError(f"no static folder of the app serves {target!r} (static folders: {served})")
        return rooted(self.root_path, target)

    def health(self, *, live: str | None = LIVE_PATH, ready: str | None = READY_PATH) -> None:
        """Where liveness and readiness answer (``None``: not served); see docs/operations.md."""
        self.live_path, self.ready_path = check_path(live), check_path(ready)

    def metrics(
        self,
        path: str = "/_rweb/metrics",
        *,
        token: str | None = None,
        interval: float = 1.0,
        max_action_labels: int = 50,
    ) -> None:
        """Count Prometheus metrics and serve them at ``path`` (off until called; docs/operations.md).

        Only loopback clients that came through no proxy may read them, unless
        a ``token`` is given: then requests with ``Authorization: Bearer <token>``.
        """
        from .metrics import Metrics

        self.metering = Metrics(check_path(path) or "", token, interval, max_action_labels)
        self.meter = self.metering.meter

    def tracing(self, tracer_provider: Any = None) -> None:
        """OpenTelemetry spans for joins (``rweb.join``), actions (``rweb.action <name>``) and HTTP
        requests (``rweb.http <route>``), with the session, page, action and error code as
        attributes (docs/operations.md).  Needs ``opentelemetry-api`` (``pip install 'rweb[otel]'``);
        ``tracer_provider``: the SDK's provider (default: the global one).  Off until called: while
        off, nothing of OpenTelemetry is imported and a message pays nothing.  Turns the in-process
        counting of the metrics on (:mod:`rweb.meter`, about 2% of a click), not their endpoint.
        """
        try:
            from opentelemetry import trace
        except ImportError:
            raise RuntimeError("app.tracing() needs opentelemetry-api: pip install 'rweb[otel]'") from None
        from .meter import Meter

        self.tracer = trace.get_tracer("rweb", tracer_provider=tracer_provider)
        if self.meter is None:
            self.meter = Meter(50)

    # -- hooks ---------------------------------------------------------------

    def on_session_start(self, fn: Hook) -> Hook:
        """``fn(conn)`` when a live session has started (after its setup)."""
        self.registry.start_hooks.append(fn)
        return fn

    def on_session_end(self, fn: Hook) -> Hook:
        """``fn(conn)`` when a live session ends: socket closed, navigated away, server stopping."""
        self.registry.end_hooks.append(fn)
        return fn

    def on_startup(self, fn: LifeHook) -> LifeHook:
        """``fn()`` (sync or ``async``) once in each serving process, before it serves its first request.

        It runs after the app is bound to the process's event loop and its
        broker is started (each worker process of ``start_rweb(workers=N)``
        runs it; under ASGI, at the lifespan's startup).  Hooks run in the
        order they were added.  An exception fails the start loudly: logged,
        the worker does not serve (the supervisor restarts it with backoff;
        ``workers=1`` raises out of ``start_rweb``; ASGI answers
        ``lifespan.startup.failed``).  Background work: ``app.spawn(coro)``
        from the hook.  See docs/lifecycle.md.
        """
        self._startup_hooks.append(fn)
        return fn

    def on_shutdown(self, fn: LifeHook) -> LifeHook:
        """``fn()`` (sync or ``async``) when the serving process stops gracefully (SIGTERM, SIGINT, lifespan
        shutdown): after the sockets are closed and :meth:`spawn`'s tasks cancelled, before the broker
        closes and the loop ends.  In the order added; an exception is logged and the next hook runs."""
        self._shutdown_hooks.append(fn)
        return fn

    # -- the scheduler ---------------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop, worker_index: int = 0, workers: int = 1) -> None:
        """Called by a transport when it starts serving on ``loop`` (one per process)."""
        self.scheduler.bind(loop)  # after the fork: each worker its own boot id
        self.registry.number(worker_index, workers)
        self._start_snapshots()  # with a session_store given; a Redis broker's starts with startup()

    @property
    def started(self) -> bool:
        """Are the app's services running in this process (:meth:`startup` ran, :meth:`shutdown` not yet)?"""
        return self._started

    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop that runs this process's sessions."""
        return self.scheduler.running()

    async def startup(self) -> None:
        """Start the app's services in this process (transports call it once serving; after any fork)."""
        if self._started:
            return
        self._started = True
        if isinstance(self.broker, str):
            from .broker_redis import RedisPubSub

            broker = RedisPubSub(self.broker)
            await broker.start()
            self.pubsub = broker
        elif self.broker is not None and hasattr(self.broker, "start"):
            await self.broker.start()
        for replica in self._shared.values():
            replica.start()
        if self.broker is not None:
            self.refuse_split_state()
            self._refusing = True
        self._start_snapshots()
        if self.metering is not None:  # published on a timer, whichever transport serves
            self.metering.start(self, asyncio.get_running_loop())
        for fn in self._startup_hooks:
            try:
                await _call(fn)
            except Exception:
                log.exception("startup hook %s failed: this process does not serve", _name(fn))
                await self._stop_tasks()  # what the hooks spawned so far
                raise

    def _start_snapshots(self) -> None:
        if self.snapshots is not None:
            self.snapshots.start()
            return
        store = self.session_store
        if store is None and hasattr(self.pubsub, "take"):  # the Redis broker keeps them
            store = self.pubsub
        if store is None or self.resume_grace <= 0:
            return
        from .snapshot import Snapshots

        self.snapshots = Snapshots(self, store, self.snapshot_interval, self.snapshot_limit)
        self.snapshots.start()
        if not self.has_secret_key:
            log.warning(
                "sessions are saved for a resume in another process, but the app has no secret_key "
                "(App(secret_key=...) or RWEB_SECRET_KEY): another instance, or this server after a "
                "restart, cannot read their tokens and gives fresh sessions"
            )

    async def save_sessions(self, timeout: float = 5.0) -> bool:
        """The server stops: save every session for its browser to resume elsewhere (see rweb.snapshot)."""
        if self.snapshots is None:
            return True
        saved: bool = await self.snapshots.save_all(timeout)
        return saved

    async def shutdown(self) -> None:
        """Stop the app's services (the broker flushes what is queued)."""
        self.end_detached()
        if not self._started:
            return
        self._started = False
        if self.metering is not None:
            self.metering.stop()
        await self._stop_tasks()
        for fn in self._shutdown_hooks:
            try:
                await _call(fn)
            except Exception:
                log.exception("shutdown hook %s failed", _name(fn))
        if getattr(self, "_refusing", False):
            from .reactive import on_shared_state

            self._refusing = False
            on_shared_state(None)
        close = getattr(self.pubsub, "close", None)
        if close is not None:
            await close()

    def publish(self, topic: str, message: Any) -> None:
        """Publish ``message`` (JSON) on ``topic``, from anywhere: a handler, a timer, another thread.

        Subscribers (``conn.subscribe``) in this process get it on the loop;
        with a broker, those in every other process too.
        """
        loop = self.scheduler.loop
        if loop is not None and not self.scheduler.on_loop_thread():
            loop.call_soon_threadsafe(self.pubsub.publish, topic, message)
        else:
            self.pubsub.publish(topic, message)

    def disconnect(self, key: str) -> None:
        """End every live session tagged with ``key`` (:meth:`Conn.tag`), in every process
        when the app has a broker; from any thread.  Logging out, a changed password, a
        revoked login session: the user's open pages close (docs/auth.md)."""
        self.publish(DISCONNECT_TOPIC + key, None)

    def presence_service(self) -> Any:
        """The presence service of this app's broker (rweb.presence)."""
        # (pubsub, its presence): the broker changes once, when startup() replaces the in-process one.
        cached = self._presence
        if cached is None or cached[0] is not self.pubsub:
            from .presence import presence_for

            cached = self._presence = (self.pubsub, presence_for(self.pubsub))
        return cached[1]

    def presence(self, topic: str) -> dict[str, Any]:
        """Who is present in ``topic`` (key -> meta), across processes with a broker."""
        return dict(self.presence_service().list(topic))

    def trigger(self, writer_id: Any, action: str, params: dict[str, Any] | None = None) -> bool:
        """Run ``action`` in the live session ``writer_id`` as if its user had clicked; the result is pushed.

        From any thread.  False when no such session lives in this process.
        """
        def run(conn: Conn) -> None:
            connection = conn.connection
            session = connection.session if connection is not None else None
            if session is None:
                return
            handlers = session.handlers
            if handlers is not None:
                handler = handlers.get(action)
                if handler is None:
                    raise UnknownAction(action)
                result = handler(dict(params or {}))
            else:
                result = session.on_action(action, dict(params or {}))
            if inspect.isawaitable(result):  # an async handler: it goes on as a task of the session
                conn.spawn(result)

        return self.in_session(writer_id, run)

    # -- state shared by sessions across processes ---------------------------------

    @property
    def shared_records(self) -> list[str]:
        return list(self._shared)

    def share(self, name: str, record: Any) -> Any:
        """Keep ``record`` (a ``@reactive`` record all sessions read) identical in every worker and instance.

        Each process holds its own copy and renders from it; a change made in
        one (its fields' values: JSON, lists and dicts included) is published
        through the broker after the batch and applied by every other
        process, whose sessions are then pushed.  Concurrent changes converge:
        the last one by (time, instance) wins everywhere.  Needs a broker when
        the server runs several workers (start_rweb refuses otherwise).
        """
        from .reactive import is_reactive, process_local
        from .sharing import Replica

        if not is_reactive(record) or not hasattr(type(record), "__rweb_fields__"):
            raise TypeError("app.share() takes a @reactive record")
        if name in self._shared:
            raise ValueError(f"a record is already shared as {name!r}")
        process_local(record)  # correct across processes by replication, not by accident
        self._shared[name] = Replica(self, name, record)
        return record

    def refuse_split_state(self, workers: int | None = None) -> None:
        """A record that a page reads but its session did not create is an error at first read
        (module-level state, another session's; unless shared or process_local).

        Installed by start_rweb for several workers without a broker
        (``workers``), and by startup() whenever the app has a broker
        (``workers=None``: then other processes exist by design).  Refused at
        the first read, not when a second session of the same process reads
        it: so whatever worker a connection lands on (see rweb.reactive,
        on_shared_state).
        """
        from .reactive import IdentitySet, on_shared_state

        logged = IdentitySet()  # by identity: an RList or RDict is not hashable

        def refuse(record: Any) -> None:
            name = type(record).__qualname__
            shown = repr(record)
            if len(shown) > 200:  # a module-level list of every todo...
                shown = shown[:200] + "...)"
            if workers is not None:
                msg = (
                    f"{name} record {shown} is read by a session that did not create it (module-level "
                    f"state, or another session's), but this server runs {workers} "
                    "worker processes without a broker: sessions on other workers would never see its "
                    "changes. Share it with app.share(name, record) and a broker (App(broker='redis://...')), "
                    "run workers=1, or declare it rweb.process_local(record) if each worker may differ."
                )
            else:
                msg = (
                    f"{name} record {shown} is read by a session that did not create it (module-level "
                    "state, or another session's), and this app runs with a broker "
                    "(several processes or servers): sessions of the other processes would never see its "
                    "changes. Share it with app.share(name, record), or declare it "
                    "rweb.process_local(record) if each process may differ."
                )
            if record not in logged:  # once per record in the log; refused every time
                logged.add(record)
                log.error(msg)
            raise SharedStateError(msg)

        on_shared_state(refuse)

    # -- resuming sessions ----------------------------------------------------------------

    def resume_token(self, connection: Any) -> str:
        """The token a browser presents to get ``connection``'s session back after a lost socket (rweb.registry)."""
        return self.registry.resume_token(connection)

    def resume_target(self, token: str, info: ConnectionInfo) -> Any:
        """What ``token`` names: a connection of this process that can be taken over (claimed: the
        token is spent); the snapshot key of another process's session (a str, with a snapshot
        store); or None (a fresh session)."""
        return self.registry.resume_target(token, info)

    def detached_count(self) -> int:
        """Sessions whose socket was lost, waiting for their browser to resume them (in this process)."""
        return len(self.registry.waiting)

    def end_detached(self) -> None:
        """End every session still waiting for its browser (the server stops)."""
        self.registry.end_detached()

    def detached(self, connection: Any) -> None:
        """``connection``'s socket was lost and its session waits for its browser: counted against
        ``max_detached`` and ``max_detached_per_address``; past either, the oldest waiting ends."""
        self.registry.detached(connection)

    def undetached(self, connection: Any) -> None:
        """``connection`` no longer waits (resumed, expired, ended)."""
        self.registry.undetached(connection)

    @property
    def max_detached(self) -> int:
        """Sessions held for their browsers (lost sockets) at most; past it, the oldest ends."""
        return self.registry.max_detached

    @max_detached.setter
    def max_detached(self, value: int) -> None:
        self.registry.max_detached = value

    @property
    def max_detached_per_address(self) -> int | None:
        """Such sessions at most per client address (None: no cap)."""
        return self.registry.max_detached_per_address

    @max_detached_per_address.setter
    def max_detached_per_address(self, value: int | None) -> None:
        self.registry.max_detached_per_address = value

    @property
    def evicted(self) -> int:
        """Sessions ended to keep within those caps (a counter, for tests and stats)."""
        return self.registry.evicted

    def client_address(self, peer: str | None, headers: Mapping[str, str] | Headers) -> str | None:
        """The client's address: the socket's ``peer``, or, from a trusted proxy, the one its
        header gives (rweb.proxies).  Every per-address limit counts this."""
        proxies = self.trusted_proxies
        if proxies is None:
            return peer
        if isinstance(headers, Headers):
            value = ", ".join(headers.getlist(proxies.header)) or None
        else:
            value = headers.get(proxies.header)
        return proxies.client(peer, value)

    def socket_info(self, info: ConnectionInfo) -> ConnectionInfo:
        """A socket request's info, its ``client`` the client's address (:meth:`client_address`)."""
        if self.trusted_proxies is None:
            return info
        client = self.client_address(info.client, info.headers)
        return info if client == info.client else dataclasses.replace(info, client=client)

    def next_writer_id(self) -> int:
        """A writer id unique across this server's worker processes."""
        return self.registry.next_writer_id()

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the sessions' event loop, from any thread."""
        self.scheduler.call_soon(fn, *args)

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a background task of the app in this process, until it ends or the server stops.

        For work that belongs to no session (a poller, a queue consumer,
        a periodic cleanup): start it from an :meth:`on_startup` hook (or a
        handler), on the app's event loop.  The app keeps the task (asyncio
        holds tasks weakly), logs the exception that ends it, and cancels it
        at shutdown before the :meth:`on_shutdown` hooks run (waiting up to
        ``TASK_STOP_TIMEOUT`` seconds for it to end).  From another thread:
        ``app.call_soon(app.spawn, coro)``.  A session's own task is
        ``conn.spawn`` (cancelled when the session ends).
        """
        loop = self.scheduler.loop
        if loop is None:
            if hasattr(coro, "close"):
                coro.close()  # never started: no "never awaited" warning
            raise RuntimeError("the app is not being served yet: spawn from an on_startup hook")
        task: asyncio.Task[Any] = loop.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def _stop_tasks(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=TASK_STOP_TIMEOUT)
            if pending:
                log.warning("%d background tasks still running %.0f s after they were cancelled",
                            len(pending), TASK_STOP_TIMEOUT)

    def in_session(self, writer_id: Any, fn: Callable[[Conn], Any]) -> bool:
        """Run ``fn(conn)`` in the live session ``writer_id`` on its loop, from any thread.

        Reactive writes made by ``fn`` reach the browser as one push.  Returns
        False when no such session lives in this process (now; it may end
        before ``fn`` runs, in which case ``fn`` does not run).
        """
        if writer_id not in self.sessions:
            return False

        def run() -> None:
            connection = self.sessions.get(writer_id)
            if connection is not None:
                connection.run(fn)

        self.call_soon(run)
        return True

    # -- sessions ----------------------------------------------------------------

    def make_conn(
        self,
        info: ConnectionInfo,
        *,
        live: bool,
        writer_id: Any = None,
        route: Route | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Conn:
        """The conn a page's setup gets for ``info``: the page at ``info.path`` (or ``route`` with ``params``)."""
        if route is None:
            found = self.router.page_for(info.path)
            route, params = found if found else (None, {})
        return Conn(self, info, route=route, params=params, live=live, writer_id=writer_id)

    def setup(self, conn: Conn) -> tuple[Callable[[], Any], Any]:
        """Run the page's guard then its ``session_setup``; raises SetupError, Redirect or LookupError (no page)."""
        route = conn.route
        if route is None:
            raise LookupError(conn.path)
        setup = route.endpoint
        try:
            if route.auth is not None:  # the page's guard: the user, or a Redirect (docs/auth.md)
                conn.user = route.auth(conn)
            if takes_conn(setup):
                result = setup(conn.writer_id, conn)
            else:
                result = setup(conn.writer_id)
        except Redirect as exc:
            try:
                check_redirect(exc.url, self.allowed_redirect_hosts, external=exc.external)
            except UnsafeRedirect as unsafe:
                raise SetupError(f"session_setup raised Redirect: {unsafe}") from unsafe
            if conn.live:  # the page was never shown: its messages, and those handed to it, go on
                conn.keep_flash(shown=False)
            raise
        except BaseException as exc:  # KeyboardInterrupt, SystemExit... from user code fail this setup only
            # Logged by the caller; the browser only ever sees "setup_error".
            raise SetupError(f"session_setup raised {type(exc).__name__}: {exc}") from exc
        if not (isinstance(result, tuple) and len(result) == 2):
            raise SetupError("session_setup must return (render_page, on_action)")
        render_page, on_action = result
        if not callable(render_page):
            raise SetupError("render_page returned by session_setup is not callable")
        if not (callable(on_action) or isinstance(on_action, Mapping)):
            raise SetupError("on_action must be callable or a mapping of action -> handler")
        return render_page, on_action

    def session(
        self,
        writer_id: Any,
        conn: ConnectionInfo | Conn | None = None,
        *,
        schedule: Callable[[Callable[[], None]], Any] | None = None,
        push: Callable[[dict[str, Any], tuple[str, str] | None], None] | None = None,
    ) -> Session:
        """A session for the page at ``conn.path`` (``/`` by default), outside any transport."""
        if not isinstance(conn, Conn):
            conn = self.make_conn(conn or ConnectionInfo(), live=writer_id is not None, writer_id=writer_id)
        render_page, on_action = self.setup(conn)
        session = Session(
            render_page, on_action, writer_id, self.actions, schedule, push, self.slow_callback, self.debug,
            self.fanout,
        )
        session.framework_actions = conn.framework_actions()
        return session

    def session_started(self, conn: Conn | None, connection: Any) -> None:
        """``connection``'s session is live: registered by its writer id; the start hooks get ``conn``
        (None: the setup kept no conn, hence no hooks)."""
        self.registry.started(conn, connection)

    def session_ended(self, conn: Conn | None, connection: Any) -> None:
        """``connection``'s session ended: if it started, it is unregistered and the end hooks get ``conn``."""
        self.registry.ended(conn, connection)

    def session_moved(self, connection: Any) -> None:
        """``connection`` took its writer id's session over (a resume): the registered one from now."""
        self.registry.moved(connection)

    def keeps_conn(self, conn: Conn) -> bool:
        """Must a live session keep its ``conn`` (it holds the headers)?  When user code may reach it
        (session hooks, a setup that takes it) or a live navigation may take the socket to another page."""
        route = conn.route
        return bool(
            self.registry.start_hooks or self.registry.end_hooks or self.pages > 1 or (route is not None and takes_conn(route.endpoint))
        )

    def bare_conn(self, writer_id: Any) -> Conn:
        """A live conn for work in a session whose setup kept none (no headers known)."""
        return Conn(self, ConnectionInfo(), live=True, writer_id=writer_id)

    def page_for(self, path: str) -> tuple[Route, dict[str, Any]] | None:
        """The reactive page at ``path`` and its path parameters, or None."""
        return self.router.page_for(path)

    # -- the socket's Origin ------------------------------------------------------------

    def origin_allowed(self, headers: Mapping[str, str]) -> bool:
        """May a WebSocket with these (lower-case) request headers join?  See :meth:`rweb.origins.OriginPolicy.origin_allowed`:
        by default the ``Origin``'s host and port must be the ``Host`` the socket connects to,
        ``App(allowed_origins=[...])`` lists the origins allowed instead; no ``Origin``: no browser, accepted."""
        return self.origins.origin_allowed(headers)

    def cross_site(self, request: Request) -> bool:
        """Is ``request`` a state-changing request from another site, to refuse (CSRF)?  See
        :meth:`rweb.origins.OriginPolicy.cross_site`."""
        return self.origins.cross_site(request)

    # -- cookies set from a live session ------------------------------------------

    COOKIE_TOKEN_TTL = 60.0

    def cookie_token(self, set_cookies: list[str]) -> str:
        """An encrypted, authenticated, expiring token that ``POST /_rweb/cookie`` turns into Set-Cookie headers.

        Any worker (or instance sharing ``secret_key``) can redeem it, once:
        see :meth:`redeem_cookie_token`.
        """
        # A JSON list, not lines: no value can turn into a second header on the way.
        return self.signer.encrypt(orjson.dumps(set_cookies))

    async def redeem_cookie_token(self, token: str) -> list[str] | None:
        """The Set-Cookie values of ``token`` the first time it is presented, else None.

        Once per server: the workers share a table of the tokens redeemed
        (rweb.single_use; at most ``max_cookie_tokens`` a minute, refused
        beyond); with a Redis broker, once across every instance using it
        (``SET NX``).  Without a broker, separate servers (or ``uvicorn
        --workers``) each redeem a token once.  When Redis cannot answer the
        token is refused: a replay is never let through.
        """
        data = self.signer.decrypt(token, max_age=self.COOKIE_TOKEN_TTL)
        if data is None:
            return None
        key = hashlib.sha256(token.encode()).digest()[:KEY_SIZE]  # decrypt() accepts one spelling only
        claim = getattr(self.pubsub, "claim", None)
        if claim is None:
            first = self._used_tokens.claim(key, self.COOKIE_TOKEN_TTL)
        else:
            try:
                first = await claim("cookie-token:" + key.hex(), self.COOKIE_TOKEN_TTL)
            except Exception as exc:
                if _claim_refusals.allow():
                    log.warning("a cookie token was refused: the broker could not record its use (%s)", exc)
                return None
        return _set_cookies(data) if first else None

    # -- plain HTTP -------------------------------------------------------------------

    async def handle_http(self, request: Request) -> Response:
        """Answer one plain HTTP request (never raises: errors become 4xx/5xx pages)."""
        response = self.respond(request)
        if isinstance(response, Response):
            return response
        return await response

    def respond(self, request: Request) -> Response | Awaitable[Response]:
        """Answer at once, or return an awaitable that answers (an ``async`` handler, none of whose code has run yet).

        Never raises: errors become 4xx/5xx pages.  Transports that can answer
        synchronously (the built-in server) call this and await only when needed.
        """
        if self.tracer is not None:
            return self._traced(request)
        return self._respond(request)

    def _traced(self, request: Request) -> Response | Awaitable[Response]:
        """:meth:`respond` in an OpenTelemetry span (app.tracing()), ended once the response is made."""
        from opentelemetry import trace

        from .metrics import route_label

        span = self.tracer.start_span("rweb.http")

        def done(response: Response) -> Response:
            route = route_label(request)
            span.update_name(f"rweb.http {request.method} {route}")
            span.set_attribute("http.request.method", request.method)
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", response.status)
            span.end()
            return response

        with trace.use_span(span, end_on_exit=False):
            result = self._respond(request)
        if isinstance(result, Response):
            return done(result)

        async def later() -> Response:
            with trace.use_span(span, end_on_exit=False):
                return done(await result)

        return later()

    def _respond(self, request: Request) -> Response | Awaitable[Response]:
        request.app = self
        if self.trusted_proxies is not None:
            request.client = self.client_address(request.client, request.headers)
        try:
            result = self._dispatch_http(request)
            if isinstance(result, RedirectResponse):
                result.checked(self.allowed_redirect_hosts)
        except BaseException as exc:  # user code: a SystemExit in a handler is a 500, not the worker's end
            return self._outgoing(request, self._failed(request, exc))
        if isinstance(result, Response):
            return self._outgoing(request, result)
        return self._finish(request, result)

    async def _finish(self, request: Request, pending: Awaitable[Any]) -> Response:
        try:
            response = to_response(await pending)
            if isinstance(response, RedirectResponse):
                response.checked(self.allowed_redirect_hosts)
        except BaseException as exc:
            if isinstance(exc, GeneratorExit) or _task_cancelled(exc):
                raise  # this request's task is cancelled (the client left, the server stops)
            response = self._failed(request, exc)
        return self._outgoing(request, response)

    def _outgoing(self, request: Request, response: Response) -> Response:
        """What every response gets on its way out: the protective headers, a CSRF id cookie made for it,
        its body compressed as the client accepts when it is marked ``compress`` (rweb.compression);
        and the request's form files are closed: the handler is done with them."""
        request.close()
        if self.metering is not None:
            self.metering.answered(request, response.status)
        if request.csrf_id is not None:
            cookie = csrf_cookie(request)
            if cookie is not None:
                response.headers.append(("Set-Cookie", cookie))
        if request.flash_out is not None or request.flash_taken:
            cookie = response_cookie(request)
            if cookie is not None:
                response.headers.append(("Set-Cookie", cookie))
        if response.compress and self.compress:
            response = compress_response(request, response)
        return add_headers(response, self.security_headers)

    def _failed(self, request: Request, exc: BaseException) -> Response:
        if isinstance(exc, HTTPError):
            return error_response(exc.status, exc.detail, exc.headers)
        if isinstance(exc, Redirect):
            try:
                return RedirectResponse(exc.url, external=exc.external).checked(self.allowed_redirect_hosts)
            except UnsafeRedirect as unsafe:
                exc = unsafe
        ref = error_ref()
        log.error("%s %s failed (ref %s)", request.method, request.path, ref, exc_info=exc)
        return error_response(500, f"Internal Server Error: {describe(exc, ref, self.debug or None)}")

    def _dispatch_http(self, request: Request) -> Response | Awaitable[Any]:
        path, method = request.path, request.method
        if path.startswith(CLIENT_PREFIX) and method in ("GET", "HEAD"):
            script = client_response(request)
            if script is not None:
                return script
        if path.startswith(ASSET_PREFIX) and method in ("GET", "HEAD"):
            asset = asset_response(self.assets, request)
            if asset is not None:
                return asset
        if path == COOKIE_PATH:
            return self._cookie_endpoint(request)
        if path == self.live_path or path == self.ready_path:
            return health_response(self, request)
        if self.metering is not None and path == self.metering.path:
            return self.metering.respond(request)
        match = self.router.match(method, path)
        if match.route is None and match.status == 404:
            for prefix, files in self.static.items():
                if path == prefix or path.startswith(prefix + "/"):
                    if method not in ("GET", "HEAD"):
                        return error_response(405, headers={"Allow": "GET, HEAD"})
                    answer: Response = files.respond(request, path[len(prefix) :])
                    return answer
        if match.route is None:
            if match.status == 405:
                return error_response(405, headers={"Allow": ", ".join(sorted(match.allowed))})
            if path == "/favicon.ico" and method in ("GET", "HEAD"):
                return self._favicon()
            return error_response(404)
        request.path_params = match.params
        route = request.route = match.route
        if route.kind == "page":
            from .page import page_response

            return page_response(self, request, route, match.params)
        if route.csrf and method not in SAFE_METHODS:
            if self.cross_site(request):
                return _cross_site_refusal()
            if route.csrf == "token":
                request.require_csrf()
        result = route.endpoint(request)
        if inspect.isawaitable(result):
            return result
        return to_response(result)

    async def _cookie_endpoint(self, request: Request) -> Response:
        if request.method != "POST":
            return error_response(405, headers={"Allow": "POST"})
        if self.cross_site(request):
            return _cross_site_refusal()
        # The body only: a token in the URL would land in logs, histories and Referer headers.
        token = request.body.decode("latin-1").strip()
        headers = await self.redeem_cookie_token(token) if token else None
        if headers is None:
            return error_response(403, "invalid or expired cookie token")
        response = Response(b"", 204, {"Cache-Control": "no-store"})
        for h in headers:
            response.headers.append(("Set-Cookie", h))
        return response

    def _favicon(self) -> Response:
        if self.favicon is not None:
            return RedirectResponse(self.favicon, 302, external=True)  # the app named it
        # No icon: an empty one, cached, rather than a 404 on every page load.
        return Response(b"", 204, {"Cache-Control": "public, max-age=86400"})

    def __repr__(self) -> str:
        return f"<App {self.title!r} {len(self.router.routes)} routes>"




def _cross_site_refusal() -> Response:
    return error_response(403, "Cross-site request refused: this site does not accept it from another site.")


def _set_cookies(data: bytes) -> list[str] | None:
    """A cookie token's Set-Cookie values (a JSON list of strings), or None."""
    try:
        values = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return None
    return values


def sendable(response: Response) -> Response:
    """``response``, or a 500 page when one of its headers cannot go on the wire (logged).

    Transports write what this passes: a handler that appended a value with CR,
    LF or NUL to ``response.headers`` directly cannot split the response.
    """
    try:
        check_headers(response)
    except ValueError:
        log.exception("a response cannot be sent as it is (a header); answering 500")  # pragma: no mutate (log wording)
        return error_response(500)
    return response


async def _call(fn: LifeHook) -> None:
    """Run a startup or shutdown hook: awaited if it is ``async`` (a task it returns, say app.spawn's, is not)."""
    result = fn()
    if inspect.iscoroutine(result):
        await result


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


_claim_refusals = LogLimit()  # cookie tokens refused while the broker cannot answer
