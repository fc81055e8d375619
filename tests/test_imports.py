"""The package's shape, checked: its floors, no import circle, no private member touched, the docs' import paths.

The import graph is read from the sources: every import statement, those
inside functions too, except imports for type checkers only (``if
TYPE_CHECKING:``), which run nowhere.  An edge is what import-linter counts:
``from .page import x`` depends on ``rweb.page``.  A live connection gets the
app's services through rweb.runtime's interface and never imports the app;
the floors (docs/architecture.md) are an import-linter contract in
pyproject.toml.
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
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):  # the type checkers' imports run nowhere: not edges
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []
        for node in ast.walk(tree):
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
    assert "rweb.app.app" in graph["rweb.testing.client"]  # a top-level import
    assert "rweb.hosting.page" in graph["rweb.hosting.http_dispatch"]  # one inside a function
    assert "rweb.app.app" not in graph["rweb.hosting.page"]  # only for the type checker there
    assert "rweb.server" in graph["rweb.dev.runner"]  # `from . import server`


def test_the_connection_never_imports_the_app() -> None:
    graph = import_graph()
    for module in ("rweb.live.connection", "rweb.live.runtime", "rweb.live.transport", "rweb.sessions.scheduler", "rweb.hosting.page", "rweb.hosting.conn",
                   "rweb.hosting.http_dispatch", "rweb.web.cookie_tokens", "rweb.hosting.lifecycle", "rweb.hosting.services"):
        assert "rweb.app.app" not in reachable(graph, module), module


def test_no_import_circle_in_the_package() -> None:
    graph = import_graph()
    circles = sorted(m for m in graph if m in reachable(graph, m))
    assert circles == []


def test_the_floors_hold() -> None:
    """import-linter's layers contract (pyproject.toml, [tool.importlinter]): each module imports
    only its own floor and the floors beneath it (docs/architecture.md)."""
    import subprocess
    import sys
    from pathlib import Path

    root = PACKAGE.parents[1]
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--config", str(root / "pyproject.toml")], cwd=PACKAGE.parent,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout


DOCUMENTED_PATHS = [  # what the README, docs/ and examples import: each keeps working
    "rweb.App", "rweb.Conn", "rweb.Redirect", "rweb.reactive", "rweb.start_rweb", "rweb.RList", "rweb.RDict",
    "rweb.process_local", "rweb.JS", "rweb.ui", "rweb.html.component", "rweb.html.div", "rweb.html.raw",
    "rweb.html.to_html", "rweb.http.Request", "rweb.http.Response", "rweb.http.RedirectResponse",
    "rweb.http.HTTPError", "rweb.http.QueryParams", "rweb.signing.Signer", "rweb.testing.Client",
    "rweb.testing.Page", "rweb.testing.TestClient", "rweb.testing.serve", "rweb.testing.VirtualClock",
    "rweb.stream.Stream", "rweb.forms.Form", "rweb.dashboard.mount_dashboard", "rweb.asgi",
    "rweb.broker_redis.RedisPubSub", "rweb.formdata.UploadFile", "rweb.assets.Asset",
]


def documented_paths() -> set[str]:
    """Every ``from rweb... import x`` / ``import rweb...`` in the README, docs/*.md and examples/."""
    import re

    root = PACKAGE.parents[1]
    texts = [root / "README.md", *sorted((root / "docs").glob("*.md")), *sorted((root / "examples").glob("*.py"))]
    found: set[str] = set()
    for path in texts:
        text = path.read_text()
        for module, names in re.findall(r"^\s*from (rweb(?:\.\w+)*) import \(?([\w, \n]+?)\)?\s*$", text, re.M):
            for name in names.replace("\n", " ").split(","):
                name = name.split(" as ")[0].strip()  # `form as form_`: the name imported
                if name:
                    found.add(f"{module}.{name}")
        found.update(re.findall(r"^\s*import (rweb(?:\.\w+)*)\s*$", text, re.M))
    return found


def test_every_import_path_the_docs_use_works() -> None:
    import importlib

    paths = documented_paths()
    assert len(paths) > 50 and "rweb.testing.Page" in paths  # the scan reads what it should
    for path in sorted(paths | set(DOCUMENTED_PATHS)):
        module, _, name = path.rpartition(".")
        try:
            importlib.import_module(path)  # a module (rweb.ui) or a name in one
            continue
        except ImportError:
            pass
        assert hasattr(importlib.import_module(module), name), path


def test_every_rweb_import_of_the_benchmarks_and_scripts_resolves() -> None:
    # `make bench` runs them, some parts only after many minutes: an import inside a function that
    # the floors (or a rename) broke would fail there (benchmarks/snapshot_cost.py did), not here.
    import importlib

    root = PACKAGE.parents[1]
    checked = 0
    for path in sorted([*(root / "benchmarks").glob("*.py"), *(root / "scripts").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "rweb":
                module = importlib.import_module(node.module)  # type: ignore[arg-type]  # checked above
                for alias in node.names:
                    checked += 1
                    assert hasattr(module, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), (
                        f"{path.name}: from {node.module} import {alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "rweb":
                        checked += 1
                        importlib.import_module(alias.name)
    assert checked > 30  # the scan reads what it should


def test_no_module_touches_anothers_private_members() -> None:
    """ruff's SLF001 over the package; a member of a module's own objects, read on the hot path, is
    marked where it is read (reactive.py)."""
    import subprocess
    import sys

    root = PACKAGE.parents[1]
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "SLF001", "--output-format", "concise", str(PACKAGE)],
        cwd=root, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
