#!/usr/bin/env python3
"""Record the wire transcripts that the Python and the JS clients are both tested against.

    python tests/transcripts/record.py      # rewrites tests/transcripts/*.json

Each transcript is one socket's life against a small app: the join URL, then
steps, each a client message and every server message it caused (the reply,
and pushes), and the page's HTML after it as ``rweb.protocol.assemble`` builds
it from the components the server sent.  tests/test_transcripts.py replays
them through ``rweb.testing.Client`` (the server must still answer exactly
so) and tests/browser/test_browser_transcripts.py feeds the same server
messages to rweb.js in Chromium (the DOM must come out as the same HTML).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from apps import APPS  # noqa: E402

from rweb.live.connection import Connection  # noqa: E402
from rweb.protocol import assemble  # noqa: E402
from rweb.sessions.session import ConnectionInfo  # noqa: E402


def record(name: str) -> dict[str, Any]:
    app, url, steps = APPS[name]()
    pushed: list[dict[str, Any]] = []
    conn = Connection(app, 1, ConnectionInfo(path="/ws", query={"url": url}),
                      lambda b: pushed.append(json.loads(b)), lambda fn: fn())
    raw, ok = conn.open()
    assert ok, raw
    init = json.loads(raw)
    init.pop("tok", None)  # the resume token differs at every run
    comps: dict[str, Any] = {}

    def apply(msg: dict[str, Any]) -> None:
        if msg["t"] == "init":
            comps.clear()
            comps.update(json.loads(json.dumps(msg["c"])))
            return
        for cname, patch in msg.get("d", {}).items():
            if patch is None:
                comps.pop(cname, None)
            elif "s" in patch:
                comps[cname] = json.loads(json.dumps(patch))
            else:
                for k, v in patch.items():
                    comps[cname]["d"][int(k)] = v

    apply(init)
    out: dict[str, Any] = {"url": url, "init": init, "html": assemble(comps), "steps": []}
    for i, step in enumerate(steps):
        msg = {**step, "ref": i + 1}
        pushed.clear()
        reply = json.loads(conn.receive(json.dumps(msg)))
        for m in [reply, *pushed]:
            apply(m)
        out["steps"].append({"send": msg, "receive": [reply, *pushed], "html": assemble(comps)})
    conn.close()
    return out


def main() -> None:
    for name in APPS:
        path = HERE / f"{name}.json"
        path.write_text(json.dumps(record(name), indent=1, ensure_ascii=False) + "\n")
        print("wrote", path.relative_to(HERE.parent.parent))


if __name__ == "__main__":
    main()
