"""``rweb.testing.Page``: a live page driven by selectors and user steps, as the browser client would.

A :class:`Page` wraps an in-process :class:`rweb.testing.Client` (the real
:class:`~rweb.connection.Connection`, the wire protocol, the render and diff
code).  It keeps a DOM of the page (:mod:`rweb.dom`), morphed after every
message from the server the way ``rweb.js`` morphs the browser's, with the
state a user gives the controls (typed values, ticked boxes, chosen options)
kept apart from the markup.  A step finds its element with a CSS selector and
sends what ``rweb.js`` sends for that user action: the same binding
(``data-action``, ``data-onsubmit``, ``data-oninput``, ``data-onchange``,
``a[data-navigate]``), found the same way (the element or its closest
ancestor), with the same params (``data-param-*``, a form's fields as
``FormData`` gives them, ``{"value", "checked"}`` for a field).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ..rendering.dom import Document, Element, Node, Text, parse_html, select
from ..wire.codec import effects_of
from ..wire.effects import StreamOps
from ..words.protocol import EffectKind
from .client import Client, use_page_type

if TYPE_CHECKING:
    from ..app.app import App
    from ..wire.effects import Focus, Reset, RunJs

__all__ = ["Page", "PageError"]

PARAM_PREFIX = "data-param-"
BUTTON_TYPES = frozenset(("submit", "reset", "button", "image"))
INPUT_TYPES = frozenset(
    """hidden text search tel url email password date month week time datetime-local number range
    color checkbox radio file submit image reset button""".split()
)
NOT_TYPED = frozenset(("checkbox", "radio", "file", "hidden", "submit", "image", "reset", "button"))
DISABLABLE = frozenset(("button", "input", "select", "textarea", "optgroup", "option", "fieldset"))
SUBMITTABLE = frozenset(("button", "input", "select", "textarea"))
EXCERPT = 600
_SPACE = re.compile(r"[ \t\n\f\r]+")


class PageError(AssertionError):
    """A step or a query the page cannot do as asked (no match, several, no binding, disabled ...).

    An ``AssertionError``: pytest shows it as a failed check, with the
    selector and an excerpt of the page.
    """


# -- what the browser knows about controls -------------------------------------------


def input_type(el: Element) -> str:
    """An ``<input>``'s type as the browser sees it (unknown types are ``text``)."""
    t = (el.get("type") or "text").strip().lower()
    return t if t in INPUT_TYPES else "text"


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def is_disabled(el: Element) -> bool:
    """A disabled control: its own ``disabled``, a disabled ``optgroup``, or a disabled fieldset's."""
    if el.tag not in DISABLABLE:
        return False
    if el.has("disabled"):
        return True
    if el.tag == "option":
        parent = el.parent
        return parent is not None and parent.tag == "optgroup" and parent.has("disabled")
    child: Element = el
    for a in el.ancestors():
        if a.tag == "fieldset" and a.has("disabled"):
            legend = next((c for c in a.elements if c.tag == "legend"), None)
            if legend is None or child is not legend:
                return True
        child = a
    return False


def is_checked(el: Element) -> bool:
    return el.checked if el.checked is not None else el.has("checked")


def options(select_el: Element) -> list[Element]:
    return select(select_el, "option")


def _is_multiple(select_el: Element) -> bool:
    return select_el.has("multiple")


def selected_options(select_el: Element) -> list[Element]:
    """The options chosen, as ``selectedOptions`` gives them."""
    opts = options(select_el)
    chosen = [o for o in opts if (o.selected if o.selected is not None else o.has("selected"))]
    if _is_multiple(select_el):
        return chosen
    if chosen:
        return chosen[-1:]  # a single select: the last one marked wins
    size = select_el.get("size") or "1"
    if size.strip() in ("", "0", "1"):  # a drop-down shows one: the first enabled
        first = next((o for o in opts if not is_disabled(o)), None)
        return [first] if first is not None else []
    return []


def option_value(opt: Element) -> str:
    value = opt.get("value")
    return value if value is not None else _collapse(opt.text)


