"""Streams: long lists whose rows the server renders once, sends, and forgets (LiveView's ``stream``).

A component that renders a list re-renders (and diffs) every row whenever
the list changes: fine for tens of rows, slow for ten thousand.  A stream
keeps no rows on the server: each :meth:`Stream.insert` renders one row and
sends it; :meth:`Stream.delete` sends its key; the browser keeps the rows
inside the stream's container element.  So adding a row to a 10,000-row
stream costs what adding a row to an empty one costs.

::

    @app.page("/chat")
    def chat(writer_id, conn):
        messages = conn.stream("messages", lambda m: li(m["text"]), key=lambda m: m["id"],
                               tag="ul", limit=-500)
        messages.extend(load_last_messages())  # the first paint shows them too

        def post(params):
            messages.append({"id": next_id(), "text": params["text"]})

        return (lambda: div(messages, form(...))), {"post": post}

Rules:

- The stream renders as its container element, ``<ul data-stream="messages">``,
  wherever the page puts it.  Keep that container rendered: its rows live in
  the browser only (a component that re-renders leaves them alone).
- Each row is ``row(item)``, one element, marked ``data-key="<key(item)>"``.
  Rows are rendered when inserted, outside any component: reading a reactive
  field there subscribes nothing.  To change a row, insert its item again
  (:meth:`update`): a row whose key is already shown is replaced in place.
- ``limit``: the browser keeps at most this many rows: a positive limit keeps
  the first ones (rows beyond are dropped), a negative one the last ones (the
  oldest are dropped as new ones are appended: a chat).
- The ops of one action (or one push) go to the browser in its message, in
  order, after the message's patches.  The HTTP first paint shows the rows
  streamed by the setup inline (no JavaScript needed to see them).
- A session resumed in the same process keeps its rows (the browser has
  them).  A fresh session, or one restored in another process from a
  snapshot, runs its setup again: the stream starts over from what the setup
  streams (a reset, then those rows), as a LiveView stream does on remount.
  Keep what must survive in records or a database.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

from ..core.html import Element, raw, to_html
from ..core.reactive import untracked
from ..wire.effects import StreamOps

__all__ = ["Stream"]


class Stream:
    """A list of rows kept by the browser; see the module's docstring.  Made by ``conn.stream(...)``."""

    __slots__ = ("_attrs", "_conn", "_data", "_inline", "key", "limit", "name", "row", "tag")

    def __init__(
        self,
        conn: Any,
        name: str,
        row: Callable[[Any], Any],
        *,
        key: Callable[[Any], Any],
        tag: str = "div",
        limit: int | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise ValueError("a stream needs a name")
        if not tag.isalnum():
            raise ValueError(f"not a tag name: {tag!r}")
        if limit is not None and (type(limit) is not int or limit == 0):
            raise ValueError("limit: a non-zero int (positive: keep the first rows; negative: the last)")
        self._conn = conn
        self.name = name
        self.row = row
        self.key = key
        self.tag = tag
        self.limit = limit
        self._attrs = dict(attrs or {})
        # The ops not sent yet: a weak reference to the StreamOps effect (rweb.effects)
        # while the connection's pending effects hold it (weak: once sent, the rows are freed).
        # A new stream starts with a reset: a fresh session (or a page restored elsewhere)
        # replaces whatever rows the browser still shows.
        self._data: Any = None
        # Before the session is live (the HTTP first paint): (key, row) rendered into the page.
        self._inline: list[tuple[str, str]] | None = None if conn.live else []
        self._op(["r"])

    # -- what the page renders ------------------------------------------------------

    def __html__(self) -> str:
        """The container element (with the first paint's rows inline)."""
        rows = tuple(raw(html) for _, html in self._inline) if self._inline is not None else ()
        return to_html(Element(self.tag, rows, {"data_stream": self.name, **self._attrs}))

    # -- changing the rows -------------------------------------------------------------

    def insert(self, item: Any, at: int = -1) -> None:
        """Show ``item``'s row at index ``at`` (-1: the end), or in place if its key is shown already."""
        key = str(self.key(item))
        html = self._render(item, key)
        if self._inline is not None:
            if at == -1 or at >= len(self._inline):
                self._inline.append((key, html))
            else:
                self._inline.insert(at, (key, html))
            return
        self._op(["i", key, html, at])

    def append(self, item: Any) -> None:
        self.insert(item, -1)

    def prepend(self, item: Any) -> None:
        self.insert(item, 0)

    def update(self, item: Any) -> None:
        """Render ``item``'s row again (in place; at the end if it is not shown)."""
        self.insert(item, -1)

    def extend(self, items: Iterable[Any]) -> None:
        for item in items:
            self.insert(item, -1)

    def delete(self, item_or_key: Any, *, by_key: bool = False) -> None:
        """Remove the row of ``item`` (or, ``by_key=True``, the row whose key is ``item_or_key``)."""
        key = str(item_or_key if by_key else self.key(item_or_key))
        if self._inline is not None:
            self._inline = [row for row in self._inline if row[0] != key]
            return
        self._op(["d", key])

    def reset(self, items: Iterable[Any] = ()) -> None:
        """Remove every row, then show ``items``."""
        if self._inline is not None:
            self._inline = []
        else:
            self._op(["r"])
        self.extend(items)

    # -- internals ---------------------------------------------------------------------

    def _render(self, item: Any, key: str) -> str:
        """``row(item)``, marked ``data-key`` (the renderer escapes and checks it like any attribute)."""
        with untracked():
            node = self.row(item)
            if not isinstance(node, Element):
                raise TypeError(f"stream {self.name!r}: a row must be one element, not {type(node).__name__}")
            attrs = dict(node.attrs)
            attrs.pop("data_key", None)
            return to_html(Element(node.tag, node.children, {"data_key": key, **attrs}, node.void))

    def _op(self, op: list[Any]) -> None:
        if self._inline is not None:  # the first paint: the reset is nothing to do
            return
        connection = self._conn.connection
        if connection is None:  # the session ended: nobody to show it to
            return
        fx = self._data() if self._data is not None else None
        if fx is None or not connection.queued(fx):
            # The first op since the last message: a new effect, which the next ops join
            # until a message carries it (during the setup: the page's init).
            fx = StreamOps(self.name, [], self.limit)
            self._data = weakref.ref(fx)
            connection.effect(fx)
        fx.ops.append(op)


