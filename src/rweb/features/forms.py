"""Forms bound to a schema: live validation, errors per field, typed values.

A :class:`Form` wraps a schema (a dataclass, or a pydantic model when pydantic
is installed) and keeps, per session, what the user typed, which fields they
have touched, and the errors of each field; its reads are tracked, so the
components that show a field re-render when its value or its errors change.
This is LiveView's changeset + ``to_form`` in Python idiom::

    @dataclass
    class Signup:
        email: Annotated[str, field_info(label="E-mail", help="We never share it")]
        age: int
        newsletter: bool = False

    form = Form(Signup)

    def on_validate(params):            # the <form>'s data-oninput (debounced)
        form.change(params)

    def on_save(params):                # its data-onsubmit
        signup = form.submit(params)    # a Signup, or None (errors shown)
        if signup and email_taken(signup.email):
            form.add_error("email", "is already taken")

    def render():
        return form_(
            form.field("email").input(), form.field("age").input(),
            button("Sign up", disabled=not form.valid),
            **form.attrs(change="validate", submit="save"),
        )

Errors show only for fields the user has touched (changed, or every field
once a submit was tried), as LiveView's ``used_input?``; values the user typed
stay in their fields while they are invalid. Validation is the schema's:

- **dataclasses**: each field's type converts the text (``str``, ``int``,
  ``float``, ``Decimal``, ``bool``, ``date``, ``datetime``, ``time``,
  ``Enum``, ``Literal[...]``, ``X | None``, ``list[X]``); a field without a
  default is required; constraints ride in ``Annotated[...]`` as objects with
  ``min_length``, ``max_length``, ``ge``, ``gt``, ``le``, ``lt`` or
  ``pattern`` attributes (annotated-types' ``MinLen``, ``Ge``, ... or
  :func:`constraint`); ``__post_init__`` may raise :class:`FieldError` for one
  field or ``ValueError`` for the form.
- **pydantic models**: ``model_validate`` on the fields the user sent (an
  empty text is a missing value for a field that is not a ``str``); the
  errors are pydantic's, per field. ``Field(title=..., description=...)``
  give the label and the help text.

Labels come from ``field_info(label=...)`` (dataclasses, in ``Annotated``
or ``field(metadata=...)``), pydantic's ``title``, or the field's name.
See docs/forms.md#forms-bound-to-a-schema.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import operator
import re
import types
import typing
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from ..core.html import Element
from ..core.reactive import RDict, reactive

__all__ = ["Field", "FieldError", "Form", "constraint", "field_info"]

T = TypeVar("T")

TARGET = "_target"  # the name of the field that changed, sent by the client with a form's input/change
BLANK = "can't be blank"


class FieldError(ValueError):
    """Raised by a dataclass's ``__post_init__`` (or a converter) for one field: ``FieldError("email", "is taken")``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclasses.dataclass(frozen=True)
class _Info:
    label: str | None = None
    help: str | None = None
    input_type: str | None = None  # "email", "password", "textarea", ...: overrides the one the type gives
    placeholder: str | None = None


def field_info(
    *, label: str | None = None, help: str | None = None, input_type: str | None = None, placeholder: str | None = None
) -> Any:
    """A field's label, help text and input type, for ``Annotated[str, field_info(...)]`` or ``field(metadata={"rweb": ...})``."""
    return _Info(label, help, input_type, placeholder)


@dataclasses.dataclass(frozen=True)
class _Constraint:
    min_length: int | None = None
    max_length: int | None = None
    ge: Any = None
    gt: Any = None
    le: Any = None
    lt: Any = None
    pattern: str | None = None


def constraint(
    *,
    min_length: int | None = None,
    max_length: int | None = None,
    ge: Any = None,
    gt: Any = None,
    le: Any = None,
    lt: Any = None,
    pattern: str | None = None,
) -> Any:
    """Constraints for ``Annotated[...]`` on a dataclass field (the attribute names annotated-types uses)."""
    return _Constraint(min_length, max_length, ge, gt, le, lt, pattern)


