"""Take docs/ui.md's pictures from the gallery (``python -m rweb.ui.gallery``), light and dark.

    .venv/bin/python scripts/ui_screenshots.py [--out docs/img/ui]

Serves the gallery on a loopback port, opens it in Chromium (Playwright, Debian's
``chromium`` or $RWEB_CHROMIUM) at 1x, and saves one PNG per shot and theme:
``<shot>-light.png`` and ``<shot>-dark.png``.  Shots are elements, not whole pages,
so that each file stays small (tests/test_ui_docs.py checks the sizes and that
docs/ui.md shows every one).
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# name -> (what to capture: a CSS selector, what to do first)
SHOTS: dict[str, tuple[str, Callable[[Any], None]]] = {}


def _shot(name: str, selector: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    def register(prepare: Callable[[Any], None]) -> Callable[[Any], None]:
        SHOTS[name] = (selector, prepare)
        return prepare

    return register


@_shot("buttons", "#buttons")
def _buttons(page: Any) -> None:
    pass


@_shot("forms", "#forms")
def _forms(page: Any) -> None:
    page.fill("#f-email", "ada@")
    page.click("#signup button[type=submit]")
    page.wait_for_selector("#f-name-error")


@_shot("table", "#people")
def _table(page: Any) -> None:
    page.click("#people th:nth-child(4) button")  # sorted by score
    page.wait_for_selector("#people th[aria-sort]:nth-child(4)")


@_shot("modal", "body")
def _modal(page: Any) -> None:
    page.evaluate("document.querySelector('#dialogs').scrollIntoView()")
    page.click("#toast-success")
    page.wait_for_selector("#ui-toasts .ui-toast")
    page.click("#open-edit")
    page.wait_for_function("document.querySelector('#edit').matches(':modal')")


@_shot("content", "#content")
def _content(page: Any) -> None:
    pass


@_shot("tabs", "#tabs")
def _tabs(page: Any) -> None:
    page.click("#gallery-tabs-tab-2")


def take(out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from rweb.testing import serve
    from rweb.ui import gallery

    chromium = os.environ.get("RWEB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as pw, serve(gallery.build_app()) as srv:
        browser = pw.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            for theme in ("light", "dark"):
                for name, (selector, prepare) in SHOTS.items():
                    context = browser.new_context(viewport={"width": 960, "height": 640}, device_scale_factor=1,
                                                  color_scheme=theme, reduced_motion="reduce")
                    page = context.new_page()
                    page.set_default_timeout(10_000)
                    page.goto(srv.url)
                    page.wait_for_function("window.rweb && window.rweb.connected")
                    page.wait_for_function("document.documentElement.classList.contains('ui-js')")
                    prepare(page)
                    path = out / f"{name}-{theme}.png"
                    if selector == "body":
                        page.screenshot(path=str(path), animations="disabled")
                    else:
                        page.locator(selector).screenshot(path=str(path), animations="disabled")
                    written.append(path)
                    context.close()
        finally:
            browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "ui")
    args = parser.parse_args()
    for path in take(args.out):
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
