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
GUIDES = ("routing.md", "testing.md", "streams.md", "hooks.md", "uploads.md", "forms.md", "lifecycle.md")
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
