"""A 10,000-row list: a component over an RList against a stream (rweb.stream), in-process.

    python benchmarks/stream_rows.py [--rows 10000] [--repeat 20]

For each: the time the server takes to mount the page, to append one row, to
change one row; the bytes of the reply to an append; and the memory the
session holds (tracemalloc, after a collection).  The component re-renders
and diffs every row on each change and keeps every row's render; the stream
renders the one row that changed and keeps none.  Medians of ``--repeat``
runs, all in one process (same machine, same moment).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from typing import Any

import orjson

from rweb import App, Conn, RList, reactive
from rweb.html import component, div, li, span
from rweb.testing import Client


@reactive
class Row:
    id: int
    text: str


def list_app(n: int) -> App:
    app = App("list", actions=("add", "edit"))

    @app.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        rows = RList(Row(i, f"row {i}") for i in range(n))

        def edit(p: dict[str, Any]) -> None:
            rows[n // 2].text = f"edited {time.perf_counter()}"

        return (lambda: div(component("rows", lambda: div([li(span(r.text), data_key=str(r.id)) for r in rows])))), {
            "add": lambda p: rows.append(Row(len(rows), "new")),
            "edit": edit,
        }

    return app


def stream_app(n: int) -> App:
    app = App("stream", actions=("add", "edit"))

    @app.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        rows = conn.stream("rows", lambda r: li(span(r.text)), key=lambda r: r.id)
        rows.extend(Row(i, f"row {i}") for i in range(n))
        count = [n]

        def add(p: dict[str, Any]) -> None:
            rows.append(Row(count[0], "new"))
            count[0] += 1

        return (lambda: div(rows)), {
            "add": add,
            "edit": lambda p: rows.update(Row(n // 2, f"edited {time.perf_counter()}")),
        }

    return app


def measure(make: Any, n: int, repeat: int) -> dict[str, float]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    t0 = time.perf_counter()
    c = Client(make(n), "/")
    mount = time.perf_counter() - t0
    # What the test client keeps is the browser's copy of the page, not the server's memory.
    c.streams.clear()
    c.components = {}
    c.effects.clear()
    c.init = {}
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(s.size_diff for s in after.compare_to(before, "filename"))
    adds, edits, size = [], [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        reply = c.conn.receive(b'{"action":"add","params":{}}')
        adds.append(time.perf_counter() - t0)
        size = len(reply or b"")
        t0 = time.perf_counter()
        c.conn.receive(b'{"action":"edit","params":{}}')
        edits.append(time.perf_counter() - t0)
    assert orjson.loads(reply or b"{}").get("e") is None
    return {
        "mount_ms": mount * 1000,
        "add_ms": statistics.median(adds) * 1000,
        "edit_ms": statistics.median(edits) * 1000,
        "add_bytes": size,
        "held_kib": held / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    results = {"component over an RList": measure(list_app, args.rows, args.repeat),
               "stream": measure(stream_app, args.rows, args.repeat)}
    print(f"### {args.rows:,} rows: a component over an RList against a stream (in-process, medians of {args.repeat})")
    print()
    print("| | mount | append one row | change one row | reply to an append | session memory |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['mount_ms']:.1f} ms | {r['add_ms']:.3f} ms | {r['edit_ms']:.3f} ms | "
              f"{r['add_bytes']:,} B | {r['held_kib']:,.0f} KiB |")
    a, b = results["component over an RList"], results["stream"]
    print()
    print(f"- append: {a['add_ms'] / b['add_ms']:.0f}x faster with a stream; reply {a['add_bytes'] / b['add_bytes']:.0f}x "
          f"smaller; session memory {a['held_kib'] / max(b['held_kib'], 0.001):.0f}x smaller")


if __name__ == "__main__":
    main()
