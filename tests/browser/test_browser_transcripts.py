"""The recorded wire transcripts (tests/transcripts/*.json), fed to rweb.js in Chromium.

tests/test_transcripts.py replays the same files through the Python test
client; here the browser client gets the same server messages and its DOM
must come out as the same HTML after every step.  The page is served by a
Playwright route on a made-up origin: no server, and the client's socket
never opens (it is disconnected at once), so only what the messages say
reaches the DOM.  Effects (``fx``: loads, cookies) are left out: the
navigation tests cover them against a real server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route

from rweb.web.client_script import client_js

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPTS = ROOT / "tests" / "transcripts"
CLIENT = client_js()[0].decode()  # the client as served: its parts joined (test_compression checks how)
ORIGIN = "http://transcripts.rweb.test"
NAMES = sorted(p.stem for p in TRANSCRIPTS.glob("*.json"))


def dom_html(page: Page) -> str:
    return str(page.evaluate("document.querySelector('[data-rc=\"root\"]').outerHTML"))


def parsed(page: Page, html: str) -> str:
    """``html`` as the browser serialises it once parsed (``&quot;`` in text becomes ``"``)."""
    return str(page.evaluate(
        "(h) => { const t = document.createElement('template'); t.innerHTML = h;"
        " return t.content.firstElementChild.outerHTML; }",
        html,
    ))


def feed(page: Page, msg: dict[str, Any]) -> None:
    msg = {k: v for k, v in msg.items() if k != "fx"}
    page.evaluate("(m) => window.rweb._receive(m)", json.dumps(msg))


@pytest.mark.parametrize("name", NAMES)
def test_the_browser_client_replays_the_transcript(pw_page: Page, name: str) -> None:
    t = json.loads((TRANSCRIPTS / f"{name}.json").read_text())
    page = pw_page
    doc = (
        '<!DOCTYPE html><html><head><meta name="rweb-root" content="">'
        '<meta name="rweb-socket" content="/no-socket-here"></head>'
        f'<body>{t["html"]}<script src="/_rweb/rweb.js"></script></body></html>'
    )

    def serve(route: Route) -> None:
        if route.request.url.endswith("/_rweb/rweb.js"):
            route.fulfill(body=CLIENT, content_type="text/javascript")
        else:
            route.fulfill(body=doc, content_type="text/html")

    page.route(f"{ORIGIN}/**", serve)
    page.route("ws://**", lambda route: route.abort())
    page.goto(ORIGIN + t["url"])
    page.wait_for_function("window.rweb && window.rweb.version")
    page.evaluate("window.rweb.disconnect()")
    feed(page, t["init"])
    assert dom_html(page) == parsed(page, t["html"])
    assert page.evaluate("window.rweb.html('root')") == t["html"]
    for step in t["steps"]:
        for msg in step["receive"]:
            feed(page, msg)
        assert page.evaluate("window.rweb.html('root')") == step["html"], step["send"]
        assert dom_html(page) == parsed(page, step["html"]), step["send"]
