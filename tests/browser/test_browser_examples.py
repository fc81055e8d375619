"""The examples and ``rweb new``'s app in Chromium: every page passes axe-core with zero violations in the
light and the dark theme, and ``rweb new``'s app mounted at a sub-path under uvicorn and Starlette loads
every asset (no 4xx in the browser's network log) and empties its todo box after Add; so does
``rweb new --auth``'s, whose accounts (register, log out, log in, reset the password) work there.

axe-core comes from npm (`make axe`): tests/tools.py finds it; missing, these tests skip locally and
the run fails in CI (RWEB_REQUIRE_TOOLS).
"""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from axe import axe_violations, require_axe
from conftest import PW_TIMEOUT_MS
from examples_loader import load_example

from rweb import ui
from rweb.dev.scaffold import add_auth, create_project

if TYPE_CHECKING:
    from conftest import LiveApp
    from playwright.sync_api import Page

TOKEN = "a-test-push-token"
LIGHT_BG, DARK_BG = "rgb(255, 255, 255)", "rgb(18, 21, 25)"  # the theme's --ui-bg (tests/browser/test_browser_ui.py)


def _background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.querySelector('.ui-shell')).backgroundColor"))


def _wait_styled(page: Page) -> None:
    """The kit's stylesheet applies (and its script ran, where the page loads it)."""
    page.wait_for_function("getComputedStyle(document.querySelector('.ui-shell')).display === 'flex'")


def assert_accessible(page: Page, what: str) -> None:
    """axe-core finds nothing, in the light theme then the dark one (the system's, as Chromium emulates it)."""
    for scheme, background in (("light", LIGHT_BG), ("dark", DARK_BG)):
        page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        assert _background(page) == background, f"{what}: the {scheme} theme is not the one shown"
        assert axe_violations(page) == [], f"{what} ({scheme})"


@pytest.fixture
def checked(pw_open: Callable[..., LiveApp]) -> Callable[..., LiveApp]:
    """``checked(app, path)``: serve the app, load ``path``, wait for the kit; axe must be there."""
    require_axe()

    def open_(app: Any, path: str = "/") -> LiveApp:
        live = pw_open(app, path)
        _wait_styled(live.page)
        return live

    return open_


# -- the examples ----------------------------------------------------------------------------------


def test_the_counter_passes_axe(checked: Callable[..., LiveApp]) -> None:
    live = checked(load_example("rweb_counter").build_app())
    assert_accessible(live.page, "the counter")
    live.page.click('[data-action="inc"]')
    live.page.wait_for_function("document.querySelector('[data-rc=display]').textContent === 'Count: 1'")
    assert axe_violations(live.page) == []


def test_the_multi_page_example_passes_axe(checked: Callable[..., LiveApp]) -> None:
    live = checked(load_example("multi_page").build_app())
    page = live.page
    assert_accessible(page, "multi_page /")
    page.click("#nav-item")  # live navigation
    page.wait_for_function("document.querySelector('#page')?.textContent === 'Item 1'")
    assert page.get_attribute("#nav-item", "aria-current") == "page"
    assert_accessible(page, "multi_page /items/1")
    page.click("#nav-home")
    page.wait_for_function("document.querySelector('#page')?.textContent === 'Counter'")
    page.click("#join")  # the cookie, then the members' page
    page.wait_for_function("document.querySelector('#page')?.textContent === 'Members'")
    live.wait_connected()
    _wait_styled(page)
    assert_accessible(page, "multi_page /members")
    live.goto("/about", connected=False)  # the plain page: the kit's stylesheet, no script
    _wait_styled(page)
    assert_accessible(page, "multi_page /about")


