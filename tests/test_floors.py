"""The floors as folders (docs/architecture.md): the shims at the public paths are the moved modules
themselves, nothing in the package but rweb/__init__.py imports them, and no module is left flat."""

from __future__ import annotations

import importlib

import pytest
from test_imports import PACKAGE, import_graph

SHIMS = {  # public path -> the module's place on its floor
    "assets": "rweb.web.assets",
    "broker_redis": "rweb.live.broker_redis",
    "clock": "rweb.rendering.clock",
    "dashboard": "rweb.features.dashboard",
    "dom": "rweb.rendering.dom",
    "flash": "rweb.wire.flash",
    "formdata": "rweb.wire.formdata",
    "forms": "rweb.features.forms",
    "html": "rweb.core.html",
    "http": "rweb.web.http",
    "logs": "rweb.server.logs",
    "presence": "rweb.live.presence",
    "protocol": "rweb.words.protocol",
    "pubsub": "rweb.wire.pubsub",
    "reactive": "rweb.core.reactive",
    "redis_link": "rweb.wire.redis_link",
    "redis_store": "rweb.live.redis_store",
    "redis_topics": "rweb.sessions.redis_topics",
    "render": "rweb.rendering.render",
    "security": "rweb.wire.security",
    "signing": "rweb.addressing.signing",
    "snapshot": "rweb.live.snapshot",
    "stream": "rweb.live.stream",
    "upload": "rweb.live.upload",
}


@pytest.mark.parametrize("old", sorted(SHIMS))
def test_a_public_path_is_the_moved_module_itself(old: str, monkeypatch: pytest.MonkeyPatch) -> None:
    public = importlib.import_module(f"rweb.{old}")
    moved = importlib.import_module(SHIMS[old])
    assert public is moved and moved.__name__ == SHIMS[old]
    monkeypatch.setattr(public, "_floors_probe", 1, raising=False)  # patched through the old name
    assert getattr(moved, "_floors_probe", None) == 1


def test_nothing_inside_the_package_imports_a_shim() -> None:
    shims = {f"rweb.{old}" for old in SHIMS}
    users = {m: sorted(deps & shims) for m, deps in import_graph().items() if m not in shims}
    assert {m: d for m, d in users.items() if d and m != "rweb"} == {}


def test_every_module_but_the_shims_sits_in_a_floor() -> None:
    flat = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert flat == set(SHIMS)
