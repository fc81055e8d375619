"""The wire protocol's one home: its words, its messages as types, decode and encode.

``docs/protocol.md`` describes the protocol (joining, resuming, every message
in both directions, errors, effects); its table of wire words is generated
from :data:`WIRE` here, as is the block of constants at the top of the
browser client (``/* rweb:wire:begin */``), and tests check both.  Typed
effects are in :mod:`rweb.effects`; the client's side (what a browser does
with these messages) is :mod:`rweb.codec`.

This module knows nothing about sessions or transports: bytes in, values out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

import orjson

from .http_base import is_local_path

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:  # plain Python without Cython: cython.compiled below is False
    from ..core._nocython import cython

    _COMPILED = False

__all__ = [
    "ERROR_CODES",
    "WIRE",
    "WIRE_CLIENT",
    "Action",
    "CloseCode",
    "EffectKind",
    "ErrorCode",
    "Join",
    "Key",
    "MessageType",
    "Nav",
    "Ping",
    "ProtocolError",
    "Resume",
    "UploadCancel",
    "UploadStart",
    "assemble",
    "client_constants",
    "decode",
    "encode_error",
    "encode_init",
    "encode_push",
    "encode_reply",
    "encode_upload_reply",
    "expand_statics",
]

_loads = orjson.loads
_dumps = orjson.dumps
_JSONDecodeError = orjson.JSONDecodeError


# -- the wire's words ---------------------------------------------------------------------
# Each written once, here.  The encoders and the decoder below keep their keys as
# literals (a global lookup per message would cost the hot path); a test checks that
# every key they write is one of Key's values.


class MessageType(StrEnum):
    """A message's type: its ``t``."""

    INIT = "init"  # server -> client: the whole page (on open, answering a nav that mounts a page)
    REPLY = "r"  # server -> client: exactly one per client text message, in order
    PUSH = "p"  # server -> client: on the server's own initiative
    NAV = "nav"  # client -> server: {"t": "nav", "url": "/items/3", "ref": 4}
    PING = "ping"  # client -> server: {"t": "ping", "ref": "hb9"}, answered by an empty reply
    UPLOAD = "upload"  # client -> server: {"t": "upload", "name": "avatar", "files": [{name, size, type}]}
    UPLOAD_CANCEL = "upload_cancel"  # client -> server: {"t": "upload_cancel", "name": "avatar"}


class Key(StrEnum):
    """The keys of messages (both directions) and of what they carry."""

    T = "t"  # the message's type (MessageType)
    ACTION = "action"  # an action's name (client -> server)
    PARAMS = "params"  # an action's parameters
    REF = "ref"  # the client's reference, echoed by the reply
    URL = "url"  # nav (both ways), an init answering a nav; effects' URLs
    NAME = "name"  # upload, upload_cancel: the upload's name; a file's name
    FILES = "files"  # upload: the files declared
    C = "c"  # init: the components; in a dynamic, {"c": name}: a child component's place
    S = "s"  # a component's statics
    LIKE = "sl"  # a whole component sent like another: {"sl": name, "<slot>": value, ...} (rows of one shape)
    D = "d"  # r, p: the patches; a component's dynamics
    E = "e"  # an error: {"code": ErrorCode, "message": text}
    CODE = "code"
    MESSAGE = "message"
    FX = "fx"  # effects: [[EffectKind, {...}], ...]
    TITLE = "title"  # an init answering a nav: the page's title
    UP = "up"  # a reply accepting an upload: {"ids": [...], "chunk": bytes}
    TOK = "tok"  # an init answering a join: the resume token; the join's query: the token presented
    RESUMED = "resumed"  # an init answering a join with tok: the same session
    FRESH = "fresh"  # an init answering a join with tok: a new session
    LAST = "last"  # with resumed: the ref of the last action applied
    VSN = "vsn"  # the join's query: the client's version, "<PROTOCOL_VERSION>.<client build>"
    FLASH = "flash"  # the join's query: the flash messages the page's first paint showed, signed (rweb.flash)


class EffectKind(StrEnum):
    """An effect's kind: the first item of each ``[kind, {...}]`` in ``fx`` (types: rweb.effects)."""

    NAV = "nav"
    COOKIE = "cookie"
    RESET = "reset"
    FOCUS = "focus"
    JS = "js"
    STREAM = "stream"
    EVENT = "event"
    UPLOAD_STOP = "upload_stop"


