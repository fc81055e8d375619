"""Plain HTTP: what answers a request, and what every response gets on its way out.

The app's :class:`HttpDispatcher` (``app.http``; ``App.handle_http`` and
``App.respond`` forward to it) answers one :class:`~rweb.http.Request` that a
transport parsed, in this order: the client script and the assets
(:mod:`rweb.client_script`, :mod:`rweb.assets`), the cookie tokens' endpoint
(:mod:`rweb.cookie_tokens`), health and metrics, then the router
(:mod:`rweb.routing`): a reactive page's first paint (:mod:`rweb.page`), a
plain handler (after the CSRF and Origin checks), else a static folder, the
favicon, or a 404/405.  An error in a handler is a 4xx/5xx page, never an
exception out of :meth:`HttpDispatcher.respond`.  On the way out: the
protective headers (:mod:`rweb.security`), the CSRF and flash cookies, the
compression (:mod:`rweb.compression`).

It reads the app's settings when it answers (``app.debug``, ``app.compress``,
``app.security_headers``, ...: what :class:`HttpApp` names), so a setting
changed after the app is made holds from the next request.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ..addressing.routing import Router
from ..rendering.render import describe, error_ref
from ..sessions.session import _task_cancelled
from ..web.assets import ASSET_PREFIX, Asset, asset_response
from ..web.client_script import CLIENT_PREFIX, client_response
from ..web.compression import compress_response
from ..web.cookie_tokens import COOKIE_PATH
from ..web.health import health_response
from ..web.http import (
    Headers,
    HTTPError,
    Redirect,
    RedirectResponse,
    Request,
    Response,
    UnsafeRedirect,
    check_headers,
    error_response,
)
from ..wire.flash import response_cookie
from ..wire.security import SAFE_METHODS, add_headers, csrf_cookie
from ..words.http_base import to_response

if TYPE_CHECKING:
    from ..web.metrics import (
        Metrics,  # imported when app.metrics() is called (prometheus_client is optional)
    )

__all__ = ["HttpApp", "HttpDispatcher", "sendable"]

log = logging.getLogger("rweb.app")  # its messages are the app's, as they were


class HttpApp(Protocol):
    """What the dispatcher reads of the app (an :class:`rweb.App`), at each request."""

    router: Router
    static: dict[str, Any]  # prefix -> rweb.static.StaticFiles, the longest prefix first
    assets: tuple[Asset, ...]
    live_path: str | None
    ready_path: str | None
    favicon: str | None
    debug: bool
    compress: bool
    security_headers: tuple[tuple[str, str, str], ...]  # rweb.security.header_defaults
    allowed_redirect_hosts: frozenset[str]
    trusted_proxies: Any  # rweb.proxies.TrustedProxies, or None
    metering: Metrics | None  # once app.metrics() turned them on
    tracer: Any  # an OpenTelemetry tracer once app.tracing() turned spans on, else None

    def client_address(self, peer: str | None, headers: Mapping[str, str] | Headers) -> str | None: ...

    def cross_site(self, request: Request) -> bool: ...

    async def redeem_cookie_token(self, token: str) -> list[str] | None: ...


class HttpDispatcher:
    """Answers the app's plain HTTP requests (see the module's docstring)."""

    __slots__ = ("app",)

    def __init__(self, app: HttpApp) -> None:
        self.app = app

    def respond(self, request: Request) -> Response | Awaitable[Response]:
        """Answer at once, or return an awaitable that answers (an ``async`` handler, none of whose code has run yet).

        Never raises: errors become 4xx/5xx pages.  Transports that can answer
        synchronously (the built-in server) call this and await only when needed.
        """
        if self.app.tracer is not None:
            return self._traced(request)
        return self._respond(request)

    def _traced(self, request: Request) -> Response | Awaitable[Response]:
        """:meth:`respond` in an OpenTelemetry span (app.tracing()), ended once the response is made."""
        from opentelemetry import trace

        from ..web.metrics import route_label

        span = self.app.tracer.start_span("rweb.http")

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
        request.app = self.app
        if self.app.trusted_proxies is not None:
            request.client = self.app.client_address(request.client, request.headers)
        try:
            result = self._dispatch_http(request)
            if isinstance(result, RedirectResponse):
                result.checked(self.app.allowed_redirect_hosts)
        except BaseException as exc:  # user code: a SystemExit in a handler is a 500, not the worker's end
            return self._outgoing(request, self._failed(request, exc))
        if isinstance(result, Response):
            return self._outgoing(request, result)
        return self._finish(request, result)

    async def _finish(self, request: Request, pending: Awaitable[Any]) -> Response:
        try:
            response = to_response(await pending)
            if isinstance(response, RedirectResponse):
                response.checked(self.app.allowed_redirect_hosts)
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
        if self.app.metering is not None:
            self.app.metering.answered(request, response.status)
        if request.csrf_id is not None:
            cookie = csrf_cookie(request)
            if cookie is not None:
                response.headers.append(("Set-Cookie", cookie))
        if request.flash_out is not None or request.flash_taken:
            cookie = response_cookie(request)
            if cookie is not None:
                response.headers.append(("Set-Cookie", cookie))
        if response.compress and self.app.compress:
            response = compress_response(request, response)
        return add_headers(response, self.app.security_headers)

    def _failed(self, request: Request, exc: BaseException) -> Response:
        if isinstance(exc, HTTPError):
            return error_response(exc.status, exc.detail, exc.headers)
        if isinstance(exc, Redirect):
            try:
                return RedirectResponse(exc.url, external=exc.external).checked(self.app.allowed_redirect_hosts)
            except UnsafeRedirect as unsafe:
                exc = unsafe
        ref = error_ref()
        log.error("%s %s failed (ref %s)", request.method, request.path, ref, exc_info=exc)
        return error_response(500, f"Internal Server Error: {describe(exc, ref, self.app.debug or None)}")

    def _dispatch_http(self, request: Request) -> Response | Awaitable[Any]:
        path, method = request.path, request.method
        if path.startswith(CLIENT_PREFIX) and method in ("GET", "HEAD"):
            script = client_response(request)
            if script is not None:
                return script
        if path.startswith(ASSET_PREFIX) and method in ("GET", "HEAD"):
            asset = asset_response(self.app.assets, request)
            if asset is not None:
                return asset
        if path == COOKIE_PATH:
            return self._cookie_endpoint(request)
        if path == self.app.live_path or path == self.app.ready_path:
            return health_response(self.app, request)
        if self.app.metering is not None and path == self.app.metering.path:
            return self.app.metering.respond(request)
        match = self.app.router.match(method, path)
        if match.route is None and match.status == 404:
            for prefix, files in self.app.static.items():
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

            return page_response(self.app, request, route, match.params)
        if route.csrf and method not in SAFE_METHODS:
            if self.app.cross_site(request):
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
        if self.app.cross_site(request):
            return _cross_site_refusal()
        # The body only: a token in the URL would land in logs, histories and Referer headers.
        token = request.body.decode("latin-1").strip()
        headers = await self.app.redeem_cookie_token(token) if token else None
        if headers is None:
            return error_response(403, "invalid or expired cookie token")
        response = Response(b"", 204, {"Cache-Control": "no-store"})
        for h in headers:
            response.headers.append(("Set-Cookie", h))
        return response

    def _favicon(self) -> Response:
        if self.app.favicon is not None:
            return RedirectResponse(self.app.favicon, 302, external=True)  # the app named it
        # No icon: an empty one, cached, rather than a 404 on every page load.
        return Response(b"", 204, {"Cache-Control": "public, max-age=86400"})


def _cross_site_refusal() -> Response:
    return error_response(403, "Cross-site request refused: this site does not accept it from another site.")


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
