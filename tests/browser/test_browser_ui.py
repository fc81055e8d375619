"""rweb.ui in Chromium: the gallery (every component) passes axe-core with no violation, in the light
and the dark theme; the theme switch keeps its choice; the keyboard works the modal (focus kept
inside, Escape, focus back to the opener), the tabs (arrows, Home, End, one tab stop) and the
toasts (announced by a live region there from the start, dismissed from the keyboard).

axe-core comes from npm (`make axe`): tests/tools.py finds it; missing, these tests skip
locally and the run fails in CI (RWEB_REQUIRE_TOOLS).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from axe import axe_violations, require_axe

from rweb import App, reactive, ui
from rweb.html import component, div, span
from rweb.ui import gallery

if TYPE_CHECKING:
    from conftest import LiveApp
    from playwright.sync_api import Page


def _open(pw_open: Callable[..., LiveApp], scheme: str = "light") -> LiveApp:
    require_axe()
    live = pw_open(gallery.build_app(), connected=False)
    live.page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    live.goto("/")
    live.page.wait_for_function("document.documentElement.classList.contains('ui-js')")
    return live


def _background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.querySelector('.ui-shell')).backgroundColor"))


LIGHT_BG, DARK_BG = "rgb(255, 255, 255)", "rgb(18, 21, 25)"


def _theme_switch_to(page: Page, wanted: str) -> None:
    for _ in range(3):
        if page.evaluate("document.documentElement.getAttribute('data-theme') || ''") == wanted:
            return
        page.click(".ui-theme")
    raise AssertionError(f"the theme switch never got to {wanted!r}")


def _show_everything(live: LiveApp) -> None:
    """The states the first paint does not show: form errors, a toast of each kind."""
    page = live.page
    page.click("#signup button[type=submit]")
    page.wait_for_selector("#f-name-error")
    for kind in ui.TOAST_KINDS:
        page.click(f"#toast-{kind}")
    page.wait_for_function("document.querySelectorAll('#ui-toasts .ui-toast').length === 4")
    page.click("#flash-info")
    page.click("#flash-error")
    page.wait_for_function("document.querySelectorAll('.ui-flashes .ui-toast').length === 2")


@pytest.mark.parametrize(
    ("scheme", "switch", "background"),
    [("light", "", LIGHT_BG), ("dark", "", DARK_BG), ("light", "dark", DARK_BG), ("dark", "light", LIGHT_BG)],
    ids=["light", "dark", "switched-dark", "switched-light"],
)
def test_every_component_passes_axe(pw_open: Callable[..., LiveApp], scheme: str, switch: str, background: str) -> None:
    live = _open(pw_open, scheme)
    page = live.page
    if switch:
        _theme_switch_to(page, switch)
    assert _background(page) == background  # the theme asked for is the one checked
    assert axe_violations(page) == []
    _show_everything(live)
    assert axe_violations(page) == []
    page.click("#open-edit")
    page.wait_for_function("document.querySelector('#edit').matches(':modal')")
    assert axe_violations(page, "#edit") == []
    page.keyboard.press("Escape")
    page.focus("#gallery-tabs-tab-0")
    page.keyboard.press("End")
    assert axe_violations(page, "#tabs") == []


def test_axe_finds_what_is_wrong(pw_open: Callable[..., LiveApp]) -> None:
    # The check can fail: a control without a name and low-contrast text are reported.
    live = _open(pw_open)
    page = live.page
    page.evaluate("""() => {
        const main = document.querySelector('main');
        main.insertAdjacentHTML('beforeend', '<input id="nameless"><p style="color:#ddd">faint</p>');
    }""")
    found = {v["id"] for v in axe_violations(page)}
    assert {"label", "color-contrast"} <= found, found


def test_the_theme_switch_keeps_the_choice_across_loads(pw_open: Callable[..., LiveApp]) -> None:
    live = _open(pw_open, "light")
    page = live.page
    label = page.locator(".ui-theme .ui-theme-label")
    assert label.text_content() == "Theme: System" and _background(page) == LIGHT_BG
    page.click(".ui-theme")
    assert label.text_content() == "Theme: Light"
    page.click(".ui-theme")
    assert label.text_content() == "Theme: Dark" and _background(page) == DARK_BG
    assert {c["name"]: c["value"] for c in page.context.cookies()}[ui.THEME_COOKIE] == "dark"
    # Reloaded: the server paints the shell dark from the cookie, before any script runs.
    html = page.request.get(live.url("/")).text()
    assert 'data-ui-theme="dark"' in html
    live.goto("/")
    assert _background(page) == DARK_BG and label.text_content() == "Theme: Dark"
    page.click(".ui-theme")  # back to the system's: the cookie goes
    assert label.text_content() == "Theme: System" and _background(page) == LIGHT_BG
    assert ui.THEME_COOKIE not in {c["name"] for c in page.context.cookies()}


def _focused(page: Page) -> str:
    return str(page.evaluate("(() => { const a = document.activeElement; return a.id || a.getAttribute('aria-label') || a.textContent.trim(); })()"))


def _in_dialog(page: Page) -> bool:
    return bool(page.evaluate("document.querySelector('#edit').contains(document.activeElement)"))


def test_the_modal_keeps_focus_inside_closes_on_escape_and_gives_focus_back(pw_open: Callable[..., LiveApp]) -> None:
    live = _open(pw_open)
    page = live.page
    page.focus("#open-edit")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#edit').matches(':modal')")
    assert _focused(page) == "edit-display"  # the first field of its body
    # Tab and Shift+Tab go round the dialog's controls and never leave it.
    stops = int(page.evaluate("document.querySelectorAll('#edit button, #edit input').length"))
    seen = set()
    for _ in range(stops * 2 + 1):
        page.keyboard.press("Tab")
        assert _in_dialog(page), f"Tab left the dialog for {_focused(page)}"
        seen.add(_focused(page))
    assert {"edit-display", "edit-city", "edit-cancel", "Close"} <= seen
    for _ in range(stops * 2 + 1):
        page.keyboard.press("Shift+Tab")
        assert _in_dialog(page), f"Shift+Tab left the dialog for {_focused(page)}"
    page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('#edit').open")
    assert _focused(page) == "open-edit"
    # Closed by its Cancel button, from the keyboard: focus back as well.
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#edit').matches(':modal')")
    page.focus("#edit-cancel")
    page.keyboard.press("Enter")
    page.wait_for_function("!document.querySelector('#edit').open")
    assert _focused(page) == "open-edit"
    # Save submits the form to the server and closes the dialog.
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#edit').matches(':modal')")
    page.fill("#edit-display", "Grace")
    page.click("#edit .ui-modal-foot button[type=submit]")
    page.wait_for_function("document.querySelector('#saved')?.textContent === 'Saved: Grace'")
    assert not page.evaluate("document.querySelector('#edit').open")


@reactive
class Bumps:
    n: int = 0


def _modal_app() -> App:
    app = App("modal", assets=ui.ASSETS)

    @app.page("/")
    def page(writer_id: Any, conn: Any) -> Any:
        st = Bumps()

        def box() -> Any:  # re-rendered by each bump, the dialog (rendered closed) with it
            return div(
                span(str(st.n), id="n"),
                ui.button("Open", id="open", data_js=ui.open_modal("m")),
                ui.modal("m", "Bumps", ui.text_input("a", "A"), ui.button("Bump", id="bump", data_action="bump")),
            )

        def bump(params: dict[str, Any]) -> None:
            st.n += 1

        return (lambda: div(component("box", box))), {"bump": bump}

    return app


def test_a_re_render_keeps_an_open_modal_open_and_focus_where_it_was(pw_open: Callable[..., LiveApp]) -> None:
    require_axe()
    live = pw_open(_modal_app())
    page = live.page
    page.wait_for_function("document.documentElement.classList.contains('ui-js')")
    page.click("#open")
    page.wait_for_function("document.querySelector('#m').matches(':modal')")
    page.focus("#bump")
    page.evaluate("window.moves = []; document.addEventListener('focusin', (e) => moves.push(e.target.id))")
    page.keyboard.press("Enter")  # the server re-renders the box: its <dialog> has no "open" there
    page.wait_for_function("document.querySelector('#n').textContent === '1'")
    state = page.evaluate("""() => { const d = document.querySelector('#m');
        return [d.open, d.matches(':modal'), getComputedStyle(d).display, document.activeElement.id]; }""")
    assert state == [True, True, "block", "bump"]
    # The dialog was never closed and shown again: the focus did not move (a screen reader says nothing),
    # and what the browser gives the focus back to on close is still the opener, at once.
    assert page.evaluate("moves") == []
    page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('#m').open")
    assert page.evaluate("document.activeElement.id") == "open"


def _tabs_state(page: Page) -> tuple[list[str], list[str], list[bool]]:
    return tuple(page.evaluate("""() => {
        const tabs = [...document.querySelectorAll('#gallery-tabs [role=tab]')];
        return [tabs.map((t) => t.getAttribute('aria-selected')), tabs.map((t) => t.getAttribute('tabindex')),
                [...document.querySelectorAll('#gallery-tabs [role=tabpanel]')].map((p) => p.hidden)];
    }"""))  # type: ignore[return-value]


def _selected(page: Page, i: int) -> None:
    sel, tabindex, hidden = _tabs_state(page)
    n = len(sel)
    assert sel == ["true" if k == i else "false" for k in range(n)]
    assert tabindex == ["0" if k == i else "-1" for k in range(n)]
    assert hidden == [k != i for k in range(n)]
    assert _focused(page) == f"gallery-tabs-tab-{i}"


def test_tabs_follow_the_arrow_keys_home_and_end(pw_open: Callable[..., LiveApp]) -> None:
    live = _open(pw_open)
    page = live.page
    page.focus("#gallery-tabs-tab-0")
    page.keyboard.press("ArrowRight")
    _selected(page, 1)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # wraps
    _selected(page, 0)
    page.keyboard.press("ArrowLeft")  # wraps the other way
    _selected(page, 2)
    page.keyboard.press("Home")
    _selected(page, 0)
    page.keyboard.press("End")
    _selected(page, 2)
    # One tab stop: Tab leaves the tab list for the panel shown.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "gallery-tabs-panel-2"
    page.click("#gallery-tabs-tab-1")
    _selected(page, 1)


def test_toasts_are_announced_and_dismissed_from_the_keyboard(pw_open: Callable[..., LiveApp]) -> None:
    live = _open(pw_open)
    page = live.page
    # The live region is on the page from the first paint, empty, and stays the same element.
    assert page.evaluate("document.querySelector('#ui-toasts').__server_rendered === true")
    assert page.get_attribute("#ui-toasts", "aria-live") == "polite"
    assert page.evaluate("document.querySelector('#ui-toasts').children.length") == 0
    page.focus("#toast-success")
    page.keyboard.press("Enter")
    page.focus("#toast-warning")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('#ui-toasts .ui-toast').length === 2")
    assert page.evaluate("document.querySelector('#ui-toasts').__server_rendered === true")
    # What a screen reader hears: Chromium's accessibility tree has the live region and its text.
    tree = page.locator("#ui-toasts").aria_snapshot()
    assert "This is a success toast." in tree and "This is a warning toast." in tree
    # Tab reaches the first toast's dismiss button; Enter dismisses it; focus moves to the next toast.
    first = page.locator("#ui-toasts .ui-toast").first.locator("button")
    first.focus()
    assert "success" in str(first.get_attribute("aria-label"))
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('#ui-toasts .ui-toast').length === 1")
    assert "warning" in str(page.evaluate("document.activeElement.getAttribute('aria-label')"))
    # Escape inside a toast dismisses it too.
    page.keyboard.press("Escape")
    page.wait_for_function("document.querySelectorAll('#ui-toasts .ui-toast').length === 0")


def test_without_javascript_the_gallery_is_readable(pw_browser: Any) -> None:
    from rweb.testing import serve

    require_axe()
    context = pw_browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        with serve(gallery.build_app()) as srv:
            page.goto(srv.url)
            # Styled (the stylesheet loaded), every tab panel shown, the theme switch hidden.
            assert page.locator(".ui-shell").evaluate("(e) => getComputedStyle(e).display") == "flex"
            assert all(p.is_visible() for p in page.locator("#gallery-tabs [role=tabpanel]").all())
            assert not page.locator(".ui-theme").is_visible()
    finally:
        context.close()


def test_the_gallery_mounted_at_a_sub_path_under_asgi_loads_every_asset(pw_page: Page) -> None:
    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    from test_asgi import run_uvicorn

    failed: list[str] = []
    pw_page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    pw_page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    with run_uvicorn("test_ui:mounted_gallery", "--factory", "--app-dir", str(Path(__file__).resolve().parent.parent)) as server:
        pw_page.goto(f"http://127.0.0.1:{server.port}/kit/")
        pw_page.wait_for_function("window.rweb && window.rweb.connected")
        pw_page.wait_for_function("document.documentElement.classList.contains('ui-js')")
        assert pw_page.locator(".ui-shell").evaluate("(e) => getComputedStyle(e).display") == "flex"
        sheets = pw_page.evaluate("[...document.styleSheets].map((s) => s.href)")
        assert [h for h in sheets if h] == [f"http://127.0.0.1:{server.port}/kit{ui.STYLESHEET.path}"]
        pw_page.click(".ui-theme")
        cookie = next(c for c in pw_page.context.cookies() if c["name"] == ui.THEME_COOKIE)
        assert cookie["path"] == "/kit"
        pw_page.click("#toast-info")  # the socket under the prefix works
        pw_page.wait_for_selector("#ui-toasts .ui-toast")
    assert failed == []


def test_the_gallery_works_under_a_strict_csp_with_no_violation(pw_context: Any, pw_open: Callable[..., LiveApp]) -> None:
    from test_browser_csp import LISTEN, STRICT_CSP

    pw_context.add_init_script(LISTEN)
    app = gallery.build_app()
    app.security_headers = App("x", security_headers={"Content-Security-Policy": STRICT_CSP}).security_headers
    live = pw_open(app)
    page = live.page
    assert page.request.get(live.url("/")).headers["content-security-policy"] == STRICT_CSP
    # Waits on functions, not expressions: Playwright polls an expression with eval() in the page, which
    # this CSP refuses and reports whenever the first check is false (conftest's LiveApp.wait_connected).
    page.wait_for_function("() => document.documentElement.classList.contains('ui-js')")
    assert page.locator(".ui-shell").evaluate("(e) => getComputedStyle(e).display") == "flex"
    page.click("#open-edit")
    page.wait_for_function("() => document.querySelector('#edit').matches(':modal')")
    page.keyboard.press("Escape")
    page.click(".ui-theme")
    page.click("#toast-info")
    page.wait_for_selector("#ui-toasts .ui-toast")
    assert page.evaluate("window.__csp") == []
