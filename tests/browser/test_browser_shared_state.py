"""A page refused state that sessions share (2 workers, no broker) tells its user: a notice, not a blank page.

The app of tests/shared_state_app.py runs as a real server with two workers;
Chromium (Playwright) loads its page that reads a module-level record.  The
first paint and the live join both come from whichever worker the kernel
picks: refused either way.  A page of the session's own state, on the same
server, shows no notice.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import PW_TIMEOUT_MS
from shared_state_app import server

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork and /proc")


def test_a_page_refused_shared_state_shows_a_notice(pw_page: Any, tmp_path: Path) -> None:
    with server(tmp_path, 2) as srv:
        base = f"http://127.0.0.1:{srv.port}"
        pw_page.goto(base + "/tally")
        pw_page.wait_for_function(
            "window.__rweb_events.some((e) => e.type === 'rweb:error' && e.code === 'shared_state')",
            timeout=PW_TIMEOUT_MS,
        )
        notice = pw_page.wait_for_selector("#rweb-error", timeout=PW_TIMEOUT_MS)
        assert notice is not None and notice.is_visible()
        text = notice.text_content() or ""
        assert text.startswith("This page cannot be shown by this server (reference "), text
        assert "Total" not in (pw_page.text_content("body") or "")  # the split value is never shown
        assert "without a broker" not in pw_page.content()  # the log's text stays on the server
        pw_page.wait_for_timeout(300)
        assert pw_page.query_selector("#rweb-error") is not None  # it stays

        pw_page.goto(base + "/own")
        pw_page.wait_for_function("window.rweb && window.rweb.connected", timeout=PW_TIMEOUT_MS)
        pw_page.click("button[data-action=add]")
        pw_page.wait_for_function(
            "document.querySelector('[data-rc=count]').textContent === 'Count: 1'", timeout=PW_TIMEOUT_MS
        )
        assert pw_page.query_selector("#rweb-error") is None
    assert "is read by a session that did not create it" in srv.log()
