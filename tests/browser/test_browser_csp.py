"""rweb.js under a strict Content-Security-Policy: no inline script, no inline style, no eval.

The seed's counter, served by the real server with the policy docs/security.md
gives, in Chromium (Playwright): the page connects, clicks update it, the
status banner gets its style, and no ``securitypolicyviolation`` event fires.
A control at the end (an inline ``<style>`` added by the test) shows that the
policy is enforced and the listener hears violations.
"""

from __future__ import annotations

from typing import Any

from browser_apps import BUTTONS, counter_setup
from conftest import PW_TIMEOUT_MS

from rweb import App

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'"
)

LISTEN = r"""
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push({directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


def test_the_counter_works_under_a_strict_csp_with_no_violation(pw_context: Any, pw_open: Any) -> None:
    pw_context.add_init_script(LISTEN)  # before the page's own scripts, on every load
    app = App("CSP", counter_setup, security_headers={"Content-Security-Policy": STRICT_CSP})
    live = pw_open(app, "/")
    page = live.page
    assert page.evaluate("document.readyState") == "complete"
    response = page.request.get(live.url("/"))
    assert response.headers["content-security-policy"] == STRICT_CSP

    for n in (1, 2, 3):
        page.click(BUTTONS["inc"])
        page.wait_for_function(
            "(n) => document.querySelector('[data-rc=\"display\"]').textContent === 'Count: ' + n",
            arg=n, timeout=PW_TIMEOUT_MS,
        )
    # The banner's rules (a constructed stylesheet) apply: hidden now, a fixed bar when disconnected.
    status = "getComputedStyle(document.getElementById('rweb-status'))"
    assert page.evaluate(f"{status}.display") == "none"
    page.evaluate("document.documentElement.classList.add('rweb-disconnected')")
    assert page.evaluate(f"[{status}.display, {status}.position]") == ["block", "fixed"]
    page.evaluate("document.documentElement.classList.remove('rweb-disconnected')")

    assert page.evaluate("window.__csp") == []

    # The control: an inline <style> is refused and heard.
    page.evaluate("document.head.append(Object.assign(document.createElement('style'), {textContent: 'p{}'}))")
    page.wait_for_function("() => window.__csp.length > 0", timeout=PW_TIMEOUT_MS)  # a function: see wait_connected
    assert [v["directive"] for v in page.evaluate("window.__csp")] == ["style-src-elem"]
