"""The two builds of rweb: compiled (Cython, see setup.py) and plain Python.

The rest of the suite runs whichever build is installed (compiled, under
``make test`` on a machine with a C compiler).  Here the plain-Python modules
run the core tests too, from a copy of the package without extensions, so the
fallback cannot rot unnoticed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rweb
from rweb.core import _build

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "rweb"
_EXT = tuple(importlib.machinery.EXTENSION_SUFFIXES)

# Unit and single-process server tests: everything the compiled modules touch.
CORE_TESTS = ["test_html.py", "test_protocol.py", "test_reactive.py", "test_render.py",
              "test_session.py", "test_server.py", "test_handlers.py", "test_templates.py"]


def test_every_compiled_module_has_its_declarations() -> None:
    assert set(_build.COMPILED_MODULES) == {".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in PACKAGE.rglob("*.pxd")} == {
        "live.connection", "core.diff", "core.html", "core.meter", "words.protocol", "core.reactive", "rendering.render", "sessions.session",
        "server.picows_transport",
    }
    assert set(_build.compiled_modules()) <= set(_build.COMPILED_MODULES)
    # Each module says itself how it runs (cython.compiled), whatever its file is called.
    for name in _build.COMPILED_MODULES:
        module = importlib.import_module(f"rweb.{name}")
        assert module._COMPILED == (module.__file__ or "").endswith(_EXT)


def test_generated_c_stays_out_of_the_sources() -> None:
    assert not list(PACKAGE.rglob("*.c"))


def test_import_rweb_loads_no_transport() -> None:
    probe = "import sys, rweb, rweb.reactive; print(sorted(m for m in ('picows', 'uvloop', 'httptools', 'rweb.server.picows_transport', 'rweb.asgi') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_every_slot_is_declared_for_the_compiled_build() -> None:
    # A slot added to a class in the .py but not to its .pxd would not exist when
    # compiled (and one only in the .pxd would not exist in plain Python).
    checked = 0
    for name in _build.COMPILED_MODULES:
        module = importlib.import_module(f"rweb.{name}")
        for cls in vars(module).values():
            if isinstance(cls, type) and cls.__module__ == module.__name__ and "__slots__" in vars(cls):
                missing = [s for s in cls.__slots__ if s != "__weakref__" and not hasattr(cls, s)]
                assert not missing, f"{name}.{cls.__name__}: {missing} not declared"
                checked += 1
    assert checked >= 9  # Element, Component, CRef, ComponentState, View, Session, Connection, ...


@pytest.mark.skipif(
    not os.environ.get("RWEB_EXPECT_COMPILED"),
    reason="RWEB_EXPECT_COMPILED is not set (make test sets it when a C compiler is present)",
)
def test_the_compiled_build_is_in_use() -> None:
    # The extensions are optional in setup.py: a failed build must not pass for a compiled one.
    assert rweb.COMPILED, f"compiled: {_build.compiled_modules()} of {_build.COMPILED_MODULES}"
    # The server's transport too, which rweb.COMPILED leaves out (import rweb does not load it).
    assert _build.compiled_modules() == list(_build.COMPILED_MODULES)
    # And the Cython-only modules (no plain form: the build fails quietly without them).
    for name in _build.NATIVE_MODULES:
        assert (importlib.import_module(f"rweb.{name}").__file__ or "").endswith(_EXT), name


def test_every_native_module_is_a_pyx() -> None:
    assert set(_build.NATIVE_MODULES) == {
        ".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in PACKAGE.rglob("*.pyx")
    } == {"server._arenas"}


def test_stale_extensions_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "render.py").write_text("x = 1\n")
    (tmp_path / "render.pxd").write_text("\n")
    ext = tmp_path / ("render" + _EXT[0])
    ext.write_bytes(b"")
    (tmp_path / "diff.py").write_text("x = 1\n")  # no extension: plain Python, never stale
    monkeypatch.setattr(_build, "_HERE", tmp_path)
    monkeypatch.setattr(_build, "COMPILED_MODULES", ("diff", "render"))
    (tmp_path / "_arenas.pyx").write_text("\n")  # a Cython-only module: its .pyx is its source
    arenas = tmp_path / ("_arenas" + _EXT[0])
    arenas.write_bytes(b"")
    monkeypatch.setattr(_build, "NATIVE_MODULES", ("_arenas",))
    os.utime(ext, (1000, 1000))
    os.utime(arenas, (1000, 1000))
    assert _build.stale_extensions() == ["render", "_arenas"]
    os.utime(ext, None)
    os.utime(arenas, None)
    for name in ("render.py", "render.pxd", "_arenas.pyx"):
        os.utime(tmp_path / name, (1000, 1000))
    assert _build.stale_extensions() == []


def test_the_plain_python_build_passes_the_core_tests(tmp_path: Path) -> None:
    pure = _build.copy_plain_python(tmp_path / "src")
    probe = ("import rweb, rweb.render as r; from rweb.server import memory; "
             "print(rweb.COMPILED, r.__file__, memory.huge_page_arenas(), memory.arena_stats())")
    # (Hypothesis keeps its files beside the run: in tmp_path, not in tests/.)
    env = {**os.environ, "PYTHONPATH": str(pure), "RWEB_EXPECT_COMPILED": "",
           "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    # No arena hook without the compiled build: the server runs as before.
    assert out.stdout.split() == ["False", str(pure / "rweb" / "rendering/render.py"), "False", "None"], out.stderr
    # Cython is a build dependency only: without it (an import of it fails), the plain build stands
    # in for what its modules take from it at import (the class decorators of rweb.html).
    probe = ("import sys; sys.modules['cython'] = None; from rweb.html import div, to_html; "
             "print(to_html(div('x', class_='a')))")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == '<div class="a">x</div>', out.stderr
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CORE_TESTS],
        cwd=ROOT / "tests", env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


@pytest.mark.skipif(importlib.util.find_spec("Cython") is None, reason="Cython is not installed")
@pytest.mark.parametrize("compiler", ["none", "cc"])
def test_a_failed_compile_leaves_plain_python(tmp_path: Path, compiler: str) -> None:
    # setup.py on one small module: without a working C compiler the build still
    # succeeds (the extension is optional) and leaves the .py to run; with one, it
    # builds the extension (so this test can tell the two apart).
    if compiler == "cc" and shutil.which("cc") is None:
        pytest.skip("no C compiler here")
    for name in ("setup.py", "setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path)
    pkg = tmp_path / "src" / "rweb"
    pkg.mkdir(parents=True)
    for name in ("__init__.py", "core/diff.py", "core/diff.pxd"):  # copied flat: rweb.diff there
        shutil.copy(PACKAGE / name, pkg)
    env = dict(os.environ)
    if compiler == "none":
        env.update(CC="false", LDSHARED="false")
    run = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    built = [p.name for p in pkg.iterdir() if p.name.endswith(_EXT)]
    assert built == ([] if compiler == "none" else [f"diff{_EXT[0]}"])
