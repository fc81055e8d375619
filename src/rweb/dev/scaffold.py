"""``rweb new DIRECTORY``: a new rweb project, ready for ``make run`` and ``make test``.

The project holds ``app.py`` (a counter page, a todo page with a form, a
``data-navigate`` link between them, a JSON handler and a stylesheet; the
pages are built with the component kit, ``rweb.ui``),
``tests/test_app.py`` (``rweb.testing``: in-process, no browser),
a ``Makefile``, ``pyproject.toml``, ``README.md`` and ``.gitignore``.
An existing directory must be empty.

``rweb new DIRECTORY --auth`` adds accounts on a real database (the todo
page then needs a login), and ``rweb gen auth [DIRECTORY]`` adds them to an
existing project: ``accounts/``, ``migrations/``, ``alembic.ini``,
``ACCOUNTS.md`` and their tests, from the templates in ``scaffold_auth/``
(docs/auth.md).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

__all__ = ["ProjectExists", "add_auth", "create_project", "gen_main", "main", "project_name"]

# The accounts' templates (rweb new --auth, rweb gen auth): add/ goes into any project,
# new/ replaces the plain project's files for rweb new --auth.
AUTH_TEMPLATES = Path(__file__).resolve().parent / "scaffold_auth"
AUTH_NEXT_STEPS = """\
next:
  pip install 'rweb[auth]'          # SQLAlchemy, Alembic, argon2-cffi ('rweb[auth-postgres]': and psycopg)
  alembic upgrade head               # the database: DATABASE_URL, sqlite:///app.db by default
then, in app.py:
  from accounts.db import Database
  from accounts.mail import mailer_from_env
  from accounts.web import install

  accounts = install(app, Database(), mailer_from_env())  # layout=your_frame: see ACCOUNTS.md

  @app.page("/private", auth=accounts.require_user)   # a page for logged-in users: conn.user
See ACCOUNTS.md."""


class ProjectExists(Exception):
    """The directory exists and is not empty (nothing was written)."""


APP = '''\
"""__TITLE__: an rweb app.

    make run     # http://localhost:8080, restarted when a file changes
    make test    # the tests in tests/

- ``/``: a counter. A click changes the count on the server; the browser
  gets only the new number.
- ``/todos``: a todo list with a form.
- ``/api/hello?name=Ada``: a plain JSON handler.

Each open page (each browser tab) has its own session: its own count, its own
list. The links with ``data-navigate`` switch pages over the same WebSocket.

The pages are built with rweb's component kit (``rweb.ui``: a page shell, a
navbar with a theme switch, buttons, form fields; its theme is light and dark).
``static/style.css`` holds this app's own rules, linked after the kit's theme.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rweb import App, Conn, Request, reactive, ui
from rweb.assets import Asset
from rweb.html import component, h1, li, p, span, ul

HERE = Path(__file__).resolve().parent

app = App(
    "__TITLE__",
    # Files under static/ are served at /static/...; link them with app.static_url("/static/...").
    static={"/static": HERE / "static"},
    # What every page loads: the kit's theme and script, then the app's own stylesheet.
    # Their URLs are content-hashed (cached for good) and carry the app's root path,
    # so they load when the app is mounted under a prefix (rweb.asgi in Starlette or FastAPI).
    assets=[*ui.ASSETS, Asset.file(HERE / "static" / "style.css")],
    lang="en",
)


@reactive
class Counter:
    value: int


@reactive
class Todos:
    items: list


def page(conn: Conn, current: str, *content: Any) -> Any:
    """The frame of every page: a navbar (the page shown marked), the theme switch, the content."""
    links = [
        ui.nav_link(text, app.url_for(name), current=name == current, id=f"nav-{name}", data_navigate=True)
        for text, name in (("Counter", "home"), ("Todos", "todos"))
    ]
    return ui.shell(
        *content,
        navbar=ui.navbar("__TITLE__", *links, end=ui.theme_switch()),
        theme=ui.theme_of(conn.cookies),  # the visitor's theme from the first paint
    )


