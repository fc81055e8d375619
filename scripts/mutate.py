#!/usr/bin/env python3
"""Mutation testing of rweb's security checks (``make mutate``): every mutant must be killed.

A test suite can pass while a check it claims to cover is broken.  This run
breaks each check on purpose, one small change at a time (mutmut: a ``<`` for
a ``<=``, a ``True`` for a ``False``, a string emptied, a call dropped...), and
runs the tests that reach it; a mutant that no test notices is a hole in the
suite.  The checks under test are listed in :data:`TARGETS` by concern
(escaping, Origin, redirects, cookies, headers, tokens, snapshots).

The run mutates the pure-Python modules (the compiled build would shadow them):
the checkout's files are copied to ``build/mutate`` without compiled
extensions, mutmut's settings are written there, and mutmut runs the tests of
:data:`TESTS` that reach each mutated function.  It prints, per concern, the
mutants killed and every survivor with its diff, and exits 1 when one
survives or when a targeted function is reached by no test.

A line whose change cannot be observed (a log message's wording) carries
``# pragma: no mutate``; each such pragma says why on its line.

    python scripts/mutate.py                 # everything in TARGETS
    python scripts/mutate.py --only origin   # one concern
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutate"

# Concern -> mutmut names of the functions that hold its checks (module.xǁClassǁmethod for methods).
TARGETS: dict[str, list[str]] = {
    "escaping": [
        "rweb.core.html.x_escape",
        "rweb.core.html.x_attr_name",
        "rweb.core.html.x_url_scheme",
        "rweb.core.html.x_check_url",
        "rweb.core.html.x__check_attr",
    ],
    "origin": [  # the WebSocket's Origin, cross-site requests (CSRF) and the CSRF token
        "rweb.web.origins.xǁOriginPolicyǁorigin_allowed",
        "rweb.web.origins.xǁOriginPolicyǁ_origin_ok",
        "rweb.web.origins.xǁOriginPolicyǁcross_site",
        "rweb.web.origins.x__origin_re",
        "rweb.web.origins.x__origin_patterns",
        "rweb.wire.security.x__browser_id",
        "rweb.wire.security.x_csrf_valid",
    ],
    "redirect": [  # redirects and live navigation: local unless the app names the host
        "rweb.web.http.x_is_local_path",
        "rweb.web.http.x__url_host",
        "rweb.web.http.x_url_has_allowed_host_and_scheme",
        "rweb.web.http.x_check_redirect",
        "rweb.web.http.xǁRedirectResponseǁ__init__",
        "rweb.web.http.xǁRedirectResponseǁchecked",
        "rweb.words.protocol.x__nav",
    ],
    "cookie": [  # Set-Cookie values, the Cookie header, cookies set from a live session
        "rweb.web.http.x_format_cookie",
        "rweb.web.http.x_format_cookie_deletion",
        "rweb.web.http.x_parse_cookies",
        "rweb.web.cookie_tokens.xǁCookieTokensǁtoken",
        "rweb.web.cookie_tokens.xǁCookieTokensǁredeem",
        "rweb.web.cookie_tokens.x__set_cookies",
        "rweb.wire.single_use.xǁUsedTokensǁ*",
    ],
    "header": [  # no CR/LF/NUL on the wire, the protective headers
        "rweb.web.http.x_check_header",
        "rweb.web.http.x_check_headers",
        "rweb.web.http.xǁResponseǁset_header",
        "rweb.hosting.http_dispatch.x_sendable",
        "rweb.wire.security.x_header_defaults",
        "rweb.wire.security.x_add_headers",
    ],
    "token": [  # signed and encrypted tokens, the resume token and its single claim
        "rweb.addressing.signing.xǁSignerǁ*",
        "rweb.live.registry.xǁSessionRegistryǁresume_token",
        "rweb.live.registry.xǁSessionRegistryǁresume_target",
        "rweb.live.connection.xǁConnectionǁclaim",
    ],
    "snapshot": [  # what the store holds is untrusted: its size, version, path and field types
        "rweb.live.snapshot.xǁSnapshotsǁrestore",
        "rweb.live.snapshot.xǁSnapshotsǁtake",
        "rweb.live.snapshot.xǁMemoryStoreǁtake",
        "rweb.live.redis_store.xǁRedisStoreǁtake",
        "rweb.live.snapshot.xǁ_Decoderǁ*",
        "rweb.live.snapshot.x__declared",
        "rweb.live.snapshot.x__fits",
    ],
}

# The tests that exercise those checks (mutmut runs, per mutant, those of them that reach it).
TESTS = [
    "tests/test_safety.py",
    "tests/test_html.py",
    "tests/test_http_types.py",
    "tests/test_cross_site.py",
    "tests/test_cookies.py",
    "tests/test_redirects.py",
    "tests/test_protocol.py",
    "tests/test_handlers.py",
    "tests/test_app.py",
    "tests/test_server.py",
    "tests/test_secure_auth.py",
    "tests/test_resume.py",
    "tests/test_snapshot.py",
    "tests/test_broker_redis.py",  # the Redis store's take (a redis-server; the client in the test's process)
]

# Tests that mutmut's trampoline (one more frame around each function of a mutated module) breaks
# whatever the mutant: a warning's stacklevel points one frame short of the caller.
UNFIT = [
    "--deselect",
    "tests/test_app.py::test_the_setup_first_form_still_works_with_a_deprecation_warning_naming_the_new_form",
]

# Tests that mutmut's trampoline (one more frame around each function of a mutated module) breaks
# whatever the mutant: a warning's stacklevel points one frame short of the caller.
UNFIT = [
    "--deselect",
    "tests/test_app.py::test_the_setup_first_form_still_works_with_a_deprecation_warning_naming_the_new_form",
]

# mutmut's verdicts that count as killed (a timeout: the mutant made the tests hang, which a run notices).
KILLED = ("killed", "caught by type check", "timeout")

# What the copy needs besides the mutated sources.
COPY = ["src", "tests", "docs", "examples", "benchmarks", "pyproject.toml", "setup.py", "setup.cfg"]


def copy_checkout() -> None:
    """The checkout's files (tracked and new, not ignored) into WORK, without compiled modules."""
    if WORK.exists():
        shutil.rmtree(WORK)
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *COPY],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    for name in files:
        src = ROOT / name
        if src.is_file():
            dst = WORK / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


