"""The wire protocol: decode client messages, encode server messages.

Client -> server (text frames, JSON)::

    {"action": "inc", "params": {...}, "ref": 7}     # params and ref optional
    {"t": "nav", "url": "/items/3", "ref": 8}         # live navigation (control message)
    {"t": "upload", "name": "avatar", "files": [...], "ref": 9}   # start uploads (rweb.upload)
    {"t": "upload_cancel", "name": "avatar", "ref": 10}
    binary frames: an upload's chunks (rweb.upload)

The join (which page the socket shows) rides on the socket's URL: :class:`Join`.

Server -> client (text frames, JSON), see ``docs/protocol.md``::

    {"t": "init", "c": {name: {"s": [...], "d": [...]}, ...}}   # on open
    {"t": "r", "d": {name: patch | null, ...}, "ref": 7}        # one per client message
    {"t": "r", "d": {...}, "e": {"code": ..., "message": ...}}  # a reply carrying an error
    {"t": "p", "d": {...}}                                      # sent on the server's own
    {"t": "init", "c": {...}, "ref": 8, "url": "/items/3"}      # the reply to a nav to another page
    ..., "fx": [["nav", {"url": ..., "mode": ...}], ["cookie", {...}]]   # effects on r and p

This module knows nothing about sessions or transports: bytes in, values out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .http_base import is_local_path

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:
    _COMPILED = False

__all__ = [
    "ERROR_CODES",
    "Action",
    "ErrorCode",
    "Join",
    "Nav",
    "Ping",
    "ProtocolError",
    "UploadCancel",
    "UploadStart",
    "assemble",
    "decode",
    "encode_error",
    "encode_init",
    "encode_push",
    "encode_reply",
    "encode_upload_reply",
]

_loads = orjson.loads
_dumps = orjson.dumps
_JSONDecodeError = orjson.JSONDecodeError


class ErrorCode(StrEnum):
    """Every error the server reports on the socket (``{"e": {"code": ...}}``)."""

    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    BAD_PARAMS = "bad_params"
    BINARY_FRAME = "binary_frame"
    TOO_LARGE = "too_large"
    UNKNOWN_ACTION = "unknown_action"
    HANDLER_ERROR = "handler_error"
    RENDER_ERROR = "render_error"
    SETUP_ERROR = "setup_error"
    NOT_FOUND = "not_found"
    SHARED_STATE = "shared_state"
    UPLOAD_REFUSED = "upload_refused"
    UPLOAD_FAILED = "upload_failed"
    APP_FAILED = "app_failed"
    STALE_CLIENT = "stale_client"


ERROR_CODES: dict[str, str] = {
    "bad_json": "the frame is not valid JSON",
    "bad_message": "the message is not an object with a string 'action'",
    "bad_params": "'params' is not an object",
    "binary_frame": "binary frames are not accepted",
    "too_large": "the message is larger than the server accepts",
    "unknown_action": "no handler for this action on this page",
    "handler_error": "the action handler raised an exception",
    "render_error": "a component failed to render; it keeps its last render",
    "setup_error": "the session could not be set up",
    "not_found": "no page at this URL",
    "shared_state": "a component read state that sessions share, which this server's processes would split "
    "(the log says which record and what to do); it keeps its last render",
    "upload_refused": "an upload was refused (unknown name, too many files, too large, a type not accepted)",
    "upload_failed": "an upload's file failed (more bytes than declared, the disk): its entry shows why",
    "app_failed": "development (--reload): the app failed to start; the message gives the file, the line and "
    "the error, until a change starts it again",
    "stale_client": "the page's client script is not this server's (a deploy came between): the page reloads",
}
"""Each code's meaning (``docs/protocol.md`` lists them too)."""

# Keys of control messages (client -> server) and of server messages.
T = "t"
NAV = "nav"  # client -> server: {"t": "nav", "url": "/items/3", "ref": 4}
PING = "ping"  # client -> server: {"t": "ping", "ref": "hb9"}, answered by an empty reply
UPLOAD = "upload"  # client -> server: {"t": "upload", "name": "avatar", "files": [{name, size, type}], "ref": 5}
UPLOAD_CANCEL = "upload_cancel"  # client -> server: {"t": "upload_cancel", "name": "avatar", "ref": 6}
MAX_UPLOAD_FILES = 100  # files one upload message may declare (an upload's own max_files is lower)
JOIN_URL_PARAM = "url"  # the socket URL's query parameter that carries the page's URL
# The socket URL's query parameter that carries the client's version, "<PROTOCOL_VERSION>.<client build>"
# (rweb.client_script.client_version): a join with another one is answered stale_client, and the page reloads.
JOIN_VERSION_PARAM = "vsn"
PROTOCOL_VERSION = 1  # docs/protocol.md's version: what this server speaks


