"""Uploads over the socket in Chromium (Playwright): a multi-megabyte file with its progress,
cancel, and a refused type."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from conftest import PW_TIMEOUT_MS, LiveApp

from rweb import App, Conn, reactive
from rweb.html import button, div, form, li, span, ul

MB = 1024 * 1024

# Records what the page showed: each text of the entries list, the form's classes, the
# input's local progress, and the client's rweb:upload events.
RECORD = """
window.__seen = {entries: [], loading: false, local: [], uploads: []};
addEventListener("rweb:upload", (e) => window.__seen.uploads.push({ok: e.detail.ok, reason: e.detail.reason}));
new MutationObserver(() => {
  const s = window.__seen, list = document.getElementById("entries");
  const text = list ? list.textContent : "";
  if (s.entries[s.entries.length - 1] !== text) s.entries.push(text);
  const f = document.getElementById("f");
  if (f && f.classList.contains("rweb-loading")) s.loading = true;
  const input = document.getElementById("file");
  const p = input && input.getAttribute("data-progress");
  if (p !== null && p !== undefined && s.local[s.local.length - 1] !== p) s.local.push(p);
  if (window.__cancelAt !== undefined && p !== null && Number(p) >= window.__cancelAt) {
    window.__cancelAt = undefined;
    document.getElementById("cancel").click();
  }
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""


@reactive
class Result:
    text: str = ""
    saves: int = 0


def build(state: dict[str, Any]) -> App:
    app = App("uploads", max_message_size=16 * 1024, max_upload_bytes=64 * MB)  # 16 KiB chunks

    @app.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        up = conn.allow_upload("doc", accept=(".bin", "application/octet-stream"), max_size=40 * MB)
        state["up"] = up
        result = Result()

        def save(params: dict[str, Any]) -> None:
            result.saves += 1
            out = []
            for f in up.consume():
                with open(f.path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                out.append(f"{f.name} {f.size} {digest}")
                f.delete()
            result.text = "; ".join(out)

        def render() -> Any:
            return div(
                form(up.input(id="file"), button("Upload", id="go"), data_onsubmit="save", id="f"),
                button("Cancel", id="cancel", type="button", data_upload_cancel="doc"),
                ul([li(f"{e.name}:{e.progress}%", " done" if e.done else "", f" error: {e.error}" if e.error else "")
                    for e in up.entries], id="entries"),
                span(up.error or "", id="error"),
                span(result.text, id="result"),
                span(str(result.saves), id="saves"),
            )

        return render, {"save": save}

    return app


def open_page(pw_open: Any, state: dict[str, Any]) -> LiveApp:
    live: LiveApp = pw_open(build(state))
    live.page.evaluate(RECORD)
    return live


def test_a_multi_megabyte_upload_shows_progress_and_reaches_the_handler(pw_open: Any, tmp_path: Path) -> None:
    data = os.urandom(6 * MB + 12345)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    state: dict[str, Any] = {}
    live = open_page(pw_open, state)
    page = live.page
    page.set_input_files("#file", str(path))
    page.click("#go")
    page.wait_for_function("document.getElementById('result').textContent !== ''", timeout=PW_TIMEOUT_MS * 3)
    assert live.text("#result") == f"big.bin {len(data)} {hashlib.sha256(data).hexdigest()}"
    seen = page.evaluate("window.__seen")
    # The server's renders showed the progress going up, in steps, to 100.
    progress = [int(t.split(":")[1].split("%")[0]) for t in seen["entries"] if t.startswith("big.bin:")]
    assert progress == sorted(progress), progress
    assert any(0 < p < 100 for p in progress), seen["entries"]
    assert "big.bin:100% done" in seen["entries"]
    assert len(progress) <= 40, progress  # throttled: not one render per chunk (390 chunks)
    # The input showed what went out, the form carried rweb-loading while it did.
    local = [int(p) for p in seen["local"]]
    assert local == sorted(local) and local[-1] == 100 and len(local) > 10
    assert seen["loading"]
    assert seen["uploads"] == [{"ok": True, "reason": None}]
    assert page.evaluate("document.getElementById('file').files.length") == 0  # answered: cleared
    assert live.text("#entries") == ""  # consumed
    assert page.evaluate("document.getElementById('f').className") == ""
    assert state["up"]._uploads.files == {}


def test_cancel_stops_the_upload_and_sends_no_action(pw_open: Any, tmp_path: Path) -> None:
    path = tmp_path / "huge.bin"
    path.write_bytes(os.urandom(30 * MB))
    state: dict[str, Any] = {}
    live = open_page(pw_open, state)
    page = live.page
    page.set_input_files("#file", str(path))
    page.evaluate("window.__cancelAt = 1")  # the recorder clicks Cancel once 1% went out
    page.click("#go")
    page.wait_for_function("window.__seen.uploads.length > 0")
    assert page.evaluate("window.__seen.uploads") == [{"ok": False, "reason": "cancelled"}]
    page.wait_for_function("document.getElementById('entries').textContent === ''")
    page.wait_for_function("!document.getElementById('f').classList.contains('rweb-loading')")
    assert page.evaluate("document.getElementById('file').files.length") == 0
    assert page.evaluate("document.getElementById('file').hasAttribute('data-progress')") is False
    assert state["up"]._uploads.files == {}  # the server dropped the file
    assert live.text("#saves") == "0" and live.text("#result") == ""
    # The page goes on: a small file uploads after it.
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 1000)
    page.set_input_files("#file", str(small))
    page.click("#go")
    page.wait_for_function("document.getElementById('result').textContent !== ''")
    assert live.text("#result").startswith("small.bin 1000 ")


def test_a_refused_type_shows_the_error(pw_open: Any) -> None:
    state: dict[str, Any] = {}
    live = open_page(pw_open, state)
    page = live.page
    page.set_input_files("#file", files=[{"name": "run.exe", "mimeType": "application/x-msdownload",
                                          "buffer": b"MZ" * 100}])
    page.click("#go")
    page.wait_for_function("document.getElementById('error').textContent !== ''")
    assert "'run.exe' (application/x-msdownload): 'doc' accepts .bin, application/octet-stream" == live.text("#error")
    page.wait_for_function("window.__seen.uploads.length > 0")
    assert page.evaluate("window.__seen.uploads") == [{"ok": False, "reason": "upload_refused"}]
    assert live.text("#saves") == "0"  # no action was sent
    assert page.evaluate("document.getElementById('f').classList.contains('rweb-loading')") is False
    assert state["up"]._uploads.dir is None


def test_an_auto_upload_starts_when_a_file_is_chosen(pw_open: Any, tmp_path: Path) -> None:
    app = App("auto", max_message_size=16 * 1024)

    @app.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        up = conn.allow_upload("pic", accept="*", max_size=4 * MB, auto=True)
        result = Result()

        def keep(params: dict[str, Any]) -> None:
            result.text = ", ".join(f"{f.name} {f.size}" for f in up.consume())

        return (lambda: div(
            form(up.input(id="file"), button("Keep", id="keep"), data_onsubmit="keep", id="f"),
            ul([li(f"{e.name} {'done' if e.done else e.progress}") for e in up.entries], id="entries"),
            span(result.text, id="result"),
        )), {"keep": keep}

    live: LiveApp = pw_open(app)
    data = os.urandom(MB // 2)
    path = tmp_path / "photo.bin"
    path.write_bytes(data)
    live.page.set_input_files("#file", str(path))
    # Uploaded on its own, before any submit.
    live.page.wait_for_function(
        "document.getElementById('entries').textContent === 'photo.bin done'", timeout=PW_TIMEOUT_MS
    )
    live.page.click("#keep")
    live.page.wait_for_function(
        f"document.getElementById('result').textContent === 'photo.bin {len(data)}'", timeout=PW_TIMEOUT_MS
    )
