"""Every ```python block of the guides runs, and the tests it defines pass.

Each block runs as a fresh module (its own namespace, ``__name__`` not
``"__main__"``, so ``if __name__ == "__main__": start_rweb(...)`` stays
off), in a temporary working directory; then each ``test_*`` function it
defines is called.  Servers only start through ``rweb.testing.serve``, on a
free port: ``start_rweb`` fails the test.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import rweb

DOCS = Path(__file__).resolve().parent.parent / "docs"
GUIDES = (
    "routing.md", "testing.md", "streams.md", "hooks.md", "uploads.md", "forms.md", "lifecycle.md", "ui.md", "flash.md",
    "templates.md",
)
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(name: str) -> list[tuple[int, str]]:
    """(line number, code) of each python block in ``docs/name``."""
    text = (DOCS / name).read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in _BLOCK.finditer(text)]


SNIPPETS = [
    pytest.param(name, line, code, id=f"{name}:{line}") for name in GUIDES for line, code in blocks(name)
]


def test_the_guides_have_snippets() -> None:
    assert len(blocks("routing.md")) >= 10
    assert len(blocks("testing.md")) >= 5


@pytest.mark.parametrize(("name", "line", "code"), SNIPPETS)
def test_snippet_runs(
    name: str, line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_server(*args: Any, **kwargs: Any) -> None:
        pytest.fail(f"{name}:{line} started a server on a fixed port")

    monkeypatch.setattr(rweb, "start_rweb", no_server)
    monkeypatch.chdir(tmp_path)
    module_name = f"rweb_docs_{Path(name).stem}_{line}"
    module = types.ModuleType(module_name)
    module.__file__ = str(DOCS / name)
    monkeypatch.setitem(sys.modules, module_name, module)
    # Padded so that a traceback names the line in the guide.
    exec(compile("\n" * (line - 1) + code, str(DOCS / name), "exec"), module.__dict__)
    tests = [fn for key, fn in module.__dict__.items() if key.startswith("test_") and callable(fn)]
    for fn in tests:
        fn()


def test_the_realtime_clock_example_runs_on_the_test_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/realtime.md's timer example (not a guide: its other blocks need Redis) reads app.clock."""
    from datetime import datetime, timedelta

    from rweb.testing import Page

    text = (DOCS / "realtime.md").read_text()
    at = text.index("### Timers and tasks")
    line, code = next((n, c) for n, c in blocks("realtime.md") if n > text.count("\n", 0, at))
    module = types.ModuleType("rweb_docs_realtime_clock")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile("\n" * (line - 1) + code, str(DOCS / "realtime.md"), "exec"), module.__dict__)
    page = Page(module.__dict__["app"])
    first = datetime.strptime(page.text('[data-rc="time"]'), "%H:%M:%S")
    pushes = page.advance(60)
    later = datetime.strptime(page.text('[data-rc="time"]'), "%H:%M:%S")
    assert (later - first) % timedelta(days=1) == timedelta(seconds=60)  # across midnight too
    assert len([m for m in pushes if "time" in m["d"]]) == 60  # the timer ticked every second
