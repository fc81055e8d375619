"""rweb: server-driven reactive web apps.

The server keeps each browser session's state in reactive records, renders
HTML components, tracks which component read which field, and after every
user action sends the browser only what changed, over one WebSocket.

    from rweb import reactive, start_rweb
    from rweb.html import div, span, button, component
"""

from ._build import COMPILED, stale_extensions
from .html import component, raw
from .reactive import RDict, RList, reactive
from .server import start_rweb
from .session import App, ConnectionInfo, UnknownAction

__all__ = [
    "COMPILED",
    "App",
    "ConnectionInfo",
    "RDict",
    "RList",
    "UnknownAction",
    "component",
    "raw",
    "reactive",
    "stale_extensions",
    "start_rweb",
]

__version__ = "0.1.0"