def value_of(el: Element) -> str:
    """A control's ``value`` as the browser gives it (what the user typed, else the markup's)."""
    if el.tag == "input":
        if el.value is not None:
            return el.value
        value = el.get("value")
        if value is None:
            return "on" if input_type(el) in ("checkbox", "radio") else ""
        return value
    if el.tag == "textarea":
        return el.value if el.value is not None else el.text
    if el.tag == "select":
        chosen = selected_options(el)
        return option_value(chosen[0]) if chosen else ""
    if el.tag == "option":
        return option_value(el)
    if el.tag == "button":
        return el.get("value") or ""
    return el.get("value") or ""


def form_owner(el: Element) -> Element | None:
    """The form a control belongs to: its ``form`` attribute's, else its closest ``<form>``."""
    ref = el.get("form")
    if ref is not None:
        root = el
        for a in el.ancestors():
            root = a
        found = next((e for e in root.iter() if e.id == ref), None)
        return found if found is not None and found.tag == "form" else None
    return next((a for a in el.ancestors() if a.tag == "form"), None)


def params_of(el: Element) -> dict[str, Any]:
    """``data-param-*`` attributes as rweb.js's ``paramsOf``."""
    return {
        k[len(PARAM_PREFIX) :]: v
        for k, v in el.attrs.items()
        if k.startswith(PARAM_PREFIX) and len(k) > len(PARAM_PREFIX)
    }


def form_entries(form: Element, submitter: Element | None = None) -> list[tuple[str, str]]:
    """The entries of ``new FormData(form, submitter)``, in order (a file field: its name ``""``)."""
    root = form
    for a in form.ancestors():
        root = a
    out: list[tuple[str, str]] = []
    for el in root.iter():
        if el.tag not in SUBMITTABLE or form_owner(el) is not form:
            continue
        if is_disabled(el) or any(a.tag == "datalist" for a in el.ancestors()):
            continue
        kind = input_type(el) if el.tag == "input" else el.tag
        if (el.tag == "button" or kind in BUTTON_TYPES) and el is not submitter:
            continue
        if kind in ("checkbox", "radio") and not is_checked(el):
            continue
        name = el.get("name") or ""
        if kind == "image":
            prefix = f"{name}." if name else ""
            out += [(f"{prefix}x", "0"), (f"{prefix}y", "0")]
            continue
        if not name:
            continue
        if el.tag == "select":
            out += [(name, option_value(o)) for o in selected_options(el)]
        elif kind == "file":
            out.append((name, ""))  # no file chosen: rweb.js sends a File's name
        else:
            out.append((name, value_of(el)))
    return out


def form_params(form: Element, submitter: Element | None, params: dict[str, Any]) -> dict[str, Any]:
    """rweb.js's ``formParams``: the form's entries into ``params``, a repeated name as a list."""
    seen: set[str] = set()
    for k, v in form_entries(form, submitter):
        if k not in seen:
            seen.add(k)
            params[k] = v
        elif isinstance(params[k], list):
            params[k].append(v)
        else:
            params[k] = [params[k], v]
    return params


def field_params(el: Element, bound: Element) -> dict[str, Any]:
    """rweb.js's ``fieldParams``: what an input or change event on ``el`` sends for ``bound``."""
    params = params_of(bound)
    if bound.tag == "form":
        form_params(bound, None, params)
        if el.get("name"):
            params["_target"] = el.get("name")
        return params
    if el.tag == "select" and _is_multiple(el):
        params["value"] = [option_value(o) for o in selected_options(el)]
    else:
        params["value"] = value_of(el)
    if el.tag == "input" and input_type(el) in ("checkbox", "radio"):
        params["checked"] = is_checked(el)
    return params


FIELDS = frozenset(("input", "select", "textarea"))
NOT_EDITABLE = frozenset(("hidden", "file", "submit", "reset", "button", "image"))  # rweb.js's editable()
_UNSAFE_ATTRS = frozenset(
    ("href", "src", "action", "formaction", "srcdoc", "style", "data-hook", "data-hook-actions")
)
_ATTR_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9:_.-]*")


