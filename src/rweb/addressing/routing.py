"""Routes: paths with parameters, matched to reactive pages and plain handlers.

A path pattern is literal text with ``{name}`` parameters: ``/items/{item_id}``.
A parameter matches one path segment unless it says otherwise:
``{n:int}`` (digits, converted to ``int``), ``{slug:str}`` (the default),
``{rest:path}`` (the rest of the path, slashes included).

:meth:`Router.match` answers the route and its parameters, or says whether the
path is unknown (404) or known for other methods (405, with the allowed ones).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Match", "Route", "Router"]

_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?}")
_CONVERTERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "str": (r"[^/]+", str),
    "int": (r"[0-9]+", int),
    "path": (r".*", str),
}


@dataclass(eq=False)
class Route:
    """One path pattern, the methods it answers and what answers them.

    ``kind`` is ``"page"`` (a reactive page: ``endpoint`` is its session
    setup) or ``"http"`` (a plain handler: request -> response).

    ``csrf`` (plain handlers; docs/security.md): ``True``, the default, refuses
    state-changing requests from other sites (``Origin`` / ``Sec-Fetch-Site``);
    ``"token"`` requires a valid CSRF token as well; ``False`` accepts any
    site (a webhook, an endpoint other sites post to by design).

    ``auth`` (pages; docs/auth.md): a guard ``auth(conn) -> user`` that runs
    before the page's setup wherever it runs (first paint, live join, live
    navigation); it returns the user (``conn.user``) or raises ``Redirect``.
    An ``async def`` guard (its database lookup off the event loop) is
    awaited ahead of the setup by whoever sets the page up
    (:meth:`await_guard`); the setup reads its outcome (:meth:`guard`).
    """

    path: str
    endpoint: Callable[..., Any]
    kind: str
    methods: frozenset[str]
    name: str = ""
    title: str | None = None
    on_params: Callable[..., Any] | None = None
    csrf: bool | str = True
    auth: Callable[..., Any] | None = None
    regex: re.Pattern[str] = field(init=False, repr=False)
    converters: dict[str, Callable[[str], Any]] = field(init=False, repr=False)
    async_guard: bool = field(init=False, repr=False)  # ``auth`` is ``async def``: see await_guard

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"a route path starts with '/': {self.path!r}")
        if not (type(self.csrf) is bool or self.csrf == "token"):
            raise ValueError(f"csrf is True, False or 'token', not {self.csrf!r}")
        if self.auth is not None and not callable(self.auth):
            raise TypeError("a page's auth guard must be callable: auth(conn) -> user")
        self.async_guard = self.auth is not None and _is_async(self.auth)
        pattern, pos, self.converters = "^", 0, {}
        for m in _PARAM.finditer(self.path):
            name, conv = m.group(1), m.group(2) or "str"
            if conv not in _CONVERTERS:
                raise ValueError(f"unknown converter {conv!r} in {self.path!r} (str, int, path)")
            if name in self.converters:
                raise ValueError(f"parameter {name!r} appears twice in {self.path!r}")
            regex, convert = _CONVERTERS[conv]
            pattern += re.escape(self.path[pos : m.start()]) + f"(?P<{name}>{regex})"
            self.converters[name] = convert
            pos = m.end()
        self.regex = re.compile(pattern + re.escape(self.path[pos:]) + "$")
        if not self.name:
            self.name = getattr(self.endpoint, "__name__", self.path)

    def guard(self, conn: Any) -> Any:
        """The page's guard, run by the setup (App.setup): the user, or what the guard raised.

        A sync guard runs here.  An async one was awaited before the setup
        (:meth:`await_guard`): its outcome, kept on the conn, is taken here.
        """
        assert self.auth is not None
        if not self.async_guard:
            return self.auth(conn)
        outcome, conn.guarded = conn.guarded, None
        if outcome is None:
            raise RuntimeError(f"the guard of {self.path} is async: it is awaited before the setup (Route.await_guard)")
        user, error = outcome
        if error is not None:
            raise error  # the setup's own handling: a Redirect, an HTTPError, a failure
        return user

    async def await_guard(self, conn: Any) -> None:
        """Await the page's async guard ahead of its setup (the first paint, a live join, a live
        navigation): the event loop serves other sessions meanwhile.  Its outcome, the user or
        the exception it raised, waits on the conn for :meth:`guard`."""
        assert self.auth is not None
        try:
            conn.guarded = (await self.auth(conn), None)
        except Exception as exc:  # a CancelledError (the socket closed meanwhile) goes on up
            conn.guarded = (None, exc)

    def match(self, path: str) -> dict[str, Any] | None:
        m = self.regex.match(path)
        if m is None:
            return None
        return {k: self.converters[k](v) for k, v in m.groupdict().items()}

    def url_for(self, **params: Any) -> str:
        """This route's path with ``params`` filled in (percent-encoded)."""
        from urllib.parse import quote

        def fill(m: re.Match[str]) -> str:
            name, conv = m.group(1), m.group(2) or "str"
            if name not in params:
                raise KeyError(f"missing parameter {name!r} for {self.path!r}")
            return quote(str(params[name]), safe="/" if conv == "path" else "")

        return _PARAM.sub(fill, self.path)


@dataclass(frozen=True, slots=True)
class Match:
    """The result of :meth:`Router.match`: a route and its parameters, or a status."""

    route: Route | None
    params: dict[str, Any]
    status: int = 200  # 404: no route has this path; 405: not for this method
    allowed: frozenset[str] = frozenset()


class Router:
    """Routes in the order they were added; the first whose pattern and method match wins."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, route: Route) -> Route:
        for r in self.routes:
            if r.path == route.path and r.methods & route.methods:
                both = ", ".join(sorted(r.methods & route.methods))
                raise ValueError(f"route {route.path!r} is already defined for {both}")
        self.routes.append(route)
        return route

    def match(self, method: str, path: str) -> Match:
        allowed: set[str] = set()
        for route in self.routes:
            params = route.match(path)
            if params is None:
                continue
            if method in route.methods or (method == "HEAD" and "GET" in route.methods):
                return Match(route, params)
            allowed |= route.methods
        if allowed:
            if "GET" in allowed:
                allowed.add("HEAD")
            return Match(None, {}, 405, frozenset(allowed))
        return Match(None, {}, 404)

    def page_for(self, path: str) -> tuple[Route, dict[str, Any]] | None:
        """The reactive page at ``path`` (what a live session joins), if any."""
        for route in self.routes:
            if route.kind == "page":
                params = route.match(path)
                if params is not None:
                    return route, params
        return None

    def by_name(self, name: str) -> Route:
        for route in self.routes:
            if route.name == name:
                return route
        raise KeyError(f"no route named {name!r}")


def takes_conn(setup: Callable[..., Any]) -> bool:
    """Does ``setup`` take ``(writer_id, conn)`` rather than ``(writer_id)``?  (cached)"""
    known = _TAKES_CONN.get(setup)
    if known is None:
        known = _TAKES_CONN[setup] = _takes_two_args(setup)
    return known


_TAKES_CONN: dict[Any, bool] = {}


def _is_async(fn: Callable[..., Any]) -> bool:
    """Is ``fn`` an ``async def`` (a function, a method, a partial of one, an object whose ``__call__`` is)?"""
    import inspect

    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)


def _takes_two_args(fn: Callable[..., Any]) -> bool:
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    n = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n >= 2
