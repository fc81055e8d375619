"""Uploads over the socket (rweb.upload), in-process through the wire path of rweb.testing.Client."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import orjson
import pytest

from rweb import App, Conn, reactive
from rweb.html import button, div, form, li, span, ul
from rweb.testing import Client, serve
from rweb.upload import chunk_frame

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # 10,248 bytes


def make_app(**upload: Any) -> tuple[App, dict[str, Any]]:
    """A page with an upload "avatar" (``upload`` overrides its options); ``seen`` records what handlers got."""
    app = App("up", max_message_size=4096)
    seen: dict[str, Any] = {"files": [], "paths": []}

    @app.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        opts: dict[str, Any] = {"accept": (".png", "image/jpeg"), "max_size": 64 * 1024, "max_files": 2}
        opts.update(upload)
        up = conn.allow_upload("avatar", **opts)
        seen["upload"] = up

        def save(params: dict[str, Any]) -> None:
            seen["params"] = params
            for f in up.consume():
                with open(f.path, "rb") as fh:
                    data = fh.read()
                seen["paths"].append(f.path)
                seen["files"].append((f.name, f.type, f.size, hashlib.sha256(data).hexdigest()))

        def cancel(params: dict[str, Any]) -> None:
            up.cancel()

        def render() -> Any:
            return div(
                form(up.input(id="file"), button("Save"), data_onsubmit="save"),
                ul([li(f"{e.name} {e.progress}% ", "done" if e.done else "", e.error or "", id=f"e{e.id}")
                    for e in up.entries]),
                span(up.error or "", id="error"),
            )

        return render, {"save": save, "cancel": cancel}

    return app, seen


def test_the_input_element() -> None:
    app, _ = make_app()
    c = Client(app)
    html = c.html()
    assert '<input type="file" name="avatar" data-upload="avatar" id="file"' in html
    assert 'accept=".png,image/jpeg"' in html and " multiple" in html
    c.close()


def test_an_upload_is_received_then_consumed() -> None:
    app, seen = make_app()
    c = Client(app)
    reply = c.upload("avatar", [("me.png", PNG, "image/png")])
    assert "e" not in reply
    (fid,) = reply["up"]["ids"]
    assert reply["up"]["chunk"] == 4096 - 5  # under the message limit, header included
    assert f'id="e{fid}">me.png 100% done</li>' in c.html()
    # Progress went up through pushes, in steps (not one render per chunk: 3 chunks here).
    up = seen["upload"]
    [path] = [f.path for f in up._uploads.files.values()]
    assert os.path.getsize(path) == len(PNG)
    c.send("save", {"avatar": [fid]})
    assert seen["files"] == [("me.png", "image/png", len(PNG), hashlib.sha256(PNG).hexdigest())]
    assert seen["params"] == {"avatar": [fid]}
    assert f'id="e{fid}"' not in c.html()  # consumed: the entry left the list
    assert up.consume() == []  # handed over once
    c.close()


def test_progress_is_pushed_in_steps() -> None:
    app, _ = make_app(max_size=1024 * 1024)
    c = Client(app)
    data = os.urandom(200_000)
    c.pushes.clear()
    c.upload("avatar", [("big.jpg", data, "image/jpeg")], chunk=2000)  # 100 chunks
    progress = []
    for p in c.pushes:
        for patch in p["d"].values():
            for v in patch.values() if "s" not in patch else patch["d"]:
                if isinstance(v, str) and v.endswith("% "):
                    progress.append(int(v.split()[-1].rstrip("%")))
    assert progress == sorted(progress) and progress[-1] == 100
    assert 2 <= len(progress) <= 20, progress  # throttled: not one push per chunk
    assert any(0 < p < 100 for p in progress)
    c.close()


def test_several_files() -> None:
    app, seen = make_app()
    c = Client(app)
    reply = c.upload("avatar", [("a.png", b"a" * 5000, "image/png"), ("b.PNG", b"b" * 7, "")])
    assert len(reply["up"]["ids"]) == 2
    c.send("save")
    assert [(f[0], f[2]) for f in seen["files"]] == [("a.png", 5000), ("b.PNG", 7)]  # the extension in any case
    c.close()


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ([("evil.exe", b"MZ", "application/x-msdownload")], "accepts .png, image/jpeg"),
        ([("big.png", b"x" * (64 * 1024 + 1), "image/png")], "takes 65536 at most"),
        ([("a.png", b"1", "image/png")] * 3, "3 files"),
    ],
    ids=["type", "too_large", "too_many"],
)
def test_refused_requests_keep_nothing(files: list[Any], why: str) -> None:
    app, seen = make_app()
    c = Client(app)
    reply = c.upload("avatar", files)
    assert reply["e"]["code"] == "upload_refused" and why in reply["e"]["message"]
    assert "up" not in reply
    assert why in c.html()  # up.error, rendered in the same reply
    assert seen["upload"]._uploads.files == {} and seen["upload"]._uploads.dir is None
    c.close()


def test_an_unknown_upload_name_is_refused() -> None:
    app, _ = make_app()
    c = Client(app)
    reply = c.upload("other", [("a.png", b"1", "image/png")])
    assert reply["e"]["code"] == "upload_refused" and "no upload named 'other'" in reply["e"]["message"]
    assert c.cancel_upload("other")["e"]["code"] == "upload_refused"
    c.close()


def test_a_page_without_uploads_refuses_them_and_binary_frames() -> None:
    def setup(writer_id: Any) -> Any:
        return (lambda: div("x")), {}

    c = Client(setup)
    assert c.upload("a", [("a.png", b"1", "image/png")])["e"]["code"] == "upload_refused"
    assert c.send_binary(chunk_frame(1, b"x"))["e"]["code"] == "binary_frame"
    c.close()


def test_the_session_limit_counts_what_is_not_consumed() -> None:
    app, _ = make_app()
    app.max_upload_bytes = 10_000
    c = Client(app)
    assert "up" in c.upload("avatar", [("a.png", b"a" * 6000, "image/png")])
    # A new request replaces the upload's entries: they do not count against it.
    assert "up" in c.upload("avatar", [("b.png", b"b" * 9000, "image/png")])
    reply = c.upload("avatar", [("c.png", b"c" * 6000, "image/png"), ("d.png", b"d" * 5000, "image/png")])
    assert reply["e"]["code"] == "upload_refused" and "upload limit" in reply["e"]["message"]
    c.close()


def test_more_bytes_than_declared_fail_the_file() -> None:
    app, seen = make_app()
    c = Client(app)
    reply = c.send_raw(orjson.dumps({"t": "upload", "name": "avatar", "ref": 99,
                                     "files": [{"name": "a.png", "size": 10, "type": "image/png"}]}))
    (fid,) = reply["up"]["ids"]
    path = seen["upload"]._uploads.files[fid].path
    assert c.send_binary(chunk_frame(fid, b"123456")) is None
    c.pushes.clear()
    assert c.send_binary(chunk_frame(fid, b"7890X")) is None  # no reply of its own: a push says it
    [push] = [p for p in c.pushes if "e" in p]
    assert push["t"] == "p" and push["e"]["code"] == "upload_failed"
    assert ["upload_stop", {"name": "avatar"}] in push["fx"]  # the browser stops sending
    assert "more bytes than the 10 declared" in c.html()
    assert not os.path.exists(path)
    # Its chunks still under way are dropped silently; ids never given are refused as before.
    n = len(c.replies)
    assert c.send_binary(chunk_frame(fid, b"x")) is None and len(c.replies) == n
    assert c.send_binary(chunk_frame(fid + 1, b"x"))["e"]["code"] == "binary_frame"
    assert c.send_binary(b"\x07junk")["e"]["code"] == "binary_frame"
    c.send("save")
    assert seen["files"] == []
    c.close()


def test_bytes_after_a_file_is_complete_fail_it() -> None:
    app, seen = make_app()
    c = Client(app)
    (fid,) = c.upload("avatar", [("a.png", b"abc", "image/png")])["up"]["ids"]
    assert "done" in c.html()
    c.send_binary(chunk_frame(fid, b"d"))
    assert "more bytes than the 3 declared" in c.html()
    c.send("save")
    assert seen["files"] == []
    c.close()


def test_bad_upload_messages() -> None:
    app, _ = make_app()
    c = Client(app)
    for msg in (
        {"t": "upload", "name": 3, "files": []},
        {"t": "upload", "name": "avatar", "files": []},
        {"t": "upload", "name": "avatar", "files": [{"name": "a", "size": -1, "type": ""}]},
        {"t": "upload", "name": "avatar", "files": [{"name": "a", "size": True, "type": ""}]},
        {"t": "upload", "name": "avatar", "files": ["a"]},
    ):
        assert c.send_raw(orjson.dumps(msg))["e"]["code"] == "bad_message", msg
    c.close()


def test_cancel_drops_the_entries_and_files() -> None:
    app, seen = make_app()
    c = Client(app)
    reply = c.send_raw(orjson.dumps({"t": "upload", "name": "avatar", "ref": 5,
                                     "files": [{"name": "a.png", "size": 100, "type": "image/png"}]}))
    (fid,) = reply["up"]["ids"]
    path = seen["upload"]._uploads.files[fid].path
    c.send_binary(chunk_frame(fid, b"x" * 50))
    assert "a.png 50%" in c.html()
    assert c.cancel_upload("avatar")["ref"] == c._ref
    assert "a.png" not in c.html() and not os.path.exists(path)
    assert c.send_binary(chunk_frame(fid, b"x" * 50)) is None  # in flight when it was cancelled
    c.send("save")
    assert seen["files"] == []
    # up.cancel() from a handler does the same; a file under way is stopped in the browser too.
    reply = c.send_raw(orjson.dumps({"t": "upload", "name": "avatar", "ref": 50,
                                     "files": [{"name": "c.png", "size": 100, "type": "image/png"}]}))
    (fid,) = reply["up"]["ids"]
    c.send_binary(chunk_frame(fid, b"x" * 10))
    assert ["upload_stop", {"name": "avatar"}] in c.send("cancel")["fx"]
    (fid,) = c.upload("avatar", [("b.png", b"b" * 10, "image/png")])["up"]["ids"]
    assert "b.png 100%" in c.html()
    assert "fx" not in c.send("cancel")  # nothing under way: nothing to stop
    assert "b.png" not in c.html() and seen["upload"]._uploads.files == {}
    c.close()


def test_files_are_deleted_when_the_session_ends() -> None:
    app, seen = make_app()
    c = Client(app)
    c.upload("avatar", [("a.png", b"a" * 3000, "image/png"), ("b.png", b"b" * 3000, "image/png")])
    uploads = seen["upload"]._uploads
    tmp = uploads.dir
    assert tmp is not None and len(os.listdir(tmp)) == 2
    assert (os.stat(tmp).st_mode & 0o777) == 0o700  # tempfile.mkdtemp: the owner's only
    assert sorted(os.listdir(tmp)) == sorted(str(i) for i in uploads.files)  # ids, never the browser's names
    c.close()
    assert not os.path.exists(tmp)


def test_a_consumed_file_left_in_place_goes_with_the_session() -> None:
    app, seen = make_app()
    c = Client(app)
    c.upload("avatar", [("a.png", b"a" * 30, "image/png")])
    c.send("save")
    [path] = seen["paths"]
    assert os.path.exists(path)
    c.close()
    assert not os.path.exists(path)


def test_a_lost_socket_fails_the_files_under_way() -> None:
    app, seen = make_app()
    c = Client(app)
    files = [{"name": "a.png", "size": 30, "type": "image/png"}, {"name": "b.png", "size": 100, "type": "image/png"}]
    reply = c.send_raw(orjson.dumps({"t": "upload", "name": "avatar", "ref": 50, "files": files}))
    done, under_way = reply["up"]["ids"]
    c.send_binary(chunk_frame(done, b"a" * 30))
    c.send_binary(chunk_frame(under_way, b"x" * 10))
    c.lose()
    c2 = c.resume()
    assert c2.init.get("resumed") is True
    assert f'id="e{under_way}">b.png 10% the connection was lost: upload it again' in c2.html()
    assert f'id="e{done}">a.png 100% done' in c2.html()  # received before: kept
    assert list(seen["upload"]._uploads.files) == [done]
    c2.send("save")
    assert [f[0] for f in seen["files"]] == ["a.png"]
    c2.close()


def test_file_names_are_shown_not_used() -> None:
    app, seen = make_app(accept="*")
    c = Client(app)
    c.upload("avatar", [("../../etc/passwd", b"x", "text/plain"), ("C:\\x\\y.png", b"y", "")])
    html = c.html()
    assert "passwd 100%" in html and "y.png 100%" in html and "../" not in html
    c.send("save")
    assert [f[0] for f in seen["files"]] == ["passwd", "y.png"]
    assert all(os.path.basename(p).isdigit() for p in seen["paths"])
    c.close()


def test_allow_upload_checks_its_options() -> None:
    app = App("x")

    @app.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        with pytest.raises(TypeError):
            conn.allow_upload("a")  # type: ignore[call-arg]  # accept is required
        with pytest.raises(ValueError, match="accept"):
            conn.allow_upload("a", accept=("png",))
        with pytest.raises(ValueError, match="positive"):
            conn.allow_upload("a", accept="*", max_size=0)
        conn.allow_upload("a", accept="image/*")
        with pytest.raises(ValueError, match="allowed already"):
            conn.allow_upload("a", accept="*")
        return (lambda: div("ok")), {}

    c = Client(app)
    assert "ok" in c.html()
    c.close()


def test_the_first_paint_renders_the_input_without_a_session() -> None:
    from rweb.testing import TestClient

    app, seen = make_app()
    r = TestClient(app).get("/")
    assert r.status == 200 and 'data-upload="avatar"' in r.text
    assert seen["upload"]._uploads.dir is None


# -- over a real socket: picows here, ASGI (uvicorn) in test_asgi.py ---------------------------


def add_upload_page(app: App, path: str) -> None:
    """A page with an upload "doc" whose "save" renders each file's name, size and sha256."""

    @app.page(path)
    def page(writer_id: Any, conn: Conn) -> Any:
        up = conn.allow_upload("doc", accept="*", max_size=1024 * 1024)
        shown = Shown()

        def save(params: dict[str, Any]) -> None:
            shown.text = " ".join(f"{f.name}:{f.size}:{hashlib.sha256(f.read()).hexdigest()}" for f in up.consume())

        def render() -> Any:
            return div(up.input(), ul([li(f"{e.name} {e.progress}", e.error or "") for e in up.entries]),
                       span(shown.text, id="shown"))

        return render, {"save": save}


