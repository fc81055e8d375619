"""Liveness and readiness: what a load balancer or an orchestrator asks a server process.

``GET /_rweb/live`` answers 200 while the process serves requests at all;
``GET /_rweb/ready`` answers 200, or 503 from the moment the process starts
to drain (``app.draining``: a SIGTERM to the built-in server, the lifespan's
shutdown under ASGI) while its WebSockets are still served, so that new
requests and sockets go elsewhere first.  Both are tiny plain-text answers,
never cached, never logged.  Paths: ``app.health(live=..., ready=...)``
(``None`` turns one off).  See docs/operations.md.
"""

from __future__ import annotations

from typing import Any

from .http import Request, Response

__all__ = [
    "LIVE_PATH",
    "READY_PATH",
    "RETRY_AFTER",
    "check_path",
    "draining_response",
    "health_response",
    "refused_while_draining",
]

LIVE_PATH = "/_rweb/live"
READY_PATH = "/_rweb/ready"
RETRY_AFTER = (
    "5"  # seconds: what a 503 of a draining process tells clients to wait before trying again
)

_HEADERS = (("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"))


def check_path(path: str | None) -> str | None:
    """A health endpoint's path as given, checked: absolute, no query; None: the endpoint is off."""
    if path is None:
        return None
    if not isinstance(path, str) or not path.startswith("/") or "?" in path or "#" in path:
        raise ValueError(f"a health path is an absolute path such as '/_rweb/ready', not {path!r}")
    return path


def draining_response() -> Response:
    """503: this process is draining (readiness, and what the built-in server answers new requests meanwhile)."""
    return Response(b"draining\n", 503, (*_HEADERS, ("Retry-After", RETRY_AFTER)))


def health_response(app: Any, request: Request) -> Response:
    """The answer at ``app.live_path`` or ``app.ready_path``."""
    if request.method not in ("GET", "HEAD"):
        return Response(b"", 405, (*_HEADERS, ("Allow", "GET, HEAD")))
    if request.path == app.ready_path and app.draining:
        return draining_response()
    return Response(b"ok\n", 200, _HEADERS)


def refused_while_draining(app: Any, method: bytes, path: str) -> bool:
    """Whether a draining server that refuses new work answers this request 503 (``drain_refuse``).

    New ``GET`` and ``HEAD`` requests, WebSocket upgrades included, are
    refused: a proxy that retries (nginx's ``proxy_next_upstream ... http_503``)
    sends them to another instance.  Other methods are served (proxies do not
    retry them), and so are the health checks.
    """
    return (
        (method == b"GET" or method == b"HEAD") and path != app.live_path and path != app.ready_path
    )
