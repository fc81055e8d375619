"""One user's session: the user's setup, action dispatch, and render flushes.

``session_setup(writer_id)`` (or ``session_setup(writer_id, conn)``, see
:class:`rweb.app.Conn`) returns ``(render_page, on_action)``.
``on_action(action, params)`` may also be a mapping ``{action: handler(params)}``.
Either may be ``async def`` (see docs/handlers.md).

A :class:`Session` is driven without any server: ``mount()`` renders the page,
``dispatch(action, params)`` runs a handler and returns the patches.  Reactive
writes made outside a dispatch (timers, other sessions) schedule a *push*
through the ``schedule`` / ``push`` callbacks the transport provides.

Whatever user code raises (``KeyboardInterrupt``, ``SystemExit`` and
``asyncio.CancelledError`` included) becomes an error reply and a log line;
only the cancellation of an async handler's own task (its socket closed, the
loop stopping) goes on as a cancellation.  A synchronous handler, setup or
render that holds the event loop longer than ``slow`` seconds is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import CoroutineType
from typing import Any, Protocol
from urllib.parse import parse_qsl

from ..core.diff import full
from ..core.html import escape
from ..core.reactive import SharedStateError, end, trim
from ..rendering.render import (
    ROOT,
    ComponentState,
    RenderError,
    View,
    ViewOwner,
    acting,
    describe,
    error_ref,
)
from ..words.http_base import parse_cookies
from ..words.protocol import ErrorCode

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:  # plain Python without Cython: what _ticks asks of it
    from ..core._nocython import cython

    _COMPILED = False

__all__ = [
    "SLOW_CALLBACK",
    "ConnectionInfo",
    "FrameworkActions",
    "PushTarget",
    "Session",
    "SetupError",
    "UnknownAction",
    "report_slow",
]

log = logging.getLogger("rweb.session")

SLOW_CALLBACK = 0.1
"""Seconds a synchronous handler, setup or render may hold the event loop before it is logged
(``App(slow_callback_ms=...)``; asyncio's debug mode uses the same 100 ms)."""

SLOW_LOG_INTERVAL = 60.0
"""The same slow handler (or render, or setup) is logged at most once in this many seconds."""

_monotonic = time.monotonic


def _ticks() -> float:
    """Seconds on a monotonic clock, to time user code.

    Compiled, a coarse clock (CLOCK_MONOTONIC_COARSE: a few ms of resolution,
    a few ns a read, see session.pxd), plenty for a threshold of 100 ms and
    cheap enough to read three times a click.
    """
    # cython.compiled is a constant to Cython: compiled, this is one C call.
    return _coarse_ticks() if cython.compiled else _monotonic()  # type: ignore[name-defined]  # noqa: F821 (_coarse_ticks: a C function of session.pxd)


class FrameworkActions(Protocol):
    """What answers the framework's actions on a page (:attr:`Session.framework_actions`): a live
    page's :class:`rweb.flash.PageFlash` (its messages' dismissal), no object made per session."""

    def framework_handler(self, action: str) -> Callable[[dict[str, Any]], Any] | None:
        """The handler of framework action ``action`` on this page, or None (unknown)."""


class UnknownAction(Exception):
    """Raise from ``on_action`` for an action the page does not handle."""

    def __init__(self, action: str):
        super().__init__(action)
        self.action = action


class SetupError(RuntimeError):
    """``session_setup`` raised, or did not return ``(render_page, on_action)``."""


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """What the browser sent when it connected: path, query, headers, cookies; ``flash``: the
    flash messages handed to the page (a token signed by the app, rweb.flash), or None."""

    path: str = "/"
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    cookies: Mapping[str, str] = field(default_factory=dict)
    client: str | None = None
    flash: str | None = None

    @classmethod
    def from_request(
        cls, target: str, headers: Iterable[tuple[str, str]], client: str | None = None
    ) -> ConnectionInfo:
        """Build from a request target (``/ws?x=1``) and raw header pairs."""
        path, _, qs = target.partition("?")
        hdrs: dict[str, str] = {}
        for k, v in headers:
            k = k.lower()
            hdrs[k] = f"{hdrs[k]}, {v}" if k in hdrs and k != "cookie" else v
        cookies = parse_cookies(hdrs.get("cookie"))
        query = dict(parse_qsl(qs, keep_blank_values=True)) if qs else {}
        return cls(path=path or "/", query=query, headers=hdrs, cookies=cookies, client=client)


class PushTarget:
    """What a session's pushes go to may subclass this (a live page's :class:`rweb.connection.Connection`
    does) to be warmed ahead of a fan-out's push to it (:meth:`Session.warm`)."""

    __slots__ = ()

    def warm(self) -> None:
        """A push comes soon: ask the CPU for the objects it reads (a hint; by default nothing)."""


# The transport's scheduler class last asked about, and its ``holds_pushes`` (None: it has none):
# one class per process in practice, so a page keeps no bound method for it.
_holds_cls: Any = None
_holds_fn: Any = None


def _holds_pushes(sched: Any) -> bool:
    """Does the scheduler ``sched`` hold this page's pushes back now (picows: its socket is paused)?"""
    global _holds_cls, _holds_fn
    cls = type(sched)
    if cls is not _holds_cls:
        _holds_cls = cls
        _holds_fn = getattr(cls, "holds_pushes", None)
    return _holds_fn is not None and bool(_holds_fn(sched))


class Session(ViewOwner):
    """The state and page of one connection.

    ``dispatch(action, params)`` answers ``(patches, error)``; for an async
    handler it answers ``(None, awaitable)`` instead, and the page stays held
    (nothing is pushed) until ``await finish(action, awaitable)`` has run the
    handler and re-rendered.
    """

    __slots__ = (
        "_push_pending",
        "closed",
        "debug",
        "extra_actions",
        "framework_actions",
        "handlers",
        "meter",
        "on_action",
        "push",
        "schedule",
        "slow",
        "view",
        "writer_id",
    )

    def __init__(
        self,
        render_page: Callable[[], Any],
        on_action: Any,
        writer_id: Any = 0,
        extra_actions: frozenset[str] = frozenset(),
        schedule: Callable[[Callable[[], None]], Any] | None = None,
        push: Callable[[dict[str, Any], tuple[str, str] | None], None] | None = None,
        slow: float = SLOW_CALLBACK,
        debug: bool = False,
        fanout: Callable[[Callable[[], None]], Any] | None = None,
    ) -> None:
        self.writer_id = writer_id
        self.debug = debug  # errors shown to the browser carry their message and traceback (App(debug=True))
        self.handlers: Mapping[str, Callable[[dict[str, Any]], Any]] | None = (
            on_action if isinstance(on_action, Mapping) else None
        )
        self.on_action = None if self.handlers is not None else on_action
        self.extra_actions = extra_actions
        # What answers the framework's actions on this page (names starting with
        # rweb.protocol.FRAMEWORK_ACTION_PREFIX: a flash message's dismissal): a live page's flash
        # (rweb.flash.PageFlash.framework_handler), set by whoever makes its session.  Asked only for an
        # action the page does not answer itself: the page's own actions pay nothing for them.
        self.framework_actions: FrameworkActions | None = None
        self.schedule = schedule
        self.push = push
        self._push_pending = False
        self.closed = False
        self.meter: Any = None  # rweb.meter.Meter while metrics are on (set by the connection)
        # Seconds of user code that are logged as blocking the loop (0: never).
        self.slow = slow
        self.view = View(render_page, self)  # the session is its view's owner (rweb.render.ViewOwner)
        # Sent over a socket: rows of one shape share their statics on the wire (View.share_statics).
        self.view.share = schedule is not None
        if fanout is not None and schedule is not None:
            # Served: the page's components may share renders with other pages (rweb.render.SharedRender).
            self.view.fanout = fanout

    def mount(self) -> dict[str, Any]:
        """Render the page from scratch: ``{name: {"s": [...], "d": [...]}}``."""
        t0 = _ticks()
        try:
            components = self.view.mount()
        except Exception:
            raise
        except BaseException as exc:  # let through by the render: a failed page all the same
            raise _abort_render(self.view, exc) from exc
        _lap(self, "render", "", t0)
        return components

    def dispatch(
        self, action: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, Any]:
        """Run the handler for ``action`` and re-render: ``(patches, error)``.

        ``error`` is ``(code, message)`` for an unknown action, a handler that
        raised, or a component that failed to render; the patches still carry
        whatever did change.  An async handler answers ``(None, awaitable)``:
        see :meth:`finish`.
        """
        error: tuple[str, str] | None = None
        result = None
        view = self.view
        view.hold = True  # writes made by the handler are flushed below, not pushed
        prev = acting(view)  # a shared render it writes: in this reply too (rweb.render.acting)
        t0 = _ticks()
        try:
            handlers = self.handlers
            if handlers is not None:
                handler = handlers.get(action)
                if handler is not None:
                    result = handler(params)
                else:
                    result, error = self._framework(action, params, "")
            elif action in view.actions or action in self.extra_actions:
                result = self.on_action(action, params)  # type: ignore[misc]
            else:
                result, error = self._framework(action, params, ": no element on the page binds it")
        except UnknownAction as exc:
            error = (ErrorCode.UNKNOWN_ACTION, f"unknown action {exc.action!r}")
        except BaseException as exc:  # KeyboardInterrupt, SystemExit, CancelledError too: see docs/handlers.md
            error = self._failed(action, exc)
        acting(prev)
        if result is not None and _is_awaitable(result):
            return None, result  # still held: finish() awaits it, then re-renders
        view.hold = False
        t1 = _lap(self, "handler", action, t0)
        if not view.dirty:
            return {}, error
        meter = self.meter
        t2 = 0.0 if meter is None else meter.render_start()  # metrics on: counted, timed 1 in N
        try:
            patches = view.flush()
        except BaseException as exc:  # a render let it through: see _recover
            patches = self._recover(exc)
        if t2 != 0.0:
            meter.render_done(t2)  # t2: only with a meter
        _lap(self, "render", action, t1)
        if view.errors and error is None:
            error = _render_error(view.errors, self.writer_id, f"action {action!r}", self.debug or None)
        return patches, error

    def _framework(self, action: str, params: dict[str, Any], why: str) -> tuple[Any, tuple[str, str] | None]:
        """An action the page does not answer: the framework's (:attr:`framework_actions`), or else unknown."""
        answers = self.framework_actions
        handler = answers.framework_handler(action) if answers is not None else None
        if handler is None:
            return None, (ErrorCode.UNKNOWN_ACTION, f"unknown action {action!r}{why}")
        return handler(params), None

    async def finish(self, action: str, pending: Any) -> tuple[dict[str, Any], tuple[str, str] | None]:
        """Await the async handler that :meth:`dispatch` started, then re-render: ``(patches, error)``.

        What the handler raises becomes the error, as for a synchronous one,
        except what stops the task running this: its cancellation
        (``CancelledError`` while ``Task.cancelling()``: the socket closed, the
        loop is stopping) and the closing of this coroutine (``GeneratorExit``
        thrown in from outside the task's step): those go on.
        """
        error: tuple[str, str] | None = None
        view = self.view
        task = _current_task()
        try:
            await pending
        except UnknownAction as exc:
            error = (ErrorCode.UNKNOWN_ACTION, f"unknown action {exc.action!r}")
        except BaseException as exc:
            if _task_cancelled(exc) or (
                isinstance(exc, GeneratorExit) and (task is None or _current_task() is not task)
            ):
                view.hold = False
                raise
            error = self._failed(action, exc)
        view.hold = False
        if self.closed:
            return {}, error
        return self._rerender(action, error)

    def abandon(self, pending: Any) -> None:
        """An awaitable from :meth:`dispatch` that will never be awaited: discard it and release the page."""
        _discard(pending)
        self.view.hold = False
        if self.view.dirty and not self.closed:
            self.view_dirty()

    def flush(self) -> tuple[dict[str, Any], tuple[str, str] | None]:
        """Re-render what changed outside a dispatch (for a push)."""
        self._push_pending = False
        return self._rerender("", None)

    def _rerender(self, action: str, error: tuple[str, str] | None) -> tuple[dict[str, Any], tuple[str, str] | None]:
        view = self.view
        if not view.dirty:
            return {}, error
        t0 = _ticks()
        meter = self.meter
        t1 = 0.0 if meter is None else meter.render_start()  # metrics on: counted, timed 1 in N
        try:
            patches = view.flush()
        except BaseException as exc:
            patches = self._recover(exc)
        if t1 != 0.0:
            meter.render_done(t1)  # t1: only with a meter
        _lap(self, "render", action, t0)
        if view.errors and error is None:
            error = _render_error(view.errors, self.writer_id, f"after {action}" if action else "a push", self.debug or None)
        return patches, error

    def view_dirty(self) -> None:
        """A component became dirty outside a dispatch: push its change soon (rweb.render.ViewOwner)."""
        if self._push_pending or self.closed or self.schedule is None:
            return
        self._push_pending = True
        self.schedule(self._do_push)

    def _do_push(self) -> None:
        if self.closed or not self._push_pending:
            return
        if self.view.hold:  # an async handler is running: its reply carries the changes
            self._push_pending = False
            return
        patches, error = self.flush()
        if (patches or error) and self.push is not None:
            self.push(patches, error)

    def take_shared(self, patches: dict[str, Any]) -> bool:
        """A render shared with other pages changed: push its ``patches`` now; False: not now.

        Not while this page is held (an action's handler runs: its reply carries
        the change) or already has a push to make (that push carries it), nor to
        a socket whose pushes are held back (it does not drain: they are
        coalesced): then the component is marked dirty, as for any write.
        """
        view = self.view
        if self.closed or view.hold or self._push_pending or view.dirty or self.push is None:
            return False
        if _holds_pushes(self.schedule):
            return False
        self.push(patches, None)
        return True

    def warm(self, hop: int) -> None:
        """:meth:`take_shared` is called soon (rweb.render.ViewOwner.warm): ask for the objects a push
        reads: with ``hop`` 0, what it pushes to (the connection) and what schedules it (the
        transport's listener); with ``hop`` 1, what the push target reads in turn (PushTarget.warm)."""
        if cython.compiled:
            _warm_push(self, hop)  # type: ignore[name-defined]  # noqa: F821

    def call(self, fn: Callable[..., Any], *args: Any) -> tuple[dict[str, Any], tuple[str, str] | None]:
        """Run ``fn(*args)`` as an action runs (its writes batched) and re-render: ``(patches, error)``."""
        error: tuple[str, str] | None = None
        view = self.view
        hold = view.hold
        view.hold = True
        prev = acting(view)
        name = _name(fn)
        t0 = _ticks()
        try:
            result = fn(*args)
            if result is not None and _is_awaitable(result):
                _discard(result)
                raise TypeError(f"{name} is async: only synchronous functions run here")
        except BaseException as exc:  # as in dispatch: nothing user code raises escapes
            ref = error_ref()
            log.error(
                "session %s: %s raised %s (ref %s)", self.writer_id, name, type(exc).__name__, ref, exc_info=exc
            )
            error = (ErrorCode.HANDLER_ERROR, f"{name} failed: {describe(exc, ref, self.debug or None)}")
        finally:
            view.hold = hold
            acting(prev)
        _lap(self, "function", name, t0)
        self._push_pending = False
        return self._rerender(name, error)

    def close(self) -> None:
        self.closed = True
        self.view.close()

    # -- failures -------------------------------------------------------------------

    def _failed(self, action: str, exc: BaseException) -> tuple[str, str]:
        ref = error_ref()
        log.error(
            "session %s: on_action(%r) raised %s (ref %s)",
            self.writer_id, action, type(exc).__name__, ref, exc_info=exc,
        )
        return (ErrorCode.HANDLER_ERROR, f"action {action!r} failed: {describe(exc, ref, self.debug or None)}")

    def _recover(self, exc: BaseException) -> dict[str, Any]:
        """A render let an exception through its component (a BaseException): set the page right.

        The flush stopped half-way and its patches are lost: the trackers are
        restored, the component that raised keeps its last render (an empty
        stand-in if it had none), what else was dirty renders again, and every
        component is sent whole, so that the browser matches the server.  The
        render error is in ``view.errors``.
        """
        view = self.view
        err = _abort_render(view, exc)
        log.error("session %s: component %r failed to render (ref %s)", self.writer_id, err.component, err.ref,
                  exc_info=exc)
        for _ in range(3):  # each failure takes its component out of the next pass
            view.dirty = [c for c in view.comps.values() if c.dirty] or None
            try:
                view.flush()
                break
            except BaseException as again:
                bad = _abort_render(view, again)
                log.error("session %s: component %r failed to render (ref %s)", self.writer_id, bad.component,
                          bad.ref, exc_info=again)
        else:
            for c in view.comps.values():
                c.dirty = False
            view.dirty = None
        comps = view.comps
        # Components made by a render that was cut short and not used since are on no page.
        live: set[str] = set()
        todo = [view.root]
        while todo:
            c = todo.pop()
            live.add(c.name)
            for child in c.children:
                cc = comps.get(child)
                if cc is not None and cc.parent is c and child not in live:
                    todo.append(cc)
        for name in [n for n in comps if n not in live]:
            view.dispose(name, {}, False)
        patches = {
            c.name: full(c.statics, c.dyns)
            for c in sorted(comps.values(), key=_depth)
            if c.statics is not None and c.dyns is not None
        }
        view.report(err)
        return patches

    # -- blocking ---------------------------------------------------------------------

    def report_blocked(self, what: str, action: str, seconds: float) -> None:
        if what == "handler":
            if self.handlers is not None:
                fn = self.handlers.get(action)
                name = f"handler {_name(fn)} (action {action!r})"
            else:
                name = f"on_action {_name(self.on_action)} (action {action!r})"
        elif what == "render":
            name = f"render of {_name(self.view.root.fn)}" + (f" after {action!r}" if action else "")
        else:
            name = action
        report_slow(name, self.writer_id, seconds, self.slow)


def _lap(session: Session, what: str, action: str, t0: float) -> float:
    """Now, after logging ``what`` if it held the loop since ``t0`` for over ``session.slow`` seconds."""
    t = _ticks()
    slow = session.slow
    if t - t0 > slow and slow > 0.0:
        _slow_path(session, what, action, t - t0)
    return t


def _slow_path(session: Session, what: str, action: str, seconds: float) -> None:
    session.report_blocked(what, action, seconds)


def report_slow(name: str, writer_id: Any, seconds: float, threshold: float) -> None:
    """Log (at most once a minute per ``name``) that ``name`` held the event loop for ``seconds``."""
    now = _monotonic()
    last = _slow_logged.get(name)
    if last is not None and now - last < SLOW_LOG_INTERVAL:
        return
    if len(_slow_logged) >= 1024:
        _slow_logged.clear()
    _slow_logged[name] = now
    log.warning(
        "session %s: %s blocked the event loop for %.0f ms (limit %.0f ms): every session of this worker "
        "waited; run blocking work off the loop (docs/handlers.md)",
        writer_id, name, seconds * 1000, threshold * 1000,
    )


_slow_logged: dict[str, float] = {}


def _name(fn: Any) -> str:
    """``module.qualname`` of a function, for the log."""
    qualname = getattr(fn, "__qualname__", None)
    if qualname is None:
        return repr(fn)
    module = getattr(fn, "__module__", None)
    return f"{module}.{qualname}" if module else qualname


def _is_awaitable(result: Any) -> bool:
    return type(result) is CoroutineType or hasattr(type(result), "__await__")


def _discard(pending: Any) -> None:
    """Close a coroutine that will not run (no "never awaited" warning), or cancel a future."""
    close = getattr(pending, "close", None)
    if close is not None:
        close()
    else:
        cancel = getattr(pending, "cancel", None)
        if cancel is not None:
            cancel()


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no loop running
        return None


def _task_cancelled(exc: BaseException) -> bool:
    """Is ``exc`` the cancellation of the running task (not a CancelledError the handler came upon)?"""
    if not isinstance(exc, asyncio.CancelledError):
        return False
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no loop running: nothing to tell apart
        return True
    return task is None or task.cancelling() > 0


def _abort_render(view: View, exc: BaseException) -> RenderError:
    """Undo what a render cut short by ``exc`` left behind; the error, for the component that raised.

    The innermost component rendering raised: it keeps its last render (or an
    empty stand-in) and is no longer dirty; the components rendering around
    it stopped half-way and are dirty again.
    """
    ctx = view.rendering
    failed = None
    while ctx is not None:
        comp = ctx.comp
        if comp is not None:
            trim(comp)  # what it read before it stopped: the rest of its last render's entries dropped
        if failed is None:
            failed = comp
        elif comp is not None:
            comp.dirty = True
        ctx = ctx.outer
    view.rendering = None
    end(None)  # the renders cut short left their trackers current
    if failed is None:
        return RenderError(ROOT, exc)
    failed.dirty = False
    if failed.statics is None:
        failed.statics = (f'<div data-rc="{escape(failed.name)}" data-rweb-error=""></div>',)
        failed.dyns = []
    return RenderError(failed.name, exc)


def _depth(c: ComponentState) -> int:
    return c.depth


def _render_error(
    errors: list[RenderError], writer_id: Any = None, cause: str = "", debug: bool | None = None
) -> tuple[str, str]:
    """The error a render failure gives the browser; the log says which session, and what caused it
    (the render's own log line, with the traceback, names the component)."""
    if cause:
        for e in errors:
            log.error("session %s: %s: component %r failed to render (ref %s)", writer_id, cause, e.component, e.ref)
    return (render_error_code(errors), "; ".join(e.shown(debug) for e in errors))


def render_error_code(errors: list[RenderError]) -> ErrorCode:
    """``shared_state`` when a component was refused state that sessions share (the log says what
    to do: SharedStateError's message), else ``render_error``."""
    for e in errors:
        if isinstance(e.cause, SharedStateError):
            return ErrorCode.SHARED_STATE
    return ErrorCode.RENDER_ERROR
