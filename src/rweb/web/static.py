"""Static files served from one folder: ``App("Shop", static={"/static": "public"})``.

:class:`StaticFiles` answers ``GET`` and ``HEAD`` for the files under its
folder; :class:`~rweb.app.App` routes every request under a static prefix to
it (``/static/css/site.css`` -> ``respond(request, "/css/site.css")``) and
answers 405 itself for other methods.

What is served
    A *regular file* under the folder, read whole into the response body (the
    transports set ``Content-Length`` from the body and drop the body of a
    ``HEAD``, so ``HEAD`` answers the same headers as ``GET``).

    A *directory* serves its ``index.html`` (the ``index`` argument; ``None``
    turns this off) when one is there and the URL ends with ``/``; the same
    URL without the ``/`` answers ``307`` to it (query string kept), so that
    relative links in the page resolve inside the directory.  A directory
    without an index answers 404: folders are never listed.

    Everything refused below, and anything that does not exist or is not a
    regular file (a FIFO, a device, a socket), answers **404**, never 403, so
    that a probe cannot tell a hidden or forbidden file from a missing one.

Headers
    ``Content-Type`` from the name's last extension: Python's built-in table
    (never the machine's ``mime.types`` or registry, so every machine answers
    alike) with fixes for the web: ``.js``/``.mjs`` ``text/javascript``,
    ``.css``, ``.json``, ``.svg`` ``image/svg+xml``, ``.wasm``
    ``application/wasm``, ``.webp``, ``.avif``, fonts (``.woff2``...),
    ``.webmanifest``, ``.map``; ``text/*``, JSON and XML get
    ``; charset=utf-8``; an unknown extension is ``application/octet-stream``.
    ``.gz`` and the like are served as the archive they are, never with a
    ``Content-Encoding``.  Every 200 carries ``X-Content-Type-Options:
    nosniff``.

    ``ETag`` (strong: ``"<size>-<mtime in ns>"``, both in hex, the same in
    every worker process), ``Last-Modified`` and ``Cache-Control`` (the
    ``cache_control`` argument, ``no-cache`` by default: browsers keep the
    file and revalidate it, a cheap 304, on each use; give
    ``"public, max-age=31536000, immutable"`` for fingerprinted file names).

Conditional requests
    ``If-None-Match`` (a list, ``W/`` tags compared weakly, or ``*``) that
    matches answers ``304``; when ``If-None-Match`` is present
    ``If-Modified-Since`` is ignored, as RFC 9110 says.  Otherwise an
    ``If-Modified-Since`` date no earlier than the file's modification time
    (to the second) answers 304; an unparsable date or one in the future is
    ignored.  A 304 has no body and carries ``ETag``, ``Last-Modified`` and
    ``Cache-Control``.  ``Range`` is not supported: the whole file is sent
    (which RFC 9110 allows).

No way out of the folder
    ``subpath`` is what follows the prefix, percent-decoded *once* by the
    transport; it is never decoded again, so ``%2e%2e`` (sent as
    ``%252e%252e``) is a literal name, not ``..``.  It is split on ``/`` and
    refused (404) when

    - a segment is ``..`` or ``.``, or empty (``//``: an absolute path);
    - a segment holds a backslash, a NUL or another control character, or a
      ``:``, or ends with ``.`` or a space (what Windows would read as another
      path, a drive or a data stream: refused on every platform so that an app
      behaves the same everywhere);
    - a segment starts with ``.`` (hidden files: ``.env``, ``.git/``), unless
      ``allow_hidden=True`` (``.`` and ``..`` stay refused);
    - the path, once every symlink in it is resolved, lies outside the folder,
      unless ``follow_symlinks=True``.  A symlink inside the folder to
      something else inside it is fine, as long as the target is not hidden
      either (a link to ``.env`` is refused like ``.env``);
    - it is longer than 4096 characters.

    The folder itself is resolved (symlinks and all) once, at construction; it
    must exist then.  The files are opened by their resolved path without
    following a final symlink, and checked again once open.  The folder is
    trusted not to be rearranged *while* a request is answered by someone
    trying to win that race.

Size
    A file larger than ``max_size`` (64 MiB by default) answers **500** and
    logs a warning naming it: the file is public (it passed every check above)
    but the server is not set up to send it, which the operator must see,
    rather than a 404 that hides the misconfiguration.  Serve such files from
    a CDN or a front server, or raise the limit.

Memory cache
    Files up to ``cache_bytes // 4`` are kept in a small LRU cache of
    ``cache_bytes`` in all (4 MiB by default; 0 turns it off), keyed by the
    resolved path and checked against the file's mtime, size and inode on each
    request, so an edited file is served fresh at once.  Each worker process
    has its own.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import stat
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from .compression import Encoded, set_coding
from .http import RedirectResponse, Request, Response

__all__ = ["DEFAULT_MAX_SIZE", "StaticFiles", "content_type", "encoded_response", "not_modified"]

log = logging.getLogger("rweb.static")

DEFAULT_MAX_SIZE = 64 * 1024 * 1024
DEFAULT_CACHE_BYTES = 4 * 1024 * 1024
MAX_PATH_LENGTH = 4096

# -- content types ---------------------------------------------------------------

# The built-in table only (an instance does not read /etc/mime.types or the
# Windows registry), so the answer does not depend on the machine.
_BUILTIN = mimetypes.MimeTypes()

_TYPES: dict[str, str] = {
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".cjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".wasm": "application/wasm",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".pdf": "application/pdf",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    # Compressed files are the archive itself (never sent as Content-Encoding).
    ".gz": "application/gzip",
    ".tgz": "application/gzip",
    ".bz2": "application/x-bzip2",
    ".xz": "application/x-xz",
    ".zst": "application/zstd",
    ".br": "application/octet-stream",
    ".zip": "application/zip",
}

_UTF8_TYPES = frozenset(
    {"application/json", "application/manifest+json", "application/xml", "application/javascript"}
)


def content_type(filename: str) -> str:
    """The ``Content-Type`` to serve ``filename`` with (from its last extension)."""
    ext = os.path.splitext(filename)[1].lower()
    ctype = (
        _TYPES.get(ext)
        or _BUILTIN.types_map[True].get(ext)
        or _BUILTIN.types_map[False].get(ext)
        or "application/octet-stream"
    )
    if ctype.startswith("text/") or ctype in _UTF8_TYPES:
        ctype += "; charset=utf-8"
    return ctype


# -- paths -------------------------------------------------------------------------

# Slash, backslash, NUL and other control characters, and ':' (a drive or a stream on Windows).
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f/\\:]")


def _segment_ok(segment: str, allow_hidden: bool) -> bool:
    if not segment or segment in (".", ".."):
        return False
    if segment[0] == "." and not allow_hidden:
        return False
    if segment[-1] in ". ":
        return False
    return _BAD_CHARS.search(segment) is None


def _split(subpath: str, allow_hidden: bool) -> tuple[list[str], bool] | None:
    """``subpath`` -> (its checked segments, whether it ended with ``/``), or None if refused."""
    if len(subpath) > MAX_PATH_LENGTH:
        return None
    rel = subpath[1:] if subpath.startswith("/") else subpath
    if not rel:
        return [], subpath == "/"
    parts = rel.split("/")
    trailing = parts[-1] == ""
    if trailing:
        parts.pop()
    for segment in parts:
        if not _segment_ok(segment, allow_hidden):
            return None
    return parts, trailing


# -- conditional requests -----------------------------------------------------------


def _etag(st: os.stat_result) -> str:
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def _http_date(timestamp: float) -> str | None:
    try:
        return format_datetime(datetime.fromtimestamp(timestamp, UTC), usegmt=True)
    except (OverflowError, OSError, ValueError):
        return None


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2) of ``etag`` with an ``If-None-Match`` value."""
    if header.strip() == "*":
        return True
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def _not_modified_since(header: str, mtime: float) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    ts = since.timestamp()
    if ts > time.time():  # a date in the future is not one the file was sent with
        return False
    return int(mtime) <= ts