@reactive
class Shown:
    text: str = ""


async def upload_over_the_wire(wire: Any, url: str, limit: int) -> None:
    """Upload a file of 300 KB in chunks through a real socket, then the failures that matter there."""
    data = os.urandom(300_000)
    async with wire.connect(url) as ws:
        assert (await wire.recv(ws))["t"] == "init"
        files = [{"name": "a.bin", "size": len(data), "type": "application/octet-stream"}]
        reply = await wire.ask(ws, {"t": "upload", "name": "doc", "files": files, "ref": 1})
        assert reply["t"] == "r" and reply["ref"] == 1, reply
        (fid,) = reply["up"]["ids"]
        chunk = reply["up"]["chunk"]
        assert chunk == limit - 5
        for at in range(0, len(data), chunk):
            frame = chunk_frame(fid, data[at : at + chunk])
            await ws.send([frame[:100], frame[100:]] if at == 0 else frame)  # one in two fragments
        await ws.send(orjson.dumps({"action": "save", "params": {"doc": [fid]}, "ref": 2}).decode())
        reply = await wire.reply(ws)  # the progress pushes come first
        assert reply["ref"] == 2 and "e" not in reply, reply
        assert f"a.bin:{len(data)}:{hashlib.sha256(data).hexdigest()}" in orjson.dumps(reply["d"]).decode()
        # A binary frame over the message limit is refused as any message is.
        assert (await wire.ask(ws, chunk_frame(fid, b"x" * limit)))["e"]["code"] == "too_large"
        # More bytes than declared: a push says so, and no reply comes for the frame.
        files = [{"name": "b.bin", "size": 10, "type": ""}]
        (fid,) = (await wire.ask(ws, {"t": "upload", "name": "doc", "files": files, "ref": 3}))["up"]["ids"]
        push = await wire.ask(ws, chunk_frame(fid, b"x" * 11))
        assert push["t"] == "p" and push["e"]["code"] == "upload_failed", push
        # A binary frame that is no upload's: the error reply, as before.
        assert (await wire.ask(ws, b"\x00\x01"))["e"]["code"] == "binary_frame"
        assert (await wire.ask(ws, {"t": "ping", "ref": "hb"}))["ref"] == "hb"


