"""rweb as a user installs it: ``python -m build`` makes an sdist and a wheel, and both install.

One module-scoped build (the sdist, then the wheel built from that sdist, as
``python -m build`` does): the wheel is the compiled build, checked for its
tag and contents, installed into a fresh venv (no checkout on its path, no
system site-packages) which serves the seed's counter from a directory
outside the checkout to a real WebSocket client.  The sdist then installs
with the pure-Python fallback forced (``RWEB_PURE_PYTHON=1``, see setup.py).
pip may fetch the dependencies from the index; its cache makes reruns quick.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import ServerProcess, free_port

from rweb.core import _build

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

BUILD_TIMEOUT = 600  # the compile of the hot path: about a minute or two on 2 cores
INSTALL_TIMEOUT = 600


def _run(cmd: list[str], timeout: float, **kw: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    assert done.returncode == 0, f"{cmd}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib_missing("build"):
        pytest.skip("the 'build' package is not installed (pip install -e '.[test]')")
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "RWEB_PURE_PYTHON"}
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], BUILD_TIMEOUT, env=env)
    return out


def importlib_missing(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is None


def _venv(where: Path) -> Path:
    """A fresh venv (no --system-site-packages): its python."""
    _run([sys.executable, "-m", "venv", str(where)], 120)
    return where / "bin" / "python"


def _pip_install(python: Path, target: Path, env: dict[str, str] | None = None) -> None:
    _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(target)],
         INSTALL_TIMEOUT, env=env, cwd=python.parent)


def _probe(python: Path, cwd: Path) -> list[str]:
    """rweb.COMPILED and where rweb was imported from, as the installed package says."""
    done = _run([str(python), "-c", "import rweb; print(rweb.COMPILED, rweb.__file__)"], 60, cwd=cwd,
                env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    return done.stdout.split()


def test_the_sdist_is_complete(dist: Path) -> None:
    import tarfile

    (sdist,) = dist.glob("rweb-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for name in _build.COMPILED_MODULES:
        path = name.replace(".", "/")
        assert f"src/rweb/{path}.py" in names and f"src/rweb/{path}.pxd" in names
    for name in _build.NATIVE_MODULES:  # Cython-only: the .pyx is the source the build compiles
        assert f"src/rweb/{name.replace('.', '/')}.pyx" in names, name
    for needed in ("setup.py", "pyproject.toml", "README.md", "CHANGELOG.md", "src/rweb/py.typed",
                   "src/rweb/client/00-state.js", "src/rweb/client/99-public.js", "src/rweb/server/picows_transport.py",
                   "src/rweb/ui/ui.css", "src/rweb/ui/ui.js"):
        assert needed in names, needed
    # No build products: the sdist compiles (or not) where it is installed.
    assert not [n for n in names if n.endswith((".so", ".pyd", ".c", ".pyc"))]


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (whl,) = dist.glob("rweb-*.whl")
    return whl


def test_the_wheel_is_the_compiled_build(wheel: Path) -> None:
    py = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert wheel.name == f"rweb-0.1.0-{py}-{py}-{platform}.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    ext = sysconfig.get_config_var("EXT_SUFFIX")
    for name in _build.COMPILED_MODULES + _build.NATIVE_MODULES:
        assert f"rweb/{name.replace('.', '/')}{ext}" in names, name
    for needed in ("rweb/client/00-state.js", "rweb/client/99-public.js", "rweb/py.typed", "rweb/__init__.py",
                   "rweb/server/picows_transport.py",
                   "rweb/ui/ui.css", "rweb/ui/ui.js", "rweb/ui/__init__.py"):
        assert needed in names, needed
    # The auth generator's templates ship (their tests/ is the generated project's, not this suite).
    assert "rweb/dev/scaffold_auth/add/accounts/web.py.tmpl" in names
    assert "rweb/dev/scaffold_auth/add/tests/test_accounts.py.tmpl" in names
    templates = "rweb/dev/scaffold_auth/"
    assert not [
        n for n in names
        if not n.startswith(templates) and (n.startswith("tests/") or "/tests/" in n or n.endswith(".c"))
    ]


def test_the_wheel_installs_and_serves_the_counter(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory, wire: Any
) -> None:
    home = tmp_path_factory.mktemp("wheel-user")  # outside the checkout: no src/ on the path
    python = _venv(home / "venv")
    _pip_install(python, wheel)
    compiled, where = _probe(python, home)
    assert compiled == "True", where
    assert where.startswith(str(home / "venv")), where
    app_dir = home / "app"
    app_dir.mkdir()
    shutil.copy(ROOT / "examples" / "rweb_counter.py", app_dir)
    port = free_port()
    log_path = home / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(python), "rweb_counter.py", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"],
            cwd=app_dir, stdout=log, stderr=subprocess.STDOUT,
            env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PYTHONUNBUFFERED": "1"},
        )
    server = ServerProcess(proc, port, log_path)
    try:
        server.wait_listening()

        async def main() -> list[str]:
            async with wire.connect(server.url) as ws:
                await wire.recv(ws)
                return [(await wire.click(ws))["d"]["display"]["0"] for _ in range(3)]

        assert wire.run(main()) == ["1", "2", "3"], server.log()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sdist(dist: Path) -> Iterator[Path]:
    (found,) = dist.glob("rweb-*.tar.gz")
    yield found


def test_the_sdist_installs_as_plain_python_when_asked(sdist: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("sdist-pure")
    python = _venv(home / "venv")
    _pip_install(python, sdist, env={**os.environ, "RWEB_PURE_PYTHON": "1"})
    compiled, where = _probe(python, home)
    assert compiled == "False", where
    site = Path(where).parent
    assert not [p for p in site.iterdir() if p.name.endswith(tuple(sysconfig.get_config_var("EXT_SUFFIX").split()))]