# -- one field of a schema -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    kind: Any  # the type without Optional / Annotated
    optional: bool
    many: bool
    required: bool
    default: Any
    info: _Info
    constraints: tuple[Any, ...]
    choices: tuple[tuple[str, str], ...]  # (value, text) for Enum / Literal / bool-less selects

    @property
    def input_type(self) -> str:
        if self.info.input_type:
            return self.info.input_type
        kind = self.kind
        if kind is bool:
            return "checkbox"
        if self.choices:
            return "select"
        if kind in (int, float, Decimal):
            return "number"
        if kind is dt.date:
            return "date"
        if kind is dt.datetime:
            return "datetime-local"
        if kind is dt.time:
            return "time"
        return "text"


_NONE = type(None)


def _unwrap(hint: Any) -> tuple[Any, bool, bool, tuple[Any, ...]]:
    """(kind, optional, many, metadata) of a type hint."""
    meta: tuple[Any, ...] = ()
    if typing.get_origin(hint) is typing.Annotated:
        hint, *rest = typing.get_args(hint)
        meta = tuple(rest)
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not _NONE]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0] if len(args) == 1 else hint
        if typing.get_origin(hint) is typing.Annotated:
            hint, *rest = typing.get_args(hint)
            meta += tuple(rest)
    many = False
    if typing.get_origin(hint) in (list, tuple, set, frozenset):
        many = True
        inner = typing.get_args(hint)
        hint = inner[0] if inner else str
    return hint, optional, many, meta


def _choices(kind: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return tuple((str(m.value), m.name.replace("_", " ").capitalize()) for m in kind)
    if typing.get_origin(kind) is typing.Literal:
        return tuple((str(v), str(v)) for v in typing.get_args(kind))
    return ()


def _spec(name: str, hint: Any, required: bool, default: Any, extra: Iterable[Any] = ()) -> _Spec:
    kind, optional, many, found = _unwrap(hint)
    meta = (*found, *extra)
    info = next((m for m in meta if isinstance(m, _Info) and m != _Info()), _Info())
    constraints = tuple(m for m in meta if not isinstance(m, _Info))
    return _Spec(name, kind, optional, many, required, default, info, constraints, _choices(kind))


def _dataclass_specs(schema: type) -> list[_Spec]:
    hints = typing.get_type_hints(schema, include_extras=True)
    out = []
    for f in dataclasses.fields(schema):
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            required, default = False, f.default
        elif f.default_factory is not dataclasses.MISSING:
            required, default = False, f.default_factory()
        else:
            required, default = True, None
        extra = [f.metadata["rweb"]] if "rweb" in f.metadata else []
        out.append(_spec(f.name, hints[f.name], required, default, extra))
    return out


def _is_pydantic(schema: type) -> bool:
    return hasattr(schema, "model_validate") and hasattr(schema, "model_fields")


def _pydantic_specs(schema: Any) -> list[_Spec]:
    out = []
    for name, info in schema.model_fields.items():
        required = bool(info.is_required())
        default = None if required else info.get_default(call_default_factory=True)
        hint = info.annotation
        extra = [_Info(label=info.title, help=info.description)]
        out.append(_spec(name, hint, required, default, [*extra, *info.metadata]))
    return out


# -- converting what the browser sends -------------------------------------------------------

_TRUE = frozenset(("on", "true", "1", "yes"))


def _convert_one(spec: _Spec, text: str) -> Any:
    kind = spec.kind
    if kind is str or kind is Any:
        return text
    if kind is bool:
        return text.lower() in _TRUE
    if kind is int:
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind is float:
        try:
            return float(text.strip())
        except ValueError:
            raise ValueError("must be a number") from None
    if kind is Decimal:
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            raise ValueError("must be a number") from None
    if kind in (dt.date, dt.datetime, dt.time):
        try:
            return kind.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"must be a {'date' if kind is dt.date else 'time' if kind is dt.time else 'date and time'}") from None
    if spec.choices:
        for value, _text in spec.choices:
            if value == text:
                if isinstance(kind, type) and issubclass(kind, enum.Enum):
                    return next(m for m in kind if str(m.value) == text)
                return next(v for v in typing.get_args(kind) if str(v) == text)
        raise ValueError("is not one of the choices")
    try:
        return kind(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc) or "is not valid") from None


_BOUNDS = (("ge", "at least"), ("gt", "more than"), ("le", "at most"), ("lt", "less than"))
_BOUND_OK: dict[str, Any] = {
    "ge": operator.ge,
    "gt": operator.gt,
    "le": operator.le,
    "lt": operator.lt,
}


