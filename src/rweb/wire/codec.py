"""The client's side of the wire protocol: what a browser does with the server's messages.

One codec for every client written in Python: :class:`rweb.testing.Client`
(and :class:`rweb.testing.Page` over it) and ``rweb bench``'s load workers.
It keeps a page's components from ``init``, ``r`` and ``p`` messages (and
the rows of its streams), builds their HTML as rweb.js does, and decodes
``fx`` into typed effects (:mod:`rweb.effects`).  docs/protocol.md describes
the messages.

The bench's hot loop reads bytes, not messages: :data:`PUSH_PREFIX` and
:data:`ERROR_MARK` are what the server's encoder writes at the start of a
push and in a message carrying an error (tests check them against
:mod:`rweb.protocol`'s encoders).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import orjson

from ..core.html import escape as escape_html
from ..words.protocol import EffectKind, Key, MessageType, assemble, expand_statics
from .effects import Effect, StreamOps, decode_effect

__all__ = [
    "DOM_EFFECTS",
    "ERROR_MARK",
    "PUSH_PREFIX",
    "apply_message",
    "apply_patches",
    "apply_stream",
    "effects_of",
    "error_of",
    "like",
    "page_html",
]

PUSH_PREFIX: bytes = orjson.dumps({Key.T.value: MessageType.PUSH.value})[:-1]  # b'{"t":"p"'
"""How every push starts (the server writes ``t`` first)."""

ERROR_MARK: bytes = b"," + orjson.dumps({Key.E.value: {Key.CODE.value: ""}})[1:-3]  # b',"e":{"code":"'
"""In a message that carries an error, and in no other (``e`` is a top-level key only there)."""

DOM_EFFECTS = frozenset({EffectKind.RESET, EffectKind.FOCUS, EffectKind.JS})
"""Effects on the page's DOM alone: a client without a DOM records them; Page applies them."""

_LIKE = Key.LIKE.value
_T, _C, _D, _S, _FX, _TITLE = Key.T.value, Key.C.value, Key.D.value, Key.S.value, Key.FX.value, Key.TITLE.value
_E, _CODE, _MESSAGE = Key.E.value, Key.CODE.value, Key.MESSAGE.value
_INIT = MessageType.INIT.value


def apply_patches(components: dict[str, dict[str, Any]], patches: Mapping[str, Any]) -> None:
    """Apply ``d`` (or an ``init``'s ``c``) to ``components``: a whole component, changed slots, or a removal.

    A whole component sent like another (``{"sl": name, "<slot>": value}``, rows of one
    shape) is built after the rest, from that component as the message leaves it: its
    statics with this one's ``data-rc``, its dynamics but for the slots given.
    """
    likes: list[tuple[str, Mapping[str, Any]]] | None = None
    for name, patch in patches.items():
        if patch is None:
            components.pop(name, None)
        elif _S in patch:
            components[name] = {_S: expand_statics(patch[_S]), _D: list(patch[_D])}
        elif _LIKE in patch:
            if likes is None:
                likes = []
            likes.append((name, patch))
        else:
            d = components[name][_D]
            for k, v in patch.items():
                d[int(k)] = v
    if likes is not None:
        _apply_likes(components, dict(likes))


def _apply_likes(components: dict[str, dict[str, Any]], likes: dict[str, Mapping[str, Any]]) -> None:
    """Build the "like" components, each after its model (which may be another of them), in any order."""
    for name in list(likes):
        chain = []
        at: str | None = name
        while at in likes:  # the models not built yet, nearest first
            chain.append(at)
            at = likes[at][_LIKE]
            if len(chain) > len(likes):
                raise ValueError(f"components sent like one another in a circle: {chain[:4]}")
        for n in reversed(chain):
            patch = likes.pop(n)
            ref = patch[_LIKE]
            components[n] = like(components[ref], ref, n, patch)


def like(model: Mapping[str, Any], model_name: str, name: str, slots: Mapping[str, Any]) -> dict[str, Any]:
    """Component ``name`` built like ``model`` (component ``model_name``): the same statics but for the
    root element's ``data-rc``, the same dynamics but for ``slots`` (``{"<slot>": value}``, a value
    ``[start, middle, end]`` read as the model's ``value[:start] + middle + value[len(value) - end:]``;
    other keys ignored)."""
    s = list(model[_S])
    s[0] = s[0].replace(_rc(model_name), _rc(name), 1)
    d = list(model[_D])
    for k, v in slots.items():
        if k != _LIKE:
            i = int(k)
            if type(v) is list:
                old = d[i]
                v = old[: v[0]] + v[1] + old[len(old) - (v[2] if len(v) > 2 else 0) :]
            d[i] = v
    return {_S: s, _D: d}


def _rc(name: str) -> str:
    return f' data-rc="{escape_html(name)}"'


def apply_message(components: dict[str, dict[str, Any]], msg: Mapping[str, Any]) -> None:
    """A message's components into ``components``: an ``init`` replaces them all, ``r`` and ``p`` patch them."""
    if msg.get(_T) == _INIT:
        components.clear()
        apply_patches(components, msg.get(_C) or {})
    else:
        apply_patches(components, msg.get(_D) or {})


def effects_of(msg: Mapping[str, Any]) -> list[Effect]:
    """A message's effects (``fx``), typed, in order; unknown kinds are left out (the browser ignores them)."""
    out = []
    for item in msg.get(_FX) or ():
        fx = decode_effect(item)
        if fx is not None:
            out.append(fx)
    return out


def error_of(msg: Mapping[str, Any]) -> tuple[str, str] | None:
    """A message's error: ``(code, message)``, or None."""
    e = msg.get(_E)
    if not isinstance(e, dict):
        return None
    return str(e.get(_CODE)), str(e.get(_MESSAGE))


def apply_stream(streams: dict[str, dict[str, str]], fx: StreamOps) -> None:
    """A stream effect's ops on ``streams`` (name -> its rows' HTML by key, in order), as rweb.js's applyStream."""
    rows = streams.setdefault(fx.name, {})
    for op in fx.ops:
        if op[0] == "r":
            rows.clear()
        elif op[0] == "d":
            rows.pop(op[1], None)
        elif op[1] in rows:  # "i" of a row shown: in place
            rows[op[1]] = op[2]
        else:
            at = op[3]
            if at == -1 or at >= len(rows):
                rows[op[1]] = op[2]
            else:
                items = list(rows.items())
                items.insert(at, (op[1], op[2]))
                rows.clear()
                rows.update(items)
    limit = fx.limit
    if limit:
        items = list(rows.items())
        items = items[:limit] if limit > 0 else items[limit:]
        rows.clear()
        rows.update(items)


def page_html(components: dict[str, dict[str, Any]], streams: Mapping[str, Mapping[str, str]], name: str = "root") -> str:
    """Component ``name``'s HTML with its children, as the browser builds it (streams' rows included)."""
    html = assemble(components, name)
    for stream, rows in streams.items():
        if rows:
            html = _fill_stream(html, stream, "".join(rows.values()))
    return html


def _fill_stream(html: str, name: str, rows: str) -> str:
    """Put a stream's rows into its (empty) container in ``html``."""
    marker = f' data-stream="{escape(name, quote=True)}"'
    at = html.find(marker)
    if at < 0:
        return html
    end = html.index(">", at) + 1
    return html[:end] + rows + html[end:]
