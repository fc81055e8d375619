"""Flash messages: a short note to the visitor ("Saved", "Signed in") shown once, by the layout.

- In a live session: ``conn.flash("success", "Saved")``; the page shows it
  where it places ``ui.flash(conn)`` (the kit's ``ui.shell(..., flash=conn)``
  does) or :func:`flash_group` (plain ``rweb.html``), in a live region that
  screen readers announce; each message has a dismiss button.
- On a plain HTTP response: ``request.flash("info", "Signed in")`` before a
  ``RedirectResponse``; the message rides in a signed cookie (the app's
  :class:`~rweb.signing.Signer`, a minute's ``Max-Age``, ``HttpOnly``,
  ``SameSite=Lax``, ``__Host-`` over https) that the next page's first paint
  reads and deletes.  That page hands the messages to its live session
  signed into the page (``<meta name="rweb-flash">``), which the browser
  puts in its join's URL (:data:`rweb.protocol.JOIN_FLASH_PARAM`): the live
  session shows them as the first paint did.
- A message set on a page goes on with the visitor once: to the page a live
  navigation shows next, and through a redirect (``conn.redirect``, a
  ``Redirect`` raised by a page's setup or guard), then it is gone.  What
  the visitor dismissed does not go on.

See docs/flash.md.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from ..addressing.signing import BadSignature, Signer
from ..core import html as h
from ..core.reactive import RList, untracked
from ..words.http_base import format_cookie, format_cookie_deletion
from ..words.protocol import FRAMEWORK_ACTION_PREFIX

__all__ = [
    "DISMISS_ACTION",
    "FLASH_KINDS",
    "FLASH_MAX_AGE",
    "Flash",
    "Flashes",
    "PageFlash",
    "flash_cookie",
    "flash_cookie_name",
    "flash_group",
]

FLASH_KINDS = ("info", "success", "warning", "error")
"""The kinds of flash messages; ``error`` ones are announced at once (``role="alert"``)."""
FLASH_MAX_AGE = 60
"""Seconds a flash cookie, or the token a page hands its live session, is good for."""
MAX_FLASHES = 5  # kept on one page and carried on (the newest)
MAX_MESSAGE = 500  # characters of a message carried in a cookie (a cookie holds about 4 KB)
DISMISS_ACTION = FRAMEWORK_ACTION_PREFIX + "flash_dismiss"
"""The action a message's dismiss button sends (``{"id": ...}``): a framework action, answered by
:meth:`PageFlash.dismissed` on every live page (rweb.session.Session.framework_actions); the page's
``on_action`` never sees it."""
COMPONENT = "rweb-flash"  # the component name of the region
_PREFIX = "flash:"  # what is signed: never taken for another token of the app's Signer


class Flash(NamedTuple):
    """One message: its ``kind`` (:data:`FLASH_KINDS`) and its text."""

    kind: str
    message: str


def checked_flash(kind: str, message: str) -> Flash:
    """``Flash(kind, message)``, or ValueError for a kind not in :data:`FLASH_KINDS` (TypeError: not text)."""
    if kind not in FLASH_KINDS:
        raise ValueError(f"flash kind: one of {FLASH_KINDS}, not {kind!r}")
    if not isinstance(message, str):
        raise TypeError(f"a flash message is a str, not {type(message).__name__}")
    return Flash(kind, message)


# -- carried: a signed token (a cookie's value, the join's parameter) -----------------------


def flash_cookie_name(scheme: str) -> str:
    """``__Host-rweb_flash`` over https (no sibling subdomain can set it), ``rweb_flash`` over http."""
    return "__Host-rweb_flash" if scheme == "https" else "rweb_flash"


def dump(signer: Signer, messages: Iterable[Flash]) -> str:
    """``messages`` (the newest :data:`MAX_FLASHES`) as a signed token made of cookie-safe characters."""
    items = [[f.kind, f.message[:MAX_MESSAGE]] for f in messages][-MAX_FLASHES:]
    data = base64.urlsafe_b64encode(orjson.dumps(items)).rstrip(b"=").decode("ascii")
    return signer.sign(_PREFIX + data)


def load(signer: Signer, token: str | None) -> tuple[Flash, ...]:
    """The messages of a token :func:`dump` made at most :data:`FLASH_MAX_AGE` seconds ago; ``()`` for anything else."""
    if not token:
        return ()
    try:
        value = signer.unsign(token, max_age=FLASH_MAX_AGE)
    except BadSignature:
        return ()
    if not value.startswith(_PREFIX):
        return ()
    data = value[len(_PREFIX) :]
    try:
        items = orjson.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except (ValueError, binascii.Error):
        return ()
    out = []
    for item in items if isinstance(items, list) else ():
        if isinstance(item, list) and len(item) == 2 and item[0] in FLASH_KINDS and isinstance(item[1], str):
            out.append(Flash(item[0], item[1]))
    return tuple(out[-MAX_FLASHES:])


def set_cookie(signer: Signer, messages: Sequence[Flash], scheme: str) -> str:
    """The ``Set-Cookie`` value that carries ``messages`` to the next page (see the module's docstring)."""
    https = scheme == "https"
    return format_cookie(
        flash_cookie_name(scheme), dump(signer, messages), max_age=FLASH_MAX_AGE, secure=https,
        httponly=True, samesite="lax",
    )


def flash_cookie(cookies: Mapping[str, str], scheme: str) -> tuple[str | None, str | None]:
    """A request's flash cookie (its token, unchecked: :func:`load` checks it) and the ``Set-Cookie``
    that deletes it; ``(None, None)`` without one.

    Over https only ``__Host-rweb_flash`` is read (a sibling subdomain can set
    ``rweb_flash``).  Over http ``__Host-rweb_flash`` too, after ``rweb_flash``:
    a live session sets it when its page's ``Origin`` is https, which an app
    behind a proxy it does not trust sees as http.
    """
    names = (flash_cookie_name("https"),) if scheme == "https" else (flash_cookie_name("http"), flash_cookie_name("https"))
    for name in names:
        token = cookies.get(name)
        if token is not None:
            secure = name.startswith("__Host-")
            return token, format_cookie_deletion(name, secure=secure, httponly=True, samesite="lax")
    return None, None


def response_cookie(request: Any) -> str | None:
    """The ``Set-Cookie`` a plain handler's response gets: the messages it flashed (``request.flash``)
    after those the request's cookie brought, unless it took them (``request.take_flash``: then the
    cookie goes, if nothing new replaces it); None when it did neither."""
    added = request.flash_out or []
    token, deletion = flash_cookie(request.cookies, request.scheme)
    if request.flash_taken:
        if not added:
            return deletion
        before: tuple[Flash, ...] = ()
    elif not added:
        return None
    else:
        before = load(request.app.signer, token)
    return set_cookie(request.app.signer, [*before, *added], request.scheme)


def live_scheme(headers: Mapping[str, str]) -> str:
    """A live session's scheme, as its page's browser sees it: the socket request's ``Origin``."""
    origin = headers.get("origin") or ""
    return "https" if origin[:6].lower() == "https:" else "http"


# -- a page's messages ----------------------------------------------------------------------


class Flashes:
    """A page's flash messages (``conn.flashes``): reactive, so the region re-renders as they change.

    Each item is ``(id, kind, message, carried)``; ``carried``: it came from the
    page before (a redirect's cookie, a live navigation), so it does not go on
    again.
    """

    __slots__ = ("_ids", "items", "prefix")

    def __init__(self, carried: Iterable[Flash] = (), *, prefix: str = "rweb-flash") -> None:
        self.prefix = prefix
        self._ids = itertools.count(1)
        self.items: RList = RList((self._next_id(), f.kind, f.message, True) for f in carried)

    def _next_id(self) -> str:
        return f"{self.prefix}-{next(self._ids)}"

    def add(self, kind: str, message: str) -> str:
        """Show ``message`` (past :data:`MAX_FLASHES`, the oldest goes); returns its id."""
        f = checked_flash(kind, message)
        fid = self._next_id()
        self.items.append((fid, f.kind, f.message, False))
        while len(self.items) > MAX_FLASHES:
            del self.items[0]
        return fid

    def dismiss(self, fid: str) -> None:
        """Take message ``fid`` away (the visitor dismissed it)."""
        for i, item in enumerate(self.items):
            if item[0] == fid:
                del self.items[i]
                return

    def clear(self, kind: str | None = None) -> None:
        """Take every message (of ``kind``) away."""
        keep = [item for item in self.items if kind is not None and item[1] != kind]
        if len(keep) != len(self.items):
            self.items[:] = keep

    def messages(self) -> list[Flash]:
        """What the page shows, oldest first (a render reading it re-renders when it changes)."""
        return [Flash(item[1], item[2]) for item in self.items]

    def handed(self) -> list[Flash]:
        """The messages handed to this page (from the page before), still shown."""
        with untracked():
            return [Flash(item[1], item[2]) for item in self.items if item[3]]

    def carry(self, *, shown: bool = True) -> list[Flash]:
        """What goes on to the next page: the messages set on this one (all of them when it was never ``shown``)."""
        with untracked():
            return [Flash(item[1], item[2]) for item in self.items if not (shown and item[3])]

    def __bool__(self) -> bool:
        with untracked():  # asked outside renders: no render subscribes here
            return len(self.items) > 0


class PageFlash:
    """A page's flash messages on their way (``conn.page_flash``): those handed to it (a redirect's
    cookie, the join, a live navigation), its own (:attr:`flashes`, made when first asked for),
    and what goes on to the next page."""

    __slots__ = ("_flashes", "handed_in", "signer")

    def __init__(self, signer: Signer, token: str | None = None) -> None:
        self.signer = signer
        self.handed_in: tuple[Flash, ...] = load(signer, token) if token else ()
        self._flashes: Flashes | None = None

    @property
    def flashes(self) -> Flashes:
        """The page's messages: the region shows them."""
        flashes = self._flashes
        if flashes is None:
            flashes = self._flashes = Flashes(self.handed_in)
        return flashes

    def showing(self) -> bool:
        """Has the page messages to show?"""
        return bool(self.handed_in) if self._flashes is None else bool(self._flashes)

    def carried(self, *, shown: bool = True) -> list[Flash]:
        """What goes on to the next page: the messages set on this one (all of them if it was never ``shown``)."""
        if self._flashes is not None:
            return self._flashes.carry(shown=shown)
        return [] if shown else list(self.handed_in)

    def handed(self) -> list[Flash]:
        """The messages handed to this page, still shown."""
        return self._flashes.handed() if self._flashes is not None else list(self.handed_in)

    def token(self) -> str | None:
        """:meth:`carried`, signed (the next page's ``ConnectionInfo.flash``); None when there are none."""
        carried = self.carried()
        return dump(self.signer, carried) if carried else None

    def cookie(self, scheme: str, *, shown: bool = True) -> str | None:
        """The ``Set-Cookie`` that carries :meth:`carried` through a redirect; None when there are none."""
        carried = self.carried(shown=shown)
        return set_cookie(self.signer, carried, scheme) if carried else None

    def framework_handler(self, action: str) -> Any:
        """The handler of framework action ``action`` (:class:`rweb.session.FrameworkActions`): the
        dismissal's, or None.  A live page's session asks its page flash, no object made per session."""
        return self.dismissed if action == DISMISS_ACTION else None

    def dismissed(self, params: Mapping[str, Any]) -> None:
        """The answer to :data:`DISMISS_ACTION` (``{"id": ...}``): the visitor dismissed that message."""
        if self._flashes is not None:  # none made yet: nothing shown to dismiss
            self._flashes.dismiss(str(params.get("id", "")))


# -- the region -------------------------------------------------------------------------------


def flash_group(
    flashes: Any,
    *,
    render: Callable[[str, str, str], Any] | None = None,
    dismiss_label: str = "Dismiss",
    **attrs: Any,
) -> h.Component:
    """The component that shows ``flashes`` (a :class:`Flashes`, or a conn): unstyled, for plain ``rweb.html`` pages.

    Two live regions, there from the first paint on (a live region announces
    what is added to it): ``role="status"`` (polite) for info, success and
    warning, ``role="alert"`` for errors.  A first paint shows the messages it
    carries (after a redirect) beside the regions; the live session's first
    render moves them in, so that they are announced.  Each message is ``render(id, kind,
    message)`` (default: a paragraph and a dismiss button that sends
    :data:`DISMISS_ACTION`).  Place it once per page.
    """
    # The first paint (a conn not live yet) shows the messages it carries beside the live regions,
    # not in them: a region's content at load is not announced, so the live session's first
    # render moves them in, and a screen reader reads them then (a page without JavaScript
    # still shows them).
    first_paint = not isinstance(flashes, Flashes) and getattr(flashes, "live", True) is False
    if not isinstance(flashes, Flashes):
        flashes = flashes.flashes
    one = render or (lambda fid, kind, message: _plain(fid, kind, message, dismiss_label))

    def region() -> h.Element:
        polite: list[Any] = []
        urgent: list[Any] = []
        for fid, kind, message, _ in flashes.items:
            (urgent if kind == "error" else polite).append(one(fid, kind, message))
        if first_paint:
            shown = h.div(*polite, *urgent, class_="rweb-flash-static") if polite or urgent else None
            polite, urgent = [], []
        else:
            shown = None
        return h.div(
            shown,
            h.div(*polite, role="status", aria_live="polite", class_="rweb-flash-status"),
            h.div(*urgent, role="alert", aria_live="assertive", class_="rweb-flash-alert"),
            id=COMPONENT,
            **attrs,
        )

    return h.component(COMPONENT, region)


def _plain(fid: str, kind: str, message: str, dismiss_label: str) -> h.Element:
    return h.p(
        message + " ",
        h.button(
            "\u00d7", type="button", aria_label=f"{dismiss_label}: {message}",
            data_action=DISMISS_ACTION, data_param_id=fid,
        ),
        id=fid,
        data_key=fid,
        class_=f"rweb-flash rweb-flash-{kind}",
    )