# A pytest plugin for the mutants' runs: the test files a mutant reaches run quickest first (by
# mutmut's recorded durations; a file's tests stay together, so its servers start once), so that
# a mutant dies at its first cheap failure rather than after the server tests.
FAST_FIRST = """
import json


def pytest_collection_modifyitems(items):
    try:
        with open("mutmut-stats.json") as f:
            took = json.load(f)["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return  # the stats run itself
    per_file = {}
    for item in items:
        name = item.nodeid.partition("::")[0]
        per_file[name] = per_file.get(name, 0.0) + took.get(item.nodeid, 0.0)
    items.sort(key=lambda item: per_file[item.nodeid.partition("::")[0]])
"""


def configure(modules: list[str]) -> None:
    mutated = sorted({"src/" + m.split(".x", 1)[0].replace(".", "/") + ".py" for m in modules})
    settings = {
        "source_paths": ["src/rweb/"],
        "only_mutate": mutated,
        "also_copy": ["docs", "examples", "benchmarks", "setup.py", "mutate_fast_first.py"],  # mutants/: on sys.path
        "pytest_add_cli_args_test_selection": TESTS,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q", "-p", "mutate_fast_first", *UNFIT],
        # Each mutant's tests run in a process forked from one that has run no test: a cache
        # filled by an earlier run of the unmutated code (html's url_scheme, attr_name) would
        # answer for the mutant and let it live.
        "process_isolation": "forkserver",
        "forkserver_warmup": "collect",
    }
    (WORK / "mutate_fast_first.py").write_text(FAST_FIRST)
    lines = ["", "[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    with (WORK / "pyproject.toml").open("a") as f:
        f.write("\n".join(lines) + "\n")


def results() -> dict[str, int | None]:
    """mutant name -> exit code of its test run (None: not run), from mutmut's metadata."""
    out: dict[str, int | None] = {}
    for meta in (WORK / "mutants").rglob("*.meta"):
        out.update(json.loads(meta.read_text())["exit_code_by_key"])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=sorted(TARGETS), action="append", help="a concern (repeatable)")
    p.add_argument("--max-children", type=int, default=2)
    opts = p.parse_args(argv)
    concerns = opts.only or list(TARGETS)
    names = [n for c in concerns for n in TARGETS[c]]
    globs = [n + "__mutmut_*" for n in names]

    copy_checkout()
    configure(names)
    mutmut = [sys.executable, "-c", "from mutmut.__main__ import cli; cli()"]
    run = subprocess.run([*mutmut, "run", "--max-children", str(opts.max_children), *globs],
                         cwd=WORK, check=False, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        print(f"mutmut run failed (exit {run.returncode})")
        return 2

    from mutmut.stats import status_by_exit_code

    got = results()
    bad = 0
    for concern in concerns:
        mine = {k: v for k, v in got.items() if any(fnmatch.fnmatchcase(k, g) for g in
                                                   (n + "__mutmut_*" for n in TARGETS[concern]))}
        status = {k: status_by_exit_code.get(v, "not checked") if v is not None else "not checked"
                  for k, v in mine.items()}
        killed = sum(s in KILLED for s in status.values())
        print(f"{concern:<10} {len(mine):>4} mutants, {killed:>4} killed")
        for name in TARGETS[concern]:
            if not any(fnmatch.fnmatchcase(k, name + "__mutmut_*") for k in mine):
                print(f"    no mutant of {name}: the name is wrong or the function is gone")
                bad += 1
        for k, s in sorted(status.items()):
            if s not in KILLED:
                bad += 1
                shown = subprocess.run([*mutmut, "show", k], cwd=WORK, check=False,
                                       capture_output=True, text=True).stdout
                print(f"    {s}: {k}\n" + "\n".join("      " + line for line in shown.splitlines()[1:]))
    print("every mutant killed" if bad == 0 else f"{bad} mutants or targets not covered")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
