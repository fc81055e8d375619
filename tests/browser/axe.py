"""axe-core in a Playwright page: the accessibility check of every kit component and example page.

axe-core comes from npm (`make axe`): tests/tools.py finds it; missing, the tests that need it skip
locally and fail in CI (RWEB_REQUIRE_TOOLS).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import tools

if TYPE_CHECKING:
    from playwright.sync_api import Page


def require_axe() -> str:
    path = tools.axe_core()
    if path is None:
        reason = "axe-core is not installed (make axe: npm install --prefix build/npm axe-core@4)"
        if tools.required():
            pytest.fail(reason)
        pytest.skip(reason)
    return path


AXE_RUN = """async (context) => {
  const r = await axe.run(context || document, {resultTypes: ["violations"]});
  return r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " | " + (n.failureSummary || "").split("\\n").join(" ")),
  }));
}"""


def axe_violations(page: Page, context: str | None = None) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=require_axe())
    result: list[dict[str, Any]] = page.evaluate(AXE_RUN, context)
    return result
