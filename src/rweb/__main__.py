"""``rweb`` command line: ``rweb run``, ``rweb new``, ``rweb gen``, ``rweb bench``, ``rweb version``."""

from __future__ import annotations

import sys

USAGE = """\
usage: rweb run path/to/app.py[:name] [--port 8080] [--host 127.0.0.1] [--reload]
                                  serve an app; --reload restarts it when a file changes
       rweb new DIRECTORY [--auth]
                                  create a project: app.py, tests, Makefile (make run, make test);
                                  --auth: with accounts on a real database (docs/auth.md)
       rweb gen auth [DIRECTORY]  add the accounts to an existing project
       rweb bench [options]       load-test an rweb (or LiveView) server; see rweb bench --help
       rweb version"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    cmd, rest = args[0], args[1:]
    if cmd == "run":
        from .dev.runner import main as run_main

        return run_main(rest)
    if cmd == "new":
        from .dev.scaffold import main as new_main

        return new_main(rest)
    if cmd == "gen":
        from .dev.scaffold import gen_main

        return gen_main(rest)
    if cmd == "bench":
        from .bench.cli import main as bench_main

        return bench_main(rest)
    if cmd == "version":
        from . import __version__

        print(__version__)
        return 0
    print(f"rweb: unknown command {cmd!r}", file=sys.stderr)
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