def not_modified(request: Request, etag: str, mtime: float | None = None) -> bool:
    """Does ``request``'s ``If-None-Match`` match ``etag`` (or, without one, ``If-Modified-Since`` cover ``mtime``)?"""
    tags = request.headers.getlist("if-none-match")
    if tags:
        return _etag_matches(",".join(tags), etag)
    since = request.headers.get("if-modified-since")
    return since is not None and mtime is not None and _not_modified_since(since, mtime)


def encoded_response(request: Request, encoded: Encoded, *, cache_control: str, media_type: str) -> Response:
    """Bytes that do not change (:class:`~rweb.compression.Encoded`), in the coding ``request`` accepts.

    ``200`` with the coding's body, ``ETag``, ``Content-Encoding``, ``Vary:
    Accept-Encoding`` and ``Cache-Control``; ``304`` (the same headers, no
    body) when ``If-None-Match`` names that coding's ETag; ``406`` when the
    client refuses every coding there is.
    """
    chosen = encoded.negotiate(request)
    if chosen is None:
        return _error(406, {"Vary": "Accept-Encoding"})
    coding, body, etag = chosen
    headers = [("ETag", etag), ("Cache-Control", cache_control)]
    if not_modified(request, etag):
        response = Response(b"", 304, headers)
    else:
        headers.append(("X-Content-Type-Options", "nosniff"))
        response = Response(body, 200, headers, media_type=media_type)
    set_coding(response, coding)
    return response