@dataclass(frozen=True, slots=True)
class Join:
    """A browser joins the page at ``url`` (path and query within the app).

    Carried by the socket's own URL (``/ws?url=/items/3%3Fq%3D1``), so that a
    client that sends nothing first, like the seed's benchmark, still gets
    the page at once.  Without ``url``, the page is ``/`` and the socket's
    query string is the page's.
    """

    url: str

    @classmethod
    def from_socket_query(cls, query_string: str) -> Join:
        if query_string:
            for key, value in parse_qsl(query_string, keep_blank_values=True):
                if key == JOIN_URL_PARAM:
                    return cls(value if value.startswith("/") else "/" + value)
            return cls("/?" + query_string)
        return cls("/")


@dataclass(frozen=True, slots=True)
class Action:
    """``{"action": name, "params": {...}, "ref": r}``: the user did something."""

    name: str
    params: dict[str, Any]
    ref: Any = None


@dataclass(frozen=True, slots=True)
class Ping:
    """``{"t": "ping", "ref": r}``: the client checks that the socket is alive (answered ``{"t": "r", "d": {}}``)."""

    ref: Any = None


@dataclass(frozen=True, slots=True)
class Nav:
    """``{"t": "nav", "url": "/x", "ref": r}``: the browser shows another URL of the app."""

    url: str
    ref: Any = None


@dataclass(frozen=True, slots=True)
class UploadStart:
    """``{"t": "upload", "name": n, "files": [{"name", "size", "type"}], "ref": r}``: files to upload."""

    name: str
    files: tuple[tuple[str, int, str], ...]  # (name, size, type) as the browser declares them
    ref: Any = None


@dataclass(frozen=True, slots=True)
class UploadCancel:
    """``{"t": "upload_cancel", "name": n, "ref": r}``: drop the upload's files."""

    name: str
    ref: Any = None


class ProtocolError(Exception):
    """A client message that cannot be dispatched; ``code`` is one of ERROR_CODES."""

    def __init__(self, code: str, message: str, ref: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def decode(data: bytes | str) -> tuple[Any, dict[str, Any], Any]:
    """``{"action", "params", "ref"}`` -> ``(action, params, ref)``; raises ProtocolError.

    A control message (``{"t": ...}``, no ``action``) decodes to
    ``(None, message, ref)``: see :func:`decode_control`.
    """
    try:
        value = _loads(data)
    except _JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"invalid JSON: {exc}") from None
    if type(value) is not dict:
        raise ProtocolError("bad_message", f"a message must be a JSON object, not {_jtype(value)}")
    msg = value  # typed dict in the compiled build (protocol.pxd)
    ref = msg.get("ref")
    if ref is not None and type(ref) is not int and type(ref) is not str:
        raise ProtocolError("bad_message", f"'ref' must be a string or an integer, not {_jtype(ref)}")
    action = msg.get("action")
    if type(action) is not str:
        if action is None:
            if "t" in msg:
                return None, msg, ref
            raise ProtocolError("bad_message", "missing 'action'", ref)
        raise ProtocolError("bad_message", f"'action' must be a string, not {_jtype(action)}", ref)
    params = msg.get("params")
    if params is None:
        params = {}
    elif type(params) is not dict:
        raise ProtocolError("bad_params", f"'params' must be an object, not {_jtype(params)}", ref)
    return action, params, ref


def decode_control(msg: dict[str, Any], ref: Any) -> Nav | Ping | UploadStart | UploadCancel:
    """A control message (what :func:`decode` gave as ``(None, msg, ref)``) -> its type."""
    t = msg.get(T)
    if t == NAV:
        return _nav(msg.get("url"), ref)
    if t == PING:
        return Ping(ref)
    if t == UPLOAD or t == UPLOAD_CANCEL:
        name = msg.get("name")
        if type(name) is not str:
            raise ProtocolError("bad_message", "'name' must be a string (the upload's name)", ref)
        if t == UPLOAD_CANCEL:
            return UploadCancel(name, ref)
        return UploadStart(name, _upload_files(msg.get("files"), ref), ref)
    raise ProtocolError("bad_message", f"unknown message type {t!r}", ref)


