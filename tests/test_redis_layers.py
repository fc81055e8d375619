"""The Redis broker's layers: link, topics, snapshot store, presence, and the broker that composes them.

Read from the source with ``ast`` (every import counts: at the top, inside a
function, under ``TYPE_CHECKING``), so these hold whether or not redis-py is
installed:

- no import circle through any of these modules, anywhere in the package;
- each layer imports only the layers below it: the link none (but the leaf
  ``rweb.meter``, whose ``Stat`` times its publishes), the topics and
  the store the link, presence the topics and the link; none of them the broker;
- none of them touches another object's ``_``-prefixed members (ruff's SLF001,
  checked here too so that the rule holds for these files whatever ruff's
  per-file ignores say).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rweb"

LAYERS = {
    # module: the package modules it may import
    # rweb.meter: a leaf (it imports nothing of the package): the link times publishes in its Stat.
    "rweb.wire.redis_link": {"rweb.core.meter"},
    "rweb.sessions.redis_topics": {"rweb.wire.redis_link", "rweb.wire.pubsub"},
    "rweb.live.redis_store": {"rweb.wire.redis_link", "rweb.live.snapshot"},
    "rweb.live.presence": {"rweb.wire.redis_link", "rweb.sessions.redis_topics"},
    "rweb.live.broker_redis": {
        "rweb.core.meter",
        "rweb.wire.redis_link",
        "rweb.sessions.redis_topics",
        "rweb.live.redis_store",
        "rweb.live.presence",
        "rweb.wire.pubsub",
    },
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in SRC.rglob("*.py")}


def package_imports(name: str) -> set[str]:
    """The package's modules that module ``name`` imports, wherever in it the import is."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target in MODULES:
                found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES)
    return found


GRAPH = {name: package_imports(name) for name in MODULES}


def cycle_through(start: str) -> list[str] | None:
    """An import path from ``start`` back to itself, or None."""
    paths: dict[str, list[str]] = {start: [start]}
    todo = [start]
    while todo:
        here = todo.pop()
        for there in sorted(GRAPH[here]):
            if there == start:
                return [*paths[here], start]
            if there not in paths:
                paths[there] = [*paths[here], there]
                todo.append(there)
    return None


def test_the_walk_sees_imports_of_every_kind() -> None:
    # What the walk must see for the checks below to mean anything: a lazy import in a
    # function (services -> broker_redis) and one under TYPE_CHECKING (presence -> redis_topics).
    assert "rweb.live.broker_redis" in GRAPH["rweb.hosting.services"]
    assert "rweb.sessions.redis_topics" in GRAPH["rweb.live.presence"]
    # and it finds a circle where there is one.  The floors left none in the package (the one through
    # rweb.app came from `from . import security` counting as an import of rweb itself): one is made.
    GRAPH["rweb.live.presence"].add("rweb.live.broker_redis")
    try:
        assert cycle_through("rweb.live.broker_redis") is not None
    finally:
        GRAPH["rweb.live.presence"].discard("rweb.live.broker_redis")


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_no_import_circle_through_the_redis_layers(module: str) -> None:
    assert cycle_through(module) is None, " -> ".join(cycle_through(module) or [])


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_each_layer_imports_only_the_layers_below(module: str) -> None:
    assert GRAPH[module] <= LAYERS[module], sorted(GRAPH[module] - LAYERS[module])


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_no_private_member_of_another_object_is_touched(module: str) -> None:
    reached: list[str] = []
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Attribute):
            continue
        attr = node.attr
        if not attr.startswith("_") or (attr.startswith("__") and attr.endswith("__")):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        reached.append(f"line {node.lineno}: .{attr}")
    assert reached == []
