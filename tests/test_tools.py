"""CI's guard: with RWEB_REQUIRE_TOOLS set, a missing tool fails the run instead of skipping tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tools

HERE = Path(__file__).resolve().parent


def run_pytest(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # A trivial test file inside tests/ is not needed: selecting nothing still starts the session.
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE / "test_tools.py"),
         "-k", "no_such_test_name"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_a_missing_tool_fails_the_run_when_required(tmp_path: Path) -> None:
    # PATH without redis-server, nginx and openssl (python itself is called by full path).
    env = dict(os.environ, PATH=str(tmp_path), **{tools.REQUIRE_ENV: "1"})
    done = run_pytest(env, tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "redis-server" in done.stdout + done.stderr


def test_a_missing_tool_only_skips_when_not_required(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))
    env.pop(tools.REQUIRE_ENV, None)
    done = run_pytest(env, tmp_path)
    assert done.returncode == 5, done.stdout + done.stderr  # no test selected: the session ran



def test_a_missing_axe_core_fails_the_run_when_required(tmp_path: Path) -> None:
    # Everything else as it is; only axe-core (the kit's accessibility checker) is not where it is looked for.
    env = dict(os.environ, RWEB_AXE=str(tmp_path / "absent" / "axe.min.js"), **{tools.REQUIRE_ENV: "1"})
    done = run_pytest(env, tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "axe-core (make axe" in done.stdout + done.stderr
