"""Plain HTTP: requests, responses and cookies, independent of any transport.

A plain handler (``@app.get``, ``@app.post``, ...) takes a :class:`Request` and
returns a :class:`Response` (or a ``str`` for an HTML page, a ``dict`` or
``list`` for JSON).  The transports (the built-in server, the ASGI adapter,
``rweb.testing``) build the request and write the response; nothing here
touches a socket.

Cookies are set with the secure defaults a login cookie needs
(``HttpOnly``, ``Secure``, ``SameSite=Lax``, ``Path=/``); every attribute can
be changed per cookie.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson

from ..core.html import input_
from ..wire import security
from ..wire.flash import Flash, checked_flash, flash_cookie, load
from ..wire.formdata import parse_multipart
from ..words.http_base import (
    Headers,
    HTMLResponse,
    HTTPError,
    JSONResponse,
    PlainTextResponse,
    QueryParams,
    Redirect,
    RedirectResponse,
    Response,
    UnsafeRedirect,
    check_header,
    check_headers,
    check_redirect,
    error_response,
    format_cookie,
    is_local_path,
    parse_cookies,
    url_has_allowed_host_and_scheme,
)

__all__ = [
    "HTMLResponse",
    "HTTPError",
    "Headers",
    "JSONResponse",
    "PlainTextResponse",
    "QueryParams",
    "Redirect",
    "RedirectResponse",
    "Request",
    "Response",
    "UnsafeRedirect",
    "check_header",
    "check_headers",
    "check_redirect",
    "error_response",
    "format_cookie",
    "is_local_path",
    "parse_cookies",
    "url_has_allowed_host_and_scheme",
]

# -- requests ------------------------------------------------------------------


class Request:
    """One plain HTTP request, as a handler sees it.

    ``path`` is the path within the app (after any mount prefix, which is
    ``root_path``), percent-decoded; ``path_params`` holds the route's
    parameters; ``query``, ``headers`` and ``cookies`` are read-only mappings;
    ``body`` is the whole body (bounded by the app's ``max_body_size``).
    """

    __slots__ = (
        "_cookies",
        "_form",
        "_query",
        "app",
        "body",
        "client",
        "csrf_id",
        "flash_out",
        "flash_taken",
        "headers",
        "method",
        "path",
        "path_params",
        "query_string",
        "root_path",
        "route",
        "scheme",
    )

    def __init__(
        self,
        method: str,
        path: str,
        *,
        query_string: str = "",
        headers: Headers | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        client: str | None = None,
        scheme: str = "http",
        root_path: str = "",
        app: Any = None,
    ) -> None:
        self.method = method.upper()
        self.path = path or "/"
        self.query_string = query_string
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = body
        self.client = client
        self.scheme = scheme
        self.root_path = root_path
        self.app = app
        self.path_params: dict[str, Any] = {}
        self.route: Any = None  # the rweb.routing.Route that matched (None: none, or not yet)
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._form: QueryParams | None = None
        self.csrf_id: str | None = None  # a CSRF id made by csrf_token(), set on the response
        self.flash_out: list[Flash] | None = None  # flash messages for the next page (flash()), set on the response
        self.flash_taken = False  # take_flash() read the request's flash cookie: the response deletes it

    @property
    def query(self) -> QueryParams:
        if self._query is None:
            self._query = QueryParams.parse(self.query_string)
        return self._query

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            self._cookies = parse_cookies(self.headers.get("cookie"))
        return self._cookies

    @property
    def url(self) -> str:
        """The full URL the browser asked for (from the ``Host`` header)."""
        host = self.headers.get("host", "localhost")
        qs = f"?{self.query_string}" if self.query_string else ""
        return f"{self.scheme}://{host}{quote(self.root_path + self.path)}{qs}"

    def form(
        self,
        *,
        max_parts: int | None = None,
        max_field_size: int | None = None,
        max_file_size: int | None = None,
    ) -> QueryParams:
        """The fields of a form body: url-encoded (``application/x-www-form-urlencoded``) or
        ``multipart/form-data`` (a form with files: each file an :class:`rweb.formdata.UploadFile`).

        Multipart limits (rweb.formdata; over one, 413): ``max_parts`` (1000),
        ``max_field_size`` (1 MiB), ``max_file_size`` (default: the body's
        limit, ``App(max_body_size)``).  The files are closed once the response
        is made.  Raises :class:`HTTPError` 415 for another content type and 400
        for a body that is not UTF-8 or not valid multipart.
        """
        if self._form is None:
            ctype = self.headers.get("content-type", "").partition(";")[0].strip().lower()
            if not self.body:
                self._form = QueryParams()
            elif ctype == "multipart/form-data":
                self._form = parse_multipart(
                    self.body, self.headers.get("content-type", ""),
                    max_parts=max_parts, max_field_size=max_field_size, max_file_size=max_file_size,
                )
            elif ctype not in ("application/x-www-form-urlencoded", ""):
                raise HTTPError(415, f"expected a form (url-encoded or multipart/form-data), not {ctype}")
            else:
                try:
                    text = self.body.decode("utf-8")
                except UnicodeDecodeError:
                    raise HTTPError(400, "the form is not valid UTF-8") from None
                self._form = QueryParams(parse_qsl(text, keep_blank_values=True))
        return self._form

    def close(self) -> None:
        """Close the files of a multipart :meth:`form` (the app does it once the response is made)."""
        close = getattr(self._form, "close", None)
        if close is not None:
            close()

    def json(self) -> Any:
        """The body as JSON; :class:`HTTPError` 400 when it is not."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise HTTPError(400, "the body is not valid JSON") from None

    def csrf_token(self) -> str:
        """A CSRF token for this browser, to send back in the form field ``_csrf`` or the header ``X-CSRF-Token``.

        Signed with the app's key and bound to a random id in a cookie (set
        on this response when the browser has none); see docs/security.md.
        """
        return security.csrf_token(self)

    def csrf_input(self) -> Any:
        """``<input type="hidden" name="_csrf" value="...">`` with :meth:`csrf_token`, for a form."""
        return input_(type="hidden", name=security.CSRF_FIELD, value=self.csrf_token())

    def flash(self, kind: str, message: str) -> None:
        """Show ``message`` on the next page the browser is shown: the one a ``RedirectResponse`` leads to.

        ``kind``: ``info``, ``success``, ``warning`` or ``error``.  The message
        rides in a signed cookie on this response (whatever it is), which that
        page reads and deletes (rweb.flash, docs/flash.md)::

            @app.post("/login")
            def login(request):
                ...
                request.flash("info", "Signed in")
                return RedirectResponse("/")
        """
        flash = checked_flash(kind, message)
        if self.flash_out is None:
            self.flash_out = []
        self.flash_out.append(flash)

    def take_flash(self) -> list[Flash]:
        """The flash messages a redirect brought to this plain page, for it to show: the response
        deletes their cookie (reactive pages get theirs as ``conn.flashes`` by themselves)."""
        self.flash_taken = True
        token, _ = flash_cookie(self.cookies, self.scheme)
        return list(load(self.app.signer, token))

    def require_csrf(self) -> None:
        """Raise :class:`HTTPError` 403 unless the request carries a valid :meth:`csrf_token`."""
        if not security.csrf_valid(self):
            raise HTTPError(403, "missing or invalid CSRF token")

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"

