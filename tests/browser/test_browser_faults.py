"""What a visitor sees when a handler fails: in debug mode an overlay with the traceback,
otherwise a short notice with the log line's reference (never the exception's text)."""

from __future__ import annotations

import re
from typing import Any

from conftest import PW_TIMEOUT_MS, LiveApp

from rweb import App
from rweb.html import button, div


def failing_app(**options: Any) -> App:
    app = App("faults", **options)

    @app.page("/")
    def page(writer_id: Any) -> Any:
        def explode(params: dict[str, Any]) -> None:
            raise ValueError("the secret is 1234")

        return (lambda: div(button("go", id="go", data_action="go"))), {"go": explode}

    return app


def test_debug_mode_shows_an_overlay_with_the_traceback(pw_open: Any) -> None:
    live: LiveApp = pw_open(failing_app(debug=True))
    live.page.click("#go")
    live.page.wait_for_selector("#rweb-error-overlay", timeout=PW_TIMEOUT_MS)
    text = live.page.text_content("#rweb-error-overlay") or ""
    assert "handler_error" in text and "the secret is 1234" in text
    assert "Traceback" in text and "in explode" in text
    live.page.click("#rweb-error-overlay button")
    assert live.page.query_selector("#rweb-error-overlay") is None


def test_in_production_the_visitor_gets_a_reference_and_no_secret(pw_open: Any) -> None:
    live: LiveApp = pw_open(failing_app())
    live.page.click("#go")
    live.page.wait_for_selector("#rweb-error", timeout=PW_TIMEOUT_MS)
    text = live.page.text_content("#rweb-error") or ""
    assert re.fullmatch(r"Something went wrong \(reference [0-9a-f]+\)\.", text), text
    assert "1234" not in (live.page.content())
    assert live.page.query_selector("#rweb-error-overlay") is None


def test_the_notice_can_be_turned_off(pw_open: Any) -> None:
    app = failing_app(head="<script>window.rwebConfig = {errorNotice: false};</script>")
    live: LiveApp = pw_open(app)
    live.page.evaluate("window.__errors = []; addEventListener('rweb:error', (e) => window.__errors.push(e.detail.code))")
    live.page.click("#go")
    live.page.wait_for_function("window.__errors.length === 1", timeout=PW_TIMEOUT_MS)
    assert live.page.query_selector("#rweb-error") is None