class ErrorCode(StrEnum):
    """Every error the server reports on the socket (``{"e": {"code": ...}}``), with its meaning."""

    meaning: str

    def __new__(cls, value: str, meaning: str) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    BAD_JSON = "bad_json", "the frame is not valid JSON"
    BAD_MESSAGE = "bad_message", "the message is not an object with a string 'action'"
    BAD_PARAMS = "bad_params", "'params' is not an object"
    BINARY_FRAME = "binary_frame", "binary frames are not accepted"
    TOO_LARGE = "too_large", "the message is larger than the server accepts"
    UNKNOWN_ACTION = "unknown_action", "no handler for this action on this page"
    HANDLER_ERROR = "handler_error", "the action handler raised an exception"
    RENDER_ERROR = "render_error", "a component failed to render; it keeps its last render"
    SETUP_ERROR = "setup_error", "the session could not be set up"
    NOT_FOUND = "not_found", "no page at this URL"
    SHARED_STATE = (
        "shared_state",
        "a component read state that sessions share, which this server's processes would split "
        "(the log says which record and what to do); it keeps its last render",
    )
    UPLOAD_REFUSED = (
        "upload_refused",
        "an upload was refused (unknown name, too many files, too large, a type not accepted)",
    )
    UPLOAD_FAILED = "upload_failed", "an upload's file failed (more bytes than declared, the disk): its entry shows why"
    APP_FAILED = (
        "app_failed",
        "development (--reload): the app failed to start; the message gives the file, the line and "
        "the error, until a change starts it again",
    )
    STALE_CLIENT = (
        "stale_client",
        "the page's client script is not this server's (a deploy came between): the page reloads",
    )


class CloseCode(IntEnum):
    """WebSocket close codes with a meaning in rweb (RFC 6455's, and the client's own)."""

    NORMAL = 1000  # the page sends the browser elsewhere; the session ended
    GOING_AWAY = 1001  # the browser leaves the page
    NO_STATUS = 1005  # a close frame without a code (what ASGI reports for one; never sent)
    ABNORMAL = 1006  # no close frame: the connection was lost (never sent)
    POLICY_VIOLATION = 1008  # refused before accept (a foreign Origin)
    INTERNAL_ERROR = 1011  # the page's session could not be set up
    SERVICE_RESTART = 1012  # the server stops and comes back: reconnect at once
    NO_HEARTBEAT = 4000  # the client's: no answer to its ping in time; it reconnects


ERROR_CODES: dict[str, str] = {code.value: code.meaning for code in ErrorCode}
"""Each code's meaning (``docs/protocol.md`` lists them too)."""

WIRE: dict[str, type[StrEnum] | type[IntEnum]] = {
    "T": MessageType,
    "K": Key,
    "FX": EffectKind,
    "E": ErrorCode,
    "CLOSE": CloseCode,
}
"""The table of the wire's words, by group (the name the browser client gives the group)."""

WIRE_CLIENT = ("T", "FX", "E", "CLOSE")
"""The groups the browser client's constants mirror (it reads keys as properties: ``msg.t``)."""

# The fixed parts of the frames the fast paths read and write (C functions of protocol.pxd;
# see _fast_frame and _fast_patch), as bytes.
_ACTION_HEAD = b'{"%s":"' % Key.ACTION.encode()
_PARAMS_HEAD = b',"%s":{' % Key.PARAMS.encode()
_REF_HEAD = b',"%s":' % Key.REF.encode()
_REPLY_HEAD = b'{"%s":"%s","%s":' % (Key.T.encode(), MessageType.REPLY.encode(), Key.D.encode())
_PUSH_HEAD = b'{"%s":"%s","%s":' % (Key.T.encode(), MessageType.PUSH.encode(), Key.D.encode())

WIRE_BEGIN = "/* rweb:wire:begin */"
WIRE_END = "/* rweb:wire:end */"


def client_constants() -> str:
    """The browser client's block of wire constants, from :data:`WIRE` (markers included)."""
    lines = [
        WIRE_BEGIN,
        "// The wire's words (docs/protocol.md), generated from rweb.protocol.WIRE by",
        "// scripts/wire_table.py: edit them there. tests/test_wire.py checks this block.",
    ]
    for group in WIRE_CLIENT:
        items = ", ".join(f"{m.name}: {orjson.dumps(m.value).decode()}" for m in WIRE[group])
        lines.append(f"const {group} = Object.freeze({{ {items} }});")
    lines.append(WIRE_END)
    return "\n".join("  " + line for line in lines)


