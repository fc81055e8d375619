"""The outside programs the suite drives, found in one place, and what a missing one means.

On a developer's machine a test whose tool is missing skips, saying why.  In CI
(``RWEB_REQUIRE_TOOLS=1``, set by ``.ci/run``) a missing tool fails the run
before any test runs, so that no security or browser test can vanish from a
green run because a package did not install.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable

REQUIRE_ENV = "RWEB_REQUIRE_TOOLS"


def _first_executable(*candidates: str | None) -> str | None:
    for cand in candidates:
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def chromium() -> str | None:
    """The Chromium executable: $RWEB_CHROMIUM, /usr/bin/chromium, or chromium on PATH."""
    return _first_executable(os.environ.get("RWEB_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"))


# axe-core (the accessibility checker the kit's browser tests inject), from npm: `make axe`.
AXE_DEFAULT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "build", "npm", "node_modules", "axe-core", "axe.min.js")


def axe_core() -> str | None:
    """axe.min.js: $RWEB_AXE when set (and only it), else the one `make axe` installs under build/npm."""
    given = os.environ.get("RWEB_AXE")
    path = given if given else AXE_DEFAULT
    return path if os.path.isfile(path) else None


def nginx() -> str | None:
    return shutil.which("nginx") or _first_executable("/usr/sbin/nginx", "/usr/local/sbin/nginx")


def postgres() -> str | None:
    """PostgreSQL's initdb (Debian keeps it in /usr/lib/postgresql/<version>/bin)."""
    from postgres_server import bin_dir

    where = bin_dir()
    return f"{where}/initdb" if where else None


def _module(name: str) -> Callable[[], str | None]:
    return lambda: name if importlib.util.find_spec(name) is not None else None


# What the suite needs, how to find it, and how to install it.
TOOLS: dict[str, tuple[Callable[[], str | None], str]] = {
    "chromium": (chromium, "apt-get install chromium"),
    "redis-server": (lambda: shutil.which("redis-server"), "apt-get install redis-server"),
    "nginx": (nginx, "apt-get install nginx-light"),
    "openssl": (lambda: shutil.which("openssl"), "apt-get install openssl"),
    "postgresql": (postgres, "apt-get install postgresql"),
    "playwright": (_module("playwright"), "pip install -e '.[test]'"),
    "redis-py": (_module("redis"), "pip install 'rweb[redis]'"),
    "axe-core": (axe_core, "make axe, i.e. npm install --prefix build/npm axe-core@4"),
}


def missing() -> list[str]:
    """The tools of :data:`TOOLS` that are not here, each with how to install it."""
    return [f"{name} ({how})" for name, (find, how) in TOOLS.items() if find() is None]


def required() -> bool:
    return bool(os.environ.get(REQUIRE_ENV))

