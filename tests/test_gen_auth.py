"""``rweb new DIR --auth`` and ``rweb gen auth``: the accounts project they write, and its own tests,
run on SQLite and on a real PostgreSQL (a private cluster: tests/postgres_server.py).

The generated tests run with this checkout's Python (``PYTHONPATH`` at
``src``): no venv, no pip.  They include a Chromium test (register, log out,
log in, reset the password, log in with the new one) and a locked-table test
(a slow query leaves other sessions' clicks answered).  Every wait is bounded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tools

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    "PYTHONUNBUFFERED": "1",
}
ACCOUNT_FILES = [
    "ACCOUNTS.md",
    "accounts/__init__.py",
    "accounts/db.py",
    "accounts/limits.py",
    "accounts/mail.py",
    "accounts/models.py",
    "accounts/passwords.py",
    "accounts/service.py",
    "accounts/web.py",
    "alembic.ini",
    "migrations/env.py",
    "migrations/script.py.mako",
    "migrations/versions/0001_accounts.py",
    "migrations/versions/0002_email_change_tokens.py",
    "tests/conftest.py",
    "tests/test_accounts.py",
    "tests/test_accounts_browser.py",
]
GENERATED_TESTS = 23  # tests/test_app.py 7, tests/test_accounts.py 13, tests/test_accounts_browser.py 3
BROWSER_TESTS = 3
BROWSER = tools.chromium() is not None and tools.TOOLS["playwright"][0]() is not None


def rweb(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rweb", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout
    )


def run_tests(project: Path, *args: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env={**ENV, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-4000:]
    return done.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("gen")
    done = rweb("new", "Shop", "--auth", cwd=where)
    assert done.returncode == 0, done.stderr
    assert "make migrate" in done.stdout
    return where / "Shop"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    from postgres_server import SKIP_REASON, PostgresServer, bin_dir

    if bin_dir() is None:
        pytest.skip(SKIP_REASON)
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


def test_the_project_has_the_accounts(project: Path) -> None:
    found = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    assert set(ACCOUNT_FILES) <= found
    app = (project / "app.py").read_text()
    assert '@app.page("/todos", title="Todos", auth=accounts.require_user)' in app
    assert 'dependencies = ["rweb[auth]"]' in (project / "pyproject.toml").read_text()
    assert "alembic upgrade head" in (project / "Makefile").read_text()
    assert "app.db" in (project / ".gitignore").read_text().splitlines()
    docs = (project / "ACCOUNTS.md").read_text()
    assert "argon2id" in docs and "m=19 MiB, t=2, p=1" in docs  # the hash's parameters, named
    assert "5 per\n  account" in docs and "30 per client address" in docs  # the limits' numbers
    assert "E-mail changes**, within any hour: 5 requests per account, and 5 naming" in docs
    assert "Registrations**, within any hour: 10 attempts per client address" in docs
    passwords = (project / "accounts" / "passwords.py").read_text()
    assert "time_cost=2, memory_cost=19 * 1024, parallelism=1" in passwords and "Type.ID" in passwords


def test_the_generated_code_is_lint_and_type_clean(project: Path, tmp_path: Path) -> None:
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    types = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy"), "accounts", "app.py", "migrations"],
        cwd=project,
        env={**ENV, "MYPYPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert types.returncode == 0, types.stdout + types.stderr


def test_the_generated_tests_pass_on_sqlite(project: Path) -> None:
    out = run_tests(project)
    if BROWSER or tools.required():
        assert f"{GENERATED_TESTS} passed" in out and "skipped" not in out, out
    else:
        assert f"{GENERATED_TESTS - BROWSER_TESTS} passed, {BROWSER_TESTS} skipped" in out, out


def test_the_generated_tests_pass_on_postgresql(project: Path, postgres: Any) -> None:
    out = run_tests(project, TEST_DATABASE_URL=postgres.url)
    if BROWSER or tools.required():
        assert f"{GENERATED_TESTS} passed" in out and "skipped" not in out, out
    else:
        assert f"{GENERATED_TESTS - BROWSER_TESTS} passed, {BROWSER_TESTS} skipped" in out, out


def test_gen_auth_adds_the_accounts_to_an_existing_project(tmp_path: Path) -> None:
    assert rweb("new", "plain", cwd=tmp_path).returncode == 0
    plain = tmp_path / "plain"
    app_before = (plain / "app.py").read_text()
    done = rweb("gen", "auth", "plain", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "accounts = install(app, Database(), mailer_from_env())" in done.stdout  # what to add to app.py
    for rel in ACCOUNT_FILES:
        assert (plain / rel).is_file(), rel
    assert (plain / "app.py").read_text() == app_before  # the user's app is theirs: not rewritten
    # Its accounts tests stand on their own (their own small app): they pass in the plain project too.
    out = run_tests(plain, "tests/test_accounts.py", "-k", "register_log_out or service_alone")
    assert "2 passed" in out
    # A second run writes nothing.
    (plain / "accounts" / "web.py").write_text("# mine")
    again = rweb("gen", "auth", "plain", cwd=tmp_path)
    assert again.returncode == 1 and "exist already" in again.stderr
    assert (plain / "accounts" / "web.py").read_text() == "# mine"