def test_an_upload_through_the_picows_server(wire: Any) -> None:
    app = App("up", max_message_size=8192)
    add_upload_page(app, "/")
    with serve(app) as srv:
        wire.run(upload_over_the_wire(wire, srv.ws_url, 8192))


def test_chunks_wait_behind_an_async_handler_in_order() -> None:
    import asyncio

    app, seen = make_app()

    @app.page("/slow")
    def slow(writer_id: Any, conn: Conn) -> Any:
        up = conn.allow_upload("doc", accept="*")
        got: list[str] = []
        seen["slow"] = got
        seen["slow_up"] = up

        async def wait(params: dict[str, Any]) -> None:
            await asyncio.sleep(0.01)
            got.append("waited")

        def save(params: dict[str, Any]) -> None:
            got.extend(f"{f.name}:{f.size}" for f in up.consume())

        return (lambda: div(up.input())), {"wait": wait, "save": save}

    c = Client(app, "/slow")
    c.upload("doc", [("a.txt", b"", "text/plain")])
    assert [(e.name, e.done, e.progress) for e in seen["slow_up"].entries] == [("a.txt", True, 100)]  # empty: done
    files = [{"name": "b.txt", "size": 6, "type": "text/plain"}]
    (fid,) = c.send_raw(orjson.dumps({"t": "upload", "name": "doc", "files": files, "ref": 40}))["up"]["ids"]
    n = len(c.replies)
    assert c.conn.receive(orjson.dumps({"action": "wait", "ref": 41})) is None  # the handler runs
    assert c.conn.receive_binary(chunk_frame(fid, b"abc")) is None  # these wait for it, in order
    assert c.conn.receive_binary(chunk_frame(fid, b"def")) is None
    assert c.conn.receive(orjson.dumps({"action": "save", "ref": 42})) is None
    c._loop.run_until(lambda: len(c.replies) >= n + 2, 5)
    assert seen["slow"] == ["waited", "b.txt:6"]
    c.close()


def test_an_uploads_state_is_not_in_the_sessions_snapshots() -> None:
    """Files are this process's: a snapshot leaves the upload's entries out (rweb.transient)."""
    from rweb.snapshot import MemoryStore

    app, _ = make_app()
    store = MemoryStore()
    app.session_store = store
    c = Client(app)
    c.upload("avatar", [("a.png", b"abc", "image/png")])
    c.lose()  # saved at once
    (blob,) = (data for data, _ in store.data.values())
    assert orjson.loads(blob)["v"] == 1
    assert b"a.png" not in blob and b"UploadEntry" not in blob and b"_Status" not in blob, blob
