"""Every component of :mod:`rweb.ui` on one page, live: ``python -m rweb.ui.gallery [--port 8080]``.

The theme switch in the top bar cycles the system's theme, light and dark.
The tests check this page with axe-core in both themes (tests/browser/test_browser_ui.py)
and scripts/ui_screenshots.py takes docs/ui.md's pictures from it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..app.app import App, Conn
from ..core import html as h
from ..core.reactive import reactive
from . import components as ui
from .icons import ICONS, icon

__all__ = ["PEOPLE", "build_app", "main"]

_NAMES = "Ada Alan Barbara Claude Donald Edsger Frances Grace Guido Hedy Ken Margaret Niklaus Radia Tim Yukihiro".split()
_TEAMS = ("Compilers", "Networks", "Storage", "Interfaces")
PEOPLE: list[dict[str, Any]] = [
    {"id": i + 1, "name": f"{_NAMES[i % len(_NAMES)]} {chr(65 + i % 26)}.", "team": _TEAMS[i % 4], "score": (i * 37) % 100}
    for i in range(40)
]
PAGE_SIZE = 8
COLUMNS = [
    ui.Column("id", "#", numeric=True),
    ui.Column("name", "Name", sortable=True),
    ui.Column("team", "Team", sortable=True),
    ui.Column("score", "Score", sortable=True, numeric=True),
]
SECTIONS = [
    ("buttons", "Buttons"), ("forms", "Forms"), ("tables", "Tables"), ("dialogs", "Modal and toasts"),
    ("tabs", "Tabs"), ("content", "Cards, badges, alerts"), ("progress", "Progress"), ("icons", "Icons"),
]


@reactive
class GalleryState:
    sort: str = "name"
    descending: bool = False
    page: int = 1
    errors: dict[str, list[str]] | None = None
    values: dict[str, Any] | None = None
    streamed: int = 0
    saved: str = ""


def _section(sid: str, title: str, *content: Any) -> h.Element:
    return h.section(h.h2(title, id=f"{sid}-h"), *content, id=sid, aria_labelledby=f"{sid}-h", class_="ui-section")


def _row(*items: Any) -> h.Element:
    return h.div(*items, class_="ui-row")


def _validate(values: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = str(values.get("name", "")).strip()
    email = str(values.get("email", "")).strip()
    if not name:
        errors["name"] = ["Enter your name."]
    if "@" not in email:
        errors["email"] = ["Enter an email address, like ada@example.com."]
    if len(str(values.get("password", ""))) < 12:
        errors["password"] = ["At least 12 characters."]
    if not values.get("plan"):
        errors["plan"] = ["Choose a plan."]
    if values.get("terms") != "on":
        errors["terms"] = ["Accept the terms to go on."]
    return errors


def build_app() -> App:
    """The gallery's app (the tests serve one per test)."""
    from . import ASSETS

    app = App("rweb.ui gallery", assets=ASSETS)

    @app.page("/")
    def gallery(writer_id: int, conn: Conn) -> tuple[Callable[[], Any], Callable[[str, dict[str, Any]], None]]:
        st = GalleryState()
        toasts = ui.Toasts()
        rows = conn.stream("people", ui.table_row(COLUMNS), key=lambda r: r["id"], tag="tbody")
        rows.extend(PEOPLE[:3])
        st.streamed = 3

        def people_table() -> Any:
            ordered = sorted(PEOPLE, key=lambda r: r[st.sort], reverse=st.descending)
            pages = (len(ordered) + PAGE_SIZE - 1) // PAGE_SIZE
            shown = ordered[(st.page - 1) * PAGE_SIZE : st.page * PAGE_SIZE]
            return ui.table(
                COLUMNS, shown, caption="People", sort=st.sort, descending=st.descending,
                footer=ui.pagination(st.page, pages), id="people",
            )

        def signup_form() -> Any:
            errors = st.errors or {}
            values = st.values or {}
            return ui.form(
                ui.text_input("name", "Name", value=values.get("name"), errors=errors.get("name"), autocomplete="name"),
                ui.text_input("email", "Email", type="email", value=values.get("email"), errors=errors.get("email"),
                              help="We write only about your account.", autocomplete="email"),
                ui.text_input("password", "Password", type="password", errors=errors.get("password"),
                              help="12 characters or more.", autocomplete="new-password"),
                ui.textarea("bio", "About you", value=values.get("bio"), help="Optional.", rows=3),
                ui.select("team", "Team", [("", "None"), *((t, t) for t in _TEAMS)], value=values.get("team")),
                ui.radio_group("plan", "Plan", [("free", "Free"), ("pro", "Pro"), ("team", "Team")],
                               value=values.get("plan"), errors=errors.get("plan")),
                ui.switch("news", "Monthly newsletter", checked=values.get("news") == "on"),
                ui.checkbox("terms", "I accept the terms", checked=values.get("terms") == "on",
                            errors=errors.get("terms")),
                action="signup",
                submit="Create account",
                id="signup",
            )

        def render() -> Any:
            return ui.shell(
                h.h1("Component gallery"),
                h.p("Every component of rweb.ui, live. Switch the theme in the top bar."),
                _section(
                    "buttons", "Buttons",
                    *(_row(*(ui.button(v.capitalize(), variant=v, size=s) for v in ui.VARIANTS)) for s in ui.SIZES),
                    _row(ui.button("Add", icon_name="plus"), ui.button(icon_name="trash", aria_label="Delete",
                         variant="danger"), ui.button("Disabled", disabled=True, variant="secondary"),
                         ui.link_button("A link", href="#buttons", variant="secondary")),
                ),
                _section("forms", "Forms", h.component("gallery-form", signup_form)),
                _section(
                    "tables", "Tables",
                    h.component("gallery-people", people_table),
                    ui.table(COLUMNS, [], caption="Nobody yet", empty="No people match."),
                    ui.table(COLUMNS, rows, caption="Streamed rows (the browser keeps them)"),
                    _row(ui.button("Stream 100 more", variant="secondary", data_action="more", id="more")),
                ),
                _section(
                    "dialogs", "Modal and toasts",
                    _row(
                        ui.button("Edit profile", data_js=ui.open_modal("edit"), id="open-edit"),
                        *(ui.button(f"{k.capitalize()} toast", variant="secondary", data_action="toast",
                                    data_param_kind=k, id=f"toast-{k}") for k in ui.TOAST_KINDS),
                        *(ui.button(f"Flash {k}", variant="secondary", data_action="flash", data_param_kind=k,
                                    id=f"flash-{k}") for k in ("info", "error")),
                    ),
                    h.component("gallery-saved", lambda: h.p(st.saved, id="saved") if st.saved else h.p()),
                    ui.modal(
                        "edit", "Edit profile",
                        h.form(
                            ui.text_input("display", "Display name", value="Ada", id="edit-display"),
                            ui.text_input("city", "City", id="edit-city"),
                            data_action="save_profile", id="edit-form", class_="ui-form",
                        ),
                        footer=(
                            ui.button("Cancel", variant="secondary", data_js=ui.close_modal("edit"), id="edit-cancel"),
                            ui.button("Save", type="submit", form="edit-form", data_js=ui.close_modal("edit")),
                        ),
                    ),
                ),
                _section(
                    "tabs", "Tabs",
                    ui.tabs("gallery-tabs", [
                        ("Overview", h.p("Tabs switch in the browser: Left, Right, Home and End move between them.")),
                        ("Activity", h.p("Nothing happened today.")),
                        ("Settings", ui.switch("tab-alerts", "Alerts by email", checked=True)),
                    ], label="Project"),
                ),
                _section(
                    "content", "Cards, badges, alerts",
                    h.div(
                        ui.card(h.p("A card holds one thing: a summary, a form, a chart."), title="A card",
                                footer=ui.button("Open", size="sm", variant="secondary")),
                        ui.card(_row(*(ui.badge(b.capitalize(), b) for b in ui.BADGES)), title="Badges"),
                        class_="ui-grid",
                    ),
                    *(ui.alert(h.p(f"A {k} message."), kind=k, title=k.capitalize()) for k in ui.TOAST_KINDS),
                ),
                _section(
                    "progress", "Progress",
                    _row(ui.spinner(), ui.spinner("Saving")),
                    ui.progress_bar("Upload", 40, id="p-upload"),
                    ui.progress_bar("Indexing", None, id="p-index"),
                ),
                _section(
                    "icons", "Icons",
                    h.ul(*(h.li(icon(n, size=24), h.span(n)) for n in ICONS), class_="ui-grid ui-grid-sm"),
                ),
                h.component("gallery-toasts", toasts.render),
                navbar=ui.navbar(
                    h.a("rweb.ui", href="/"),
                    ui.nav_link("Gallery", "/", current=True),
                    end=ui.theme_switch(),
                ),
                sidebar=ui.sidebar(*(ui.nav_link(t, f"#{sid}") for sid, t in SECTIONS), label="Components"),
                theme=ui.theme_of(conn.cookies),
                flash=conn,  # conn.flash(kind, message): docs/flash.md
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            if toasts.handle(action, params):
                return
            match action:
                case "sort":
                    key = str(params.get("key"))
                    if key == st.sort:
                        st.descending = not st.descending
                    elif any(c.key == key and c.sortable for c in COLUMNS):
                        st.sort, st.descending = key, False
                    st.page = 1
                case "page":
                    pages = (len(PEOPLE) + PAGE_SIZE - 1) // PAGE_SIZE
                    st.page = min(max(1, int(params.get("page", 1))), pages)
                case "signup":
                    values = {k: v for k, v in params.items() if k != "password"}
                    st.values = values
                    st.errors = _validate(params)
                    if not st.errors:
                        toasts.push(f"Welcome, {values.get('name')}!", "success")
                case "toast":
                    kind = str(params.get("kind"))
                    toasts.push(f"This is a {kind} toast.", kind if kind in ui.TOAST_KINDS else "info")
                case "flash":
                    kind = "error" if params.get("kind") == "error" else "info"
                    conn.flash(kind, f"This is an {kind} flash message.")
                case "more":
                    start = st.streamed
                    for i in range(start, start + 100):
                        person = PEOPLE[i % len(PEOPLE)]
                        rows.append({**person, "id": i + 1})
                    st.streamed = start + 100
                case "save_profile":
                    st.saved = f"Saved: {params.get('display', '')}"

        return render, on_action

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rweb.ui.gallery", description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    from ..server import start_rweb

    start_rweb(args.port, build_app(), host=args.host, workers=1)


if __name__ == "__main__":
    main()
