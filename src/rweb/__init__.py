"""rweb: server-driven reactive web apps.

The server keeps each browser session's state in reactive records, renders
HTML components, tracks which component read which field, and after every
user action sends the browser only what changed, over one WebSocket.

    from rweb import reactive, start_rweb
    from rweb.html import div, span, button, component

``import rweb`` loads no transport: the server (picows) and the ASGI adapter
load when used.
"""

from typing import Any

from .app.app import App, Conn, Redirect, SharedStateError
from .core._build import COMPILED
from .html import component, raw
from .http import (
    HTMLResponse,
    HTTPError,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Request,
    Response,
    UnsafeRedirect,
    url_has_allowed_host_and_scheme,
)
from .reactive import RDict, RList, process_local, reactive
from .rendering.js_commands import JS
from .sessions.session import ConnectionInfo, UnknownAction
from .snapshot import transient

__all__ = [
    "COMPILED",
    "JS",
    "App",
    "Conn",
    "ConnectionInfo",
    "HTMLResponse",
    "HTTPError",
    "JSONResponse",
    "PlainTextResponse",
    "RDict",
    "RList",
    "Redirect",
    "RedirectResponse",
    "Request",
    "Response",
    "SharedStateError",
    "UnknownAction",
    "UnsafeRedirect",
    "asgi",
    "component",
    "process_local",
    "raw",
    "reactive",
    "start_rweb",
    "transient",
    "url_has_allowed_host_and_scheme",
]

__version__ = "0.1.0"


def start_rweb(*args: Any, **kwargs: Any) -> None:
    """Serve an app; see :func:`rweb.server.start_rweb` (loads the server on first use)."""
    from .server import start_rweb as start

    start(*args, **kwargs)


def asgi(app: App) -> Any:
    """An ASGI application serving ``app`` (uvicorn, granian, or mounted in Starlette / FastAPI)."""
    from .server.asgi import ASGIApp

    return ASGIApp(app)
