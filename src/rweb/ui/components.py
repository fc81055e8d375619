"""The kit's components: functions that return :mod:`rweb.html` elements with the theme's classes.

Every form control takes the same field keywords, so that a form binder can
pass them per field: ``name``, ``label``, ``value`` (``checked`` for a
checkbox or switch), ``help`` (a hint under the control) and ``errors`` (a
message, or several; any makes the control ``aria-invalid``).  The help and
the errors are tied to the control by ``aria-describedby``.  Other keyword
arguments go on the control itself (``data_oninput="check"``, ``required=True``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core import html as h
from ..core.reactive import RList
from ..live.stream import Stream
from ..rendering.js_commands import JS
from ..wire.flash import DISMISS_ACTION, flash_group
from .icons import icon

__all__ = [
    "THEME_COOKIE",
    "Column",
    "Toasts",
    "alert",
    "badge",
    "button",
    "card",
    "checkbox",
    "close_modal",
    "field",
    "flash",
    "form",
    "link_button",
    "modal",
    "nav_link",
    "navbar",
    "open_modal",
    "pagination",
    "progress_bar",
    "radio_group",
    "select",
    "shell",
    "sidebar",
    "spinner",
    "switch",
    "table",
    "table_row",
    "tabs",
    "text_input",
    "textarea",
    "theme_of",
    "theme_switch",
    "toast",
    "toast_region",
]

Errors = str | Iterable[str] | None
"""What a control's ``errors`` takes: one message, several, or none."""

THEME_COOKIE = "rweb_theme"
"""The cookie the theme switch keeps the visitor's choice in (``light`` or ``dark``; absent: the system's)."""
_THEMES = ("light", "dark")


def _cls(base: str, attrs: dict[str, Any]) -> str:
    """``base`` and the caller's ``class_`` (taken out of ``attrs``)."""
    extra = attrs.pop("class_", None)
    return f"{base} {extra}" if extra else base


# -- layout ----------------------------------------------------------------------------


def theme_of(cookies: Mapping[str, str]) -> str | None:
    """The theme the visitor chose with :func:`theme_switch` (from ``conn.cookies``), or None."""
    theme = cookies.get(THEME_COOKIE)
    return theme if theme in _THEMES else None


def shell(
    *content: Any,
    navbar: Any = None,
    sidebar: Any = None,
    theme: str | None = None,
    flash: Any = None,
    skip_label: str = "Skip to content",
    **attrs: Any,
) -> h.Element:
    """The page's frame: a skip link, the ``navbar`` on top, the ``sidebar`` on the side, ``content`` in ``<main>``.

    ``theme`` (``theme_of(conn.cookies)``) paints the first paint in the
    visitor's chosen theme before any script runs.  ``flash`` (the page's
    ``conn``) shows its flash messages (:func:`flash`).
    """
    return h.div(
        h.a(skip_label, href="#main", class_="ui-skip"),
        navbar,
        _flash_region(flash) if flash is not None else None,
        h.div(
            sidebar,
            h.main(*content, id="main", class_="ui-main", tabindex="-1"),
            class_="ui-body",
        ),
        class_=_cls("ui-shell", attrs),
        data_ui_theme=theme if theme in _THEMES else None,
        **attrs,
    )


def navbar(brand: Any, *links: Any, end: Any = None, label: str = "Main", **attrs: Any) -> h.Element:
    """The top bar: ``brand`` (text or a link), ``links`` (:func:`nav_link`), ``end`` on the right (a theme switch...)."""
    return h.header(
        h.div(brand, class_="ui-brand"),
        h.nav(h.ul(*(h.li(x) for x in links)), aria_label=label) if links else None,
        h.div(end, class_="ui-navbar-end") if end is not None else None,
        class_=_cls("ui-navbar", attrs),
        **attrs,
    )


def sidebar(*links: Any, label: str = "Sections", **attrs: Any) -> h.Element:
    """A side navigation: ``links`` (:func:`nav_link`) in a named ``<nav>``."""
    return h.aside(
        h.nav(h.ul(*(h.li(x) for x in links)), aria_label=label),
        class_=_cls("ui-sidebar", attrs),
        **attrs,
    )