def _nav(url: Any, ref: Any) -> Nav:
    """A ``nav`` message's URL -> Nav, only for a path of this app."""
    if not is_local_path(url):  # the one rule: never //host, /\\host, nor a control character
        raise ProtocolError("bad_message", "'url' must be a path within the app", ref)  # pragma: no mutate (wording)
    return Nav(url, ref)


def _upload_files(files: Any, ref: Any) -> tuple[tuple[str, int, str], ...]:
    if type(files) is not list or not files or len(files) > MAX_UPLOAD_FILES:
        raise ProtocolError("bad_message", f"'files' must be a list of 1 to {MAX_UPLOAD_FILES} files", ref)
    out = []
    for f in files:
        if type(f) is not dict:
            raise ProtocolError("bad_message", "each file must be an object {name, size, type}", ref)
        name, size, mime = f.get("name"), f.get("size"), f.get("type", "")
        if type(name) is not str or type(size) is not int or size < 0 or type(mime) is not str:
            raise ProtocolError(
                "bad_message", "each file needs a string 'name', an integer 'size' >= 0 and a string 'type'", ref
            )
        out.append((name, size, mime))
    return tuple(out)


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
    }.get(type(v), type(v).__name__)


def encode_init(
    components: dict[str, Any],
    ref: Any = None,
    url: str | None = None,
    title: str | None = None,
    effects: list[Any] | None = None,
    extra: dict[str, Any] | None = None,
    error: tuple[str, str] | None = None,
) -> bytes:
    """The page: every component.  ``extra``: more top-level fields (the resume's ``tok``, ...);
    ``error``: (code, message) when components failed to render (they show empty)."""
    if ref is None and url is None and title is None and effects is None and extra is None and error is None:
        return _dumps({"t": "init", "c": components})
    msg: dict[str, Any] = {"t": "init", "c": components}
    if extra:
        msg.update(extra)
    if error is not None:
        msg["e"] = {"code": error[0], "message": error[1]}
    if ref is not None:
        msg["ref"] = ref
    if url is not None:
        msg["url"] = url
    if title is not None:
        msg["title"] = title
    if effects:
        msg["fx"] = effects
    return _dumps(msg)


def encode_reply(
    patches: dict[str, Any],
    ref: Any = None,
    error: tuple[str, str] | None = None,
    effects: list[Any] | None = None,
) -> bytes:
    if ref is None and error is None and effects is None:
        return _dumps({"t": "r", "d": patches})
    msg: dict[str, Any] = {"t": "r", "d": patches}
    if ref is not None:
        msg["ref"] = ref
    if error is not None:
        msg["e"] = {"code": error[0], "message": error[1]}
    if effects:
        msg["fx"] = effects
    return _dumps(msg)


def encode_upload_reply(
    patches: dict[str, Any], ref: Any, ids: list[int], chunk: int, effects: list[Any] | None = None
) -> bytes:
    """The reply to an accepted upload request: the files' ids and the chunk size to send them in."""
    msg: dict[str, Any] = {"t": "r", "d": patches, "up": {"ids": ids, "chunk": chunk}}
    if ref is not None:
        msg["ref"] = ref
    if effects:
        msg["fx"] = effects
    return _dumps(msg)


def encode_error(code: str, message: str, ref: Any = None, effects: list[Any] | None = None) -> bytes:
    """A reply that carries only an error (nothing was dispatched)."""
    return encode_reply({}, ref, (code, message), effects)


def encode_push(
    patches: dict[str, Any],
    error: tuple[str, str] | None = None,
    effects: list[Any] | None = None,
) -> bytes:
    if error is None and effects is None:
        return _dumps({"t": "p", "d": patches})
    msg: dict[str, Any] = {"t": "p", "d": patches}
    if error is not None:
        msg["e"] = {"code": error[0], "message": error[1]}
    if effects:
        msg["fx"] = effects
    return _dumps(msg)


def assemble(components: dict[str, Any], name: str = "root", _depth: int = 0) -> str:
    """A component's HTML from what the wire carries (``{name: {"s": [...], "d": [...]}}``).

    ``s[0] + d[0] + s[1] + ... + s[n]``, a ``{"c": child}`` dynamic replaced
    by the child's own HTML: what the browser client builds, what the HTTP
    first paint serves, what ``rweb.testing`` shows.
    """
    if _depth > 256:
        raise ValueError(f"components nested too deep at {name!r}")
    c = components[name]
    s, d = c["s"], c["d"]
    out = [s[0]]
    for i, v in enumerate(d):
        if type(v) is dict:
            out.append(assemble(components, v["c"], _depth + 1))
        elif v is not None:
            out.append(v)
        out.append(s[i + 1])
    return "".join(out)