@app.page("/", title="Counter")
def home(writer_id: int, conn: Conn) -> Any:
    counter = Counter(0)

    def render() -> Any:
        return page(
            conn,
            "home",
            h1("Counter"),
            # A component: only this part is rendered again when counter.value changes.
            component("count", lambda: p("Count: ", span(counter.value, id="count"), class_="count")),
            p(
                ui.button("+", data_action="inc", id="inc"),
                ui.button("-", data_action="dec", id="dec"),
                ui.button("Reset", data_action="reset", id="reset", variant="secondary"),
                class_="ui-row",
            ),
        )

    def on_action(action: str, params: dict[str, Any]) -> None:
        match action:
            case "inc":
                counter.value += 1
            case "dec":
                counter.value -= 1
            case "reset":
                counter.value = 0

    return render, on_action


@app.page("/todos", title="Todos")
def todos(writer_id: int, conn: Conn) -> Any:
    todos = Todos([])

    def todo_list() -> Any:
        if not todos.items:
            return p("Nothing to do.", id="empty")
        return ul(
            [
                li(
                    span(text),
                    # Each "Done" button is named after its todo for screen readers.
                    ui.button("Done", span(" ", text, class_="ui-sr"), data_action="done",
                              data_param_text=text, variant="secondary", size="sm"),
                )
                for text in todos.items
            ],
            id="todos",
        )

    def render() -> Any:
        return page(
            conn,
            "todos",
            h1("Todos"),
            ui.form(
                ui.text_input("text", "Something to do", autocomplete="off"),
                action="add",
                submit="Add",
                id="add",
            ),
            component("list", todo_list),
        )

    def add(params: dict[str, Any]) -> None:
        text = str(params.get("text", "")).strip()
        if text and text not in todos.items:
            todos.items.append(text)
        # The browser keeps what is typed in a field; empty the form's box, ready for the next one.
        conn.reset("#add")
        conn.focus("#add [name=text]")

    def done(params: dict[str, Any]) -> None:
        if params.get("text") in todos.items:
            todos.items.remove(params["text"])

    return render, {"add": add, "done": done}


@app.get("/api/hello")
def hello(request: Request) -> dict[str, Any]:
    """A plain handler: a dict is sent as JSON."""
    return {"hello": request.query.get("name", "world")}


if __name__ == "__main__":
    import argparse

    from rweb import start_rweb

    parser = argparse.ArgumentParser(description="Serve __TITLE__.")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--reload", action="store_true", help="restart when a file changes")
    args = parser.parse_args()
    start_rweb(args.port, app, host=args.host, workers=1, reload=args.reload)
'''

TEST_APP = '''\
"""The app's pages, driven in-process as a user would (rweb.testing: no browser, no server)."""

import re

from rweb.testing import Page, TestClient

from app import app


def test_the_counter_counts() -> None:
    page = Page(app, "/")
    assert page.text("#count") == "0"
    page.click("#inc")
    page.click("#inc")
    page.click("#dec")
    assert page.text("#count") == "1"
    page.click("#reset")
    assert page.text("#count") == "0"


def test_todos_are_added_and_done() -> None:
    page = Page(app, "/todos")
    assert page.exists("#empty")
    page.fill("#add [name=text]", "buy milk")
    page.submit("#add")
    page.submit("#add", {"text": "walk the dog"})
    page.submit("#add", {"text": "   "})  # blank: ignored
    assert page.texts("#todos li > span") == ["buy milk", "walk the dog"]
    page.click("#todos li:first-child button")
    assert page.texts("#todos li > span") == ["walk the dog"]


def test_the_link_switches_pages_live() -> None:
    page = Page(app, "/")
    page.follow("#nav-todos")
    assert page.url == "/todos" and page.title == "Todos"
    page.follow("#nav-home")
    assert page.url == "/" and page.text("#count") == "0"


def test_first_paint_and_json() -> None:
    http = TestClient(app)
    r = http.get("/")
    assert r.status == 200
    assert '<span id="count">0</span>' in r.text
    assert http.get("/api/hello?name=Ada").json() == {"hello": "Ada"}


