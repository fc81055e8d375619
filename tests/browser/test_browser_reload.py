"""``rweb run --reload`` with an app that cannot start: the browser shows the error, then the app.

The reloader is a real subprocess on a free loopback port serving an app
file in a temporary directory (as in tests/test_reload.py). A syntax error
stops the server; the open page's overlay shows the file, the line and the
error (not "Reconnecting..."), a page loaded meanwhile shows the same, and
once the file is fixed both pages reload into the app.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from conftest import PW_TIMEOUT_MS
from playwright.sync_api import expect
from test_reload import app_source, edit, reloading

OVERLAY = "#rweb-error-overlay"
WAIT_MS = 2 * PW_TIMEOUT_MS  # a restart: the reloader's poll, then the server's start


def test_the_overlay_shows_a_syntax_error_until_it_is_fixed(tmp_path: Path, pw_context: Any, pw_page: Any) -> None:
    app = tmp_path / "app.py"
    app.write_text(app_source("first"))
    with reloading(tmp_path, ["-m", "rweb", "run", "app.py", "--reload", "--port", "PORT"]) as srv:
        url = f"http://127.0.0.1:{srv.port}/"
        pw_page.goto(url)
        expect(pw_page.locator("#text")).to_have_text("first")
        pw_page.evaluate("window.__before_reload = true")

        broken = app_source("first") + "\nbroken = (\n"
        edit(app, broken)
        line = broken.count("\n")
        overlay = pw_page.locator(OVERLAY)
        expect(overlay).to_contain_text(f"app.py, line {line}", timeout=WAIT_MS)
        expect(overlay).to_contain_text("SyntaxError: '(' was never closed")
        expect(overlay).to_contain_text("app_failed")

        fresh = pw_context.new_page()  # a page loaded while the app is down
        fresh.goto(url)
        expect(fresh.locator(OVERLAY)).to_contain_text(f"app.py, line {line}")
        expect(fresh.locator(OVERLAY)).to_contain_text("SyntaxError: '(' was never closed")

        edit(app, app_source("second"))
        for page in (pw_page, fresh):
            expect(page.locator("#text")).to_have_text("second", timeout=WAIT_MS)
            expect(page.locator(OVERLAY)).to_have_count(0)
        assert pw_page.evaluate("window.__before_reload === undefined")  # the page was loaded again