def wire_table_markdown() -> str:
    """docs/protocol.md's table of the wire's words, from :data:`WIRE`."""
    rows = ["| group | name | on the wire |", "|-------|------|-------------|"]
    for group, words in WIRE.items():
        for m in words:
            rows.append(f"| `{group}` | `{m.name}` | `{orjson.dumps(m.value).decode()}` |")
    return "\n".join(rows)


# Kept for their users (the decoder below, rweb.upload).
T = Key.T.value
NAV = MessageType.NAV.value
PING = MessageType.PING.value
UPLOAD = MessageType.UPLOAD.value
UPLOAD_CANCEL = MessageType.UPLOAD_CANCEL.value
MAX_UPLOAD_FILES = 100  # files one upload message may declare (an upload's own max_files is lower)
JOIN_URL_PARAM = Key.URL.value  # the socket URL's query parameter that carries the page's URL
JOIN_TOKEN_PARAM = Key.TOK.value  # the socket URL's query parameter that carries the resume token
# The socket URL's query parameter that carries the client's version, "<PROTOCOL_VERSION>.<client build>"
# (rweb.client_script.client_version): a join with another one is answered stale_client, and the page reloads.
JOIN_VERSION_PARAM = Key.VSN.value
# The socket URL's query parameter that carries the flash messages the page's first paint showed
# (signed by the app, rweb.flash): the live session shows them too.  The first join only.
JOIN_FLASH_PARAM = Key.FLASH.value
_SOCKET_WORDS = (JOIN_TOKEN_PARAM, JOIN_VERSION_PARAM, JOIN_FLASH_PARAM)  # never the page's query
PROTOCOL_VERSION = 1  # docs/protocol.md's version: what this server speaks
# Action names that start so are the framework's (rweb.session.Session.framework_actions, e.g. a flash
# message's dismissal): an element binding one sends it to the framework, never to the page's on_action.
FRAMEWORK_ACTION_PREFIX = "rweb_"


@dataclass(frozen=True, slots=True)
class Join:
    """A browser joins the page at ``url`` (path and query within the app), presenting ``token``
    (a session to resume) and ``flash`` (the flash messages its first paint showed, signed).

    Carried by the socket's own URL (``/ws?url=/items/3%3Fq%3D1&tok=...``),
    so that a client that sends nothing first, like the seed's benchmark,
    still gets the page at once.  Without ``url``, the page is ``/`` and the
    socket's query (but the token) is the page's; a ``url`` that is not a
    path within the app (no leading ``/``, or ``//``) joins ``/``.
    """

    url: str
    token: str | None = None
    flash: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str] | None) -> Join:
        """The socket's query, parsed (``ConnectionInfo.query``) -> the join: the one parser."""
        if not query:
            return cls("/")
        token = query.get(JOIN_TOKEN_PARAM)
        flash = query.get(JOIN_FLASH_PARAM)
        url = query.get(JOIN_URL_PARAM)
        if url is None:  # the socket's own words (token, version, flash) are not the page's
            rest = [(k, v) for k, v in query.items() if k not in _SOCKET_WORDS]
            return cls("/?" + urlencode(rest) if rest else "/", token, flash)
        if not url.startswith("/") or url.startswith("//"):
            url = "/"
        return cls(url, token, flash)

    @classmethod
    def from_socket_query(cls, query_string: str) -> Join:
        """The socket's raw query string -> the join (see :meth:`from_query`)."""
        return cls.from_query(dict(parse_qsl(query_string, keep_blank_values=True)))

    @property
    def path(self) -> str:
        """The page's path (percent-decoded)."""
        return unquote(self.url.partition("?")[0]) or "/"

    @property
    def query(self) -> dict[str, str]:
        """The page's query, parsed."""
        return dict(parse_qsl(self.url.partition("?")[2], keep_blank_values=True))


@dataclass(frozen=True, slots=True)
class Resume:
    """The resume handshake on an ``init`` answering a join: ``tok``, then ``resumed`` and ``last``, or ``fresh``.

    ``token``: the token to present next time; ``resumed``: the same session
    (``last``: the ref of the last action it applied, or None); ``fresh``: the
    token presented resumed nothing, this is a new session.
    """

    token: str
    resumed: bool = False
    last: Any = None
    fresh: bool = False


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
    """A client message that cannot be dispatched; ``code`` is an :class:`ErrorCode`."""

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
    if cython.compiled:
        fast = _fast_frame(data)
        if fast is not None:
            return fast
    return _decode_json(data)