def test_the_chat_passes_axe(checked: Callable[..., LiveApp]) -> None:
    chat = load_example("chat")
    live = checked(chat.build_app(rooms=("A", "B")))
    page = live.page
    assert_accessible(page, "chat /")
    page.click("#room-A")
    page.wait_for_selector("#name-form")
    assert_accessible(page, "chat, a room, no name yet")
    page.fill("#name", "   ")
    page.click("#set-name")
    page.wait_for_selector("#name-error")  # an error on the field
    assert page.get_attribute("#name", "aria-invalid") == "true"
    assert_accessible(page, "chat, a name refused")
    page.fill("#name", "Ann")
    page.click("#set-name")
    page.wait_for_selector("#me")
    page.fill("#text", "hello")
    page.press("#text", "Enter")
    page.wait_for_function("document.querySelector('#messages')?.textContent.includes('Ann: hello')")
    # The box is empty again, and the caret is back in it.
    page.wait_for_function("document.querySelector('#text').value === '' && document.activeElement.id === 'text'")
    assert_accessible(page, "chat, a message and a member")


def test_the_clock_passes_axe(checked: Callable[..., LiveApp]) -> None:
    live = checked(load_example("clock").build_app())
    assert_accessible(live.page, "the clock")


def test_rooms_push_passes_axe(checked: Callable[..., LiveApp]) -> None:
    rooms_push = load_example("rooms_push")
    app = rooms_push.build_app(push_token=TOKEN, rooms=("A", "B"))
    live = checked(app, "/")
    assert_accessible(live.page, "rooms_push /")
    live.page.click("#room-A")
    live.page.wait_for_function("document.querySelector('#here')?.textContent === '1'")
    live.server.call(lambda: app.publish("room:A", {"text": "lunch"}))
    live.page.wait_for_function("document.querySelector('#inbox')?.textContent.includes('lunch')")
    assert_accessible(live.page, "rooms_push /rooms/A")


def test_the_asgi_mount_example_passes_axe(pw_page: Page) -> None:
    require_axe()
    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    from test_asgi import ROOT, run_uvicorn

    failed = _network_errors(pw_page)
    with run_uvicorn("examples.asgi_mount:app", cwd=ROOT) as server:
        pw_page.goto(f"http://127.0.0.1:{server.port}/")
        assert axe_violations(pw_page) == [], "Starlette's page"
        pw_page.click("a[href='/counter/']")
        pw_page.wait_for_function("window.rweb && window.rweb.connected")
        _wait_styled(pw_page)
        assert_accessible(pw_page, "the counter mounted at /counter")
    assert failed == []


# -- rweb new -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("new") / "my-shop"
    create_project(root)
    # The Starlette app that mounts the generated one at /shop (uvicorn --app-dir points here).
    (root / "mounted.py").write_text(
        "from starlette.applications import Starlette\n"
        "from starlette.routing import Mount\n\n"
        "import rweb\n"
        "from app import app\n\n"
        'site = Starlette(routes=[Mount("/shop", app=rweb.asgi(app))])\n'
    )
    return root


def _generated_app(project: Path) -> Any:
    """The generated app.py, imported in this process (it finds its static/ beside it)."""
    spec = importlib.util.spec_from_file_location("rweb_new_generated_app", project / "app.py")
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def _network_errors(page: Page) -> list[str]:
    """The page's requests answered with a 4xx or 5xx, or that failed with no answer.

    A request answered before it failed is not one: rweb.js loads the next page once the answer to a
    live session's cookie request is in (``POST /_rweb/cookie``, a keepalive fetch), and Chromium may
    then report that request aborted along with the page it came from.
    """
    failed: list[str] = []
    answered: list[Any] = []

    def on_response(response: Any) -> None:
        answered.append(response.request)
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    page.on("response", on_response)
    page.on("requestfailed", lambda r: None if any(r is a for a in answered) else failed.append(f"failed {r.url}"))
    return failed


def _add_todo(page: Page, text: str) -> None:
    """Type a todo and press Add; the box empties and keeps the focus."""
    page.fill("#add [name=text]", text)
    page.click("#add button[type=submit]")
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('#todos li > span')].some((s) => s.textContent === t)", arg=text
    )
    page.wait_for_function(
        "() => { const box = document.querySelector('#add [name=text]');"
        " return box.value === '' && document.activeElement === box; }",
        timeout=PW_TIMEOUT_MS,
    )


