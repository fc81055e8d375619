"""The per-session handle a page's setup gets: :class:`Conn`.

What a page knows of its browser (path, parameters, query, headers, cookies,
client, user) and what it can ask of it.  Every request to the browser is a
typed effect (:mod:`rweb.effects`) written to the live connection's outbox
(``connection.effect``); during the HTTP first paint there is no connection,
and cookies ride on the response instead.  Work tied to the session's life
(timers, tasks, topics, presence) is cancelled when the session ends.

The conn reaches the app's services through ``conn.app`` (:class:`rweb.App`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal

from ..addressing.routing import Route, takes_conn
from ..sessions.session import ConnectionInfo, SetupError, UnknownAction
from ..web.cookie_tokens import COOKIE_PATH
from ..web.http import (
    QueryParams,
    Redirect,
    UnsafeRedirect,
    check_redirect,
    format_cookie,
    is_local_path,
)
from ..wire.effects import Cookie, Event, Focus, Navigate, Reset, RunJs
from ..wire.flash import Flashes, PageFlash, live_scheme
from ..words.http_base import format_cookie_deletion
from ..words.protocol import CloseCode

__all__ = ["DISCONNECT_TOPIC", "Conn"]

# The topic App.disconnect publishes on (with the key after it); Conn.tag subscribes to it.
DISCONNECT_TOPIC = "rweb.disconnect:"


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
        "guarded",
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
        app: Any,  # the rweb.App (not imported: the app floor sits above this one)
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
        self.guarded: Any = None  # an async guard's outcome, awaited before the setup (Route.await_guard)
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
        from ..live.stream import Stream

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
        from ..live.upload import DEFAULT_MAX_SIZE, Upload, Uploads

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
        task: asyncio.Task[Any] = self.app.loop().create_task(coro)
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
            off: Callable[[], None] = self.app.pubsub.subscribe(topic, deliver)
        else:
            gap = lambda _t: self._in_session(on_gap)  # noqa: E731
            try:
                off = self.app.pubsub.subscribe(topic, deliver, on_gap=gap)
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


def setup_page(conn: Conn, allowed_redirect_hosts: frozenset[str]) -> tuple[Callable[[], Any], Any]:
    """Run the page's guard then its ``session_setup`` for ``conn`` (:meth:`rweb.App.setup`):
    ``(render_page, on_action)``; raises SetupError, Redirect (to a place ``allowed_redirect_hosts``
    allows) or LookupError (no page)."""
    route = conn.route
    if route is None:
        raise LookupError(conn.path)
    setup = route.endpoint
    try:
        if route.auth is not None:  # the page's guard: the user, or a Redirect (docs/auth.md)
            conn.user = route.guard(conn)
        if takes_conn(setup):
            result = setup(conn.writer_id, conn)
        else:
            result = setup(conn.writer_id)
    except Redirect as exc:
        try:
            check_redirect(exc.url, allowed_redirect_hosts, external=exc.external)
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


def run_action(conn: Conn, action: str, params: dict[str, Any] | None) -> None:
    """Run ``action`` in ``conn``'s live session as if its user had clicked (:meth:`rweb.App.trigger`)."""
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