def _safe_attr(name: Any) -> bool:
    """rweb.js's safeAttr: no event handlers, no rweb bindings, no URLs."""
    if not isinstance(name, str) or not _ATTR_NAME.fullmatch(name):
        return False
    n = name.lower()
    return not (
        n.startswith(("on", "data-action", "data-on", "data-js")) or n in _UNSAFE_ATTRS
    )


def _run_js(page: Page, t: Element, name: str, a: dict[str, Any], names: list[str]) -> None:
    """One JS command on one element, as rweb.js's runJs does it."""
    if name in ("show", "hide", "toggle"):
        hide = name == "hide" or (name == "toggle" and not t.has("hidden"))
        if hide:
            t.attrs["hidden"] = ""
        else:
            t.attrs.pop("hidden", None)
            style = t.get("style")
            if style is not None:  # style.removeProperty("display")
                kept = [d for d in style.split(";") if d.strip() and d.split(":", 1)[0].strip().lower() != "display"]
                t.attrs["style"] = "; ".join(d.strip() for d in kept) + (";" if kept else "")
    elif name in ("add_class", "remove_class", "toggle_class"):
        had = t.has("class")
        classes = list(dict.fromkeys(t.classes))  # a DOMTokenList: a set, in order
        for n in names:
            if n in classes and name != "add_class":
                classes.remove(n)
            elif n not in classes and name != "remove_class":
                classes.append(n)
        if had or classes:
            t.attrs["class"] = " ".join(classes)
    elif name == "set_attr":
        if _safe_attr(a.get("name")):
            value = a.get("value")
            t.attrs[a["name"].lower()] = "" if value is None else value if isinstance(value, str) else _js_string(value)
    elif name == "remove_attr":
        if _safe_attr(a.get("name")):
            t.attrs.pop(a["name"].lower(), None)
    elif name == "focus":
        page.focused = t
    # "dispatch": an event on the element; no listener in Page (rweb.js's bindings listen to user events)