def test_every_stylesheet_and_script_the_page_links_is_served() -> None:
    http = TestClient(app)
    page = http.get("/todos").text
    linked = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page) + re.findall(r'<script src="([^"]+)"', page)
    assert len(linked) >= 4  # the kit's theme and script, this app's style.css, rweb's client
    for url in linked:
        assert http.get(url).status == 200, url
'''

MAKEFILE = '''\
# Two commands do all set-up:
#   make run    serve the app on http://localhost:8080, restarted when a file changes
#   make test   run the tests
# RWEB is what pip installs as rweb: the checkout this project was made from, or another
# (make run RWEB=../rweb), or a package name.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8080
RWEB   ?= __RWEB__

.PHONY: run test clean

$(VENV)/.installed: pyproject.toml
\t$(PYTHON) -m venv $(VENV)
\t$(PY) -m pip install -q --upgrade pip
\t$(PY) -m pip install -q "$(RWEB)" "pytest>=8"
\ttouch $@

run: $(VENV)/.installed
\t$(PY) -m rweb run app.py --reload --host 127.0.0.1 --port $(PORT)

test: $(VENV)/.installed
\t$(PY) -m pytest -q

clean:
\trm -rf $(VENV) .pytest_cache
'''

PYPROJECT = '''\
[project]
name = "__NAME__"
version = "0.1.0"
description = "An rweb app"
requires-python = ">=3.11"
dependencies = ["rweb"]