def nav_link(text: Any, href: str, *, current: bool = False, icon_name: str | None = None, **attrs: Any) -> h.Element:
    """A link of a navbar or sidebar; ``current`` marks the page shown (``aria-current="page"``)."""
    return h.a(
        icon(icon_name) if icon_name else None,
        text,
        href=href,
        aria_current="page" if current else None,
        class_=_cls("ui-navlink", attrs),
        **attrs,
    )


def theme_switch(*, label: str = "Theme", **attrs: Any) -> h.Element:
    """A button that cycles the theme: the system's, light, dark; kept in the :data:`THEME_COOKIE` cookie.

    It needs the kit's script (hidden without JavaScript, when the system's theme applies).
    """
    return h.button(
        icon("sun", class_="ui-icon-light"),
        icon("moon", class_="ui-icon-dark"),
        h.span(label, class_="ui-theme-label"),
        type="button",
        data_hook="UiTheme",
        class_=_cls("ui-btn ui-btn-ghost ui-btn-sm ui-theme", attrs),
        **attrs,
    )


# -- buttons -----------------------------------------------------------------------------

VARIANTS = ("primary", "secondary", "ghost", "danger")
"""The button variants: primary, secondary, ghost, danger."""
SIZES = ("sm", "md", "lg")
"""The button sizes: sm, md (the default), lg."""


def _btn_class(variant: str, size: str, attrs: dict[str, Any]) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"button variant: one of {VARIANTS}, got {variant!r}")
    if size not in SIZES:
        raise ValueError(f"button size: one of {SIZES}, got {size!r}")
    return _cls(f"ui-btn ui-btn-{variant}" + ("" if size == "md" else f" ui-btn-{size}"), attrs)


def button(
    *children: Any,
    variant: str = "primary",
    size: str = "md",
    type: str = "button",
    icon_name: str | None = None,
    **attrs: Any,
) -> h.Element:
    """A button: ``variant`` primary, secondary, ghost or danger; ``size`` sm, md or lg.

    ``type`` is ``button`` unless given (``submit`` in a form).  With only an
    icon, give it a name: ``button(icon_name="trash", aria_label="Delete")``.
    """
    return h.button(
        icon(icon_name) if icon_name else None,
        *children,
        type=type,
        class_=_btn_class(variant, size, attrs),
        **attrs,
    )


def link_button(*children: Any, href: str, variant: str = "primary", size: str = "md", **attrs: Any) -> h.Element:
    """A link that looks like a button (it goes somewhere: it is a link to assistive technology)."""
    return h.a(*children, href=href, class_=_btn_class(variant, size, attrs), **attrs)


# -- form controls ------------------------------------------------------------------------


def _messages(errors: Errors) -> list[str]:
    if errors is None:
        return []
    if isinstance(errors, str):
        return [errors] if errors else []
    return [e for e in errors if e]


def _notes(fid: str, help: Any, errors: list[str]) -> tuple[Any, Any, str | None]:
    """(help element, errors element, the aria-describedby value) of the control ``fid``."""
    ids = []
    err = None
    if errors:
        ids.append(f"{fid}-error")
        err = h.div(*(h.p(icon("alert", size=16), e) for e in errors), id=f"{fid}-error", class_="ui-error")
    hint = None
    if help is not None:
        ids.append(f"{fid}-help")
        hint = h.p(help, id=f"{fid}-help", class_="ui-help")
    return hint, err, " ".join(ids) or None


def field(
    control: Callable[..., h.Element],
    *,
    name: str,
    label: Any,
    help: Any = None,
    errors: Errors = None,
    id: str | None = None,
    kind: str = "text",
    **attrs: Any,
) -> h.Element:
    """Any control with the kit's label, help and errors: ``control(id=..., name=..., aria_describedby=...,
    aria_invalid=..., **attrs)`` builds the control itself (``rweb.html.input_`` with a type of your own...).

    ``kind="check"`` puts the label after the control (checkboxes, switches).
    """
    fid = id or f"f-{name}"
    msgs = _messages(errors)
    hint, err, described = _notes(fid, help, msgs)
    el = control(
        id=fid, name=name, aria_describedby=described, aria_invalid="true" if msgs else None, **attrs
    )
    lab = h.label(label, for_=fid, class_="ui-label")
    if kind == "check":
        return h.div(h.div(el, lab, class_="ui-check-row"), err, hint, class_="ui-field ui-field-check")
    return h.div(lab, el, err, hint, class_="ui-field" + (" ui-invalid" if msgs else ""))


