"""The HTML page of a reactive route (its first paint) and the client script, for any transport."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable
from typing import Any

from ..addressing.routing import Route
from ..core.html import escape
from ..rendering.render import describe
from ..sessions.session import ConnectionInfo, Session, SetupError
from ..web.assets import head_links, head_scripts, rooted
from ..web.client_script import client_url
from ..web.http import HTTPError, Request, Response, error_response
from ..wire.flash import dump, flash_cookie
from ..words.protocol import assemble

__all__ = ["page_html", "page_response"]

log = logging.getLogger("rweb.server")


def page_html(app: Any, title: str, body: str, root_path: str = "", flash: str | None = None) -> bytes:
    """The whole document around a page's body: head, client script, socket URL, and ``flash``: the
    flash messages the page shows, signed for its live session (rweb.flash), if any.

    No inline script or style: the page works under a strict Content-Security-Policy
    (``script-src 'self'; style-src 'self'``, docs/security.md).  The status banner is
    empty (so invisible) until rweb.js styles it.
    """
    root = escape(root_path)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(app.lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="rweb-root" content="{root}">'
        f'<meta name="rweb-socket" content="{root}{escape(app.socket_path)}">'
        + ('<meta name="rweb-debug" content="1">' if app.debug else "")
        + (f'<meta name="rweb-flash" content="{escape(flash)}">' if flash else "")
        + f"<title>{escape(title)}</title>{head_links(app.assets, root_path)}{app.head}"
        f'<script src="{escape(rooted(root_path, client_url()))}" defer></script>{head_scripts(app.assets, root_path)}</head>'
        f'<body>{body}<div id="rweb-status" role="status" aria-live="polite"></div></body></html>'
    ).encode()


def page_response(app: Any, request: Request, route: Route, params: dict[str, Any]) -> Response | Awaitable[Response]:
    """The first paint of a reactive page: rendered by a throwaway session (``conn.live`` is False).

    As in LiveView's disconnected render, ``session_setup`` runs once for the
    HTTP request and once more for the WebSocket that follows.  Cookies the
    setup sets ride on this response; a ``Redirect`` it raises becomes a 303.
    A page whose guard is ``async def``: an awaitable of the response, the
    guard awaited first (Route.await_guard).

    Flash messages (rweb.flash): the ones a flash cookie brings are the
    page's; the cookie is deleted, and the page hands them to its live
    session.  Through a redirect, they go on with the page's own.
    """
    flash_in, flash_deletion = flash_cookie(request.cookies, request.scheme)
    info = ConnectionInfo(
        path=request.path,
        query=dict(request.query),
        headers=request.headers,
        cookies=request.cookies,
        client=request.client,
        flash=flash_in,
    )
    conn = app.make_conn(info, live=False, route=route, params=params)
    if route.async_guard:
        return _guarded_paint(app, request, conn, flash_in, flash_deletion)
    return _paint(app, request, conn, flash_in, flash_deletion)


async def _guarded_paint(app: Any, request: Request, conn: Any, flash_in: str | None, flash_deletion: str | None) -> Response:
    await conn.route.await_guard(conn)
    return _paint(app, request, conn, flash_in, flash_deletion)


def _paint(app: Any, request: Request, conn: Any, flash_in: str | None, flash_deletion: str | None) -> Response:
    """The page set up for ``conn`` (its guard's outcome ready), rendered: the response."""
    from ..web.http import Redirect, RedirectResponse

    route = conn.route
    root_path = request.root_path or app.root_path
    try:
        render_page, on_action = app.setup(conn)
    except Redirect as exc:
        response: Response = RedirectResponse(_rooted(exc.url, root_path), external=exc.external)
        for c in conn.response_cookies:
            response.headers.append(("Set-Cookie", c))
        cookie = conn.page_flash.cookie(request.scheme, shown=False)  # the page was never shown
        if cookie is not None:
            response.headers.append(("Set-Cookie", cookie))
        return response
    except SetupError as exc:
        if isinstance(exc.__cause__, HTTPError):  # the setup refused the request: its status, no log line
            response = error_response(exc.__cause__.status, exc.__cause__.detail, exc.__cause__.headers)
            for c in conn.response_cookies:
                response.headers.append(("Set-Cookie", c))
            return response
        ref = secrets.token_hex(4)
        log.error("GET %s: session setup failed (ref %s): %s", request.path, ref, exc, exc_info=exc.__cause__)
        body, status = _failed(describe(exc.__cause__ or exc, ref, app.debug or None)), 500
    else:
        session = Session(render_page, on_action, None, app.actions, slow=app.slow_callback, debug=app.debug)
        try:
            body = assemble(session.mount())
            status = 200
        except Exception as exc:
            ref = secrets.token_hex(4)
            log.error("GET %s: the page failed to render (ref %s)", request.path, ref, exc_info=exc)
            body, status = _failed(describe(exc, ref, app.debug or None)), 500
        finally:
            session.close()
    # The messages the cookie brought go on to the live session (its setup makes the page's own again).
    handed = conn.page_flash.handed() if status == 200 and flash_in else None
    html = page_html(app, route.title or app.title, body, root_path, dump(app.signer, handed) if handed else None)
    response = Response(
        html,
        status,
        {"Cache-Control": "no-store"},
        media_type="text/html; charset=utf-8",
    )
    response.compress = True  # no secret of rweb's in it (docs/security.md, "Compression")
    for c in conn.response_cookies:
        response.headers.append(("Set-Cookie", c))
    if flash_deletion is not None:
        response.headers.append(("Set-Cookie", flash_deletion))
    return response


def _failed(what: str) -> str:
    # The exception's text stays in the log (unless in debug mode); the visitor gets a reference to quote.
    return f'<div data-rc="root"><p>This page failed to load: {escape(what)}.</p></div>'

def _rooted(url: str, root_path: str) -> str:
    if root_path and url.startswith("/") and not url.startswith(root_path + "/") and url != root_path:
        return root_path + url
    return url