def _check(spec: _Spec, value: Any) -> None:
    for c in spec.constraints:
        n = getattr(c, "min_length", None)
        if n is not None and len(value) < n:
            raise ValueError(f"must be at least {n} characters" if isinstance(value, str) else f"must have at least {n}")
        n = getattr(c, "max_length", None)
        if n is not None and len(value) > n:
            raise ValueError(f"must be at most {n} characters" if isinstance(value, str) else f"must have at most {n}")
        for attr, words in _BOUNDS:
            bound = getattr(c, attr, None)
            if bound is not None and not _BOUND_OK[attr](value, bound):
                raise ValueError(f"must be {words} {bound}")
        pattern = getattr(c, "pattern", None)
        if pattern is not None and isinstance(value, str) and re.fullmatch(pattern, value) is None:
            raise ValueError("has the wrong format")


def _is_blank(raw: Any) -> bool:
    return raw is None or raw == "" or raw == [] or (isinstance(raw, str) and not raw.strip())


def _convert(spec: _Spec, raw: Any) -> Any:
    """The typed value of one field from what the browser sent (ValueError: its message for the user)."""
    if spec.kind is bool and not spec.many:
        return raw is True or (isinstance(raw, str) and raw.lower() in _TRUE)
    if _is_blank(raw):
        if spec.many:
            if spec.required:
                raise ValueError(BLANK)
            return list(spec.default) if spec.default is not None else []
        if spec.optional:
            return None
        if spec.required:
            raise ValueError(BLANK)
        if spec.kind is str and isinstance(raw, str):
            value: Any = raw
            _check(spec, value)
            return value
        return spec.default
    if spec.many:
        items = raw if isinstance(raw, list | tuple) else [raw]
        value = [_convert_one(spec, str(x)) for x in items]
    else:
        value = _convert_one(spec, raw if isinstance(raw, str) else str(raw))
    _check(spec, value)
    return value


def _initial_text(spec: _Spec, value: Any) -> Any:
    """How a typed value shows in its field."""
    if value is None:
        return [] if spec.many else ""
    if spec.kind is bool and not spec.many:
        return bool(value)
    if spec.many:
        return [_text(x) for x in value]
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# -- the form ----------------------------------------------------------------------------------


@reactive
class _State:
    values: RDict  # field name -> what the field holds (str, list[str] or bool)
    errors: RDict  # field name -> tuple of messages (the schema's and the app's)
    touched: RDict  # field name -> True once the user changed it (every field after a submit)
    submitted: bool


@dataclasses.dataclass(frozen=True)
class Field:
    """One field as a page shows it: its value, its errors (if touched), its label and help text.

    ``input()``, ``textarea()`` and ``select()`` render it with the component
    kit (:mod:`rweb.ui`); ``control_attrs()`` gives the attributes a control
    of your own needs.
    """

    name: str
    id: str
    value: Any
    errors: tuple[str, ...]
    label: str
    help: str | None
    required: bool
    input_type: str
    placeholder: str | None
    choices: tuple[tuple[str, str], ...]

    @property
    def invalid(self) -> bool:
        return bool(self.errors)

    @property
    def error(self) -> str | None:
        """The first error (None: none)."""
        return self.errors[0] if self.errors else None

    @property
    def help_id(self) -> str:
        return f"{self.id}-help"

    @property
    def error_id(self) -> str:
        return f"{self.id}-error"

    @property
    def describedby(self) -> str | None:
        ids = ([self.error_id] if self.errors else []) + ([self.help_id] if self.help else [])  # the kit's order
        return " ".join(ids) or None

    def control_attrs(self) -> dict[str, Any]:
        """The attributes of the control itself: name, id, required, aria-invalid, aria-describedby."""
        return {
            "name": self.name,
            "id": self.id,
            "required": self.required,
            "aria_invalid": "true" if self.errors else None,
            "aria_describedby": self.describedby,
        }

    def input(self, **attrs: Any) -> Element:
        """The field as the component kit draws it (:mod:`rweb.ui`: the label, the control, the errors
        and the help text, wired by ``aria-describedby`` / ``aria-invalid``): a text input of its
        ``input_type``, a checkbox for a ``bool``, a ``<select>`` for choices, a ``<textarea>``.
        Unstyled unless the app serves the kit's assets (``App(assets=ui.ASSETS)``)."""
        from .. import ui

        common: dict[str, Any] = {"help": self.help, "errors": self.errors, "id": self.id, **attrs}
        if self.input_type == "checkbox":
            return ui.checkbox(self.name, self.label, checked=bool(self.value), value="true", **common)
        if self.input_type == "select":
            return self.select(**attrs)
        if self.input_type == "textarea":
            return self.textarea(**attrs)
        return ui.text_input(self.name, self.label, value=self.value, type=self.input_type,
                             placeholder=self.placeholder, required=self.required, **common)

    def textarea(self, **attrs: Any) -> Element:
        from .. import ui

        return ui.textarea(self.name, self.label, value=self.value, help=self.help, errors=self.errors, id=self.id,
                           placeholder=self.placeholder, required=self.required, **attrs)

    def select(self, **attrs: Any) -> Element:
        from .. import ui

        blank: list[tuple[str, str]] = [] if self.required else [("", "")]
        return ui.select(self.name, self.label, [*blank, *self.choices], value=self.value, help=self.help,
                         errors=self.errors, id=self.id, required=self.required, **attrs)


