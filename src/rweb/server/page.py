"""The HTML page served at ``GET /`` and the client script, for any transport."""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from importlib import resources
from typing import Any

from ..diff import CRef
from ..html import escape
from ..render import ROOT, View
from ..session import App, ConnectionInfo

__all__ = ["CLIENT_PATH", "client_js", "component_html", "render_page"]

log = logging.getLogger("rweb.server")

CLIENT_PATH = "/_rweb/rweb.js"


@lru_cache(maxsize=1)
def client_js() -> tuple[bytes, str]:
    """The browser client and its ETag."""
    data = resources.files("rweb").joinpath("client/rweb.js").read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:16] + '"'


def component_html(view: View, name: str = ROOT) -> str:
    """A component's current HTML, with its children inlined."""
    out: list[str] = []
    _emit(view, name, out)
    return "".join(out)


def _emit(view: View, name: str, out: list[str]) -> None:
    c = view.comps[name]
    statics, dyns = c.statics, c.dyns
    assert statics is not None and dyns is not None
    for i, d in enumerate(dyns):
        out.append(statics[i])
        if type(d) is CRef:
            _emit(view, d.name, out)
        else:
            out.append(d)
    out.append(statics[-1])


_STYLE = (
    "#rweb-status{display:none}"
    "html.rweb-disconnected #rweb-status{display:block;position:fixed;top:0;left:0;right:0;"
    "padding:4px 8px;background:#b00020;color:#fff;font:14px sans-serif;text-align:center;z-index:2147483647}"
)


def render_page(app: App, info: ConnectionInfo, writer_id: Any = None) -> tuple[int, bytes]:
    """``(status, html)`` for the first paint: the page rendered by a throwaway session.

    As in LiveView's disconnected render, ``session_setup`` runs once for the
    HTTP request and once more for the WebSocket that follows.
    """
    title = escape(app.title)
    try:
        session = app.session(writer_id, info)
        try:
            session.mount()
            body = component_html(session.view)
        finally:
            session.close()
        status = 200
    except Exception as exc:
        log.error("GET %s: the page failed to render", info.path, exc_info=exc)
        body = '<div data-rc="root"><p>This page failed to render.</p></div>'
        status = 500
    html = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_STYLE}</style>{app.head}"
        f'<script src="{CLIENT_PATH}" defer></script></head>'
        f'<body>{body}<div id="rweb-status" role="status" aria-live="polite"></div></body></html>'
    )
    return status, html.encode()