# -- the files -----------------------------------------------------------------------

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)  # the path is resolved already: a symlink now is a swap
    | getattr(os, "O_NONBLOCK", 0)  # never hang on a FIFO put there after the check
)

_Key = tuple[int, int, int, int]  # mtime_ns, size, inode, device


def _key(st: os.stat_result) -> _Key:
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


class StaticFiles:
    """The files under ``directory``, answered by :meth:`respond` (see the module docstring).

    ``follow_symlinks``: also serve symlinks that lead out of the folder
    (links inside it, to files inside it, are always followed).
    ``cache_control``: the ``Cache-Control`` of every 200 and 304.
    ``allow_hidden``: serve names starting with ``.`` (``.well-known/``).
    ``index``: the file a directory serves (``None``: directories answer 404).
    ``max_size``: larger files answer 500.  ``cache_bytes``: the memory cache's size.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        follow_symlinks: bool = False,
        cache_control: str = "no-cache",
        allow_hidden: bool = False,
        index: str | None = "index.html",
        max_size: int = DEFAULT_MAX_SIZE,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        given = os.fspath(directory)
        root = os.path.realpath(given)
        if not os.path.exists(root):
            raise FileNotFoundError(
                f"static folder {given!r} does not exist (looked for {root!r}, "
                f"from the current directory {os.getcwd()!r})"
            )
        if not os.path.isdir(root):
            raise NotADirectoryError(f"static folder {given!r} ({root!r}) is not a directory")
        if "\r" in cache_control or "\n" in cache_control or "\x00" in cache_control:
            raise ValueError(f"invalid cache_control {cache_control!r}")
        if index is not None and not _segment_ok(index, allow_hidden):
            raise ValueError(f"index must be a plain file name, not {index!r}")
        if max_size < 0 or cache_bytes < 0:
            raise ValueError("max_size and cache_bytes must not be negative")
        self.directory = root
        self.follow_symlinks = follow_symlinks
        self.cache_control = cache_control
        self.allow_hidden = allow_hidden
        self.index = index
        self.max_size = max_size
        self.cache_bytes = cache_bytes
        self._root = os.path.normcase(root)
        self._root_prefix = self._root if self._root.endswith(os.sep) else self._root + os.sep
        self._cache: OrderedDict[str, tuple[_Key, bytes]] = OrderedDict()
        self._cached_bytes = 0
        self._lock = threading.Lock()

    # -- answering -----------------------------------------------------------

    def respond(self, request: Request, subpath: str) -> Response:
        """Answer ``GET``/``HEAD`` ``subpath`` (what follows the prefix, decoded once)."""
        if request.method not in ("GET", "HEAD"):
            return _error(405, {"Allow": "GET, HEAD"})
        split = _split(subpath, self.allow_hidden)
        if split is None:
            return _error(404)
        parts, trailing = split
        return self._serve(request, parts, trailing, directory_ok=True)

    def _serve(self, request: Request, parts: list[str], trailing: bool, directory_ok: bool) -> Response:
        real = self._resolve(parts)
        if real is None:
            return _error(404)
        try:
            st = os.stat(real)
        except (OSError, ValueError):  # missing, a name too long, unencodable...
            return _error(404)
        if stat.S_ISDIR(st.st_mode):
            if not directory_ok or self.index is None:
                return _error(404)
            if trailing:
                return self._serve(request, [*parts, self.index], False, directory_ok=False)
            if not os.path.isfile(os.path.join(real, self.index)):
                return _error(404)
            return _slash_redirect(request)
        if not stat.S_ISREG(st.st_mode) or trailing:
            return _error(404)
        if st.st_size > self.max_size:
            return self._too_large(real, st.st_size)
        etag = _etag(st)
        headers = self._validators(etag, st)
        if not_modified(request, etag, st.st_mtime):
            return Response(b"", 304, headers)
        read = self._read(real, st)
        if read is None:
            return _error(404)
        body, fst = read
        if fst.st_size > self.max_size:
            return self._too_large(real, fst.st_size)
        if _key(fst) != _key(st):  # changed while we looked: describe what is sent
            headers = self._validators(_etag(fst), fst)
        headers.append(("Content-Type", content_type(real)))
        headers.append(("X-Content-Type-Options", "nosniff"))
        return Response(body, 200, headers)

    def _validators(self, etag: str, st: os.stat_result) -> list[tuple[str, str]]:
        headers = [("ETag", etag)]
        modified = _http_date(st.st_mtime)
        if modified is not None:
            headers.append(("Last-Modified", modified))
        headers.append(("Cache-Control", self.cache_control))
        return headers

    def _too_large(self, real: str, size: int) -> Response:
        log.warning(
            "static file %s is %d bytes, over max_size=%d: answering 500", real, size, self.max_size
        )
        return _error(500, detail="This file is too large to be served.")

    # -- the folder ------------------------------------------------------------

    def _resolve(self, parts: list[str]) -> str | None:
        """The real path of ``parts`` under the folder, or None if it may not be served."""
        real = os.path.realpath(os.path.join(self.directory, *parts))
        norm = os.path.normcase(real)
        if norm == self._root:
            return real
        if norm.startswith(self._root_prefix):
            if not self.allow_hidden and any(
                s.startswith(".") for s in norm[len(self._root_prefix) :].split(os.sep)
            ):
                return None  # a link to a hidden file inside is refused like the file
            return real
        return real if self.follow_symlinks else None

    def _read(self, real: str, st: os.stat_result) -> tuple[bytes, os.stat_result] | None:
        """The file's bytes and their stat, from the cache or the disk; None if it cannot be read."""
        key = _key(st)
        if self.cache_bytes:
            with self._lock:
                hit = self._cache.get(real)
                if hit is not None and hit[0] == key:
                    self._cache.move_to_end(real)
                    return hit[1], st
        try:
            fd = os.open(real, _OPEN_FLAGS)
        except (OSError, ValueError):
            return None
        with open(fd, "rb", closefd=True) as f:
            fst = os.fstat(fd)
            if not stat.S_ISREG(fst.st_mode):
                return None
            if fst.st_size > self.max_size:
                return b"", fst
            body = f.read(fst.st_size)
        if len(body) == fst.st_size and fst.st_size <= self.cache_bytes // 4:
            self._remember(real, _key(fst), body)
        return body, fst

    def _remember(self, real: str, key: _Key, body: bytes) -> None:
        with self._lock:
            old = self._cache.pop(real, None)
            if old is not None:
                self._cached_bytes -= len(old[1])
            self._cache[real] = (key, body)
            self._cached_bytes += len(body)
            while self._cached_bytes > self.cache_bytes and self._cache:
                _, (_, dropped) = self._cache.popitem(last=False)
                self._cached_bytes -= len(dropped)

    def __repr__(self) -> str:
        return f"<StaticFiles {self.directory!r}>"


def _slash_redirect(request: Request) -> Response:
    """307 to the request's own URL with a ``/`` added (query string kept)."""
    location = quote(request.root_path + request.path, safe="/!$&'()*+,;=:@-._~") + "/"
    if request.query_string:
        location += "?" + request.query_string
    try:
        return RedirectResponse(location, 307)
    except ValueError:  # not a path on this site (``//host``): nothing to redirect to
        return _error(404)


def _error(status: int, headers: dict[str, str] | None = None, detail: str | None = None) -> Response:
    from .http import error_response

    return error_response(status, detail, headers)
