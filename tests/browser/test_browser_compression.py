"""Chromium loads a gzipped first page and the hashed, brotli- (or gzip-) compressed client script, and clicks work."""

from __future__ import annotations

from typing import Any

from rweb import App, reactive
from rweb.html import button, component, div, li, span, ul
from rweb.testing import serve
from rweb.web.client_script import IMMUTABLE, client_url


@reactive
class Count:
    n: int


def build_app() -> App:
    app = App("compressed")

    @app.page("/")
    def home(writer_id: Any) -> Any:
        count = Count(0)

        def render() -> Any:
            return div(
                component("display", lambda: span(f"Count: {count.n}", id="count")),
                button("+", data_action="inc", id="inc"),
                ul(*(li(f"Row {i} of a list long enough to be compressed") for i in range(100))),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "inc":
                count.n += 1

        return render, on_action

    return app


def test_the_page_loads_the_hashed_compressed_script_and_clicks_work(pw_page: Any) -> None:
    try:
        import brotli  # noqa: F401

        script_coding = "br"
    except ImportError:
        script_coding = "gzip"
    seen: dict[str, dict[str, str]] = {}
    pw_page.on("response", lambda r: seen.setdefault(r.url, r.all_headers()))
    with serve(build_app()) as srv:
        base = f"http://{srv.host}:{srv.port}"
        pw_page.goto(base + "/")
        pw_page.wait_for_function("window.rweb && window.rweb.connected")

        page_headers = seen[base + "/"]
        assert page_headers["content-encoding"] == "gzip"
        assert "accept-encoding" in page_headers["vary"].lower()
        script = seen[base + client_url()]
        assert script["content-encoding"] == script_coding
        assert script["cache-control"] == IMMUTABLE
        assert pw_page.evaluate("document.scripts[0].src") == base + client_url()

        for expected in (1, 2, 3):
            pw_page.click("#inc")
            pw_page.wait_for_function(f"document.querySelector('#count').textContent === 'Count: {expected}'")
        assert pw_page.locator("li").count() == 100
