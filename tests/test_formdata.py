"""``request.form()`` of ``multipart/form-data`` bodies (rweb.formdata), through real servers.

The same app runs under the built-in server (``rweb.testing.serve``: picows
on a free port) and under a real uvicorn child process (``rweb.asgi``); httpx
encodes the bodies as a client does (``files=``), and a few malformed ones are
written by hand.  Every wait is bounded.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rweb
from rweb import App
from rweb.formdata import SPOOL_SIZE, UploadFile
from rweb.testing import serve

httpx = pytest.importorskip("httpx")

HERE = Path(__file__).resolve().parent
MAX_PARTS = 5
MAX_FILE = 100_000
MAX_BODY = 256 * 1024

KEPT: list[UploadFile] = []  # the files the handler saw, to ask afterwards whether they were closed


def build_app() -> App:
    app = App("forms", max_body_size=MAX_BODY)

    @app.post("/upload")
    def upload(request: rweb.Request) -> Any:
        form = request.form(max_parts=MAX_PARTS, max_file_size=MAX_FILE)
        fields: dict[str, list[str]] = {}
        files: dict[str, Any] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                KEPT.append(value)
                data = value.read()
                files[name] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "size": value.size,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "on_disk": bool(getattr(value.file, "_rolled", False)),  # spilled to a temporary file
                }
            else:
                fields.setdefault(name, []).append(value)
        return {"fields": fields, "files": files}

    @app.get("/closed")
    def closed(request: rweb.Request) -> Any:
        return {"kept": len(KEPT), "closed": all(f.closed for f in KEPT)}

    return app


def asgi_app() -> Any:
    return rweb.asgi(build_app())


@pytest.fixture(scope="module", params=["builtin", "uvicorn"])
def base_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "builtin":
        with serve(build_app()) as srv:
            yield srv.url.rstrip("/")
    else:
        pytest.importorskip("uvicorn")
        from test_asgi import run_uvicorn

        with run_uvicorn("test_formdata:asgi_app", "--factory", "--app-dir", str(HERE)) as server:
            yield f"http://{server.host}:{server.port}"


@pytest.fixture
def client(base_url: str) -> Iterator[Any]:
    with httpx.Client(base_url=base_url, timeout=10) as c:
        yield c


def test_fields_and_files_small_and_spilled_to_disk(client: Any) -> None:
    small = b"hello, world\n"
    big = os.urandom(SPOOL_SIZE + 20_000)  # over the in-memory threshold, under max_file_size
    r = client.post(
        "/upload",
        data={"title": "Résumé", "tag": ["a", "b"]},
        files=[("doc", ("notes.txt", small, "text/plain")), ("photo", ("big.bin", big, "application/octet-stream"))],
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["fields"] == {"title": ["Résumé"], "tag": ["a", "b"]}
    assert got["files"]["doc"] == {
        "filename": "notes.txt", "content_type": "text/plain", "size": len(small),
        "sha256": hashlib.sha256(small).hexdigest(), "on_disk": False,
    }
    photo = got["files"]["photo"]
    assert photo["size"] == len(big) and photo["sha256"] == hashlib.sha256(big).hexdigest()
    assert photo["on_disk"] is True
    # The handler is done once its response is made: the files are closed (temporary file deleted).
    state = client.get("/closed").json()
    assert state["kept"] >= 2 and state["closed"] is True


def test_too_many_parts_is_413(client: Any) -> None:
    r = client.post("/upload", data={f"f{i}": "x" for i in range(MAX_PARTS + 1)}, files={"f": ("a", b"1")})
    assert r.status_code == 413 and f"more than {MAX_PARTS} parts" in r.text


def test_a_file_over_max_file_size_is_413(client: Any) -> None:
    r = client.post("/upload", files={"f": ("big.bin", b"x" * (MAX_FILE + 1))})
    assert r.status_code == 413 and f"over {MAX_FILE} bytes" in r.text
    assert client.get("/closed").json()["closed"] is True  # what was written so far is closed too


def test_a_body_over_max_body_size_is_413_before_the_handler(client: Any) -> None:
    r = client.post("/upload", files={"f": ("big.bin", b"x" * (MAX_BODY + 1))})
    assert r.status_code == 413


def _raw(client: Any, body: bytes, content_type: str) -> Any:
    return client.post("/upload", content=body, headers={"Content-Type": content_type})


def test_malformed_multipart_is_400(client: Any) -> None:
    good = (
        b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--\r\n"
    )
    assert _raw(client, good, "multipart/form-data; boundary=XyZ").json()["fields"] == {"a": ["1"]}
    # Another boundary than the body's, none at all, a body cut short, a part without a name.
    r = _raw(client, good, "multipart/form-data; boundary=other")
    assert r.status_code == 400 and "not valid multipart" in r.text
    r = _raw(client, good, "multipart/form-data")
    assert r.status_code == 400 and "boundary" in r.text
    r = _raw(client, good[: -len(b"--XyZ--\r\n")], "multipart/form-data; boundary=XyZ")
    assert r.status_code == 400 and "closing boundary" in r.text
    nameless = b"--XyZ\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XyZ--\r\n"
    r = _raw(client, nameless, "multipart/form-data; boundary=XyZ")
    assert r.status_code == 400 and "no name" in r.text


def test_another_content_type_is_still_415(client: Any) -> None:
    r = _raw(client, b"<x/>", "application/xml")
    assert r.status_code == 415


def test_a_cross_site_multipart_post_is_refused(client: Any, base_url: str) -> None:
    files = {"f": ("a.txt", b"1")}
    r = client.post("/upload", files=files, headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
    assert r.status_code == 403
    r = client.post("/upload", files=files, headers={"Sec-Fetch-Site": "same-origin", "Origin": base_url})
    assert r.status_code == 200