def test_rweb_new_pages_pass_axe(checked: Callable[..., LiveApp], project: Path) -> None:
    live = checked(_generated_app(project))
    page = live.page
    assert_accessible(page, "rweb new: the counter")
    page.click("#nav-todos")
    page.wait_for_selector("#add")
    assert_accessible(page, "rweb new: no todos")
    _add_todo(page, "buy milk")
    _add_todo(page, "walk the dog")
    assert page.locator("#todos li").count() == 2
    assert_accessible(page, "rweb new: two todos")


def test_rweb_new_mounted_at_a_sub_path_loads_every_asset_and_empties_its_box(pw_page: Page, project: Path) -> None:
    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    from test_asgi import run_uvicorn

    failed = _network_errors(pw_page)
    loaded: list[str] = []
    pw_page.on("response", lambda r: loaded.append(r.url))
    with run_uvicorn("mounted:site", "--app-dir", str(project), cwd=project) as server:
        base = f"http://127.0.0.1:{server.port}/shop"
        pw_page.goto(f"{base}/todos")
        pw_page.wait_for_function("window.rweb && window.rweb.connected")
        _wait_styled(pw_page)  # the kit's stylesheet came from under /shop
        pw_page.wait_for_function("document.documentElement.classList.contains('ui-js')")  # and its script
        sheets = pw_page.evaluate("[...document.styleSheets].map((s) => s.href)")
        assert [h.split("/_rweb/a/")[1].split(".")[0] for h in sheets] == ["ui", "style"]
        assert all(h.startswith(f"{base}/_rweb/a/") for h in sheets), sheets
        # The app's own rules apply (static/style.css: the list has no bullets).
        _add_todo(pw_page, "buy milk")
        assert pw_page.locator("#todos").evaluate("(e) => getComputedStyle(e).listStyleType") == "none"
        _add_todo(pw_page, "walk the dog")
        pw_page.click("#todos li:first-child button")
        pw_page.wait_for_function("document.querySelectorAll('#todos li').length === 1")
        pw_page.click("#nav-home")  # live navigation under the prefix
        pw_page.wait_for_selector("#count")
        assert pw_page.url == f"{base}/"
        pw_page.click("#inc")
        pw_page.wait_for_function("document.querySelector('#count').textContent === '1'")
        pw_page.click(".ui-theme")  # the theme's cookie is the app's: path /shop
        cookie = next(c for c in pw_page.context.cookies() if c["name"] == ui.THEME_COOKIE)
        assert cookie["path"] == "/shop"
        pw_page.reload()  # the first paint of / under the prefix, in the theme chosen
        pw_page.wait_for_function("window.rweb && window.rweb.connected")
        assert pw_page.get_attribute(".ui-shell", "data-ui-theme") == cookie["value"]
    assert failed == []
    assert any("/shop/_rweb/a/ui." in u and u.endswith(".js") for u in loaded), loaded
    assert any("/shop/_rweb/rweb." in u for u in loaded), loaded



# -- rweb new --auth ------------------------------------------------------------------------------

PASSWORD = "a long enough password"
NEW_PASSWORD = "another long password"
# The Starlette app that mounts a generated project with accounts at /shop, on its own SQLite file, migrated.
MOUNTED_WITH_A_DATABASE = """\
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount

import rweb

os.environ["DATABASE_URL"] = f"sqlite:///{Path(__file__).resolve().parent / 'app.db'}"
from accounts.db import migrate  # noqa: E402

migrate()
from app import app  # noqa: E402

site = Starlette(routes=[Mount("/shop", app=rweb.asgi(app))])
"""


@pytest.fixture(scope="module")
def auth_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("alembic")
    pytest.importorskip("argon2")
    root = tmp_path_factory.mktemp("new-auth") / "my-shop"
    create_project(root, auth=True)
    (root / "mounted.py").write_text(MOUNTED_WITH_A_DATABASE)
    return root


