"""One user's session: the user's setup, action dispatch, and render flushes.

``session_setup(writer_id)`` (or ``session_setup(writer_id, conn)``, see
:class:`rweb.app.Conn`) returns ``(render_page, on_action)``.
``on_action(action, params)`` may also be a mapping ``{action: handler(params)}``.

A :class:`Session` is driven without any server: ``mount()`` renders the page,
``dispatch(action, params)`` runs a handler and returns the patches.  Reactive
writes made outside a dispatch (timers, other sessions) schedule a *push*
through the ``schedule`` / ``push`` callbacks the transport provides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from .http import parse_cookies
from .render import RenderError, View, error_ref

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:
    _COMPILED = False

__all__ = ["ConnectionInfo", "Session", "SetupError", "UnknownAction"]

log = logging.getLogger("rweb.session")


class UnknownAction(Exception):
    """Raise from ``on_action`` for an action the page does not handle."""

    def __init__(self, action: str):
        super().__init__(action)
        self.action = action


class SetupError(RuntimeError):
    """``session_setup`` raised, or did not return ``(render_page, on_action)``."""


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """What the browser sent when it connected: path, query, headers, cookies."""

    path: str = "/"
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    cookies: Mapping[str, str] = field(default_factory=dict)
    client: str | None = None

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


class Session:
    """The state and page of one connection."""

    __slots__ = (
        "_push_pending",
        "closed",
        "extra_actions",
        "handlers",
        "on_action",
        "push",
        "schedule",
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
    ) -> None:
        self.writer_id = writer_id
        self.handlers: Mapping[str, Callable[[dict[str, Any]], Any]] | None = (
            on_action if isinstance(on_action, Mapping) else None
        )
        self.on_action = None if self.handlers is not None else on_action
        self.extra_actions = extra_actions
        self.schedule = schedule
        self.push = push
        self._push_pending = False
        self.closed = False
        self.view = View(render_page, self._on_dirty)

    def mount(self) -> dict[str, Any]:
        """Render the page from scratch: ``{name: {"s": [...], "d": [...]}}``."""
        return self.view.mount()

    def dispatch(
        self, action: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any], tuple[str, str] | None]:
        """Run the handler for ``action`` and re-render: ``(patches, error)``.

        ``error`` is ``(code, message)`` for an unknown action, a handler that
        raised, or a component that failed to render; the patches still carry
        whatever did change.
        """
        error: tuple[str, str] | None = None
        view = self.view
        view.hold = True  # writes made by the handler are flushed below, not pushed
        try:
            handlers = self.handlers
            if handlers is not None:
                handler = handlers.get(action)
                if handler is None:
                    error = ("unknown_action", f"unknown action {action!r}")
                else:
                    handler(params)
            elif action in self.view.actions or action in self.extra_actions:
                self.on_action(action, params)  # type: ignore[misc]
            else:
                error = ("unknown_action", f"unknown action {action!r}: no element on the page binds it")
        except UnknownAction as exc:
            error = ("unknown_action", f"unknown action {exc.action!r}")
        except Exception as exc:
            ref = error_ref()
            log.error("session %s: on_action(%r) raised (ref %s)", self.writer_id, action, ref, exc_info=exc)
            error = ("handler_error", f"action {action!r} failed: {type(exc).__name__} (ref {ref})")
        finally:
            view.hold = False
        if not view._dirty:
            return {}, error
        patches = view.flush()
        if view.errors and error is None:
            error = _render_error(view.errors)
        return patches, error

    def flush(self) -> tuple[dict[str, Any], tuple[str, str] | None]:
        """Re-render what changed outside a dispatch (for a push)."""
        self._push_pending = False
        view = self.view
        patches = view.flush()
        return patches, (_render_error(view.errors) if view.errors else None)

    def _on_dirty(self) -> None:
        if self._push_pending or self.closed or self.schedule is None:
            return
        self._push_pending = True
        self.schedule(self._do_push)

    def _do_push(self) -> None:
        if self.closed or not self._push_pending:
            return
        patches, error = self.flush()
        if (patches or error) and self.push is not None:
            self.push(patches, error)

    def call(self, fn: Callable[..., Any], *args: Any) -> tuple[dict[str, Any], tuple[str, str] | None]:
        """Run ``fn(*args)`` as an action runs (its writes batched) and re-render: ``(patches, error)``."""
        error: tuple[str, str] | None = None
        view = self.view
        hold = view.hold
        view.hold = True
        try:
            fn(*args)
        except Exception as exc:
            name = getattr(fn, "__qualname__", repr(fn))
            ref = error_ref()
            log.error("session %s: %s raised (ref %s)", self.writer_id, name, ref, exc_info=exc)
            error = ("handler_error", f"{name} failed: {type(exc).__name__} (ref {ref})")
        finally:
            view.hold = hold
        self._push_pending = False
        if not view._dirty:
            return {}, error
        patches = view.flush()
        if view.errors and error is None:
            error = _render_error(view.errors)
        return patches, error

    def close(self) -> None:
        self.closed = True
        self.view.close()


def _render_error(errors: list[RenderError]) -> tuple[str, str]:
    return ("render_error", "; ".join(e.public for e in errors))