def text_input(
    name: str,
    label: Any,
    *,
    value: Any = None,
    help: Any = None,
    errors: Errors = None,
    type: str = "text",
    id: str | None = None,
    **attrs: Any,
) -> h.Element:
    """``<input>`` (``type`` text, email, password, number, search, date...) with its label, help and errors."""
    return field(
        h.input_, name=name, label=label, help=help, errors=errors, id=id, type=type,
        value=None if value is None else str(value), class_=_cls("ui-input", attrs), **attrs,
    )


def textarea(
    name: str,
    label: Any,
    *,
    value: Any = None,
    help: Any = None,
    errors: Errors = None,
    id: str | None = None,
    rows: int = 4,
    **attrs: Any,
) -> h.Element:
    """``<textarea>`` with its label, help and errors."""
    text = "" if value is None else str(value)
    cls = _cls("ui-input", attrs)

    def control(**a: Any) -> h.Element:
        return h.textarea(text, rows=rows, class_=cls, **a)

    return field(control, name=name, label=label, help=help, errors=errors, id=id, **attrs)


def _options(options: Iterable[str | tuple[Any, Any]]) -> list[tuple[str, Any]]:
    return [(o, o) if isinstance(o, str) else (str(o[0]), o[1]) for o in options]


def select(
    name: str,
    label: Any,
    options: Iterable[str | tuple[Any, Any]],
    *,
    value: Any = None,
    help: Any = None,
    errors: Errors = None,
    id: str | None = None,
    **attrs: Any,
) -> h.Element:
    """``<select>``: ``options`` are values, or ``(value, text)`` pairs; ``value`` is the one selected."""
    chosen = None if value is None else str(value)
    opts = [h.option(text, value=v, selected=v == chosen) for v, text in _options(options)]
    cls = _cls("ui-input ui-select", attrs)

    def control(**a: Any) -> h.Element:
        return h.select(*opts, class_=cls, **a)

    return field(control, name=name, label=label, help=help, errors=errors, id=id, **attrs)


def checkbox(
    name: str,
    label: Any,
    *,
    checked: bool = False,
    value: str = "on",
    help: Any = None,
    errors: Errors = None,
    id: str | None = None,
    **attrs: Any,
) -> h.Element:
    """A checkbox with its label (after it), help and errors."""
    return field(
        h.input_, name=name, label=label, help=help, errors=errors, id=id, kind="check",
        type="checkbox", value=value, checked=checked, class_=_cls("ui-checkbox", attrs), **attrs,
    )


def switch(
    name: str,
    label: Any,
    *,
    checked: bool = False,
    value: str = "on",
    help: Any = None,
    errors: Errors = None,
    id: str | None = None,
    **attrs: Any,
) -> h.Element:
    """An on/off switch: a checkbox with ``role="switch"``, drawn as a track and a knob."""
    return field(
        h.input_, name=name, label=label, help=help, errors=errors, id=id, kind="check",
        type="checkbox", role="switch", value=value, checked=checked, class_=_cls("ui-switch", attrs), **attrs,
    )


