"""JS commands: small DOM changes the browser makes at once, with no round trip (LiveView's ``JS``).

::

    from rweb import JS
    from rweb.html import button, div, nav

    button("Menu", data_js=JS().toggle("#menu").toggle_class("open"))
    button("Delete", data_action="delete", data_js=JS().confirm("Delete this item?"))
    conn.exec_js(JS().focus("#search"))  # from the server, with the next message

An element's ``data-js`` runs when it is clicked (a form's: when it is
submitted), before the action its ``data-action`` sends; a ``confirm`` the
user declines stops there, and no action is sent.  ``to`` is a CSS selector
(every match); without it the command acts on the element itself.  The
commands are JSON: the page's escaping applies to them like to any attribute.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["JS"]


class JS:
    """A chain of commands; ``str(js)`` is its JSON (what ``data-js`` holds)."""

    __slots__ = ("cmds",)

    def __init__(self) -> None:
        self.cmds: list[list[Any]] = []

    def _add(self, cmd: str, to: str | None = None, **args: Any) -> JS:
        if to is not None:
            if not isinstance(to, str) or not to.strip():
                raise ValueError("to: a CSS selector")
            args["to"] = to
        self.cmds.append([cmd, args])
        return self

    def show(self, to: str | None = None) -> JS:
        """Show (``hidden`` off)."""
        return self._add("show", to)

    def hide(self, to: str | None = None) -> JS:
        return self._add("hide", to)

    def toggle(self, to: str | None = None) -> JS:
        """Show if hidden, hide if shown."""
        return self._add("toggle", to)

    def add_class(self, names: str, to: str | None = None) -> JS:
        return self._add("add_class", to, names=_names(names))

    def remove_class(self, names: str, to: str | None = None) -> JS:
        return self._add("remove_class", to, names=_names(names))

    def toggle_class(self, names: str, to: str | None = None) -> JS:
        return self._add("toggle_class", to, names=_names(names))

    def set_attr(self, name: str, value: str, to: str | None = None) -> JS:
        """Set an attribute: not an event handler (``on*``), a URL, ``style`` or an rweb binding."""
        return self._add("set_attr", to, name=_attr(name), value=str(value))

    def remove_attr(self, name: str, to: str | None = None) -> JS:
        return self._add("remove_attr", to, name=_attr(name))

    def focus(self, to: str | None = None) -> JS:
        return self._add("focus", to)

    def dispatch(self, event: str, to: str | None = None, detail: Any = None) -> JS:
        """Dispatch a bubbling ``CustomEvent`` (for the page's own scripts and hooks)."""
        orjson.dumps(detail)  # JSON, or a TypeError now
        return self._add("dispatch", to, event=str(event), detail=detail)

    def confirm(self, message: str) -> JS:
        """Ask the user (``window.confirm``); declined: the rest, and the element's action, do not run."""
        return self._add("confirm", None, message=str(message))

    def __str__(self) -> str:
        return orjson.dumps(self.cmds).decode()

    def __repr__(self) -> str:
        return f"JS({self.cmds!r})"


_REFUSED = ("on", "data-action", "data-on", "data-js", "data-hook")
_REFUSED_EXACT = frozenset({"href", "src", "action", "formaction", "srcdoc", "style", "xlink:href"})


def _attr(name: str) -> str:
    n = name.lower()
    if not name.replace("-", "").replace("_", "").replace(":", "").isalnum() or n in _REFUSED_EXACT or n.startswith(
        _REFUSED
    ):
        raise ValueError(f"a JS command may not set the attribute {name!r}")
    return name


def _names(names: str) -> str:
    parts = names.split()
    if not parts:
        raise ValueError("class names: at least one")
    return " ".join(parts)
