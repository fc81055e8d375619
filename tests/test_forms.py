"""rweb.forms: a form bound to a dataclass or a pydantic model, validated live, in a real session."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

import pydantic
import pytest
from forms_app import Plan, Signup, signup_app

from rweb.forms import Form
from rweb.testing import Page


def test_dataclass_converts_and_types_the_values() -> None:
    f = Form(Signup)
    got = f.submit({"email": "a@b.c", "name": "Ann", "age": "30", "plan": "pro", "newsletter": "true",
                    "born": "1990-05-01", "tags": ["x", "y"]})
    assert got == Signup("a@b.c", "Ann", 30, Plan.PRO, True, dt.date(1990, 5, 1), ["x", "y"])
    assert f.valid and f.data == got and f.errors() == {}


def test_dataclass_errors_per_field_and_typed_text_kept() -> None:
    f = Form(Signup)
    assert f.submit({"email": "nope", "name": "A", "age": "twelve", "plan": "gold"}) is None
    assert f.errors() == {
        "email": ("has the wrong format",),
        "name": ("must be at least 2 characters",),
        "age": ("must be a whole number",),
        "plan": ("is not one of the choices",),
    }
    assert f["age"].value == "twelve"  # what the user typed stays in the field
    assert f["email"].invalid and f["email"].describedby == "signup-email-error signup-email-help"
    assert f.submit({"email": "a@b.c", "name": "Al", "age": "12"}) is None  # a field not sent keeps its text
    assert f.errors() == {"age": ("must be at least 13",), "plan": ("is not one of the choices",)}
    assert f.submit({"email": "a@b.c", "name": "Al", "age": "13", "plan": "free"}) is not None
    assert f.submit({"email": "a@b.c", "name": "Al", "age": "15", "plan": "pro"}) is None
    assert f.errors() == {"plan": ("needs an adult",)}  # __post_init__'s FieldError lands on its field


def test_blank_required_and_optional() -> None:
    f = Form(Signup)
    assert f.submit({"email": "", "name": "  ", "age": "", "born": ""}) is None
    errs = f.errors()
    assert errs["email"] == ("can't be blank",) and errs["name"] == ("can't be blank",)
    assert errs["age"] == ("can't be blank",) and "born" not in errs


def test_errors_only_for_touched_fields_until_a_submit() -> None:
    f = Form(Signup)
    f.change({"email": "x", "name": "", "age": "", "_target": "email"})
    assert f.errors() == {"email": ("has the wrong format",)}  # the others are not touched yet
    assert f["name"].errors == () and not f.valid  # but the form knows it is invalid
    assert f.errors(touched_only=False).keys() == {"email", "name", "age"}


def test_server_side_error_until_the_field_changes() -> None:
    f = Form(Signup)
    ok = {"email": "a@b.c", "name": "Ann", "age": "30"}
    assert f.submit(ok) is not None
    f.add_error("email", "is already taken")
    assert f["email"].errors == ("is already taken",) and not f.valid and f.data is None
    f.change({**ok, "email": "b@b.c", "_target": "email"})
    assert f["email"].errors == () and f.valid
    with pytest.raises(KeyError):
        f.add_error("nope", "x")


def test_initial_values_and_reset() -> None:
    f = Form(Signup, Signup("a@b.c", "Ann", 30, Plan.PRO, True, dt.date(2000, 1, 2), ["t"]))
    assert f["plan"].value == "pro" and f["newsletter"].value is True and f["born"].value == "2000-01-02"
    assert f["age"].input_type == "number" and f["plan"].input_type == "select"
    assert f["email"].input_type == "email" and f["born"].input_type == "date"
    f.reset()
    assert f["email"].value == "" and f["plan"].value == "free"


class Account(pydantic.BaseModel):
    email: str = pydantic.Field(title="E-mail", description="Your login", pattern=r"[^@\s]+@[^@\s]+")
    age: int = pydantic.Field(ge=18)
    tier: Literal["basic", "gold"] = "basic"
    score: Decimal | None = None

    @pydantic.field_validator("email")
    @classmethod
    def not_example(cls, v: str) -> str:
        if v.endswith("@example.com"):
            raise ValueError("Example addresses are not allowed")
        return v


def test_pydantic_model() -> None:
    f = Form(Account)
    assert f["email"].label == "E-mail" and f["email"].help == "Your login" and f["tier"].input_type == "select"
    assert f.submit({"email": "x@example.com", "age": "", "tier": "gold", "score": ""}) is None
    errs = f.errors()
    assert errs["email"] == ("example addresses are not allowed",)
    assert errs["age"] == ("can't be blank",)
    assert f.submit({"email": "x@y.z", "age": "17"}) is None
    assert f.errors() == {"age": ("input should be greater than or equal to 18",)}
    got = f.submit({"email": "x@y.z", "age": "20", "score": "1.5"})
    assert got == Account(email="x@y.z", age=20, tier="gold", score=Decimal("1.5"))  # tier: as chosen before


def test_refuses_other_schemas() -> None:
    with pytest.raises(TypeError):
        Form(dict)


# -- in a real session: live validation, the rendered fields, a server-side error -----------------


def test_live_validation_in_a_session() -> None:
    page = Page(signup_app(), "/")
    assert page.attr("#signup-email", "aria-invalid") is None
    assert page.attr("#signup", "data-debounce") == "300" and page.attr("#signup", "novalidate") is not None
    page.fill("#signup-email", "nope")
    assert page.attr("#signup-email", "aria-invalid") == "true"
    assert page.text("#signup-email-error") == "has the wrong format"
    assert page.attr("#signup-email", "aria-describedby") == "signup-email-error signup-email-help"
    assert not page.exists("#signup-name-error")  # not touched yet
    page.fill("#signup-email", "taken@b.c")
    assert not page.exists("#signup-email-error")
    page.fill("#signup-name", "Ann")
    page.fill("#signup-age", "30")
    page.submit("#signup")
    assert page.text("#signup-email-error") == "is already taken"
    assert page.value("#signup-age") == "30"
    page.fill("#signup-email", "ann@b.c")
    page.select("#signup-plan", "pro")
    page.check("#signup-newsletter")
    page.submit("#signup")
    assert page.text("#done") == "welcome Ann"
    assert not page.exists(".ui-error")


def test_submit_shows_every_error_and_disables_the_button() -> None:
    page = Page(signup_app(), "/")
    page.submit("#signup")
    assert set(page.texts(".ui-error")) == {"can't be blank"}
    assert page.count(".ui-error") == 3
    assert page.attr("button", "disabled") is not None
