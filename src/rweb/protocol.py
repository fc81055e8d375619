"""The wire protocol: decode client messages, encode server messages.

Client -> server (text frames, JSON)::

    {"action": "inc", "params": {...}, "ref": 7}     # params and ref optional

Server -> client (text frames, JSON), see ``docs/protocol.md``::

    {"t": "init", "c": {name: {"s": [...], "d": [...]}, ...}}   # on open
    {"t": "r", "d": {name: patch | null, ...}, "ref": 7}        # one per client message
    {"t": "r", "d": {...}, "e": {"code": ..., "message": ...}}  # a reply carrying an error
    {"t": "p", "d": {...}}                                      # sent on the server's own

This module knows nothing about sessions or transports: bytes in, values out.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "ERROR_CODES",
    "ProtocolError",
    "decode",
    "encode_error",
    "encode_init",
    "encode_push",
    "encode_reply",
]

_loads = orjson.loads
_dumps = orjson.dumps
_JSONDecodeError = orjson.JSONDecodeError

ERROR_CODES = {
    "bad_json": "the frame is not valid JSON",
    "bad_message": "the message is not an object with a string 'action'",
    "bad_params": "'params' is not an object",
    "binary_frame": "binary frames are not accepted",
    "too_large": "the message is larger than the server accepts",
    "unknown_action": "no handler for this action on this page",
    "handler_error": "the action handler raised an exception",
    "render_error": "a component failed to render; it keeps its last render",
    "setup_error": "the session could not be set up",
}


class ProtocolError(Exception):
    """A client message that cannot be dispatched; ``code`` is one of ERROR_CODES."""

    def __init__(self, code: str, message: str, ref: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def decode(data: bytes | str) -> tuple[str, dict[str, Any], Any]:
    """``{"action", "params", "ref"}`` -> ``(action, params, ref)``; raises ProtocolError."""
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
            raise ProtocolError("bad_message", "missing 'action'", ref)
        raise ProtocolError("bad_message", f"'action' must be a string, not {_jtype(action)}", ref)
    params = msg.get("params")
    if params is None:
        params = {}
    elif type(params) is not dict:
        raise ProtocolError("bad_params", f"'params' must be an object, not {_jtype(params)}", ref)
    return action, params, ref


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


def encode_init(components: dict[str, Any]) -> bytes:
    return _dumps({"t": "init", "c": components})


def encode_reply(
    patches: dict[str, Any], ref: Any = None, error: tuple[str, str] | None = None
) -> bytes:
    if ref is None and error is None:
        return _dumps({"t": "r", "d": patches})
    msg: dict[str, Any] = {"t": "r", "d": patches}
    if ref is not None:
        msg["ref"] = ref
    if error is not None:
        msg["e"] = {"code": error[0], "message": error[1]}
    return _dumps(msg)


def encode_error(code: str, message: str, ref: Any = None) -> bytes:
    """A reply that carries only an error (nothing was dispatched)."""
    return encode_reply({}, ref, (code, message))


def encode_push(patches: dict[str, Any], error: tuple[str, str] | None = None) -> bytes:
    if error is None:
        return _dumps({"t": "p", "d": patches})
    return _dumps({"t": "p", "d": patches, "e": {"code": error[0], "message": error[1]}})
