"""The recorded wire transcripts (tests/transcripts/*.json), replayed by the Python test client.

The same files are fed to the browser client in Chromium
(tests/browser/test_browser_transcripts.py): the server must still answer
each client message exactly as recorded, and both clients must build the same
page HTML from those answers.  Re-record after a deliberate protocol change:
``python tests/transcripts/record.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent / "transcripts"
sys.path.insert(0, str(HERE))

from apps import APPS  # noqa: E402

from rweb.testing import Client  # noqa: E402

NAMES = sorted(APPS)


def load(name: str) -> dict[str, Any]:
    return json.loads((HERE / f"{name}.json").read_text())


def test_every_app_has_a_transcript() -> None:
    assert sorted(p.stem for p in HERE.glob("*.json")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_python_client_replays_the_transcript(name: str) -> None:
    t = load(name)
    app, url, _steps = APPS[name]()
    assert url == t["url"]
    c = Client(app, url)
    # The resume token is the one field that differs between runs.
    assert {k: v for k, v in c.init.items() if k != "tok"} == {k: v for k, v in t["init"].items() if k != "tok"}
    assert c.html() == t["html"]
    for step in t["steps"]:
        if step["send"].get("t") == "nav":
            reply = c.navigate(step["send"]["url"]) if not c.closed else None
        else:
            reply = c.send_raw(json.dumps(step["send"]))
        recorded = step["receive"][0]
        if reply is not None:
            # The client numbers its own refs; everything else must be as recorded.
            assert {**reply, "ref": None} == {**recorded, "ref": None}, step["send"]
        if not c.closed:
            assert c.html() == step["html"], step["send"]
