"""The schema-bound form that tests/test_forms.py and tests/browser/test_browser_schema_forms.py share."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Annotated, Any

from rweb import App, ui
from rweb.forms import FieldError, Form, constraint, field_info
from rweb.html import form as form_
from rweb.html import h1, p


class Plan(enum.Enum):
    FREE = "free"
    PRO = "pro"


@dataclass
class Signup:
    email: Annotated[str, field_info(label="E-mail", help="We never share it", input_type="email"),
                     constraint(pattern=r"[^@\s]+@[^@\s]+")]
    name: Annotated[str, constraint(min_length=2, max_length=20)]
    age: Annotated[int, constraint(ge=13)]
    plan: Plan = Plan.FREE
    newsletter: bool = False
    born: dt.date | None = None
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.plan is Plan.PRO and self.age < 18:
            raise FieldError("plan", "needs an adult")


def signup_app() -> App:
    app = App("Signup", assets=ui.ASSETS)
    taken = {"taken@b.c"}

    @app.page("/")
    def page(writer_id: Any) -> Any:
        f = Form(Signup)
        done: list[Signup] = []

        def validate(params: dict[str, Any]) -> None:
            f.change(params)

        def save(params: dict[str, Any]) -> None:
            got = f.submit(params)
            if got is not None and got.email in taken:
                f.add_error("email", "is already taken")
            elif got is not None:
                done.append(got)

        def render() -> Any:
            return ui.shell(
                h1("Sign up"),
                form_(
                    f["email"].input(), f["name"].input(), f["age"].input(), f["plan"].input(),
                    f["newsletter"].input(),
                    ui.button("Sign up", type="submit", disabled=not f.valid and f.submitted),
                    **f.attrs(change="validate", submit="save"),
                ),
                p(f"welcome {done[-1].name}" if done else "", id="done", role="status"),
            )

        return render, {"validate": validate, "save": save}

    return app