def _decode_json(data: bytes | str) -> tuple[Any, dict[str, Any], Any]:
    """:func:`decode` read by orjson (any message)."""
    try:
        value = _loads(data)
    except _JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, f"invalid JSON: {exc}") from None
    if type(value) is not dict:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"a message must be a JSON object, not {_jtype(value)}")
    msg = value  # typed dict in the compiled build (protocol.pxd)
    ref = msg.get("ref")
    if ref is not None and type(ref) is not int and type(ref) is not str:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"'ref' must be a string or an integer, not {_jtype(ref)}")
    action = msg.get("action")
    if type(action) is not str:
        if action is None:
            if "t" in msg:
                return None, msg, ref
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "missing 'action'", ref)
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"'action' must be a string, not {_jtype(action)}", ref)
    params = msg.get("params")
    if params is None:
        params = {}
    elif type(params) is not dict:
        raise ProtocolError(ErrorCode.BAD_PARAMS, f"'params' must be an object, not {_jtype(params)}", ref)
    return action, params, ref


def _fast_frame(data: bytes | str) -> tuple[str, dict[str, str], int | None] | None:
    """:func:`decode`'s fast path, for the action frame as clients write it.

    ``{"action":"A","params":{"K":"V",...},"ref":N}`` (``params`` and ``ref``
    optional) with no whitespace, every string printable ASCII without escapes,
    ``N`` an integer of at most 15 digits -> ``(action, params, ref)``, read
    without a JSON parser.  Anything else -> None: :func:`decode` gives it to
    orjson, so whatever this takes decodes exactly as orjson would read it (a
    test holds the two paths to that on generated frames).  In the compiled
    build only (a C function of protocol.pxd); plain Python always says None.
    """
    got = None
    if cython.compiled:
        got = _frame(data, _ACTION_HEAD, _PARAMS_HEAD, _REF_HEAD)  # type: ignore[name-defined]  # noqa: F821 (a C function of protocol.pxd)
    return got


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
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "'name' must be a string (the upload's name)", ref)
        if t == UPLOAD_CANCEL:
            return UploadCancel(name, ref)
        return UploadStart(name, _upload_files(msg.get("files"), ref), ref)
    raise ProtocolError(ErrorCode.BAD_MESSAGE, f"unknown message type {t!r}", ref)


def _nav(url: Any, ref: Any) -> Nav:
    """A ``nav`` message's URL -> Nav, only for a path of this app."""
    if not is_local_path(url):  # the one rule: never //host, /\\host, nor a control character
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "'url' must be a path within the app", ref)  # pragma: no mutate (wording)
    return Nav(url, ref)


def _upload_files(files: Any, ref: Any) -> tuple[tuple[str, int, str], ...]:
    if type(files) is not list or not files or len(files) > MAX_UPLOAD_FILES:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"'files' must be a list of 1 to {MAX_UPLOAD_FILES} files", ref)
    out = []
    for f in files:
        if type(f) is not dict:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "each file must be an object {name, size, type}", ref)
        name, size, mime = f.get("name"), f.get("size"), f.get("type", "")
        if type(name) is not str or type(size) is not int or size < 0 or type(mime) is not str:
            raise ProtocolError(
                ErrorCode.BAD_MESSAGE, "each file needs a string 'name', an integer 'size' >= 0 and a string 'type'", ref
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
    resume: Resume | None = None,
    error: tuple[str, str] | None = None,
) -> bytes:
    """The page: every component.  ``resume``: the resume handshake (answering a join);
    ``error``: (code, message) when components failed to render (they show empty)."""
    if ref is None and url is None and title is None and effects is None and resume is None and error is None:
        return _dumps({"t": "init", "c": components})
    msg: dict[str, Any] = {"t": "init", "c": components}
    if resume is not None:
        msg["tok"] = resume.token
        if resume.resumed:
            msg["resumed"] = True
            msg["last"] = resume.last
        if resume.fresh:
            msg["fresh"] = True
    if error is not None:
        msg["e"] = {"code": error[0], "message": error[1]}
    if ref is not None:
        msg["ref"] = ref
    if url is not None:
        msg["url"] = url
    if title is not None:
        msg["title"] = title
    if effects:
        msg["fx"] = _effects(effects)
    return _dumps(msg)


def encode_reply(
    patches: dict[str, Any],
    ref: Any = None,
    error: tuple[str, str] | None = None,
    effects: list[Any] | None = None,
) -> bytes:
    if cython.compiled and error is None and not effects:
        fast = _fast_patch(_REPLY_HEAD, patches, ref)
        if fast is not None:
            return fast
    return _reply_json(patches, ref, error, effects)