def radio_group(
    name: str,
    legend: Any,
    options: Iterable[str | tuple[Any, Any]],
    *,
    value: Any = None,
    help: Any = None,
    errors: Errors = None,
    id: str | None = None,
    required: bool = False,
    **attrs: Any,
) -> h.Element:
    """Radio buttons in a ``<fieldset>`` (``role="radiogroup"``) named by ``legend``; the group carries
    the errors' ``aria-invalid``; ``attrs`` go on every radio (``data_onchange="pick"``)."""
    gid = id or f"f-{name}"
    msgs = _messages(errors)
    hint, err, described = _notes(gid, help, msgs)
    chosen = None if value is None else str(value)
    radios = [
        h.div(
            h.input_(
                type="radio", name=name, value=v, id=f"{gid}-{i}", checked=v == chosen,
                required=required, class_="ui-radio", **attrs,
            ),
            h.label(text, for_=f"{gid}-{i}", class_="ui-label"),
            class_="ui-check-row",
        )
        for i, (v, text) in enumerate(_options(options))
    ]
    return h.fieldset(
        h.legend(legend, class_="ui-label"),
        *radios,
        err,
        hint,
        id=gid,
        role="radiogroup",
        aria_describedby=described,
        aria_invalid="true" if msgs else None,
        aria_required="true" if required else None,
        class_="ui-field ui-fieldset" + (" ui-invalid" if msgs else ""),
    )


def form(*children: Any, action: str | None = None, submit: Any = None, **attrs: Any) -> h.Element:
    """A ``<form>`` laid out as a column of fields; submitting it sends ``action`` with its fields.

    ``submit`` (text) adds a primary submit button at the end.  ``novalidate``
    is on: the server's messages (the controls' ``errors``) are the ones shown.
    """
    attrs.setdefault("novalidate", True)
    return h.form(
        *children,
        h.div(button(submit, type="submit"), class_="ui-form-actions") if submit is not None else None,
        data_action=action,
        class_=_cls("ui-form", attrs),
        **attrs,
    )