class Form(Generic[T]):
    """A form bound to ``schema`` (a dataclass or a pydantic model), for one session.

    ``initial`` (an instance of the schema or a mapping) fills the fields;
    ``id`` prefixes the fields' element ids (default: the schema's name in
    lower case), so that two forms on a page do not collide.
    """

    def __init__(self, schema: type[T], initial: T | Mapping[str, Any] | None = None, *, id: str | None = None) -> None:
        self.schema = schema
        self.prefix = id or schema.__name__.lower()
        self._pydantic = _is_pydantic(schema)
        if self._pydantic:
            specs = _pydantic_specs(schema)
        elif dataclasses.is_dataclass(schema):
            specs = _dataclass_specs(schema)
        else:
            raise TypeError(f"Form takes a dataclass or a pydantic model, not {schema!r}")
        self._specs = {s.name: s for s in specs}
        self._state: Any = _State(RDict(), RDict(), RDict(), False)
        self._result: T | None = None
        self.reset(initial)

    # -- state -------------------------------------------------------------------------------------

    def reset(self, initial: T | Mapping[str, Any] | None = None) -> None:
        """Back to ``initial`` (or the schema's defaults): nothing touched, no errors."""
        if initial is None:
            given: Mapping[str, Any] = {}
        elif isinstance(initial, Mapping):
            given = initial
        else:
            given = {name: getattr(initial, name) for name in self._specs}
        st = self._state
        st.values.clear()
        for name, spec in self._specs.items():
            st.values[name] = _initial_text(spec, given.get(name, spec.default))
        st.errors.clear()
        st.touched.clear()
        st.submitted = False
        self._result = None
        self._validate()

    def change(self, params: Mapping[str, Any]) -> T | None:
        """A form's input or change (``data-oninput`` / ``data-onchange`` on the ``<form>``): record the
        fields, mark the one that changed (``_target``) touched, validate. Returns the typed value when
        the whole form is valid."""
        self._take(params)
        target = params.get(TARGET)
        if isinstance(target, str) and target in self._specs:
            self._state.touched[target] = True
        return self._validate()

    def submit(self, params: Mapping[str, Any] | None = None) -> T | None:
        """A submit: record the fields, touch every field, validate; the typed value, or None (errors shown)."""
        if params is not None:
            self._take(params)
        st = self._state
        for name in self._specs:
            st.touched[name] = True
        st.submitted = True
        return self._validate()

    def add_error(self, field: str, message: str) -> None:
        """An error found outside the schema (``"is already taken"``): shown on ``field`` until it changes."""
        if field not in self._specs:
            raise KeyError(f"{self.schema.__name__} has no field {field!r}")
        st = self._state
        st.errors[field] = (*st.errors.get(field, ()), message)
        st.touched[field] = True
        self._result = None

    @property
    def valid(self) -> bool:
        """No field has an error (touched or not): e.g. ``button(disabled=not form.valid)``."""
        return not any(self._state.errors.values())

    @property
    def data(self) -> T | None:
        """The typed value of the last validation that passed (None while the form is invalid)."""
        st = self._state
        st.values.get("")  # tracked: a reader re-renders when the fields or their errors change
        st.errors.get("")
        return self._result

    @property
    def submitted(self) -> bool:
        return bool(self._state.submitted)

    def errors(self, touched_only: bool = True) -> dict[str, tuple[str, ...]]:
        """The errors per field (by default only of the fields the user touched)."""
        st = self._state
        return {k: v for k, v in st.errors.items() if v and (not touched_only or st.touched.get(k))}

    def field(self, name: str) -> Field:
        """One field for rendering: reading it makes the component re-render when it changes."""
        spec = self._specs[name]
        st = self._state
        errors = tuple(st.errors.get(name, ())) if st.touched.get(name) else ()
        info = spec.info
        return Field(
            name=name,
            id=f"{self.prefix}-{name}".replace("_", "-"),
            value=st.values.get(name, ""),
            errors=errors,
            label=info.label or name.replace("_", " ").capitalize(),
            help=info.help,
            required=spec.required and spec.kind is not bool,
            input_type=spec.input_type,
            placeholder=info.placeholder,
            choices=spec.choices,
        )

    __getitem__ = field

    def fields(self) -> list[Field]:
        return [self.field(name) for name in self._specs]

    def attrs(self, *, change: str | None = "validate", submit: str | None = "save", debounce: int = 300) -> dict[str, Any]:
        """The ``<form>``'s attributes: live validation on input (debounced, ms) and the submit action;
        ``novalidate`` (the server validates; the browser's own bubbles would pre-empt its messages)."""
        out: dict[str, Any] = {"novalidate": True, "id": self.prefix}
        if change:
            out["data_oninput"] = change
            out["data_debounce"] = str(debounce)
        if submit:
            out["data_onsubmit"] = submit
        return out

    # -- inside --------------------------------------------------------------------------------------

    def _take(self, params: Mapping[str, Any]) -> None:
        values = self._state.values
        for name, spec in self._specs.items():
            if spec.kind is bool and not spec.many:
                raw = params.get(name)
                values[name] = raw is True or (isinstance(raw, str) and raw.lower() in _TRUE)
            elif name in params:
                raw = params[name]
                if spec.many and not isinstance(raw, list):
                    raw = [raw]
                values[name] = list(raw) if isinstance(raw, list | tuple) else str(raw)
            elif spec.many:
                values[name] = []  # a group with nothing ticked is absent, as in an HTML post

    def _validate(self) -> T | None:
        st = self._state
        raw = {name: _plain(st.values.get(name)) for name in self._specs}
        errors: dict[str, list[str]] = {name: [] for name in self._specs}
        result: T | None = None
        if self._pydantic:
            result = self._validate_pydantic(raw, errors)
        else:
            result = self._validate_dataclass(raw, errors)
        for name, msgs in errors.items():
            new = tuple(msgs)
            if tuple(st.errors.get(name, ())) != new:
                st.errors[name] = new
        self._result = result
        return result

    def _validate_dataclass(self, raw: dict[str, Any], errors: dict[str, list[str]]) -> T | None:
        typed: dict[str, Any] = {}
        for name, spec in self._specs.items():
            try:
                typed[name] = _convert(spec, raw[name])
            except FieldError as exc:
                errors[exc.field if exc.field in errors else name].append(exc.message)
            except ValueError as exc:
                errors[name].append(str(exc))
        if any(errors.values()):
            return None
        try:
            return self.schema(**typed)
        except FieldError as exc:
            errors[exc.field if exc.field in errors else next(iter(errors))].append(exc.message)
        except (ValueError, TypeError) as exc:
            errors[next(iter(errors))].append(str(exc))
        return None

    def _validate_pydantic(self, raw: dict[str, Any], errors: dict[str, list[str]]) -> T | None:
        from pydantic import ValidationError

        data: dict[str, Any] = {}
        for name, spec in self._specs.items():
            value = raw[name]
            if spec.kind is not str and not spec.many and _is_blank(value) and spec.kind is not bool:
                if spec.optional:
                    data[name] = None
                continue  # missing: pydantic says "required" or uses the default
            data[name] = value
        try:
            return typing.cast(T, self.schema.model_validate(data))  # type: ignore[attr-defined]
        except ValidationError as exc:
            for err in exc.errors():
                loc = err.get("loc") or ()
                name = str(loc[0]) if loc and str(loc[0]) in errors else next(iter(errors))
                msg = str(err.get("msg", "is not valid"))
                errors[name].append(BLANK if err.get("type") == "missing" else _lower_first(msg))
        return None


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    return [str(x) for x in value]


def _lower_first(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg[:1].lower() + msg[1:] if msg[:2] != msg[:2].upper() else msg

