"""An app's own files linked from its pages behind its root path: ``Asset.file`` and ``app.static_url``.

In-process (``rweb.testing``); the same app mounted at a sub-path under uvicorn
and Chromium is tests/browser/test_browser_examples.py's (``rweb new``'s app).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rweb import App
from rweb.assets import ASSET_PREFIX, Asset, rooted
from rweb.html import div, img
from rweb.testing import TestClient


def _site(tmp_path: Path, **kw: Any) -> tuple[App, Asset]:
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "site.css").write_text("body { color: #123 }")
    (tmp_path / "public" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    site = Asset.file(tmp_path / "public" / "site.css")
    app = App("Site", static={"/static": tmp_path / "public"}, assets=[site], **kw)

    @app.page("/")
    def home(writer_id: Any, conn: Any) -> Any:
        return (lambda: div(img(src=app.static_url("/static/logo.svg"), alt="Logo", id="logo"))), {}

    return app, site


@pytest.mark.parametrize("root", ["", "/shop"])
def test_the_apps_files_are_linked_behind_its_root_path_and_served(tmp_path: Path, root: str) -> None:
    app, site = _site(tmp_path, root_path=root)
    client = TestClient(app)
    page = client.get(root + "/").text
    [sheet] = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page)
    assert sheet == f"{root}{ASSET_PREFIX}site.{site.digest}.css" == site.url(root)
    assert f'<img src="{root}/static/logo.svg" alt="Logo" id="logo">' in page
    r = client.get(sheet, headers={"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.content == b"body { color: #123 }"
    assert r.header("cache-control") == "public, max-age=31536000, immutable"
    assert client.get(f"{root}/static/logo.svg").status == 200
    assert app.static_url(site) == sheet and app.static_url("/static") == f"{root}/static"


def test_a_url_no_folder_or_asset_of_the_app_serves_is_refused(tmp_path: Path) -> None:
    app, _ = _site(tmp_path)
    for wrong in ("/statics/logo.svg", "static/logo.svg", "/img/logo.svg", "/"):
        with pytest.raises(ValueError, match="no static folder"):
            app.static_url(wrong)
    with pytest.raises(ValueError, match="not one of the app's assets"):
        app.static_url(Asset("other.css", lambda: b""))
    with pytest.raises(ValueError, match=r"static folders: none"):
        App("bare").static_url("/static/x.css")
    everything = App("all", static={"/": tmp_path / "public"})
    assert everything.static_url("/logo.svg") == "/logo.svg"


def test_an_asset_file_must_exist_and_is_named_by_its_file_name(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        Asset.file(tmp_path / "missing.css")
    with pytest.raises(FileNotFoundError):
        Asset.file(tmp_path)  # a directory
    (tmp_path / "app.js").write_text("let x = 1;")
    asset = Asset.file(str(tmp_path / "app.js"))
    assert asset.name == "app.js" and asset.media_type.startswith("text/javascript")
    assert asset.data == b"let x = 1;"


def test_one_rule_puts_the_root_path_in_front() -> None:
    assert rooted("", "/a.css") == "/a.css"
    assert rooted("/shop", "/a.css") == rooted("/shop/", "/a.css") == "/shop/a.css"
