"""The application: a thin composer of the services every transport and session share.

An :class:`App` holds the app's settings and composes, as Starlette's
application composes a router and a middleware stack:

- ``app.router`` (:mod:`rweb.routing`): reactive pages (``@app.page``) and
  plain HTTP handlers (``@app.get``, ``@app.post``, ...), beside the static
  folders (``app.static``);
- ``app.http`` (:mod:`rweb.http_dispatch`): the answer to one HTTP request,
  a reactive page's first paint included (:mod:`rweb.page`);
- ``app.registry`` (:mod:`rweb.registry`): this process's live sessions by
  writer id, their hooks, the sessions waiting for their browsers and the
  resume tokens; ``app.scheduler`` (:mod:`rweb.scheduler`): the event loop
  that runs them, reached from any thread (:meth:`App.call_soon`,
  :meth:`App.in_session`);
- ``app.services`` (:mod:`rweb.services`): what sessions share through the
  broker: topics (:mod:`rweb.pubsub`, in-process by default), presence, shared
  records;
- ``app.lifecycle`` (:mod:`rweb.lifecycle`): the binding to a process's loop,
  startup and shutdown, their hooks, the app's background tasks;
- ``app.cookie_tokens`` (:mod:`rweb.cookie_tokens`) and ``app.origins``
  (:mod:`rweb.origins`): cookies set from a live session, the Origin rules.

A page's setup gets a :class:`~rweb.conn.Conn` (:mod:`rweb.conn`).  The app's
public methods forward to these services; none of them imports the app.

Transports (``rweb.server`` on picows, ``rweb.asgi``, ``rweb.testing``) stay
thin: they turn bytes into a :class:`~rweb.http.Request` for
:meth:`App.handle_http`, or into a :class:`~rweb.connection.Connection` for a
WebSocket (which sees the app through :class:`rweb.runtime.Runtime`), and
write back what they are given.

``App(title, session_setup)`` serves one page at ``/`` (as
``start_rweb(port, title, session_setup)`` builds); the older
``App(session_setup, title)`` still works, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import secrets
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..addressing.proxies import TrustedProxies
from ..addressing.routing import Route, Router, takes_conn
from ..addressing.signing import Signer
from ..core.reactive import SharedStateError
from ..hosting.conn import DISCONNECT_TOPIC, Conn, run_action, setup_page
from ..hosting.http_dispatch import HttpDispatcher
from ..hosting.lifecycle import Lifecycle, LifeHook
from ..hosting.services import BrokerServices
from ..live.registry import SessionRegistry
from ..rendering.clock import SYSTEM_CLOCK, Clock
from ..sessions.scheduler import Scheduler
from ..sessions.session import ConnectionInfo, Session
from ..web.assets import Asset, rooted
from ..web.cookie_tokens import COOKIE_TOKEN_TTL, CookieTokens
from ..web.health import LIVE_PATH, READY_PATH, check_path
from ..web.http import (
    Headers,
    Redirect,
    Request,
    Response,
)
from ..web.origins import OriginPolicy
from ..wire.pubsub import PubSub
from ..wire.security import header_defaults

if TYPE_CHECKING:
    from ..core.meter import Meter
    from ..web.metrics import (
        Metrics,  # imported when app.metrics() is called (prometheus_client is optional)
    )

__all__ = ["App", "Conn", "Redirect", "SharedStateError"]

log = logging.getLogger("rweb.app")

SOCKET_PATH = "/ws"

Setup = Callable[..., tuple[Callable[[], Any], Any]]
Handler = Callable[[Request], Any]
Hook = Callable[["Conn"], Any]
DEPRECATED_ORDER = (
    "App(session_setup, title) is deprecated: write App(title, session_setup), "
    "or App(title=..., session_setup=...) (the order start_rweb(port, title, session_setup) uses)"
)
_LANG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")  # a BCP 47 language tag's shape


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
        # -- the pages: what every page gets, the actions it may send --
        head: str = "",
        assets: Iterable[Asset] = (),
        lang: str = "en",
        actions: Iterable[str] = (),
        static: Mapping[str, str | os.PathLike[str]] | None = None,
        favicon: str | None = None,
        # -- where the app is served --
        root_path: str = "",
        socket_path: str = SOCKET_PATH,
        compress: bool = True,
        debug: bool = False,
        slow_callback_ms: float | None = 100,
        # -- limits --
        max_message_size: int = 64 * 1024,
        max_body_size: int = 1024 * 1024,
        max_header_size: int = 16 * 1024,
        max_upload_bytes: int = 64 * 1024 * 1024,
        max_cookie_tokens: int = 10_000,
        # -- security: tokens, origins, redirects, headers, proxies --
        secret_key: str | bytes | None = None,
        allowed_origins: Iterable[str] | None = None,
        allowed_redirect_hosts: Iterable[str] = (),
        security_headers: Mapping[str, str | None] | None = None,
        trusted_proxies: Iterable[str] | None = None,
        proxy_header: str = "x-forwarded-for",
        # -- sessions across sockets, processes and instances: resumes, snapshots, the broker --
        resume_grace: float = 30.0,
        max_detached: int = 10_000,
        max_detached_per_address: int | None = 100,
        session_store: Any = None,
        snapshot_interval: float = 1.0,
        snapshot_limit: int = 64 * 1024,
        broker: str | PubSub | None = None,
    ) -> None:
        if callable(title):  # the old order, App(session_setup, title): still served, deprecated
            warnings.warn(DEPRECATED_ORDER, DeprecationWarning, stacklevel=2)
            title, session_setup = (session_setup if isinstance(session_setup, str) else "rweb"), title  # type: ignore[assignment]
        elif session_setup is not None and not callable(session_setup):
            raise TypeError("session_setup must be callable")
        if not isinstance(title, str):
            raise TypeError("title must be a string")
        self.title = title
        # -- the pages --
        self.head = head
        self.assets: tuple[Asset, ...] = tuple(assets)  # rweb.assets: linked by every page, served hashed
        if not isinstance(lang, str) or _LANG.fullmatch(lang) is None:
            raise ValueError(f"lang is a language tag such as 'en' or 'pt-BR', got {lang!r}")
        self.lang = lang  # <html lang> of every page
        self.actions = frozenset(actions)
        self.favicon = favicon
        # -- where the app is served --
        self.root_path = root_path.rstrip("/")
        self.socket_path = socket_path
        # Pages' first paints (and handlers' responses marked ``compress``) gzipped when asked (rweb.compression).
        self.compress = compress
        self.debug = debug
        self.slow_callback_ms = slow_callback_ms  # checked, and kept in seconds too (the property)
        # -- limits --
        self.max_message_size = max_message_size
        self.max_body_size = max_body_size
        self.max_header_size = max_header_size
        self.max_upload_bytes = max_upload_bytes  # what a session's uploads hold on disk, not consumed
        # -- security --
        if secret_key is None:
            secret_key = os.environ.get("RWEB_SECRET_KEY") or None
        # Without a key of its own the app makes one up (shared by forked workers):
        # tokens and cookies then mean nothing to another instance or after a restart.
        self.has_secret_key = secret_key is not None
        self.signer = Signer(secret_key if secret_key is not None else secrets.token_bytes(32))
        # None: a socket is accepted from a page of the host it connects to.
        self.allowed_origins = allowed_origins  # checked, and kept as the OriginPolicy (the property)
        # Hosts (``example.com``, ``example.com:8443``) redirects may go to without external=True.
        if isinstance(allowed_redirect_hosts, str):
            raise TypeError("allowed_redirect_hosts is a list of hosts, not one string")
        self.allowed_redirect_hosts = frozenset(h.strip().lower() for h in allowed_redirect_hosts)
        # What every HTTP response gets unless it sets the header itself (rweb.security).
        self.security_headers = header_defaults(security_headers)
        # The proxies whose proxy_header says who the client is (rweb.proxies; None: the peer is).
        self.trusted_proxies = None if trusted_proxies is None else TrustedProxies(trusted_proxies, proxy_header)
        # -- sessions beyond their socket --
        # A socket lost without a close keeps its session this long for the browser to resume it (0: off).
        self.resume_grace = resume_grace
        # Where sessions' snapshots go for a resume in another process (rweb.snapshot):
        # a SnapshotStore, or None: the Redis broker's when there is one.
        if snapshot_interval <= 0 or snapshot_limit <= 0:
            raise ValueError("snapshot_interval and snapshot_limit must be positive")
        self.session_store = session_store
        self.snapshot_interval = snapshot_interval
        self.snapshot_limit = snapshot_limit
        self.snapshots: Any = None  # rweb.snapshot.Snapshots once served with a store (rweb.lifecycle)

        # -- the services the app composes (per process: forked workers each get their own copy) --
        # The routes (rweb.routing) and the static folders, the longest prefix first.
        self.router = Router()
        self.static: dict[str, Any] = {}
        for prefix, folder in (static or {}).items():
            self.mount_static(prefix, folder)
        # The sessions' event loop once bound, its thread, and this process life's id (rweb.scheduler).
        self.scheduler = Scheduler()
        # The live sessions, their hooks, the writer ids, the resumes; sessions held for their
        # browsers (lost sockets) at most, in all and per client address (rweb.registry).
        self.registry = SessionRegistry(
            self.signer,
            self.scheduler,
            lambda: self.snapshots,
            max_detached=max_detached,
            max_detached_per_address=max_detached_per_address,
            behind_trusted_proxies=trusted_proxies is not None,
        )
        self.sessions = self.registry.live  # writer id -> live Connection
        # Topics, presence and shared records, through the broker: None (within this process),
        # "redis://..." (rweb.broker_redis, started in each worker), or a PubSub (rweb.services).
        self.services = BrokerServices(self, self.scheduler, broker)
        # Bound to the loop, started and stopped in each serving process; hooks, tasks (rweb.lifecycle).
        self.lifecycle = Lifecycle(self)
        # The tokens that set cookies from a live session, each redeemed once (rweb.cookie_tokens).
        self.cookie_tokens = CookieTokens(self.signer, max_cookie_tokens)
        # Plain HTTP: the dispatch of a request and what every response gets (rweb.http_dispatch).
        self.http = HttpDispatcher(self)
        # One callable for every session: renders shared between sessions are grouped by it (rweb.render).
        self.fanout = self.call_soon
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
        :class:`~rweb.http.HTTPError`.  It may be ``async def`` (a database
        lookup that must not hold the event loop): rweb awaits it before
        the setup, in each of those three places.  See docs/auth.md.
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
        from ..web.static import StaticFiles

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
        from ..web.metrics import Metrics

        self.metering = Metrics(check_path(path) or "", token, interval, max_action_labels)
        self.meter = self.metering.meter

    def tracing(self, tracer_provider: Any = None) -> None:
        """OpenTelemetry spans for joins (``rweb.join``), actions (``rweb.action <name>``) and HTTP
        requests (``rweb.http <route>``), with the session, page, action and error code as
        attributes (docs/operations.md).  Needs ``opentelemetry-api`` (``pip install 'rweb[otel]'``);
        ``tracer_provider``: the SDK's provider (default: the global one).  Off until called: while
        off, nothing of OpenTelemetry is imported and a message pays nothing.  Turns the in-process
        counting of the metrics on (:mod:`rweb.meter`, about 1% of a click), not their endpoint.
        """
        try:
            from opentelemetry import trace
        except ImportError:
            raise RuntimeError("app.tracing() needs opentelemetry-api: pip install 'rweb[otel]'") from None
        from ..core.meter import Meter

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
        self.lifecycle.startup_hooks.append(fn)
        return fn

    def on_shutdown(self, fn: LifeHook) -> LifeHook:
        """``fn()`` (sync or ``async``) when the serving process stops gracefully (SIGTERM, SIGINT, lifespan
        shutdown): after the sockets are closed and :meth:`spawn`'s tasks cancelled, before the broker
        closes and the loop ends.  In the order added; an exception is logged and the next hook runs."""
        self.lifecycle.shutdown_hooks.append(fn)
        return fn

    # -- settings kept in another form ------------------------------------------

    @property
    def allowed_origins(self) -> tuple[str, ...] | None:
        """``App(allowed_origins=...)``, normalized; set it later and the app checks the new list
        (``self.origins``, :class:`rweb.origins.OriginPolicy`) from then on."""
        return self.origins.allowed

    @allowed_origins.setter
    def allowed_origins(self, origins: Iterable[str] | None) -> None:
        self.origins = OriginPolicy(origins)

    @property
    def slow_callback_ms(self) -> float | None:
        """``App(slow_callback_ms=...)``; set it later and the sessions opened from then on use it."""
        return self._slow_callback_ms

    @slow_callback_ms.setter
    def slow_callback_ms(self, ms: float | None) -> None:
        if ms is not None and ms < 0:
            raise ValueError("slow_callback_ms must be positive (or None: never log)")
        self._slow_callback_ms = ms
        # In seconds, as sessions compare it (0.0: off).
        self.slow_callback = (ms or 0) / 1000

    # -- the process's life (rweb.lifecycle) -------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop, worker_index: int = 0, workers: int = 1) -> None:
        """Called by a transport when it starts serving on ``loop`` (one per process)."""
        self.lifecycle.bind(loop, worker_index, workers)

    @property
    def started(self) -> bool:
        """Are the app's services running in this process (:meth:`startup` ran, :meth:`shutdown` not yet)?"""
        return self.lifecycle.started

    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop that runs this process's sessions."""
        return self.scheduler.running()

    async def startup(self) -> None:
        """Start the app's services in this process (transports call it once serving; after any fork)."""
        await self.lifecycle.startup()

    async def save_sessions(self, timeout: float = 5.0) -> bool:
        """The server stops: save every session for its browser to resume elsewhere (see rweb.snapshot)."""
        if self.snapshots is None:
            return True
        saved: bool = await self.snapshots.save_all(timeout)
        return saved

    async def shutdown(self) -> None:
        """Stop the app's services (the broker flushes what is queued)."""
        await self.lifecycle.shutdown()

    # -- what sessions share through the broker (rweb.services) --------------------

    @property
    def broker(self) -> str | PubSub | None:
        """``App(broker=...)``: None (topics within this process), a ``redis://`` URL, or a PubSub."""
        return self.services.broker

    @property
    def pubsub(self) -> PubSub:
        """The pub/sub in use (rweb.pubsub): the in-process one, or the broker once started."""
        return self.services.pubsub

    def publish(self, topic: str, message: Any) -> None:
        """Publish ``message`` (JSON) on ``topic``, from anywhere: a handler, a timer, another thread.

        Subscribers (``conn.subscribe``) in this process get it on the loop;
        with a broker, those in every other process too.
        """
        self.services.publish(topic, message)

    def disconnect(self, key: str) -> None:
        """End every live session tagged with ``key`` (:meth:`Conn.tag`), in every process
        when the app has a broker; from any thread.  Logging out, a changed password, a
        revoked login session: the user's open pages close (docs/auth.md)."""
        self.publish(DISCONNECT_TOPIC + key, None)

    def presence_service(self) -> Any:
        """The presence service of this app's broker (rweb.presence)."""
        return self.services.presence_service()

    def presence(self, topic: str) -> dict[str, Any]:
        """Who is present in ``topic`` (key -> meta), across processes with a broker."""
        return dict(self.presence_service().list(topic))

    def trigger(self, writer_id: Any, action: str, params: dict[str, Any] | None = None) -> bool:
        """Run ``action`` in the live session ``writer_id`` as if its user had clicked; the result is pushed.

        From any thread.  False when no such session lives in this process.
        """
        return self.in_session(writer_id, lambda conn: run_action(conn, action, params))

    @property
    def shared_records(self) -> list[str]:
        return list(self.services.shared)

    def share(self, name: str, record: Any) -> Any:
        """Keep ``record`` (a ``@reactive`` record all sessions read) identical in every worker and instance.

        Each process holds its own copy and renders from it; a change made in
        one (its fields' values: JSON, lists and dicts included) is published
        through the broker after the batch and applied by every other
        process, whose sessions are then pushed.  Concurrent changes converge:
        the last one by (time, instance) wins everywhere.  Needs a broker when
        the server runs several workers (start_rweb refuses otherwise).
        """
        return self.services.share(name, record)

    def refuse_split_state(self, workers: int | None = None) -> None:
        """A record that a page reads but its session did not create is an error at first read
        (module-level state, another session's; unless shared or process_local): see
        :meth:`rweb.hosting.services.BrokerServices.refuse_split_state`, which says when it is installed."""
        self.services.refuse_split_state(workers)

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
        return self.lifecycle.spawn(coro)

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
        return setup_page(conn, self.allowed_redirect_hosts)

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
        session.framework_actions = conn.page_flash
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

    # -- cookies set from a live session (rweb.cookie_tokens) ------------------------

    COOKIE_TOKEN_TTL = COOKIE_TOKEN_TTL

    def cookie_token(self, set_cookies: list[str]) -> str:
        """An encrypted, authenticated, expiring token that ``POST /_rweb/cookie`` turns into Set-Cookie headers.

        Any worker (or instance sharing ``secret_key``) can redeem it, once:
        see :meth:`redeem_cookie_token`.
        """
        return self.cookie_tokens.token(set_cookies)

    async def redeem_cookie_token(self, token: str) -> list[str] | None:
        """The Set-Cookie values of ``token`` the first time it is presented, else None.

        Once per server: the workers share a table of the tokens redeemed
        (rweb.single_use; at most ``max_cookie_tokens`` a minute, refused
        beyond); with a Redis broker, once across every instance using it
        (``SET NX``).  Without a broker, separate servers (or ``uvicorn
        --workers``) each redeem a token once.  When Redis cannot answer the
        token is refused: a replay is never let through.
        """
        return await self.cookie_tokens.redeem(token, self.COOKIE_TOKEN_TTL, self.pubsub)

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
        return self.http.respond(request)

    def __repr__(self) -> str:
        return f"<App {self.title!r} {len(self.router.routes)} routes>"