def test_rweb_new_auth_mounted_at_a_sub_path_works_and_passes_axe(pw_page: Page, auth_project: Path) -> None:
    """``rweb new --auth`` under /shop: every asset loads, register -> log out -> log in -> reset the password
    -> log in with the new one works, and the accounts' pages pass axe-core in light and dark."""
    require_axe()
    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    from test_asgi import run_uvicorn

    page = pw_page
    failed = _network_errors(page)
    loaded: list[str] = []
    page.on("response", lambda r: loaded.append(r.url))
    with run_uvicorn("mounted:site", "--app-dir", str(auth_project), cwd=auth_project) as server:
        base = f"http://127.0.0.1:{server.port}/shop"
        # A page for logged-in users sends the visitor to the log-in form, under /shop.
        page.goto(f"{base}/todos")
        page.wait_for_url(f"{base}/users/log_in?next=%2Ftodos")
        _wait_styled(page)
        sheets = page.evaluate("[...document.styleSheets].map((s) => s.href)")
        assert [h.split("/_rweb/a/")[1].split(".")[0] for h in sheets] == ["ui", "style"], sheets
        assert all(h.startswith(f"{base}/_rweb/a/") for h in sheets), sheets
        assert_accessible(page, "rweb new --auth: log in")
        # Register, from the navbar's link.
        page.click("#nav-register")
        page.wait_for_url(f"{base}/users/register")
        page.wait_for_function("window.rweb && window.rweb.connected")
        _wait_styled(page)
        assert_accessible(page, "rweb new --auth: register")
        page.fill("#registration-email", "ada@example.com")
        page.fill("#registration-password", "short")
        page.wait_for_selector("#registration-password-error")
        assert page.get_attribute("#registration-password", "aria-invalid") == "true"
        assert_accessible(page, "rweb new --auth: register, a password too short")
        page.fill("#registration-password", PASSWORD)
        page.wait_for_selector("#registration-password-error", state="detached")
        with page.expect_navigation():
            page.click("#register")
        page.wait_for_url(f"{base}/")
        page.wait_for_function("window.rweb && window.rweb.connected")
        assert page.text_content("#nav-user") == "ada@example.com"
        # The login's cookie is the app's: a sibling app on the same site neither sees nor replaces it.
        session = next(c for c in page.context.cookies() if c["name"] == "session")
        assert session["path"] == "/shop" and session["httpOnly"]
        # The settings, by live navigation under the prefix: the login sessions come from the database.
        page.click("#nav-settings")
        page.wait_for_url(f"{base}/users/settings")
        page.wait_for_selector("#sessions [data-action=revoke]")
        assert_accessible(page, "rweb new --auth: settings")
        # Log out: the page loads again, and its guard sends it to the log-in form, which comes back here.
        page.click("#log-out")
        page.wait_for_url(f"{base}/users/log_in?next=%2Fusers%2Fsettings")
        page.fill("#email", "ada@example.com")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("#log-in")
        page.wait_for_url(f"{base}/users/settings")
        page.wait_for_function("window.rweb && window.rweb.connected")
        assert page.text_content("#email") == "ada@example.com"
        # The todos, for the logged-in user, by the navbar's live link.
        page.click("#nav-todos")
        page.wait_for_url(f"{base}/todos")
        _add_todo(page, "buy milk")
        # Forgot the password, in another browser: the mailed link (the log's, in development) is under /shop.
        assert page.context.browser is not None
        other_context = page.context.browser.new_context()
        try:
            other = other_context.new_page()
            other.set_default_timeout(PW_TIMEOUT_MS)
            failed_elsewhere = _network_errors(other)
            other.goto(f"{base}/users/log_in")
            other.click("text=Forgot your password?")
            other.wait_for_url(f"{base}/users/reset_password")
            other.wait_for_function("window.rweb && window.rweb.connected")
            _wait_styled(other)
            assert_accessible(other, "rweb new --auth: forgot your password")
            other.fill("#reset-request-email", "ada@example.com")
            other.click("#send-link")
            other.wait_for_selector("#notice")
            link = _mailed_link(server, f"{base}/users/reset_password/")
            other.goto(link)
            other.wait_for_function("window.rweb && window.rweb.connected")
            assert_accessible(other, "rweb new --auth: reset the password")
            other.fill("#new-password-password", NEW_PASSWORD)
            other.fill("#new-password-password-confirmation", NEW_PASSWORD)
            with other.expect_navigation():
                other.click("#reset")
            other.wait_for_url(f"{base}/users/log_in?reset=1")
            # Every login of the account ended: the first browser's open page goes to the log-in form.
            page.wait_for_url(f"{base}/users/log_in?next=%2Ftodos")
            other.fill("#email", "ada@example.com")
            other.fill("#password", NEW_PASSWORD)
            with other.expect_navigation():
                other.click("#log-in")
            other.wait_for_url(f"{base}/")
            other.wait_for_function("window.rweb && window.rweb.connected")
            assert other.text_content("#nav-user") == "ada@example.com"
        finally:
            other_context.close()
    assert failed == [] and failed_elsewhere == []
    assert any("/shop/_rweb/a/ui." in u and u.endswith(".js") for u in loaded), loaded


