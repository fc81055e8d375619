"""What a live :class:`~rweb.connection.Connection` needs of the app, and of its page's conn.

The connection does not import the app: it is handed an object with the
interface :class:`Runtime` describes (an :class:`rweb.App`), and its page's
setup gets a conn with the interface :class:`LiveConn` describes (an
:class:`rweb.Conn`).  Everything the connection reads or calls is named here,
so that what ties a socket to the rest of the application can be read (and
replaced, in a test) in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..sessions.session import ConnectionInfo

__all__ = ["LiveConn", "Runtime"]


class LiveConn(Protocol):
    """The part of :class:`rweb.Conn` a live connection reads and drives."""

    route: Any  # the page's rweb.routing.Route (None: no page at the path)
    path: str
    params: Mapping[str, Any]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    cookies: Mapping[str, str]
    client: str | None

    @property
    def uploads(self) -> Any:
        """The page's rweb.upload.Uploads, or None when it allows none."""

    @property
    def params_hook(self) -> Callable[..., Any] | None:
        """``conn.on_params``' callback, or None."""

    def attach(self, connection: Any) -> None:
        """Tie the conn to the live connection that serves it (None: no longer)."""

    def take_closers(self) -> list[Callable[[], Any]] | None:
        """The session's ``on_close`` callbacks, for the ending connection to run (once)."""

    def flash_token(self) -> str | None:
        """The flash messages that go on to the page a live navigation shows next (signed), or None."""


class Runtime(Protocol):
    """The app's services a live connection uses (an :class:`rweb.App` has them)."""

    title: str
    debug: bool
    actions: frozenset[str]
    max_message_size: int
    resume_grace: float
    slow_callback: float
    snapshots: Any  # rweb.snapshot.Snapshots, or None without a snapshot store
    tracer: Any  # an OpenTelemetry tracer after App.tracing(), else None
    fanout: Callable[..., None]  # call_soon for renders shared between sessions (rweb.render.SharedRender)
    meter: Any  # rweb.meter.Meter while metrics are on (app.metrics()), else None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop that runs the sessions (async handlers, timers, restores)."""

    def page_for(self, path: str) -> tuple[Any, Mapping[str, Any]] | None:
        """The reactive page route at ``path`` and its parameters, or None."""

    def make_conn(self, info: ConnectionInfo, *, live: bool, writer_id: Any = None) -> Any:
        """The conn (:class:`LiveConn`) a page's setup gets for the socket request ``info``."""

    def bare_conn(self, writer_id: Any) -> Any:
        """A conn for work in a session whose setup kept none (no headers known)."""

    def setup(self, conn: Any) -> tuple[Callable[[], Any], Any]:
        """Run the page's setup: ``(render_page, on_action)``; raises SetupError or Redirect."""

    def keeps_conn(self, conn: Any) -> bool:
        """Must the session keep its conn (hooks, live navigation, a setup that takes it)?"""

    def session_started(self, conn: Any, connection: Any) -> None:
        """``connection``'s session is live: registered by writer id, start hooks run (with a conn)."""

    def session_ended(self, conn: Any, connection: Any) -> None:
        """``connection``'s session ended: unregistered, end hooks run (when it had started)."""

    def session_moved(self, connection: Any) -> None:
        """``connection`` took its writer id's session over (a resume): it is the registered one now."""

    def resume_token(self, connection: Any) -> str:
        """The token that resumes ``connection``'s session after a lost socket."""

    def resume_target(self, token: str, info: ConnectionInfo) -> Any:
        """What a resume ``token`` names: a Connection, another process's snapshot key, or None."""

    def detached(self, connection: Any) -> None:
        """``connection``'s session waits for its browser (counted against the caps)."""

    def undetached(self, connection: Any) -> None:
        """``connection`` waits no longer."""
