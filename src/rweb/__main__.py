"""``rweb`` command line: ``rweb bench ...``, ``rweb version``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print("usage: rweb bench [options]   load-test an rweb (or LiveView) server; see rweb bench --help")
        print("       rweb version")
        return 0 if args else 2
    cmd, rest = args[0], args[1:]
    if cmd == "bench":
        from .bench.cli import main as bench_main

        return bench_main(rest)
    if cmd == "version":
        from . import __version__

        print(__version__)
        return 0
    print(f"rweb: unknown command {cmd!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
