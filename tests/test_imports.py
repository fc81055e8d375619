"""The package's import graph, read from the sources (every import statement, those inside functions too).

A live connection gets the app's services through rweb.runtime's interface
and never imports the app; the transports' shared rules (rweb.transport) and
the first paint (rweb.server.page) do not either, so the old circle
app <-> connection <-> server/page <-> client_script is gone.  An edge is
what import-linter counts: ``from .server.page import x`` depends on
``rweb.server.page`` (not on the ``rweb.server`` package's ``__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import rweb

PACKAGE = Path(rweb.__file__).resolve().parent


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("rweb", *parts))


def import_graph() -> dict[str, set[str]]:
    """Module -> the rweb modules it imports (at the top or inside a function)."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:  # `from . import server`: the module itself
                    if f"{target}.{alias.name}" in modules:
                        deps.add(f"{target}.{alias.name}")
                        break
                else:
                    if target in modules:
                        deps.add(target)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in modules)
        deps.discard(name)
        graph[name] = deps
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_the_graph_is_read_from_every_import() -> None:
    graph = import_graph()
    assert "rweb.app" in graph["rweb.testing"]  # a top-level import
    assert "rweb.server.page" in graph["rweb.app"]  # one inside a function
    assert "rweb.server" in graph["rweb.runner"]  # `from . import server`


def test_the_connection_never_imports_the_app() -> None:
    graph = import_graph()
    for module in ("rweb.connection", "rweb.runtime", "rweb.transport", "rweb.scheduler", "rweb.server.page"):
        assert "rweb.app" not in reachable(graph, module), module


def test_no_circle_through_the_app_the_connection_and_the_first_paint() -> None:
    graph = import_graph()
    for module in ("rweb.app", "rweb.connection", "rweb.server.page", "rweb.client_script", "rweb.session"):
        assert module not in reachable(graph, module), module


def test_no_module_touches_anothers_private_members() -> None:
    """ruff's SLF001 over the package (pyproject.toml's per-file ignores apply: the two realtime modules
    being rewritten); a member of this module's own objects is marked where it is read (reactive.py)."""
    import subprocess
    import sys

    root = PACKAGE.parents[1]
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "SLF001", "--output-format", "concise", str(PACKAGE)],
        cwd=root, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