def _js_string(value: Any) -> str:
    """JavaScript's String(value) for JSON values."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if v is None else _js_string(v) if not isinstance(v, str) else v for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _key(n: Node) -> str | None:
    if not isinstance(n, Element):
        return None
    for attr, prefix in (("data-rc", "c"), ("data-key", "k"), ("id", "i")):
        k = n.get(attr)
        if k is not None and (k or attr != "id"):
            return prefix + k
    return None


def _compatible(a: Node, b: Node) -> bool:
    if isinstance(a, Element) and isinstance(b, Element):
        return a.tag == b.tag
    return isinstance(a, Text) and isinstance(b, Text)


# -- the page ---------------------------------------------------------------------------


class Page:
    """A live page in-process, driven by selectors and user steps (see docs/testing.md).

    ``Page(app_or_setup, url="/", **client_options)`` joins the page with a
    new :class:`~rweb.testing.Client`; ``Page(client)`` drives one already
    open; ``TestClient.page(url)`` opens one with the test client's cookies.

    Steps (``click``, ``fill``, ``check``, ``uncheck``, ``select``,
    ``submit``, ``follow``, ``navigate``, ``back``, ``forward``) return the
    server's replies to the messages they sent, in order.  A reply with an
    error (an unknown action, a handler that raised) raises
    :class:`PageError` unless ``raise_errors=False``.
    """

    def __init__(
        self,
        target: Client | App | Callable[..., Any],
        url: str | None = None,
        *,
        raise_errors: bool = True,
        **client_options: Any,
    ) -> None:
        if isinstance(target, Client):
            if url is not None or client_options:
                raise TypeError("Page(client) drives that client's page: no url or options")
            client = target
        else:
            client = Client(target, url, **client_options)
        self.client = client
        self.raise_errors = raise_errors
        self.focused: Element | None = None  # the control the user is in (the last filled)
        self._changed: set[str] | None = None  # the components the message being applied changed (None: all)
        self._rows: set[Any] = set()  # the stream rows it inserted
        self._markup = client.html()
        self.document: Document = parse_html(self._markup)
        client.watch(self._update)
        # The effects on the DOM, as rweb.js's runEffects applies them (after the message's morph).
        client.effect_handlers[EffectKind.RESET] = self._reset_effect
        client.effect_handlers[EffectKind.FOCUS] = self._focus_effect
        client.effect_handlers[EffectKind.JS] = self._js_effect

    # -- what the browser shows -------------------------------------------------------

    @property
    def url(self) -> str:
        return self.client.url

    @property
    def title(self) -> str | None:
        return self.client.title

    @property
    def closed(self) -> bool:
        return self.client.closed

    @property
    def redirected_to(self) -> str | None:
        return self.client.redirected_to

    @property
    def pushes(self) -> list[dict[str, Any]]:
        """Every message the server sent this page on its own (``{"t": "p", ...}``)."""
        return self.client.pushes

    @property
    def effects(self) -> list[tuple[str, dict[str, Any]]]:
        return self.client.effects

    def find_all(self, selector: str) -> list[Element]:
        """The elements that match, in document order (none is fine)."""
        return select(self.document, selector)

    def find(self, selector: str) -> Element:
        """The one element that matches; :class:`PageError` if none or several do."""
        found = self.find_all(selector)
        if len(found) != 1:
            if not found:
                raise PageError(f"no element matches {selector!r} on {self.url}\n{self.excerpt()}")
            shown = "\n".join(f"  {el!r}" for el in found[:5])
            more = f"\n  ... and {len(found) - 5} more" if len(found) > 5 else ""
            raise PageError(f"{len(found)} elements match {selector!r}, one was expected:\n{shown}{more}")
        return found[0]

    def exists(self, selector: str) -> bool:
        return bool(self.find_all(selector))

    def count(self, selector: str) -> int:
        return len(self.find_all(selector))

    def text(self, selector: str) -> str:
        """The text of the one element that matches, whitespace runs made one space, stripped."""
        return _collapse(self.find(selector).text)

    def texts(self, selector: str) -> list[str]:
        """The text of each element that matches (as :meth:`text`)."""
        return [_collapse(el.text) for el in self.find_all(selector)]

    def html(self, selector: str | None = None) -> str:
        """The page's HTML as the server sent it, or the one matching element's, re-serialized."""
        if selector is None:
            return self.client.html()
        return self.find(selector).to_html()

    def attr(self, selector: str, name: str) -> str | None:
        """An attribute of the one element that matches (None when it has none)."""
        return self.find(selector).get(name.lower())

    def value(self, selector: str) -> str:
        """A control's current value (what the user typed or chose, else the markup's)."""
        return value_of(self.find(selector))

    def is_checked(self, selector: str) -> bool:
        return is_checked(self._field(selector, "is_checked", ("checkbox", "radio")))

    def selected(self, selector: str) -> list[str]:
        """The values of a ``<select>``'s chosen options."""
        el = self._control(selector, "selected", ("select",))
        return [option_value(o) for o in selected_options(el)]

    def excerpt(self, limit: int = EXCERPT) -> str:
        """The start of the page's HTML, for error messages."""
        text = _collapse(self.client.html())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    # -- what the user does ---------------------------------------------------------------

    def click(self, selector: str) -> list[dict[str, Any]]:
        """A click, as rweb.js handles it.

        The element or its closest ancestor with ``data-action`` (not a form)
        sends that action with its ``data-param-*``; otherwise the closest
        ``a[data-navigate]`` is followed; otherwise a submit button submits
        its form.  A checkbox or radio is toggled first and, after the click's
        action, sends its ``data-oninput`` / ``data-onchange``.
        """
        el = self.find(selector)
        # A disabled control gets no click, nor does what is inside a disabled button.
        blocked = el if is_disabled(el) else None
        if blocked is None:
            blocked = next((a for a in el.ancestors() if a.tag != "fieldset" and is_disabled(a)), None)
        if blocked is not None:
            where = "" if blocked is el else f" (inside {blocked!r})"
            raise PageError(f"{selector!r} is disabled{where}: a browser does not click it")
        self.focused = el
        toggled = False
        if el.tag == "input" and input_type(el) in ("checkbox", "radio"):
            toggled = self._set_checked(el, not is_checked(el) if input_type(el) == "checkbox" else True)
        replies: list[dict[str, Any]] = []
        bound = el.closest("[data-action]")
        if bound is not None and bound.tag != "form":
            replies.append(self._send(bound.get("data-action") or "", params_of(bound), selector))
            if toggled:
                replies += self._field_events(el, selector)
            return replies
        if toggled:
            return self._field_events(el, selector)
        if el.tag == "input" and input_type(el) in ("checkbox", "radio"):
            return []  # a radio already on: nothing happens
        link = el.closest("a[data-navigate]")
        if link is not None:
            return self._follow(link, selector)
        plain = el.closest("a[href]")
        if plain is not None:
            raise PageError(
                f"{selector!r} is in a plain link ({plain!r}): the browser would load "
                f"{plain.get('href')!r} for real; give it data-navigate, or use TestClient.get"
            )
        submitter = el.closest("button, input")
        if submitter is not None and (
            (submitter.tag == "button" and (submitter.get("type") or "submit").lower() == "submit")
            or (submitter.tag == "input" and input_type(submitter) in ("submit", "image"))
        ):
            form = form_owner(submitter)
            if form is not None:
                return self._submit(form, submitter, None, selector)
        raise PageError(
            f"{selector!r} ({el!r}) has no action binding: no data-action on it or its ancestors, "
            "no a[data-navigate], not a submit button of a form: a click sends nothing"
        )

    def fill(self, selector: str, value: str) -> list[dict[str, Any]]:
        """Type ``value`` into a text field and leave it.

        The value is set (kept for a later :meth:`submit`); then, as the
        browser's input and change events do, the field's closest
        ``data-oninput`` and then ``data-onchange`` (if any) are sent with
        ``{"value": ...}`` plus their ``data-param-*`` (on a ``<form>``: its
        fields and ``_target``).  ``data-debounce`` makes no difference: the
        typing has paused.
        """
        el = self._control(selector, "fill", ("input", "textarea"))
        if el.tag == "input" and input_type(el) in NOT_TYPED:
            kind = input_type(el)
            hint = "use check() / uncheck()" if kind in ("checkbox", "radio") else "it takes no typing"
            raise PageError(f"fill({selector!r}): an input of type {kind}: {hint}")
        if el.has("readonly"):
            raise PageError(f"fill({selector!r}): the field is readonly")
        el.value = str(value)
        self.focused = el
        return self._field_events(el, selector)

    def check(self, selector: str) -> list[dict[str, Any]]:
        """Tick a checkbox or choose a radio button (a click on it, unless it is on already)."""
        el = self._field(selector, "check", ("checkbox", "radio"))
        return [] if is_checked(el) else self.click(selector)

    def uncheck(self, selector: str) -> list[dict[str, Any]]:
        """Untick a checkbox (a click on it, unless it is off already)."""
        el = self._field(selector, "uncheck", ("checkbox",))
        return self.click(selector) if is_checked(el) else []

    def select(self, selector: str, value: str | Sequence[str]) -> list[dict[str, Any]]:
        """Choose options of a ``<select>`` by value (or label); a list for a ``multiple`` one.

        If what is chosen changed, the select's ``data-oninput`` and
        ``data-onchange`` are sent as by :meth:`fill`.
        """
        el = self._control(selector, "select", ("select",))
        wanted = [value] if isinstance(value, str) else list(value)
        if len(wanted) != 1 and not _is_multiple(el):
            raise PageError(f"select({selector!r}): one value for a select without multiple, not {wanted!r}")
        opts = options(el)
        chosen: list[Element] = []
        for v in wanted:
            match = [o for o in opts if option_value(o) == v] or [
                o for o in opts if _collapse(o.get("label") or o.text) == v
            ]
            if not match:
                have = ", ".join(repr(option_value(o)) for o in opts)
                raise PageError(f"select({selector!r}): no option {v!r} (there are {have})")
            if is_disabled(match[0]):
                raise PageError(f"select({selector!r}): the option {v!r} is disabled")
            chosen.append(match[0])
        before = selected_options(el)
        for o in opts:
            o.selected = any(o is c for c in chosen)
        self.focused = el
        if [id(o) for o in selected_options(el)] == [id(o) for o in before]:
            return []
        return self._field_events(el, selector)

    def submit(
        self, selector: str = "form", values: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Submit a form (``selector`` names it or a control in it) as rweb.js does.

        Its ``data-action`` (else ``data-onsubmit``) is sent with its
        ``data-param-*`` and its fields as ``FormData`` gives them (current
        values: what was filled, ticked, chosen; a repeated name as a list;
        no submit button's value, as with the Enter key).  ``values`` then
        replace those names' entries (each must be a field of the form).
        """
        el = self.find(selector)
        form = el if el.tag == "form" else form_owner(el)
        if form is None:
            raise PageError(f"submit({selector!r}): {el!r} is not a form nor in one")
        return self._submit(form, None, values, selector)

    def follow(self, selector: str) -> list[dict[str, Any]]:
        """Follow the ``a[data-navigate]`` link that matches (or that holds the element): live navigation."""
        el = self.find(selector)
        link = el.closest("a[data-navigate]")
        if link is None:
            raise PageError(
                f"follow({selector!r}): {el!r} is not in an a[data-navigate] link "
                "(a plain link loads a page for real: use TestClient.get)"
            )
        return self._follow(link, selector)

    def navigate(self, url: str, *, replace: bool = False) -> list[dict[str, Any]]:
        """Show the app's page at ``url`` live (``rweb.navigate``)."""
        return [self._checked(self.client.navigate(url, replace=replace), f"navigate({url!r})")]

    def back(self) -> list[dict[str, Any]]:
        return [self._checked(self.client.back(), "back()")]

    def forward(self) -> list[dict[str, Any]]:
        return [self._checked(self.client.forward(), "forward()")]

    def run_pending(self) -> list[dict[str, Any]]:
        """Run the work queued on the app's event loop; the pushes this page got meanwhile."""
        n = len(self.client.pushes)
        self.client.run_pending()
        return self.client.pushes[n:]

    def advance(self, seconds: float) -> list[dict[str, Any]]:
        """Let ``seconds`` of virtual time pass (timers fire); the pushes this page got meanwhile."""
        n = len(self.client.pushes)
        self.client.advance(seconds)
        return self.client.pushes[n:]

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Page {self.url!r}{' closed' if self.closed else ''}>"

    # -- helpers -----------------------------------------------------------------------------

    def _control(self, selector: str, step: str, tags: Iterable[str]) -> Element:
        el = self.find(selector)
        tags = tuple(tags)
        if el.tag not in tags:
            raise PageError(f"{step}({selector!r}) takes {' or '.join(tags)}, not {el!r}")
        if is_disabled(el):
            raise PageError(f"{step}({selector!r}): the control is disabled")
        return el

    def _field(self, selector: str, step: str, kinds: tuple[str, ...]) -> Element:
        el = self.find(selector)
        if el.tag != "input" or input_type(el) not in kinds:
            raise PageError(f"{step}({selector!r}) takes an input of type {' or '.join(kinds)}, not {el!r}")
        return el

    def _set_checked(self, el: Element, on: bool) -> bool:
        """Tick or untick (a radio: and untick its group); whether anything changed."""
        if is_checked(el) == on:
            return False
        el.checked = on
        if on and input_type(el) == "radio" and el.get("name"):
            owner = form_owner(el)
            for other in select(self.document, "input"):
                if (
                    other is not el
                    and input_type(other) == "radio"
                    and other.get("name") == el.get("name")
                    and form_owner(other) is owner
                ):
                    other.checked = False
        return True

    def _field_events(self, el: Element, selector: str) -> list[dict[str, Any]]:
        replies = []
        for attr in ("data-oninput", "data-onchange"):
            bound = el.closest(f"[{attr}]")
            if bound is not None:
                replies.append(self._send(bound.get(attr) or "", field_params(el, bound), selector))
        return replies

    def _submit(
        self,
        form: Element,
        submitter: Element | None,
        values: Mapping[str, Any] | None,
        selector: str,
    ) -> list[dict[str, Any]]:
        action = form.get("data-action")
        if action is None:
            action = form.get("data-onsubmit")
        if action is None:
            raise PageError(
                f"{selector!r}: the form {form!r} has no data-action nor data-onsubmit: the browser "
                "would submit it for real (use TestClient.post)"
            )
        params = form_params(form, submitter, params_of(form))
        if values:
            names = {
                el.get("name")
                for el in select(self.document, "input, select, textarea, button")
                if form_owner(el) is form and el.get("name")
            }
            unknown = sorted(set(values) - names)
            if unknown:
                raise PageError(
                    f"submit({selector!r}): the form has no field {', '.join(map(repr, unknown))} "
                    f"(its fields: {', '.join(map(repr, sorted(n for n in names if n)))})"
                )
            for k, v in values.items():
                params[k] = [str(x) for x in v] if isinstance(v, list | tuple) else str(v)
        return [self._send(action, params, selector)]

    def _follow(self, link: Element, selector: str) -> list[dict[str, Any]]:
        href = link.get("href")
        if href is None:
            raise PageError(f"{selector!r}: the link {link!r} has no href")
        target = (link.get("target") or "").strip().lower()
        if (target and target != "_self") or link.has("download"):
            raise PageError(f"{selector!r}: the link opens elsewhere (target/download): rweb.js leaves it to the browser")
        root = self.client.app.root_path
        base = f"http://testserver{root}{self.url}"
        u = urlsplit(urljoin(base, href))
        if (u.scheme, u.netloc) != ("http", "testserver"):
            raise PageError(f"{selector!r}: the link goes to another site ({href!r}): the browser loads it")
        path = u.path
        if root and not (path == root or path.startswith(root + "/")):
            raise PageError(f"{selector!r}: the link {href!r} is outside the app (root {root!r})")
        url = (path[len(root) :] or "/") + (f"?{u.query}" if u.query else "")
        if u.fragment and url == self.url:
            return []  # an anchor on this page
        replace = link.get("data-navigate") == "replace"
        return [self._checked(self.client.navigate(url, replace=replace), f"follow({selector!r})")]

    def _send(self, action: str, params: dict[str, Any], selector: str) -> dict[str, Any]:
        return self._checked(self.client.send(action, params), f"{selector!r} sent {action!r}")

    def _checked(self, reply: dict[str, Any], what: str) -> dict[str, Any]:
        err = reply.get("e")
        if err and self.raise_errors:
            raise PageError(f"{what}: the server answered with an error {err.get('code')!r}: {err.get('message')}")
        return reply

    # -- effects on the DOM, as rweb.js applies them ----------------------------------------

    def _effect_targets(self, selector: str, what: str) -> list[Element]:
        try:
            return select(self.document, selector)
        except ValueError as exc:  # the browser would match it: Page cannot, say so
            raise PageError(f"{what}: the selector {selector!r} is not supported by rweb.dom: {exc}") from None

    def _reset_effect(self, fx: Reset) -> None:
        """``conn.reset``: the fields in (or being) the matches show what the server rendered, focused or not."""
        for el in self._effect_targets(fx.selector, "reset"):
            fields = [el] if el.tag in FIELDS else select(el, "input, select, textarea")
            for f in fields:
                if f.tag == "input" and input_type(f) in NOT_EDITABLE:
                    continue
                f.value = None
                f.checked = None
                if f.tag == "select":
                    for o in options(f):
                        o.selected = None

    def _focus_effect(self, fx: Focus) -> None:
        """``conn.focus``: the first match is the element the user is in."""
        found = self._effect_targets(fx.selector, "focus")
        if found:
            self.focused = found[0]

    def _js_effect(self, fx: RunJs) -> None:
        """``conn.exec_js``: JS commands on the page (rweb.js's runJs, on the body)."""
        body = next(iter(select(self.document, "body")), None)
        for cmd in fx.cmds:
            if not isinstance(cmd, list) or not cmd or not isinstance(cmd[0], str):
                continue
            name = cmd[0]
            a = cmd[1] if len(cmd) > 1 and isinstance(cmd[1], dict) else {}
            if name == "confirm":
                continue  # Page answers every confirm with OK
            to = a.get("to")
            targets = self._effect_targets(to, f"js {name}") if isinstance(to, str) else [body] if body else []
            names = a["names"].split() if isinstance(a.get("names"), str) else []
            for t in targets:
                _run_js(self, t, name, a, names)

    # -- keeping the DOM as the browser does ---------------------------------------------

    def _update(self, msg: dict[str, Any]) -> None:
        markup = self.client.html() if self.client.components else ""
        if markup == self._markup:
            return
        self._markup = markup
        # As rweb.js: an init morphs the page, a patch the components it changed (with their
        # children): an element elsewhere keeps what JS commands did to its attributes.
        self._changed = None if msg.get("t") == "init" else set(msg.get("d") or ())
        # and the stream rows its ops (re)inserted: the browser puts in new elements for them.
        self._rows = {op[1] for fx in effects_of(msg) if type(fx) is StreamOps for op in fx.ops if op[0] == "i"}
        self._morph_children(self.document, parse_html(markup), self._changed is None)

    def _editing(self, el: Element) -> bool:
        f = self.focused
        if f is None:
            return False
        return el is f or (el.tag == "option" and f.tag == "select" and any(a is f for a in el.ancestors()))

    def _morph(self, old: Node, new: Node, sync: bool = True) -> Node:
        if isinstance(old, Text) and isinstance(new, Text):
            old.data = new.data
            return old
        assert isinstance(old, Element) and isinstance(new, Element)
        if not sync:
            rc = new.get("data-rc")
            sync = (rc is not None and self._changed is not None and rc in self._changed) or (
                new.get("data-key") in self._rows
            )
            if not sync:
                self._morph_children(old, new, False)  # unchanged here: only a changed component below
                return old
        busy = self._editing(old)
        if old.tag == "input":
            old_value, old_checked = old.get("value"), old.has("checked")
            old.attrs = dict(new.attrs)
            if not busy:
                if old.get("value") != old_value and input_type(old) != "file":
                    old.value = None  # the value follows the server's
                if old.has("checked") != old_checked:
                    old.checked = None
            return old
        if old.tag == "textarea":
            old.attrs = dict(new.attrs)
            if old.text != new.text:
                self._adopt(old, new)
                if not busy:
                    old.value = None
            return old
        if old.tag == "option":
            was, now = old.has("selected"), new.has("selected")
            old.attrs = dict(new.attrs)
            if not busy and was != now:
                old.selected = now
        else:
            old.attrs = dict(new.attrs)
        self._morph_children(old, new, True)
        return old

    @staticmethod
    def _adopt(parent: Element, source: Element) -> None:
        parent.children = list(source.children)
        for c in parent.children:
            c.parent = parent

    def _morph_children(self, fp: Element, tp: Element, sync: bool = True) -> None:
        """rweb.js's morphChildren: keyed children (data-rc, data-key, id) by key, the others in order."""
        news = list(tp.children)
        wanted = {k for t in news if (k := _key(t)) is not None}
        keyed: dict[str, Node] = {}
        remaining: list[Node] = []
        for c in fp.children:
            k = _key(c)
            if k is not None and k not in wanted:
                continue  # gone
            if k is not None and k not in keyed:
                keyed[k] = c
            remaining.append(c)
        result: list[Node] = []
        for t in news:
            k = _key(t)
            m: Node | None = None
            if k is not None:
                kc = keyed.get(k)
                if kc is not None and _compatible(kc, t):
                    m = kc
                    del keyed[k]
            else:
                m = next((c for c in remaining if _compatible(c, t) and _key(c) is None), None)
            if m is not None:
                remaining = [c for c in remaining if c is not m]
                result.append(self._morph(m, t, sync))
            else:
                result.append(t)
        fp.children = result
        for c in result:
            c.parent = fp


use_page_type(Page)