[project.optional-dependencies]
test = ["pytest>=8"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
'''

README = '''\
# __TITLE__

An [rweb](https://pypi.org/project/rweb/) app: pages rendered on the server,
kept live over one WebSocket.

```sh
make run     # creates .venv, installs rweb, serves http://localhost:8080 (restarted when a file changes)
make test    # runs tests/ (in-process: no browser, no server)
```

`make run PORT=9000` picks another port; `make run RWEB=path/to/rweb` installs
rweb from another checkout than the one this project was made from.

- `app.py`: the app. `/` is a counter, `/todos` a todo list with a form,
  `/api/hello?name=Ada` a JSON handler; `static/` is served at `/static`
  (link a file there with `app.static_url("/static/...")`).
- The pages use rweb's component kit, `rweb.ui` (a page shell, a navbar,
  buttons, form fields; light and dark themes): see rweb's docs/ui.md.
  `static/style.css` is this app's own stylesheet, loaded after the kit's
  theme: set the theme's custom properties there (`--ui-primary`...).
- `tests/test_app.py`: the pages driven as a user would, with `rweb.testing`.

While `make run` runs, saving a file restarts the server and the open pages
reconnect by themselves, each with a new session (its state starts again).
Without the Makefile: `rweb run app.py --reload`, or `python app.py --reload`.
'''

GITIGNORE = '''\
.venv/
__pycache__/
*.py[cod]
.pytest_cache/
*.egg-info/
build/
dist/
'''

STYLE = '''\
/* This app's own rules, loaded after the component kit's theme (rweb.ui), so they win.
   The theme's colours, spacing and fonts are custom properties: see rweb's docs/ui.md. */
:root { --ui-content: 48rem; }
.count { font-size: 1.5rem; }
#todos { list-style: none; padding: 0; }
#todos li { display: flex; align-items: center; gap: var(--ui-s3); padding: var(--ui-s1) 0; }
'''


def project_name(directory: Path) -> str:
    """A distribution name from the directory's name: ``My App`` -> ``my-app``."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", directory.name).strip("-").lower()
    return name or "rweb-app"


def rweb_source() -> str:
    """What the new project's Makefile installs as rweb: the source checkout this rweb runs
    from (its ``pyproject.toml`` names the project ``rweb``), else the package name."""
    here = Path(__file__).resolve().parent.parent  # .../src/rweb in a checkout
    for root in (here.parent.parent, here.parent):
        pyproject = root / "pyproject.toml"
        try:
            text = pyproject.read_text()
        except OSError:
            continue
        if re.search(r'^name\s*=\s*"rweb"', text, re.MULTILINE):
            return str(root)
    return "rweb"


def _templates(part: str) -> dict[str, str]:
    """The auth templates of ``part`` (``add`` or ``new``): relative path -> text."""
    root = AUTH_TEMPLATES / part
    return {str(p.relative_to(root))[: -len(".tmpl")]: p.read_text() for p in sorted(root.rglob("*.tmpl"))}


def _write(root: Path, files: dict[str, str], fill: dict[str, str]) -> list[Path]:
    written: list[Path] = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for key, value in fill.items():
            text = text.replace(key, value)
        path.write_text(text)
        written.append(path)
    return written


def _fill(root: Path) -> dict[str, str]:
    name = project_name(root.resolve())
    return {"__NAME__": name, "__TITLE__": name.replace("-", " ").title(), "__RWEB__": rweb_source()}


def add_auth(directory: str | Path) -> list[Path]:
    """Add the accounts to the project in ``directory`` (``rweb gen auth``); the files written.

    Nothing is written when one of them exists already (:class:`ProjectExists`).
    """
    root = Path(directory)
    if not root.is_dir():
        raise ProjectExists(f"{root} is not a directory")
    files = _templates("add")
    taken = sorted(rel for rel in files if (root / rel).exists())
    if taken:
        raise ProjectExists(f"{', '.join(taken)} exist already in {root}: nothing was written")
    written = _write(root, files, _fill(root))
    ignore = root / ".gitignore"
    if ignore.is_file() and "app.db" not in ignore.read_text().splitlines():
        ignore.write_text(ignore.read_text() + "app.db\n")
    return written


def create_project(directory: str | Path, *, auth: bool = False) -> list[Path]:
    """Write a new project into ``directory`` (created; an existing one must be empty); the files written.

    ``auth``: with accounts on a real database (``rweb new --auth``, docs/auth.md).
    """
    root = Path(directory)
    if root.exists():
        if not root.is_dir():
            raise ProjectExists(f"{root} exists and is not a directory")
        if any(root.iterdir()):
            raise ProjectExists(f"{root} exists and is not empty: nothing was written")
    files = {
        "app.py": APP,
        "tests/test_app.py": TEST_APP,
        "static/style.css": STYLE,
        "Makefile": MAKEFILE,
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        ".gitignore": GITIGNORE,
    }
    if auth:  # the todo page for logged-in users, the Makefile's migrate, the auth extra
        files.update(_templates("new"))
    root.mkdir(parents=True, exist_ok=True)
    written = _write(root, files, _fill(root))
    if auth:
        written += add_auth(root)
    return written


def main(argv: list[str]) -> int:
    """``rweb new DIRECTORY``; the exit status."""
    parser = argparse.ArgumentParser(prog="rweb new", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", help="the project's directory (created; an existing one must be empty)")
    parser.add_argument("--auth", action="store_true", help="with accounts on a real database (see ACCOUNTS.md)")
    args = parser.parse_args(argv)
    try:
        create_project(args.directory, auth=args.auth)
    except ProjectExists as exc:
        print(f"rweb new: {exc}", file=sys.stderr)
        return 1
    print(f"created {args.directory}: app.py, tests/test_app.py, Makefile, pyproject.toml, README.md")
    if args.auth:
        print("  with accounts: accounts/, migrations/, alembic.ini, ACCOUNTS.md, tests/test_accounts*.py")
        print(f"  cd {args.directory} && make migrate && make run    # http://localhost:8080")
    else:
        print(f"  cd {args.directory} && make run    # http://localhost:8080, restarted when a file changes")
    print("  make test")
    return 0


def gen_main(argv: list[str]) -> int:
    """``rweb gen auth [DIRECTORY]``: add the accounts to an existing project; the exit status."""
    parser = argparse.ArgumentParser(prog="rweb gen", description="Add generated code to a project.")
    parser.add_argument("what", choices=["auth"], help="auth: accounts on a real database (see docs/auth.md)")
    parser.add_argument("directory", nargs="?", default=".", help="the project's directory (default: here)")
    args = parser.parse_args(argv)
    try:
        written = add_auth(args.directory)
    except ProjectExists as exc:
        print(f"rweb gen auth: {exc}", file=sys.stderr)
        return 1
    root = Path(args.directory)
    print("wrote " + ", ".join(str(p.relative_to(root)) for p in written))
    print(AUTH_NEXT_STEPS)
    return 0
