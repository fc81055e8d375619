"""Compressed responses (rweb.compression): the first page and the client script, negotiated on Accept-Encoding.

Against the real servers (the built-in one and ``rweb.asgi`` under uvicorn,
both through ``App.respond``) with ``http.client`` (which decodes nothing:
the bytes checked are the bytes sent), and through ``rweb.testing``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import rweb
from rweb import App, Request
from rweb.html import button, div, form, li, span, to_html, ul
from rweb.protocol import PROTOCOL_VERSION
from rweb.testing import TestClient, serve
from rweb.web.client_script import IMMUTABLE, client_url, client_version
from rweb.web.compression import MIN_SIZE, choose, decompress

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The client as served: its parts (src/rweb/client/NN-name.js) joined in the order of their names,
# its version (the protocol's, and 16 hex digits of the SHA-256 of the parts joined) written in.
PARTS = b"".join(p.read_bytes() for p in sorted((ROOT / "src" / "rweb" / "client").glob("*.js")))


def _with_version(parts: bytes) -> bytes:
    version = f"{PROTOCOL_VERSION}.{hashlib.sha256(parts).hexdigest()[:16]}"
    assert parts.count(b'"@rweb-client-version@"') == 1
    return parts.replace(b'"@rweb-client-version@"', f'"{version}"'.encode())


SCRIPT = _with_version(PARTS)
ROWS = 100

try:
    import brotli as _brotli
except ImportError:  # the optional extra is absent: br is not offered, its checks are skipped
    _brotli = None


def build_app(**options: Any) -> App:
    """The counter-sized page at /, a 100-row todo at /todos, plain handlers with and without ``compress``."""
    app = App("compress", secret_key="k" * 32, **options)

    @app.page("/")
    def home(writer_id: Any) -> Any:
        return (lambda: div(span("Count: "), span(0), button("+", data_action="inc"))), {}

    @app.page("/todos", title="Todos")
    def todos(writer_id: Any) -> Any:
        def render() -> Any:
            return ul(
                *(li(span(f"Todo number {i}"), button("done", data_action="done", data_param_i=i))
                  for i in range(ROWS))
            )

        return render, {}

    @app.get("/big")
    def big(request: Request) -> Any:
        return rweb.HTMLResponse("<p>plain handler</p>" * 200)

    @app.get("/big-opt-in")
    def big_opt_in(request: Request) -> Any:
        response = rweb.HTMLResponse("<p>plain handler</p>" * 200, headers={"ETag": '"v1"'})
        response.compress = True
        return response

    @app.get("/form")
    def token_form(request: Request) -> Any:
        response = rweb.HTMLResponse(to_html(form(request.csrf_input(), "<p>pad</p>" * 200, method="post")))
        response.compress = True
        return response

    return app


def asgi_app() -> Any:
    return rweb.asgi(build_app())


@dataclass
class Target:
    host: str
    port: int
    kind: str

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            # skip_accept_encoding: only the Accept-Encoding a test gives is sent (none, else).
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            conn.endheaders()
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()


@contextmanager
def running(kind: str) -> Iterator[Target]:
    if kind == "builtin":
        with serve(build_app()) as srv:
            yield Target(srv.host, srv.port, kind)
    else:
        pytest.importorskip("uvicorn")
        from test_asgi import run_uvicorn

        with run_uvicorn("test_compression:asgi_app", "--factory", "--app-dir", str(HERE)) as server:
            yield Target(server.host, server.port, kind)


@pytest.fixture(scope="module", params=["builtin", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[Target]:
    with running(request.param) as target:
        yield target


def _vary(headers: http.client.HTTPMessage) -> list[str]:
    return [v.strip().lower() for value in headers.get_all("Vary") or [] for v in value.split(",")]


# -- Accept-Encoding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header,chosen",
    [
        (None, "identity"),
        ("", "identity"),
        ("gzip, deflate, br, zstd", "br"),  # what Chromium sends
        ("gzip", "gzip"),
        ("GZip", "gzip"),
        ("x-gzip", "gzip"),
        ("deflate", "identity"),
        ("br;q=0.5, gzip;q=0.8", "gzip"),
        ("br;q=0.8, gzip;q=0.8", "br"),  # a tie: the server's order
        ("gzip;q=0", "identity"),
        ("gzip;q=0.5, identity", "identity"),  # identity named at 1 beats gzip at 0.5
        ("gzip;q=0.001", "gzip"),
        ("gzip;q=2, br;q=nope", "identity"),  # malformed weights are ignored with their coding
        ("*", "br"),
        ("*;q=0", None),
        ("*;q=0, identity", "identity"),
        ("identity;q=0", None),
        ("identity;q=0, gzip", "gzip"),
        ("identity;q=0, *", "br"),
        ("identity;q=0, gzip" + ", x-unknown" * 30, "gzip"),  # long: parsed, not cached
    ],
)
def test_choose_honours_weights_identity_and_star(header: str | None, chosen: str | None) -> None:
    assert choose(header, ("br", "gzip")) == chosen


# -- the first page ------------------------------------------------------------------------------


def test_the_first_page_is_gzipped_when_asked_and_decodes_to_the_same_bytes(server: Target) -> None:
    status, plain_headers, plain = server.request("GET", "/todos")
    assert status == 200 and plain_headers.get("Content-Encoding") is None
    assert len(plain) > 8_000 and plain.count(b"Todo number") == ROWS
    assert "accept-encoding" in _vary(plain_headers)

    status, headers, body = server.request("GET", "/todos", {"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"  # br is for the script, not per response
    assert "accept-encoding" in _vary(headers)
    assert int(headers["Content-Length"]) == len(body)
    assert gzip.decompress(body) == plain
    assert len(body) * 5 < len(plain)
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("accept", [None, "identity", "br", "deflate", "gzip;q=0", "gzip;q=0.5, identity"])
def test_identity_when_gzip_is_not_asked_for(server: Target, accept: str | None) -> None:
    status, headers, body = server.request("GET", "/todos", {"Accept-Encoding": accept} if accept else {})
    assert status == 200
    assert headers.get("Content-Encoding") is None
    assert body.count(b"Todo number") == ROWS
    assert "accept-encoding" in _vary(headers)


def test_a_small_page_is_sent_as_it_is_unless_identity_is_refused(server: Target) -> None:
    status, headers, body = server.request("GET", "/", {"Accept-Encoding": "gzip"})
    assert status == 200 and len(body) < MIN_SIZE
    assert headers.get("Content-Encoding") is None and "accept-encoding" in _vary(headers)

    status, headers, body = server.request("GET", "/", {"Accept-Encoding": "identity;q=0, gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert b"Count: " in gzip.decompress(body)

    status, headers, _ = server.request("GET", "/", {"Accept-Encoding": "identity;q=0"})
    assert status == 406 and "accept-encoding" in _vary(headers)


def test_head_answers_the_headers_of_the_compressed_get(server: Target) -> None:
    _, get_headers, body = server.request("GET", "/todos", {"Accept-Encoding": "gzip"})
    status, headers, head_body = server.request("HEAD", "/todos", {"Accept-Encoding": "gzip"})
    assert status == 200 and head_body == b""
    assert headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(body) == int(get_headers["Content-Length"])
    assert "accept-encoding" in _vary(headers)


def test_a_handlers_response_is_compressed_only_when_it_opts_in(server: Target) -> None:
    status, headers, body = server.request("GET", "/big", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") is None and len(body) > MIN_SIZE
    assert "accept-encoding" not in _vary(headers)

    status, headers, body = server.request("GET", "/big-opt-in", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == b"<p>plain handler</p>" * 200
    assert headers["ETag"] == 'W/"v1"'  # the same weak validator for both codings, as nginx makes it
    status, headers, body = server.request("GET", "/big-opt-in")
    assert headers.get("Content-Encoding") is None and headers["ETag"] == '"v1"'


def test_a_compressed_page_never_carries_the_same_csrf_token_twice(server: Target) -> None:
    status, headers, _ = server.request("GET", "/form", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    cookie = headers["Set-Cookie"].partition(";")[0]
    ident = cookie.partition("=")[2]
    tokens = set()
    for _ in range(3):
        _, headers, body = server.request("GET", "/form", {"Accept-Encoding": "gzip", "Cookie": cookie})
        found = re.search(rb'name="_csrf" value="([^"]+)"', gzip.decompress(body))
        assert found is not None
        token = found.group(1).decode()
        assert ident not in token  # the browser's id is not readable in the page
        tokens.add(token)
    assert len(tokens) == 3


# -- the client script ---------------------------------------------------------------------------


def test_the_page_loads_the_script_from_its_content_hashed_url(server: Target) -> None:
    url = client_url()
    assert url == f"/_rweb/rweb.{hashlib.sha256(SCRIPT).hexdigest()[:16]}.js"
    _, _, page = server.request("GET", "/")
    assert re.findall(rb'<script src="([^"]+)"', page) == [url.encode()]


@pytest.mark.parametrize("accept,coding", [("gzip, deflate, br, zstd", "br"), ("gzip", "gzip"), (None, None)])
def test_the_script_is_served_compressed_and_immutable(server: Target, accept: str | None, coding: str | None) -> None:
    if coding == "br" and _brotli is None:
        pytest.skip("rweb[brotli] is not installed")
    status, headers, body = server.request("GET", client_url(), {"Accept-Encoding": accept} if accept else {})
    assert status == 200
    assert headers.get("Content-Encoding") == coding
    assert headers["Cache-Control"] == IMMUTABLE
    assert headers["Content-Type"].startswith("text/javascript")
    assert "accept-encoding" in _vary(headers)
    assert int(headers["Content-Length"]) == len(body)
    assert decompress(body, coding) == SCRIPT
    if coding is not None:
        assert len(body) * 3 < len(SCRIPT)

    status, head_headers, head_body = server.request("HEAD", client_url(), {"Accept-Encoding": accept} if accept else {})
    assert status == 200 and head_body == b""
    assert head_headers["Content-Length"] == headers["Content-Length"]
    assert head_headers["ETag"] == headers["ETag"]


def test_each_coding_has_its_etag_and_revalidates_alone(server: Target) -> None:
    url = client_url()
    etags = {}
    for accept in ("gzip", "identity") + (("br",) if _brotli is not None else ()):
        _, headers, _ = server.request("GET", url, {"Accept-Encoding": accept})
        etags[accept] = headers["ETag"]
    assert len(set(etags.values())) == len(etags)

    status, headers, body = server.request("GET", url, {"Accept-Encoding": "gzip", "If-None-Match": etags["gzip"]})
    assert status == 304 and body == b""
    assert headers["ETag"] == etags["gzip"] and "accept-encoding" in _vary(headers)
    assert headers["Cache-Control"] == IMMUTABLE
    # The gzip copy's ETag does not validate the plain one (nor the other way round).
    status, headers, body = server.request("GET", url, {"Accept-Encoding": "identity", "If-None-Match": etags["gzip"]})
    assert status == 200 and body == SCRIPT
    status, headers, body = server.request("GET", url, {"Accept-Encoding": "gzip", "If-None-Match": etags["identity"]})
    assert status == 200 and headers["Content-Encoding"] == "gzip"


@pytest.mark.parametrize("path", ["/_rweb/rweb.js", "/_rweb/rweb.0123456789abcdef.js"])
def test_the_old_url_and_another_builds_hash_still_serve_it_revalidated(server: Target, path: str) -> None:
    status, headers, body = server.request("GET", path, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    assert gzip.decompress(body) == SCRIPT


@pytest.mark.parametrize("path", ["/_rweb/rweb.", "/_rweb/rweb.0123.js", "/_rweb/rweb.0123456789ABCDEF.js"])
def test_other_names_under_the_prefix_are_404(server: Target, path: str) -> None:
    assert server.request("GET", path)[0] == 404


def test_the_script_carries_the_version_the_server_expects() -> None:
    """The version a page joins with (``vsn``) is written in the script it loads."""
    assert client_version() == f"{PROTOCOL_VERSION}.{hashlib.sha256(PARTS).hexdigest()[:16]}"
    assert f'const VSN = "{client_version()}";'.encode() in SCRIPT


def test_the_script_hash_follows_its_bytes(tmp_path: Path) -> None:
    """A copy of the package with one byte of the client (its last part) changed serves it under another URL."""
    from rweb.core._build import copy_plain_python

    copy = copy_plain_python(tmp_path) / "rweb"
    js = max((copy / "client").glob("*.js"))
    js.write_bytes(js.read_bytes() + b"\n")
    code = (
        "from rweb.web.client_script import client_url, client_encoded;"
        "print(client_url(), client_encoded().variants['identity'][0][-1:] == b'\\n')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()
    changed = hashlib.sha256(_with_version(PARTS + b"\n")).hexdigest()[:16]
    assert out == [f"/_rweb/rweb.{changed}.js", "True"]
    assert out[0] != client_url()


def test_without_brotli_the_script_is_gzip_only() -> None:
    code = (
        "import sys; sys.modules['brotli'] = None\n"  # as if the optional extra were not installed
        "from rweb import App\nfrom rweb.web.client_script import client_url\nfrom rweb.testing import TestClient\n"
        "r = TestClient(App()).get(client_url(), headers={'Accept-Encoding': 'br, gzip'})\n"
        "print(r.status, r.header('content-encoding'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["200", "gzip"]


def test_fixed_bytes_are_compressed_once_per_coding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client script is compressed when a server starts (brotli at 11 takes a tenth of a
    second): once per coding, and a coding that would not make it smaller is not offered."""
    from rweb.web import compression

    calls: list[str] = []
    real = compression.compress

    def counted(data: bytes, coding: str, *args: Any) -> bytes:
        calls.append(coding)
        return real(data, coding, *args)

    monkeypatch.setattr(compression, "compress", counted)
    big = compression.Encoded(PARTS, "t")
    assert sorted(calls) == sorted(big.codings) and big.codings
    for coding in big.codings:
        assert decompress(big.variants[coding][0], coding) == PARTS
    calls.clear()
    small = compression.Encoded(b"ab", "s")
    assert small.codings == () and list(small.variants) == ["identity"]
    assert len(calls) == len(set(calls))


# -- rweb.testing and the app's settings ----------------------------------------------------------


def test_the_test_client_decodes_what_it_asked_compressed() -> None:
    http = TestClient(build_app(), headers={"Accept-Encoding": "gzip"})
    r = http.get("/todos")
    assert r.header("content-encoding") == "gzip" and r.header("vary") == "Accept-Encoding"
    assert gzip.decompress(r.body) == r.content
    assert r.text.count("Todo number") == ROWS


def test_compress_false_turns_page_compression_off_but_not_the_scripts() -> None:
    http = TestClient(build_app(compress=False), headers={"Accept-Encoding": "gzip"})
    r = http.get("/todos")
    assert r.status == 200 and r.header("content-encoding") is None
    assert http.get("/big-opt-in").header("content-encoding") is None
    assert http.get(client_url()).header("content-encoding") == "gzip"


def test_the_script_under_an_apps_root_path() -> None:
    http = TestClient(build_app(root_path="/app"), headers={"Accept-Encoding": "gzip"})
    page = http.get("/app/todos").text
    assert f'<script src="/app{client_url()}" defer>' in page
    r = http.get("/app" + client_url())
    assert r.status == 200 and r.header("cache-control") == IMMUTABLE and r.content == SCRIPT