# -- table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A table column: ``key`` of each row (a mapping's key or an object's attribute), its header
    ``label``; ``sortable`` makes the header a button; ``numeric`` aligns right; ``cell(row)``
    renders the cell (default: the row's value at ``key``)."""

    key: str
    label: str
    sortable: bool = False
    numeric: bool = False
    cell: Callable[[Any], Any] | None = None

    def render(self, row: Any) -> Any:
        if self.cell is not None:
            return self.cell(row)
        return row[self.key] if isinstance(row, Mapping) else getattr(row, self.key)


def table_row(columns: Sequence[Column]) -> Callable[[Any], h.Element]:
    """``row -> <tr>`` for ``columns``: what ``conn.stream(name, table_row(columns), key=..., tag="tbody")`` takes."""

    def row(item: Any) -> h.Element:
        return h.tr(*(h.td(c.render(item), class_="ui-num" if c.numeric else None) for c in columns))

    return row


def table(
    columns: Sequence[Column],
    rows: Iterable[Any] | Stream,
    *,
    caption: Any,
    sort: str | None = None,
    descending: bool = False,
    sort_action: str = "sort",
    empty: Any = "Nothing to show.",
    footer: Any = None,
    **attrs: Any,
) -> h.Element:
    """A table with a ``caption`` (its name).

    ``sort`` names the column the rows are sorted by (``descending``): its header
    gets ``aria-sort``; a sortable column's header is a button that sends
    ``sort_action`` with ``{"key": column.key}``.  ``rows``: the rows, or a
    stream whose rows the browser keeps (``conn.stream(..., table_row(columns),
    tag="tbody")``) for long tables.  No rows: ``empty`` is shown (for a stream:
    while its ``<tbody>`` is empty).  ``footer`` goes under the table (a
    :func:`pagination`).
    """
    heads = []
    for c in columns:
        sorted_here = c.key == sort
        aria_sort = ("descending" if descending else "ascending") if sorted_here else None
        if c.sortable:
            arrow = ("chevron-down" if descending else "chevron-up") if sorted_here else "sort"
            content: Any = h.button(
                c.label, icon(arrow, size=16), type="button", class_="ui-sort",
                data_action=sort_action, data_param_key=c.key,
            )
        else:
            content = c.label
        heads.append(h.th(content, scope="col", aria_sort=aria_sort, class_="ui-num" if c.numeric else None))
    empty_row = h.tr(h.td(empty, colspan=len(columns)), class_="ui-empty")
    if isinstance(rows, Stream):
        body: Any = rows
        tail: Any = h.tbody(empty_row, class_="ui-stream-empty")
    else:
        render = table_row(columns)
        trs = [render(r) for r in rows]
        body = h.tbody(*trs) if trs else h.tbody(empty_row)
        tail = None
    return h.div(
        h.table(h.caption(caption), h.thead(h.tr(*heads)), body, tail, class_="ui-table"),
        footer,
        class_=_cls("ui-table-wrap", attrs),
        **attrs,
    )


def pagination(page: int, pages: int, *, action: str = "page", label: str = "Pages", **attrs: Any) -> h.Element:
    """Page buttons (``page`` of ``pages``, from 1): each sends ``action`` with ``{"page": n}``.

    Shows the first, the last and the pages around the current one; the
    current one is ``aria-current="page"``.
    """
    shown = sorted({1, pages, *range(max(1, page - 1), min(pages, page + 1) + 1)})
    items: list[Any] = [
        h.li(button(icon("chevron-left"), h.span("Previous", class_="ui-sr"), variant="ghost", size="sm",
                    disabled=page <= 1, data_action=action, data_param_page=page - 1))
    ]
    last = 0
    for n in shown:
        if n - last > 1:
            items.append(h.li("…", class_="ui-gap", aria_hidden="true"))
        items.append(
            h.li(button(str(n), variant="secondary" if n == page else "ghost", size="sm",
                        aria_current="page" if n == page else None, aria_label=f"Page {n}",
                        data_action=action, data_param_page=n))
        )
        last = n
    items.append(
        h.li(button(h.span("Next", class_="ui-sr"), icon("chevron-right"), variant="ghost", size="sm",
                    disabled=page >= pages, data_action=action, data_param_page=page + 1))
    )
    return h.nav(h.ul(*items), aria_label=label, class_=_cls("ui-pages", attrs), **attrs)


# -- dialogs, toasts, tabs ----------------------------------------------------------------


def open_modal(id: str) -> JS:
    """The JS command that opens the modal ``id`` (``button(..., data_js=open_modal("edit"))``)."""
    return JS().dispatch("ui:open", to=f"#{id}")


def close_modal(id: str) -> JS:
    """The JS command that closes the modal ``id``."""
    return JS().dispatch("ui:close", to=f"#{id}")


def modal(
    id: str,
    title: Any,
    *body: Any,
    footer: Any = None,
    open: bool = False,
    on_close: str | None = None,
    close_label: str = "Close",
    **attrs: Any,
) -> h.Element:
    """A modal dialog on ``<dialog>``: opened by :func:`open_modal` (or ``open=True`` from the server).

    While open, the rest of the page is inert, Tab stays inside, Escape and the
    close button close it, and focus returns to what opened it.  ``on_close``
    names an action sent when it closes (a server that renders ``open=True``
    learns so).  Without JavaScript, an open one shows in place.
    """
    return h.dialog(
        h.div(
            h.h2(title, id=f"{id}-title"),
            button(icon("x"), variant="ghost", size="sm", aria_label=close_label, data_js=close_modal(id)),
            class_="ui-modal-head",
        ),
        h.div(*body, class_="ui-modal-body"),
        h.div(footer, class_="ui-modal-foot") if footer is not None else None,
        id=id,
        aria_labelledby=f"{id}-title",
        open=open,
        data_hook="UiModal",
        data_hook_actions=on_close,
        data_ui_on_close=on_close,
        class_=_cls("ui-modal", attrs),
        **attrs,
    )


TOAST_KINDS = ("info", "success", "warning", "danger")
"""The kinds of toasts and alerts: info, success, warning, danger."""
_TOAST_ICONS = {"info": "info", "success": "circle-check", "warning": "alert", "danger": "alert"}


def toast(message: Any, *, id: str, kind: str = "info", dismiss_action: str | None = None,
          dismiss_label: str = "Dismiss") -> h.Element:
    """One toast; its button sends ``dismiss_action`` with ``{"id": id}`` (or, without one, hides it in the browser)."""
    if kind not in TOAST_KINDS:
        raise ValueError(f"toast kind: one of {TOAST_KINDS}, got {kind!r}")
    dismiss: dict[str, Any] = (
        {"data_action": dismiss_action, "data_param_id": id} if dismiss_action else {"data_js": JS().hide(to=f"#{id}")}
    )
    return h.div(
        icon(_TOAST_ICONS[kind]),
        h.div(message, class_="ui-toast-text"),
        button(icon("x"), variant="ghost", size="sm", aria_label=f"{dismiss_label}: {_text(message)}", **dismiss),
        id=id,
        data_key=id,
        class_=f"ui-toast ui-toast-{kind}",
    )


def _text(message: Any) -> str:
    return message if isinstance(message, str) else "notification"


def toast_region(*toasts: Any, id: str = "ui-toasts") -> h.Element:
    """Where toasts show: a polite live region (screen readers announce each toast added).

    Render it from the first paint on, empty if need be: a live region
    announces what is added to it, not what it starts with.
    """
    return h.div(
        *toasts, id=id, aria_live="polite", aria_relevant="additions text", data_hook="UiToasts", class_="ui-toasts"
    )


class Toasts:
    """A session's toasts: ``push`` adds one, its dismiss button sends ``action`` and
    :meth:`handle` removes it; :meth:`render` is the region (render it in a component).

    ::

        toasts = ui.Toasts()
        def on_action(action, params):
            if toasts.handle(action, params):
                return
            ...
            toasts.push("Saved", "success")
    """

    def __init__(self, *, action: str = "ui_dismiss_toast", id: str = "ui-toasts", limit: int = 5) -> None:
        self.action = action
        self.id = id
        self.limit = limit
        self.items: RList = RList()
        self._ids = itertools.count(1)

    def push(self, message: str, kind: str = "info") -> str:
        """Show ``message``; returns the toast's id.  Past ``limit`` toasts, the oldest goes."""
        if kind not in TOAST_KINDS:
            raise ValueError(f"toast kind: one of {TOAST_KINDS}, got {kind!r}")
        toast_id = f"{self.id}-{next(self._ids)}"
        self.items.append((toast_id, kind, message))
        while len(self.items) > self.limit:
            del self.items[0]
        return toast_id

    def dismiss(self, toast_id: str) -> None:
        for i, item in enumerate(self.items):
            if item[0] == toast_id:
                del self.items[i]
                return

    def handle(self, action: str, params: Mapping[str, Any]) -> bool:
        """Handle ``action`` if it is this region's dismissal (True), else leave it (False)."""
        if action != self.action:
            return False
        self.dismiss(str(params.get("id", "")))
        return True

    def render(self) -> h.Element:
        return toast_region(
            *(toast(m, id=i, kind=k, dismiss_action=self.action) for i, k, m in self.items), id=self.id
        )


_FLASH_TOASTS = {"info": "info", "success": "success", "warning": "warning", "error": "danger"}


def flash(conn: Any, *, dismiss_label: str = "Dismiss") -> h.Component:
    """The page's flash messages (``conn.flash(kind, message)``, docs/flash.md), drawn as toasts.

    Place it once (``ui.shell(..., flash=conn)`` does).  Live regions from the
    first paint on: info, success and warning are polite (``role="status"``),
    errors assertive (``role="alert"``).  Each one's dismiss button is named
    after its message; Escape inside one dismisses it too.
    """

    def one(fid: str, kind: str, message: str) -> h.Element:
        return toast(message, id=fid, kind=_FLASH_TOASTS[kind], dismiss_action=DISMISS_ACTION,
                     dismiss_label=dismiss_label)

    return flash_group(conn, render=one, class_="ui-toasts ui-flashes", data_hook="UiToasts")


_flash_region = flash  # for shell(), whose keyword is named flash


def tabs(
    id: str,
    items: Sequence[tuple[Any, Any]],
    *,
    label: str,
    selected: int = 0,
    on_change: str | None = None,
    **attrs: Any,
) -> h.Element:
    """Tabs: ``items`` are ``(tab label, panel content)``; ``selected`` is shown first.

    The keyboard as in the ARIA practices: one tab stop (the selected tab),
    Left / Right move between tabs (wrapping), Home / End go to the first and
    the last, a tab gets shown as it gets focus.  Switching is done in the
    browser; ``on_change`` names an action sent with ``{"index": n}`` for a
    server that wants to know.  Without JavaScript every panel shows.
    """
    tab_buttons = []
    panels = []
    for i, (tab_label, content) in enumerate(items):
        on = i == selected
        tab_buttons.append(
            h.button(
                tab_label, type="button", role="tab", id=f"{id}-tab-{i}", aria_selected="true" if on else "false",
                aria_controls=f"{id}-panel-{i}", tabindex="0" if on else "-1", class_="ui-tab",
            )
        )
        panels.append(
            h.div(
                content, role="tabpanel", id=f"{id}-panel-{i}", aria_labelledby=f"{id}-tab-{i}", tabindex="0",
                hidden=not on, class_="ui-tabpanel",
            )
        )
    return h.div(
        h.div(*tab_buttons, role="tablist", aria_label=label, class_="ui-tablist"),
        *panels,
        id=id,
        data_hook="UiTabs",
        data_hook_actions=on_change,
        data_ui_on_change=on_change,
        class_=_cls("ui-tabs", attrs),
        **attrs,
    )


# -- small things ---------------------------------------------------------------------------


def card(*body: Any, title: Any = None, level: int = 3, footer: Any = None, **attrs: Any) -> h.Element:
    """A card: an optional ``title`` (a heading of ``level``), the body, an optional footer."""
    heading = (h.h2, h.h3, h.h4, h.h5, h.h6)[min(max(level, 2), 6) - 2]
    return h.article(
        heading(title, class_="ui-card-title") if title is not None else None,
        h.div(*body, class_="ui-card-body"),
        h.div(footer, class_="ui-card-foot") if footer is not None else None,
        class_=_cls("ui-card", attrs),
        **attrs,
    )


BADGES = ("neutral", "info", "success", "warning", "danger")
"""The badge variants: neutral, info, success, warning, danger."""


def badge(text: Any, variant: str = "neutral", **attrs: Any) -> h.Element:
    """A short label: ``variant`` neutral, info, success, warning or danger."""
    if variant not in BADGES:
        raise ValueError(f"badge variant: one of {BADGES}, got {variant!r}")
    return h.span(text, class_=_cls(f"ui-badge ui-badge-{variant}", attrs), **attrs)


def alert(*body: Any, kind: str = "info", title: Any = None, live: bool = False, **attrs: Any) -> h.Element:
    """A message box: ``kind`` info, success, warning or danger.

    ``live=True`` makes it ``role="alert"`` (announced at once: for one that
    appears after an action, not for one on the page from the start).
    """
    if kind not in TOAST_KINDS:
        raise ValueError(f"alert kind: one of {TOAST_KINDS}, got {kind!r}")
    return h.div(
        icon(_TOAST_ICONS[kind]),
        h.div(h.p(title, class_="ui-alert-title") if title is not None else None, *body),
        role="alert" if live else None,
        class_=_cls(f"ui-alert ui-alert-{kind}", attrs),
        **attrs,
    )


def spinner(label: str = "Loading", **attrs: Any) -> h.Element:
    """A spinning ring with a name (``role="status"``; it stops turning for reduced motion)."""
    return h.span(h.span(label, class_="ui-sr"), role="status", class_=_cls("ui-spinner", attrs), **attrs)


def progress_bar(label: Any, value: float | None = None, *, max: float = 100, id: str, **attrs: Any) -> h.Element:
    """A labelled ``<progress>`` (``value`` None: indeterminate), with the percentage shown."""
    pct = None if value is None else f"{round(100 * value / max)}%"
    return h.div(
        h.div(h.label(label, for_=id, class_="ui-label"), h.span(pct, class_="ui-help") if pct else None,
              class_="ui-progress-head"),
        h.progress(pct, id=id, value=value, max=max, class_="ui-progress"),
        class_=_cls("ui-field", attrs),
        **attrs,
    )
