"""Benchmark tooling: ``rweb bench`` (``python -m rweb.bench``), a closed-loop click load
generator for rweb and Phoenix-LiveView-protocol servers. See ``rweb.bench.cli``."""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from .cli import main as _main

    return _main(argv)