def _mailed_link(server: Any, prefix: str) -> str:
    """The link of the last mail the app's development mailer wrote to its log (bounded wait)."""
    deadline = time.monotonic() + PW_TIMEOUT_MS / 1000
    while True:
        links = re.findall(re.escape(prefix) + r"\S+", server.output())
        if links:
            return str(links[-1])
        assert time.monotonic() < deadline, "no mail in the server's log:\n" + server.output()[-2000:]
        time.sleep(0.05)


@pytest.fixture(scope="module")
def gen_auth_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``rweb new`` then ``rweb gen auth``, with the lines it prints added to app.py (no layout: the default)."""
    pytest.importorskip("sqlalchemy")
    root = tmp_path_factory.mktemp("gen-auth") / "my-shop"
    create_project(root)
    add_auth(root)
    with (root / "app.py").open("a") as app_py:
        app_py.write(
            "\nfrom accounts.db import Database  # noqa: E402\n"
            "from accounts.mail import mailer_from_env  # noqa: E402\n"
            "from accounts.web import install  # noqa: E402\n\n"
            "accounts = install(app, Database(), mailer_from_env())\n"
        )
    (root / "mounted.py").write_text(MOUNTED_WITH_A_DATABASE)
    return root


def test_rweb_gen_auth_pages_at_a_sub_path_pass_axe(pw_page: Page, gen_auth_project: Path) -> None:
    """The accounts added to a plain ``rweb new`` project (their default layout) under /shop: every asset
    loads, the log-in, register and settings pages pass axe-core in light and dark, and log out works."""
    require_axe()
    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    from test_asgi import run_uvicorn

    page = pw_page
    failed = _network_errors(page)
    with run_uvicorn("mounted:site", "--app-dir", str(gen_auth_project), cwd=gen_auth_project) as server:
        base = f"http://127.0.0.1:{server.port}/shop"
        page.goto(f"{base}/users/settings")
        page.wait_for_url(f"{base}/users/log_in?next=%2Fusers%2Fsettings")
        _wait_styled(page)
        assert_accessible(page, "rweb gen auth: log in")
        page.click("#nav-register")
        page.wait_for_url(f"{base}/users/register")
        page.wait_for_function("window.rweb && window.rweb.connected")
        assert_accessible(page, "rweb gen auth: register")
        page.fill("#registration-email", "ada@example.com")
        page.fill("#registration-password", PASSWORD)
        with page.expect_navigation():
            page.click("#register")
        page.wait_for_url(f"{base}/")  # the app's own home
        page.goto(f"{base}/users/settings")
        page.wait_for_selector("#sessions [data-action=revoke]")
        assert page.text_content("#nav-user") == "ada@example.com"
        assert_accessible(page, "rweb gen auth: settings")
        page.click("#log-out")
        page.wait_for_url(f"{base}/users/log_in?next=%2Fusers%2Fsettings")
        page.click(".ui-brand a")  # the default layout's link home, under the prefix
        page.wait_for_url(f"{base}/")
    assert failed == []
