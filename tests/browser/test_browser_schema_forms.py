"""rweb.forms in Chromium: typing validates live (debounced), errors are wired for screen readers,
what was typed stays, and a server-side error lands on its field.

Playwright on Debian's Chromium against tests/forms_app.py served by the real server.
"""

from __future__ import annotations

from typing import Any

from axe import axe_violations, require_axe
from conftest import PW_TIMEOUT_MS, LiveApp
from forms_app import signup_app


def test_live_validation_typing_submit(pw_open: Any) -> None:
    live: LiveApp = pw_open(signup_app(), "/")
    page = live.page
    email = page.locator("#signup-email")
    email.press_sequentially("nope", delay=20)
    page.wait_for_selector("#signup-email-error", timeout=PW_TIMEOUT_MS)
    assert page.text_content("#signup-email-error") == "has the wrong format"
    assert email.get_attribute("aria-invalid") == "true"
    assert email.get_attribute("aria-describedby") == "signup-email-error signup-email-help"
    # The browser's accessibility tree names the field by its label and describes it by help + error.
    assert page.evaluate("document.getElementById('signup-email').labels[0].textContent") == "E-mail"
    assert email.input_value() == "nope"  # the server's rendering never wiped the typing
    assert page.locator(".ui-error").count() == 1  # the untouched fields show nothing yet

    email.fill("taken@b.c")
    page.wait_for_selector("#signup-email-error", state="detached", timeout=PW_TIMEOUT_MS)
    page.fill("#signup-name", "Ann")
    page.fill("#signup-age", "30")
    page.click("button")
    page.wait_for_selector("#signup-email-error", timeout=PW_TIMEOUT_MS)
    assert page.text_content("#signup-email-error") == "is already taken"
    assert page.input_value("#signup-age") == "30"

    email.fill("ann@b.c")
    page.select_option("#signup-plan", "pro")
    page.check("#signup-newsletter")
    page.wait_for_selector("#signup-email-error", state="detached", timeout=PW_TIMEOUT_MS)
    page.click("button")
    page.wait_for_function("document.getElementById('done').textContent === 'welcome Ann'", timeout=PW_TIMEOUT_MS)


def test_empty_submit_marks_every_required_field(pw_open: Any) -> None:
    require_axe()
    live: LiveApp = pw_open(signup_app(), "/")
    page = live.page
    assert axe_violations(page) == []
    page.click("button")
    page.wait_for_function("document.querySelectorAll('.ui-error').length === 3", timeout=PW_TIMEOUT_MS)
    assert axe_violations(page) == []  # the errors, their wiring, the disabled button
    invalid = page.eval_on_selector_all("[aria-invalid=true]", "els => els.map(e => e.id)")
    assert invalid == ["signup-email", "signup-name", "signup-age"]
    assert page.get_attribute("button", "disabled") is not None


def test_the_form_works_from_the_keyboard_alone(pw_open: Any) -> None:
    """Tab from field to field, type, Space ticks the checkbox, Enter submits; the errors stay on their fields."""
    live: LiveApp = pw_open(signup_app(), "/")
    page = live.page
    page.focus("#signup-email")
    page.keyboard.type("nope")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "signup-name"
    page.wait_for_selector("#signup-email-error", timeout=PW_TIMEOUT_MS)  # validated once typing paused
    page.keyboard.type("Ann")
    page.keyboard.press("Tab")
    page.keyboard.type("30")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "signup-plan"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "signup-newsletter"
    page.keyboard.press("Space")
    assert page.is_checked("#signup-newsletter")
    page.keyboard.press("Enter")  # submits the form from the checkbox, as HTML forms do
    # The submit's answer: the form is submitted and invalid, so its button is disabled.  (The
    # e-mail was already marked invalid before it: waiting for that returned before the answer,
    # and the next Enter could then come while this submit was still in flight.)
    page.wait_for_selector("button[type=submit][disabled]", timeout=PW_TIMEOUT_MS)
    assert page.get_attribute("#signup-email", "aria-invalid") == "true"
    assert page.text_content("#done") == ""  # not signed up: the e-mail is still wrong
    page.focus("#signup-email")
    page.keyboard.press("Control+A")
    page.keyboard.type("ann@b.c")
    # While the form is invalid its submit button is disabled, and Enter submits nothing (HTML's
    # implicit submission): once the typing is validated, the button is back and Enter submits.
    page.wait_for_selector("button[type=submit]:not([disabled])", timeout=PW_TIMEOUT_MS)
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('done').textContent === 'welcome Ann'", timeout=PW_TIMEOUT_MS)
    assert page.evaluate("document.activeElement.id") == "signup-email"  # the focus stayed where the user was
