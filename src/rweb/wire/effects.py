"""Effects: what a page's code asks the browser to do, one type per kind.

A page asks through its ``conn`` (``conn.navigate``, ``conn.set_cookie``,
``conn.reset``, ``conn.focus``, ``conn.exec_js``, ``conn.push_event``, a
stream's ops, an upload stopped); the connection queues the effect and the
next message to that socket carries it in ``fx`` as ``[kind, {...}]``
(:meth:`Effect.wire`).  The kinds are :class:`rweb.protocol.EffectKind`;
docs/protocol.md#effects says what the browser does with each.

Adding an effect takes: its kind in ``EffectKind``, its type here, its
handler in the browser client (``runEffects``'s table in rweb.js) and in the
test client (:mod:`rweb.codec`), and its line in docs/protocol.md; tests fail
while one of them is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ..words.protocol import EffectKind

__all__ = [
    "EFFECTS",
    "Cookie",
    "Effect",
    "Event",
    "Focus",
    "Navigate",
    "Reset",
    "RunJs",
    "StreamOps",
    "UploadStop",
    "decode_effect",
]


class Effect:
    """An effect: its ``kind`` (the wire's word) and its data."""

    __slots__ = ()
    kind: ClassVar[EffectKind]

    def data(self) -> dict[str, Any]:
        """The effect's data as the wire carries it."""
        raise NotImplementedError

    def wire(self) -> list[Any]:
        """``[kind, {...}]``, as ``fx`` carries it."""
        return [self.kind, self.data()]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Effect:
        """The effect from its data on the wire (the client's side)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Navigate(Effect):
    """Show app URL ``url`` live (``push``, ``replace``: a ``nav`` message, then the history) or load it (``load``)."""

    kind: ClassVar[EffectKind] = EffectKind.NAV
    url: str
    mode: Literal["push", "replace", "load"]

    def data(self) -> dict[str, Any]:
        return {"url": self.url, "mode": self.mode}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Navigate:
        return cls(data["url"], data.get("mode", "push"))


@dataclass(frozen=True, slots=True)
class Cookie(Effect):
    """POST ``token`` to ``url``: the answer's ``Set-Cookie`` headers set the cookies (``conn.set_cookie``)."""

    kind: ClassVar[EffectKind] = EffectKind.COOKIE
    url: str
    token: str

    def data(self) -> dict[str, Any]:
        return {"url": self.url, "token": self.token}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Cookie:
        return cls(data["url"], data["token"])


@dataclass(frozen=True, slots=True)
class Reset(Effect):
    """The fields in (or being) the elements ``selector`` matches get the state the server renders."""

    kind: ClassVar[EffectKind] = EffectKind.RESET
    selector: str

    def data(self) -> dict[str, Any]:
        return {"selector": self.selector}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Reset:
        return cls(data["selector"])


@dataclass(frozen=True, slots=True)
class Focus(Effect):
    """Focus the first element ``selector`` matches."""

    kind: ClassVar[EffectKind] = EffectKind.FOCUS
    selector: str

    def data(self) -> dict[str, Any]:
        return {"selector": self.selector}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Focus:
        return cls(data["selector"])


@dataclass(frozen=True, slots=True)
class RunJs(Effect):
    """Run JS commands (``rweb.JS``'s ``cmds``, as ``data-js`` holds them) on the page."""

    kind: ClassVar[EffectKind] = EffectKind.JS
    cmds: list[Any]

    def data(self) -> dict[str, Any]:
        return {"cmds": self.cmds}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RunJs:
        cmds = data.get("cmds")
        return cls(cmds if isinstance(cmds, list) else [])


@dataclass(frozen=True, slots=True)
class Event(Effect):
    """``conn.push_event``: the client hooks' ``handleEvent(name)`` get ``payload``, then ``rweb:event``."""

    kind: ClassVar[EffectKind] = EffectKind.EVENT
    name: str
    payload: Any = None

    def data(self) -> dict[str, Any]:
        return {"name": self.name, "payload": self.payload}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Event:
        return cls(data["name"], data.get("payload"))


@dataclass(frozen=True, slots=True, weakref_slot=True)
class StreamOps(Effect):
    """A stream's ops (rweb.stream): ``["r"]``, ``["i", key, html, at]``, ``["d", key]``, then the limit.

    Its ``ops`` grow while it waits in the connection's queue: the ops of one
    message to the socket ride in one effect.
    """

    kind: ClassVar[EffectKind] = EffectKind.STREAM
    name: str
    ops: list[list[Any]] = field(default_factory=list)
    limit: int | None = None

    def data(self) -> dict[str, Any]:
        if self.limit is None:
            return {"name": self.name, "ops": self.ops}
        return {"name": self.name, "ops": self.ops, "limit": self.limit}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> StreamOps:
        return cls(data["name"], data["ops"], data.get("limit"))


@dataclass(frozen=True, slots=True)
class UploadStop(Effect):
    """The server dropped upload ``name``'s file under way: stop sending its chunks."""

    kind: ClassVar[EffectKind] = EffectKind.UPLOAD_STOP
    name: str

    def data(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> UploadStop:
        return cls(data["name"])


EFFECTS: dict[EffectKind, type[Effect]] = {
    cls.kind: cls for cls in (Navigate, Cookie, Reset, Focus, RunJs, Event, StreamOps, UploadStop)
}
"""Each kind's type."""


def decode_effect(item: Any) -> Effect | None:
    """``[kind, {...}]`` from ``fx`` -> its effect; None for an unknown kind or a malformed item."""
    if not isinstance(item, list) or len(item) != 2 or not isinstance(item[1], dict):
        return None
    try:
        cls = EFFECTS[EffectKind(item[0])]
        return cls.from_data(item[1])
    except (ValueError, KeyError, TypeError):
        return None