def _reply_json(
    patches: dict[str, Any],
    ref: Any = None,
    error: tuple[str, str] | None = None,
    effects: list[Any] | None = None,
) -> bytes:
    """:func:`encode_reply` written by orjson (any shape)."""
    if ref is None and error is None and effects is None:
        return _dumps({"t": "r", "d": patches})
    msg: dict[str, Any] = {"t": "r", "d": patches}
    if ref is not None:
        msg["ref"] = ref
    if error is not None:
        msg["e"] = {"code": error[0], "message": error[1]}
    if effects:
        msg["fx"] = _effects(effects)
    return _dumps(msg)


def encode_upload_reply(
    patches: dict[str, Any], ref: Any, ids: list[int], chunk: int, effects: list[Any] | None = None
) -> bytes:
    """The reply to an accepted upload request: the files' ids and the chunk size to send them in."""
    msg: dict[str, Any] = {"t": "r", "d": patches, "up": {"ids": ids, "chunk": chunk}}
    if ref is not None:
        msg["ref"] = ref
    if effects:
        msg["fx"] = _effects(effects)
    return _dumps(msg)


def encode_error(code: str, message: str, ref: Any = None, effects: list[Any] | None = None) -> bytes:
    """A reply that carries only an error (nothing was dispatched)."""
    return encode_reply({}, ref, (code, message), effects)


def encode_push(
    patches: dict[str, Any],
    error: tuple[str, str] | None = None,
    effects: list[Any] | None = None,
) -> bytes:
    if cython.compiled and error is None and not effects:
        fast = _fast_patch(_PUSH_HEAD, patches, None)
        if fast is not None:
            return fast
    return _push_json(patches, error, effects)


def _push_json(
    patches: dict[str, Any],
    error: tuple[str, str] | None = None,
    effects: list[Any] | None = None,
) -> bytes:
    """:func:`encode_push` written by orjson (any shape)."""
    if error is None and effects is None:
        return _dumps({"t": "p", "d": patches})
    msg: dict[str, Any] = {"t": "p", "d": patches}
    if error is not None:
        msg["e"] = {"code": error[0], "message": error[1]}
    if effects:
        msg["fx"] = _effects(effects)
    return _dumps(msg)


def _fast_patch(head: bytes, patches: dict[str, Any], ref: Any) -> bytes | None:
    """The encoders' fast path, for the common patch: components' slots that are all strings.

    ``head`` (``{"t":"r","d":``) + ``{"id": {"slot": "text", ...}, ...}`` (+ the
    ``ref``, an integer or a string) + ``}``, written straight into bytes of the
    exact size, every string escaped as orjson escapes it.  Any other shape (a
    list, statics, a number, a string orjson refuses) -> None: orjson writes the
    message, and a test holds the two paths to the same bytes on generated patches.
    In the compiled build only (a C function of protocol.pxd); plain Python says None.
    """
    got = None
    if cython.compiled:
        got = _patch(head, patches, _REF_HEAD, ref)  # type: ignore[name-defined]  # noqa: F821 (a C function of protocol.pxd)
    return got


def _effects(effects: list[Any]) -> list[Any]:
    """Typed effects (rweb.effects) -> their ``[kind, {...}]`` on the wire, in order."""
    return [fx.wire() for fx in effects]


def expand_statics(statics: Any) -> list[str]:
    """A component's statics from their wire form (:func:`rweb.diff.wire_statics`): each integer
    ``n`` stands for ``n`` empty strings."""
    out: list[str] = []
    for s in statics:
        if type(s) is int:
            out.extend([""] * s)
        else:
            out.append(s)
    return out


def assemble(components: dict[str, Any], name: str = "root", _depth: int = 0) -> str:
    """A component's HTML from what the wire carries (``{name: {"s": [...], "d": [...]}}``).

    ``s[0] + d[0] + s[1] + ... + s[n]``, a ``{"c": child}`` dynamic replaced
    by the child's own HTML: what the browser client builds, what the HTTP
    first paint serves, what ``rweb.testing`` shows.
    """
    if _depth > 256:
        raise ValueError(f"components nested too deep at {name!r}")
    c = components[name]
    s, d = expand_statics(c["s"]), c["d"]
    out = [s[0]]
    for i, v in enumerate(d):
        if type(v) is dict:
            out.append(assemble(components, v["c"], _depth + 1))
        elif v is not None:
            out.append(v)
        out.append(s[i + 1])
    return "".join(out)
