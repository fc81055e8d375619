"""Static files (rweb.static): content types, validators and 304s, HEAD, directories,
no way out of the folder (traversal, dotfiles, symlinks, odd bytes), size limit, the
memory cache; a few requests through ``App.handle_http`` for the prefix routing and the
favicon answer; and a property test that no generated path escapes the folder.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rweb.app.app import App
from rweb.http import Request, Response
from rweb.web.static import StaticFiles, content_type

MTIME = 1_600_000_000  # Sun, 13 Sep 2020 12:26:40 GMT
MTIME_HTTP = "Sun, 13 Sep 2020 12:26:40 GMT"

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")


def write(path: Path, data: bytes | str, mtime: float | None = MTIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def get(
    files: StaticFiles,
    subpath: str,
    headers: Iterable[tuple[str, str]] = (),
    method: str = "GET",
    prefix: str = "/static",
    query_string: str = "",
) -> Response:
    request = Request(method, prefix + subpath, headers=headers, query_string=query_string)
    return files.respond(request, subpath)


def hdr(response: Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """tmp_path/public (the folder served) beside tmp_path/secret.txt (outside it)."""
    public = tmp_path / "public"
    write(public / "hello.txt", "hello")
    write(public / "css" / "site.css", "body{}")
    write(public / "js" / "app.js", "let x")
    write(public / "a" / "b" / "c" / "deep.json", "{}")
    write(public / ".env", "HIDDEN=1")
    write(public / ".git" / "config", "HIDDEN git")
    write(public / "css" / ".secret.css", "HIDDEN css")
    write(public / "docs" / "index.html", "<h1>docs</h1>")
    (public / "empty").mkdir()
    write(tmp_path / "secret.txt", "SECRET outside")
    write(tmp_path / "public-other" / "x.txt", "SECRET sibling")
    return public


# -- content types -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("mod.mjs", "text/javascript; charset=utf-8"),
        ("site.css", "text/css; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("data.json", "application/json; charset=utf-8"),
        ("logo.svg", "image/svg+xml"),
        ("mod.wasm", "application/wasm"),
        ("photo.webp", "image/webp"),
        ("font.woff2", "font/woff2"),
        ("font.woff", "font/woff"),
        ("photo.PNG", "image/png"),
        ("photo.jpeg", "image/jpeg"),
        ("doc.pdf", "application/pdf"),
        ("site.webmanifest", "application/manifest+json; charset=utf-8"),
        ("bundle.tar.gz", "application/gzip"),
        ("noextension", "application/octet-stream"),
        ("weird.zzqq", "application/octet-stream"),
    ],
)
def test_content_type(name: str, expected: str) -> None:
    assert content_type(name) == expected


# -- serving a file -----------------------------------------------------------------


def test_serves_a_file_with_type_validators_and_nosniff(site: Path) -> None:
    r = get(StaticFiles(site), "/css/site.css")
    assert r.status == 200
    assert r.body == b"body{}"
    h = hdr(r)
    assert h["content-type"] == "text/css; charset=utf-8"
    assert h["x-content-type-options"] == "nosniff"
    assert h["cache-control"] == "no-cache"
    assert h["last-modified"] == MTIME_HTTP
    size, _, mtime_ns = h["etag"].strip('"').partition("-")
    assert int(size, 16) == 6 and int(mtime_ns, 16) == MTIME * 10**9


def test_nested_folders_and_a_pathlike_folder(site: Path) -> None:
    files = StaticFiles(site)  # a Path
    assert get(files, "/a/b/c/deep.json").body == b"{}"
    assert hdr(get(files, "/js/app.js"))["content-type"] == "text/javascript; charset=utf-8"
    assert get(StaticFiles(str(site)), "hello.txt").body == b"hello"  # no leading slash


def test_a_relative_folder_is_resolved_at_construction(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(site.parent)
    files = StaticFiles("public")
    monkeypatch.chdir(site / "css")
    assert get(files, "/hello.txt").body == b"hello"


def test_cache_control_is_configurable(site: Path) -> None:
    files = StaticFiles(site, cache_control="public, max-age=31536000, immutable")
    assert hdr(get(files, "/hello.txt"))["cache-control"] == "public, max-age=31536000, immutable"


def test_head_has_the_same_headers_and_length(site: Path) -> None:
    files = StaticFiles(site)
    g, h = get(files, "/hello.txt"), get(files, "/hello.txt", method="HEAD")
    assert h.status == 200 and h.headers == g.headers
    assert h.body == g.body == b"hello"  # the transport drops it; Content-Length comes from it


def test_other_methods_answer_405_when_called_directly(site: Path) -> None:
    r = get(StaticFiles(site), "/hello.txt", method="POST")
    assert r.status == 405 and hdr(r)["allow"] == "GET, HEAD"


def test_a_name_with_percent_and_unicode_is_literal(site: Path) -> None:
    write(site / "%41.txt", "percent")
    write(site / "café.txt", "unicode")
    files = StaticFiles(site)
    assert get(files, "/%41.txt").body == b"percent"  # never decoded a second time
    assert get(files, "/A.txt").status == 404
    assert get(files, "/café.txt").body == b"unicode"


# -- conditional requests -----------------------------------------------------------


def test_if_none_match_answers_304_with_etag_and_no_body(site: Path) -> None:
    files = StaticFiles(site)
    etag = hdr(get(files, "/hello.txt"))["etag"]
    for value in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        r = get(files, "/hello.txt", [("If-None-Match", value)])
        assert r.status == 304, value
        assert r.body == b""
        h = hdr(r)
        assert h["etag"] == etag and h["cache-control"] == "no-cache"
        assert "content-type" not in h
    head = get(files, "/hello.txt", [("If-None-Match", etag)], method="HEAD")
    assert head.status == 304


def test_if_none_match_in_several_headers(site: Path) -> None:
    files = StaticFiles(site)
    etag = hdr(get(files, "/hello.txt"))["etag"]
    r = get(files, "/hello.txt", [("If-None-Match", '"a"'), ("If-None-Match", etag)])
    assert r.status == 304


def test_a_stale_etag_gets_the_file(site: Path) -> None:
    files = StaticFiles(site)
    r = get(files, "/hello.txt", [("If-None-Match", '"5-0"')])
    assert r.status == 200 and r.body == b"hello"


def test_if_modified_since(site: Path) -> None:
    files = StaticFiles(site)
    assert get(files, "/hello.txt", [("If-Modified-Since", MTIME_HTTP)]).status == 304
    later = format_datetime(datetime.fromtimestamp(MTIME + 60, UTC), usegmt=True)
    assert get(files, "/hello.txt", [("If-Modified-Since", later)]).status == 304
    earlier = format_datetime(datetime.fromtimestamp(MTIME - 1, UTC), usegmt=True)
    assert get(files, "/hello.txt", [("If-Modified-Since", earlier)]).status == 200
    assert get(files, "/hello.txt", [("If-Modified-Since", "yesterday")]).status == 200
    assert get(files, "/hello.txt", [("If-Modified-Since", "")]).status == 200


def test_a_sub_second_mtime_still_matches_its_last_modified(site: Path) -> None:
    write(site / "frac.txt", "x", mtime=MTIME + 0.75)
    files = StaticFiles(site)
    last_modified = hdr(get(files, "/frac.txt"))["last-modified"]
    assert get(files, "/frac.txt", [("If-Modified-Since", last_modified)]).status == 304


def test_a_future_if_modified_since_is_ignored(site: Path) -> None:
    future = format_datetime(datetime(2999, 1, 1, tzinfo=UTC), usegmt=True)
    assert get(StaticFiles(site), "/hello.txt", [("If-Modified-Since", future)]).status == 200


def test_if_none_match_takes_precedence_over_if_modified_since(site: Path) -> None:
    r = get(StaticFiles(site), "/hello.txt", [("If-None-Match", '"other"'), ("If-Modified-Since", MTIME_HTTP)])
    assert r.status == 200 and r.body == b"hello"


def test_an_edited_file_gets_a_new_etag_and_is_served_fresh(site: Path) -> None:
    files = StaticFiles(site)
    first = get(files, "/hello.txt")
    etag = hdr(first)["etag"]
    write(site / "hello.txt", "HELLO", mtime=MTIME + 5)  # same size: the mtime tells
    second = get(files, "/hello.txt", [("If-None-Match", etag)])
    assert second.status == 200 and second.body == b"HELLO"
    assert hdr(second)["etag"] != etag
    write(site / "hello.txt", "hello, longer", mtime=MTIME + 5)  # same mtime: the size tells
    assert get(files, "/hello.txt").body == b"hello, longer"


# -- the memory cache ------------------------------------------------------------------


def test_the_cache_serves_the_same_bytes_and_stays_bounded(site: Path) -> None:
    files = StaticFiles(site, cache_bytes=40)  # files up to 10 bytes are cached
    for i in range(8):
        write(site / f"f{i}.txt", f"file {i}...")  # 10 bytes each
    for _ in range(2):
        for i in range(8):
            assert get(files, f"/f{i}.txt").body == f"file {i}...".encode()
    assert files._cached_bytes <= 40 and len(files._cache) == 4
    write(site / "big.txt", "x" * 11)
    assert get(files, "/big.txt").body == b"x" * 11
    assert str(site / "big.txt") not in files._cache


def test_without_a_cache(site: Path) -> None:
    files = StaticFiles(site, cache_bytes=0)
    assert get(files, "/hello.txt").body == b"hello"
    assert not files._cache


# -- directories ----------------------------------------------------------------------


def test_a_directory_with_a_trailing_slash_serves_its_index(site: Path) -> None:
    r = get(StaticFiles(site), "/docs/")
    assert r.status == 200 and r.body == b"<h1>docs</h1>"
    assert hdr(r)["content-type"] == "text/html; charset=utf-8"


def test_a_directory_without_the_slash_redirects_to_it(site: Path) -> None:
    r = get(StaticFiles(site), "/docs", query_string="a=1&b=%20")
    assert r.status == 307
    assert hdr(r)["location"] == "/static/docs/?a=1&b=%20"


def test_the_redirect_keeps_the_root_path_and_encodes_the_name(site: Path) -> None:
    write(site / "my docs%" / "index.html", "x")
    request = Request("GET", "/static/my docs%", root_path="/app")
    r = StaticFiles(site).respond(request, "/my docs%")
    assert r.status == 307 and hdr(r)["location"] == "/app/static/my%20docs%25/"


def test_the_folder_itself(site: Path) -> None:
    files = StaticFiles(site)
    assert get(files, "/").status == 404 and get(files, "").status == 404  # no index.html
    write(site / "index.html", "home")
    assert get(files, "/").body == b"home"
    r = get(files, "")
    assert r.status == 307 and hdr(r)["location"] == "/static/"


def test_directories_are_never_listed(site: Path) -> None:
    files = StaticFiles(site)
    for sub in ("/empty", "/empty/", "/css", "/css/", "/a/b/"):
        assert get(files, sub).status == 404, sub


def test_index_can_be_turned_off(site: Path) -> None:
    files = StaticFiles(site, index=None)
    assert get(files, "/docs/").status == 404
    assert get(files, "/docs").status == 404
    assert get(files, "/docs/index.html").status == 200


def test_a_file_asked_as_a_directory_is_404(site: Path) -> None:
    assert get(StaticFiles(site), "/hello.txt/").status == 404


# -- no way out ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subpath",
    [
        "/../secret.txt",
        "../secret.txt",
        "/css/../../secret.txt",
        "/css/../hello.txt",  # even when it would stay inside: one URL per file
        "/./hello.txt",
        "/..",
        "/../public-other/x.txt",
        "/%2e%2e/secret.txt",  # %252e%252e decoded once: a literal name
        "/%2e%2e%2fsecret.txt",
        "/..%2fsecret.txt",
        "//etc/passwd",
        "/css//site.css",
        "\\..\\secret.txt",
        "/..\\secret.txt",
        "/css\\site.css",
        "/hello.txt\x00.png",
        "/\x00",
        "/hello.txt\n",
        "/C:/Windows/win.ini",
        "/hello.txt:$DATA",
        "/hello.txt.",
        "/hello.txt ",
        "/" + "a/" * 3000 + "hello.txt",
        "/nope.txt",
        "/\udcff.txt",  # not encodable in the file system's encoding
        "/" + "x" * 300,  # a name too long for the file system
    ],
)
def test_refused_and_missing_paths_are_404(site: Path, subpath: str) -> None:
    r = get(StaticFiles(site), subpath)
    assert r.status == 404
    assert b"SECRET" not in r.body and b"hello" not in r.body


@pytest.mark.parametrize("subpath", ["/.env", "/.git/config", "/.git/", "/.git", "/css/.secret.css", "/.env/"])
def test_hidden_files_are_404(site: Path, subpath: str) -> None:
    r = get(StaticFiles(site), subpath)
    assert r.status == 404 and b"HIDDEN" not in r.body


def test_hidden_files_when_allowed(site: Path) -> None:
    write(site / ".well-known" / "security.txt", "contact")
    files = StaticFiles(site, allow_hidden=True)
    assert get(files, "/.well-known/security.txt").body == b"contact"
    assert get(files, "/.env").body == b"HIDDEN=1"
    assert get(files, "/../secret.txt").status == 404
    assert get(files, "/./hello.txt").status == 404


def test_the_same_404_for_hidden_forbidden_and_missing(site: Path) -> None:
    files = StaticFiles(site)
    pages = {get(files, p).body for p in ("/.env", "/../secret.txt", "/nope", "/empty")}
    assert len(pages) == 1


def test_the_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing"):
        StaticFiles(tmp_path / "missing")
    write(tmp_path / "file.txt", "x")
    with pytest.raises(NotADirectoryError, match=r"file\.txt"):
        StaticFiles(tmp_path / "file.txt")


@pytest.mark.parametrize(
    "kwargs",
    [{"cache_control": "no-cache\r\nX-Evil: 1"}, {"index": "../index.html"}, {"index": "a/b"}, {"max_size": -1}],
)
def test_bad_options(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        StaticFiles(tmp_path, **kwargs)  # type: ignore[arg-type]


# -- symlinks ----------------------------------------------------------------------------


@needs_symlinks
def test_symlinks_inside_to_inside_are_followed(site: Path) -> None:
    (site / "alias.css").symlink_to(site / "css" / "site.css")
    (site / "styles").symlink_to("css", target_is_directory=True)  # relative
    files = StaticFiles(site)
    assert get(files, "/alias.css").body == b"body{}"
    r = get(files, "/styles/site.css")
    assert r.body == b"body{}" and hdr(r)["content-type"] == "text/css; charset=utf-8"


@needs_symlinks
def test_symlinks_out_of_the_folder_are_404(site: Path, tmp_path: Path) -> None:
    (site / "out.txt").symlink_to(tmp_path / "secret.txt")
    (site / "up").symlink_to("..", target_is_directory=True)
    (site / "sibling").symlink_to(tmp_path / "public-other", target_is_directory=True)
    (site / "etc").symlink_to("/etc", target_is_directory=True)
    files = StaticFiles(site)
    for sub in ("/out.txt", "/up/secret.txt", "/up/public-other/x.txt", "/sibling/x.txt", "/etc/hostname"):
        r = get(files, sub)
        assert r.status == 404 and b"SECRET" not in r.body, sub
    # Judged by where the path finally leads: out through a link and back in is inside.
    assert get(files, "/up/public/hello.txt").body == b"hello"


@needs_symlinks
def test_follow_symlinks_serves_links_out(site: Path, tmp_path: Path) -> None:
    (site / "out.txt").symlink_to(tmp_path / "secret.txt")
    (site / "sibling").symlink_to(tmp_path / "public-other", target_is_directory=True)
    files = StaticFiles(site, follow_symlinks=True)
    assert get(files, "/out.txt").body == b"SECRET outside"
    assert get(files, "/sibling/x.txt").body == b"SECRET sibling"
    assert get(files, "/../secret.txt").status == 404  # the path itself is still checked


@needs_symlinks
def test_a_link_to_a_hidden_file_is_refused_like_the_file(site: Path) -> None:
    (site / "env.txt").symlink_to(site / ".env")
    (site / "git").symlink_to(".git", target_is_directory=True)
    files = StaticFiles(site)
    assert get(files, "/env.txt").status == 404
    assert get(files, "/git/config").status == 404
    assert get(StaticFiles(site, allow_hidden=True), "/env.txt").body == b"HIDDEN=1"


@needs_symlinks
def test_dangling_and_looping_links_are_404(site: Path) -> None:
    (site / "dangling.txt").symlink_to(site / "gone.txt")
    (site / "loop1").symlink_to(site / "loop2")
    (site / "loop2").symlink_to(site / "loop1")
    files = StaticFiles(site)
    assert get(files, "/dangling.txt").status == 404
    assert get(files, "/loop1").status == 404


@needs_symlinks
def test_a_symlinked_folder_is_served(site: Path, tmp_path: Path) -> None:
    (tmp_path / "current").symlink_to(site, target_is_directory=True)
    assert get(StaticFiles(tmp_path / "current"), "/hello.txt").body == b"hello"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_is_404_and_does_not_hang(site: Path) -> None:
    os.mkfifo(site / "pipe.txt")
    assert get(StaticFiles(site), "/pipe.txt").status == 404


# -- size limit -----------------------------------------------------------------------------


def test_a_file_over_max_size_answers_500_and_logs(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(site / "big.bin", b"x" * 11)
    files = StaticFiles(site, max_size=10)
    with caplog.at_level(logging.WARNING, logger="rweb.static"):
        r = get(files, "/big.bin")
    assert r.status == 500 and b"x" * 11 not in r.body
    assert "big.bin" in caplog.text and "max_size=10" in caplog.text
    assert get(files, "/hello.txt").status == 200  # 5 bytes: fine
    write(site / "ten.bin", b"y" * 10)
    assert get(files, "/ten.bin").body == b"y" * 10


# -- through the app ------------------------------------------------------------------------


def http(app: App, method: str, path: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return asyncio.run(app.handle_http(Request(method, path, headers=headers)))


def test_app_routes_its_static_prefix(site: Path) -> None:
    app = App("Shop", static={"/static": site})

    @app.get("/staticky")
    def staticky(request: Request) -> str:
        return "a route"

    r = http(app, "GET", "/static/css/site.css")
    assert r.status == 200 and r.body == b"body{}"
    assert http(app, "HEAD", "/static/hello.txt").body == b"hello"
    assert http(app, "GET", "/static/docs/").body == b"<h1>docs</h1>"
    assert http(app, "GET", "/static/.env").status == 404
    assert http(app, "GET", "/static/../secret.txt").status == 404
    assert http(app, "GET", "/staticky").body == b"a route"  # not under the prefix
    assert http(app, "GET", "/staticx/hello.txt").status == 404
    r = http(app, "POST", "/static/hello.txt")
    assert r.status == 405 and hdr(r)["allow"] == "GET, HEAD"
    etag = hdr(http(app, "GET", "/static/hello.txt"))["etag"]
    assert http(app, "GET", "/static/hello.txt", [("if-none-match", etag)]).status == 304


def test_app_mount_static_and_its_root(site: Path) -> None:
    app = App("Shop")
    app.mount_static("assets/", site)  # normalised to /assets
    assert http(app, "GET", "/assets/hello.txt").body == b"hello"
    write(site / "index.html", "home")
    r = http(app, "GET", "/assets")
    assert r.status == 307 and hdr(r)["location"] == "/assets/"
    assert http(app, "GET", "/assets/").body == b"home"


def test_app_refuses_a_missing_static_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        App("Shop", static={"/static": tmp_path / "nope"})


def test_favicon_without_a_route_is_204(site: Path) -> None:
    app = App("Shop", static={"/static": site})
    for method in ("GET", "HEAD"):
        r = http(app, method, "/favicon.ico")
        assert r.status == 204 and r.body == b""
        assert "max-age" in hdr(r)["cache-control"]
    assert http(app, "GET", "/favicon.png").status == 404


def test_favicon_points_at_a_static_file(site: Path) -> None:
    write(site / "icon.png", b"\x89PNG")
    app = App("Shop", static={"/static": site}, favicon="/static/icon.png")
    r = http(app, "GET", "/favicon.ico")
    assert r.status == 302 and hdr(r)["location"] == "/static/icon.png"
    r = http(app, "GET", hdr(r)["location"])
    assert r.body == b"\x89PNG" and hdr(r)["content-type"] == "image/png"


# -- property: nothing escapes ------------------------------------------------------------------

_SEGMENTS = st.sampled_from(
    [
        "..", ".", "", "%2e%2e", "%2E%2E", "..%2f", "%2f", "...", "....", ". .", ".. ", "..\\..",
        "\\", "\x00", "C:", "~", "public", "public-other", "x.txt", "secret.txt", "hello.txt",
        ".env", ".git", "config", "css", "site.css", "out", "up", "self", "docs", "index.html",
    ]
)
_DIRS = st.sampled_from(["self", "up", "public", "css", "docs", "%2e%2e", "..", ".git"])
_LEAVES = st.sampled_from(["hello.txt", "site.css", "secret.txt", "x.txt", "", ".env", "config", "out"])
_GOOD = st.sampled_from(["hello.txt", "css/site.css", "docs/", "docs", "%2e%2e/secret.txt", "config"])
_SUBPATHS = st.one_of(
    # Paths that lead to a file (through links in and out and back), so that 200s are tried too.
    st.builds(
        lambda d, good: "/".join([*d, good]),
        st.lists(st.sampled_from(["self", "up/public", "up/public/self"]), max_size=3),
        _GOOD,
    ),
    st.builds(lambda d, leaf: "/".join([*d, leaf]), st.lists(_DIRS, max_size=4), _LEAVES),
    st.lists(_SEGMENTS, min_size=1, max_size=4).map("/".join),
    st.lists(_SEGMENTS | st.text(max_size=6), max_size=8).map("/".join),
    st.text(max_size=40),
)


@pytest.fixture(scope="module")
def jail(tmp_path_factory: pytest.TempPathFactory) -> tuple[StaticFiles, set[bytes]]:
    """A folder with links in and out, and the bodies that may be served from it."""
    root = tmp_path_factory.mktemp("jail")
    public = root / "public"
    write(public / "hello.txt", "ok hello")
    write(public / "css" / "site.css", "ok css")
    write(public / "docs" / "index.html", "ok docs")
    write(public / ".env", "HIDDEN env")
    write(public / ".git" / "config", "HIDDEN git")
    write(public / "%2e%2e" / "secret.txt", "ok literal")  # a real folder named %2e%2e
    write(root / "secret.txt", "SECRET outside")
    write(root / "x.txt", "SECRET x")
    write(root / "public-other" / "x.txt", "SECRET sibling")
    if hasattr(os, "symlink") and os.name != "nt":
        (public / "out").symlink_to(root / "secret.txt")
        (public / "up").symlink_to("..", target_is_directory=True)
        (public / "self").symlink_to(".", target_is_directory=True)
        (public / "config").symlink_to(public / ".git" / "config")
    return StaticFiles(public), {b"ok hello", b"ok css", b"ok docs", b"ok literal"}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subpath=_SUBPATHS, leading_slash=st.booleans())
def test_no_generated_path_escapes_the_folder(
    jail: tuple[StaticFiles, set[bytes]], subpath: str, leading_slash: bool
) -> None:
    files, allowed = jail
    if leading_slash:
        subpath = "/" + subpath
    r = get(files, subpath)
    event(f"status {r.status}")  # --hypothesis-show-statistics: some 200s, not only 404s
    assert r.status in (200, 307, 404), (subpath, r.status)
    assert b"SECRET" not in r.body and b"HIDDEN" not in r.body
    if r.status == 200:
        assert r.body in allowed


def test_a_static_folder_at_the_root_serves_what_no_route_answers(site: Path) -> None:
    app = App("x", static={"/": site})

    @app.get("/about")
    def about(request: Request) -> str:
        return "<p>route</p>"

    def call(path: str) -> Response:
        return asyncio.run(app.handle_http(Request("GET", path)))

    assert call("/about").body == b"<p>route</p>"
    assert call("/hello.txt").status == 200
    assert call("/nothing-here").status == 404
    app.mount_static("/assets", StaticFiles(site, cache_control="max-age=60"))
    assert call("/assets/hello.txt").header("cache-control") == "max-age=60"
