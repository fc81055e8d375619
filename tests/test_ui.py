"""rweb.ui without a browser: the components' markup (labels, help and errors wired by ARIA), the
table, the gallery's actions over a real session, the kit's assets (hashed, compressed, behind the
root path, within their size budgets), and that ``import rweb`` does not load the kit.

The kit in Chromium (axe-core, the keyboard): tests/browser/test_browser_ui.py.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from rweb import App, ui
from rweb.assets import ASSET_PREFIX, Asset
from rweb.html import div, to_html
from rweb.testing import Client, TestClient
from rweb.ui import gallery
from rweb.web.compression import BROTLI, decompress

ROOT = Path(__file__).resolve().parent.parent
CSS_BUDGET = 12 * 1024  # compressed bytes (the budget)
JS_BUDGET = 5 * 1024


class _Tree(HTMLParser):
    """Elements by id, and every element's attributes, from rendered HTML."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.all: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.all.append((tag, {k: v or "" for k, v in attrs}))

    def by_id(self, id_: str) -> tuple[str, dict[str, str]]:
        found = [e for e in self.all if e[1].get("id") == id_]
        assert len(found) == 1, f"{len(found)} elements with id {id_!r}"
        return found[0]

    def tags(self, tag: str) -> list[dict[str, str]]:
        return [a for t, a in self.all if t == tag]


def _tree(node: Any) -> _Tree:
    return _Tree(to_html(node))


# -- form controls ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: ui.text_input("email", "Email", type="email", value="a@b", **kw),
        lambda **kw: ui.textarea("email", "Email", value="x", **kw),
        lambda **kw: ui.select("email", "Email", ["a", ("b", "B")], value="b", **kw),
        lambda **kw: ui.checkbox("email", "Email", checked=True, **kw),
        lambda **kw: ui.switch("email", "Email", **kw),
    ],
    ids=["text_input", "textarea", "select", "checkbox", "switch"],
)
def test_a_control_is_labelled_and_described_by_its_help_and_errors(make: Any) -> None:
    t = _tree(make())
    _, control = t.by_id("f-email")
    assert [lab["for"] for lab in t.tags("label")] == ["f-email"]
    assert "aria-describedby" not in control and "aria-invalid" not in control

    t = _tree(make(help="Work address", errors=["Required", "Too short"]))
    _, control = t.by_id("f-email")
    assert control["aria-invalid"] == "true"
    described = control["aria-describedby"].split()
    assert described == ["f-email-error", "f-email-help"]
    for id_ in described:
        t.by_id(id_)  # each id named is on the page, once
    html = to_html(make(help="Work address", errors=["Required", "Too short"]))
    assert "Required" in html and "Too short" in html and "Work address" in html

    # One message, or an empty list (a binder with no errors for the field), as the binder passes them.
    assert _tree(make(errors="Bad")).by_id("f-email")[1]["aria-describedby"] == "f-email-error"
    assert "aria-invalid" not in _tree(make(errors=[])).by_id("f-email")[1]


def test_controls_take_an_id_and_extra_attributes_for_the_control() -> None:
    t = _tree(ui.text_input("q", "Search", id="search", data_oninput="find", data_debounce="200", required=True))
    _, control = t.by_id("search")
    assert control["data-oninput"] == "find" and control["data-debounce"] == "200" and "required" in control
    assert t.tags("label")[0]["for"] == "search"
    assert _tree(ui.switch("s", "S")).by_id("f-s")[1]["role"] == "switch"
    assert _tree(ui.select("t", "T", ["a", "b"], value="b")).tags("option")[1].get("selected") == ""


def test_a_radio_group_is_a_named_radiogroup_with_its_errors() -> None:
    t = _tree(ui.radio_group("plan", "Plan", [("free", "Free"), ("pro", "Pro")], value="pro",
                             errors="Choose one", help="Change it later", required=True))
    tag, group = t.by_id("f-plan")
    assert tag == "fieldset" and group["role"] == "radiogroup" and group["aria-invalid"] == "true"
    assert group["aria-describedby"] == "f-plan-error f-plan-help" and group["aria-required"] == "true"
    radios = t.tags("input")
    assert [r["value"] for r in radios] == ["free", "pro"] and "checked" in radios[1] and "checked" not in radios[0]
    assert [lab["for"] for lab in t.tags("label")] == ["f-plan-0", "f-plan-1"]


def test_buttons_take_known_variants_and_sizes() -> None:
    for v in ui.VARIANTS:
        for s in ui.SIZES:
            attrs = _tree(ui.button("x", variant=v, size=s)).tags("button")[0]
            assert f"ui-btn-{v}" in attrs["class"] and attrs["type"] == "button"
    assert _tree(ui.button("x", size="sm", class_="mine")).tags("button")[0]["class"].split() == [
        "ui-btn", "ui-btn-primary", "ui-btn-sm", "mine"]
    with pytest.raises(ValueError, match="variant"):
        ui.button("x", variant="pink")
    with pytest.raises(ValueError, match="size"):
        ui.button("x", size="xl")


# -- table, pagination ---------------------------------------------------------------------


COLS = [ui.Column("name", "Name", sortable=True), ui.Column("n", "N", numeric=True)]


def test_a_table_marks_its_sorted_column_and_sends_sort_actions() -> None:
    t = _tree(ui.table(COLS, [{"name": "a", "n": 1}], caption="People", sort="name", descending=True))
    ths = t.tags("th")
    assert ths[0]["aria-sort"] == "descending" and "aria-sort" not in ths[1]
    assert all(th["scope"] == "col" for th in ths)
    sort = t.tags("button")[0]
    assert sort["data-action"] == "sort" and sort["data-param-key"] == "name"
    assert len(t.tags("button")) == 1  # N is not sortable
    html = to_html(ui.table(COLS, [], caption="People", empty="Nobody here"))
    assert '<td colspan="2">Nobody here</td>' in html


def test_pagination_marks_the_current_page_and_disables_the_ends() -> None:
    t = _tree(ui.pagination(1, 9))
    buttons = t.tags("button")
    assert "disabled" in buttons[0] and "disabled" not in buttons[-1]
    current = [b for b in buttons if b.get("aria-current") == "page"]
    assert len(current) == 1 and current[0]["data-param-page"] == "1"
    pages = [b["data-param-page"] for b in buttons[1:-1]]
    assert pages == ["1", "2", "9"]
    assert [b["data-param-page"] for b in _tree(ui.pagination(5, 9)).tags("button")[1:-1]] == ["1", "4", "5", "6", "9"]
    assert "disabled" in _tree(ui.pagination(9, 9)).tags("button")[-1]


def test_icons_are_hidden_or_named_and_drawn_with_lines_and_arcs_only() -> None:
    for name, d in ui.ICONS.items():
        assert re.fullmatch(r"[MLHVZAmlhvza0-9.,\s-]+", d), name
        svg = _tree(ui.icon(name)).tags("svg")[0]
        assert svg["aria-hidden"] == "true" and svg["focusable"] == "false"
    named = _tree(ui.icon("trash", label="Delete")).tags("svg")[0]
    assert named["role"] == "img" and named["aria-label"] == "Delete" and "aria-hidden" not in named
    with pytest.raises(ValueError, match="no icon"):
        ui.icon("unicorn")


def test_modal_tabs_and_toasts_markup() -> None:
    t = _tree(ui.modal("m", "Title", "body", on_close="closed"))
    tag, dialog = t.by_id("m")
    assert tag == "dialog" and dialog["aria-labelledby"] == "m-title" and "open" not in dialog
    assert dialog["data-hook"] == "UiModal" and dialog["data-hook-actions"] == "closed"
    t.by_id("m-title")
    assert "ui:open" in str(ui.open_modal("m")) and "#m" in str(ui.open_modal("m"))

    t = _tree(ui.tabs("t", [("A", "a"), ("B", "b")], label="Things", selected=1))
    tabs = [a for a in t.tags("button") if a.get("role") == "tab"]
    assert [x["aria-selected"] for x in tabs] == ["false", "true"] and [x["tabindex"] for x in tabs] == ["-1", "0"]
    panels = [a for _, a in t.all if a.get("role") == "tabpanel"]
    assert "hidden" in panels[0] and "hidden" not in panels[1]
    assert [p["aria-labelledby"] for p in panels] == [x["id"] for x in tabs]
    assert [x["aria-controls"] for x in tabs] == [p["id"] for p in panels]

    region = _tree(ui.toast_region(ui.toast("Saved", id="t1", dismiss_action="dismiss"))).by_id("ui-toasts")[1]
    assert region["aria-live"] == "polite"


def test_a_streamed_table_body_is_the_stream_and_keeps_an_empty_state() -> None:
    app = App("t")

    @app.page("/")
    def page(writer_id: Any, conn: Any) -> Any:
        rows = conn.stream("rows", ui.table_row(COLS), key=lambda r: r["name"], tag="tbody")
        rows.extend([{"name": "a", "n": 1}])

        def add(params: dict[str, Any]) -> None:
            rows.append({"name": params["name"], "n": 2})

        return (lambda: div(ui.table(COLS, rows, caption="Rows"))), {"add": add}

    page_ = Client(app, "/")
    html = page_.html()
    assert '<tbody data-stream="rows"><tr data-key="a"><td>a</td><td class="ui-num">1</td></tr></tbody>' in html
    assert 'class="ui-stream-empty"' in html
    page_.send("add", {"name": "b"})
    assert '<tr data-key="b"><td>b</td>' in page_.html()


# -- the gallery over a real session -------------------------------------------------------------


def test_the_gallery_sorts_pages_validates_and_dismisses_toasts() -> None:
    page = Client(gallery.build_app(), "/")

    def names() -> list[str]:
        people = page.html("gallery-people")
        return re.findall(r"<td>([^<]+)</td><td>(?:Compilers|Networks|Storage|Interfaces)</td>", people)

    assert names() == sorted(names()) and len(names()) == gallery.PAGE_SIZE
    page.send("sort", {"key": "name"})  # the sorted column again: descending
    assert 'aria-sort="descending"' in page.html()
    assert names() == sorted(names(), reverse=True)
    page.send("page", {"page": "3"})
    assert re.search(r'aria-current="page"[^>]*aria-label="Page 3"', page.html())

    page.send("signup", {"name": "", "email": "nope", "password": "short"})
    html = page.html()
    assert 'id="f-name-error"' in html and 'id="f-email-error"' in html and 'id="f-terms-error"' in html
    assert 'value="nope"' in html  # what was typed stays
    page.send("signup", {"name": "Ada", "email": "ada@example.com", "password": "correct horse battery",
                         "plan": "pro", "terms": "on"})
    html = page.html()
    assert "ui-error" not in html and "Welcome, Ada!" in html
    toast_id = re.search(r'class="ui-toast ui-toast-success" id="([^"]+)"|id="([^"]+)"[^>]*class="ui-toast ui-toast-success"',
                         html)
    assert toast_id is not None
    page.send("ui_dismiss_toast", {"id": toast_id.group(1) or toast_id.group(2)})
    assert "Welcome, Ada!" not in page.html()

    page.send("more")
    assert page.html().count('data-key="') >= 103


def test_toasts_keep_a_limit_and_refuse_unknown_kinds() -> None:
    toasts = ui.Toasts(limit=2)
    ids = [toasts.push(f"t{i}") for i in range(3)]
    assert [i for i, _, _ in toasts.items] == ids[1:]
    assert toasts.handle("ui_dismiss_toast", {"id": ids[1]}) and not toasts.handle("other", {})
    assert [i for i, _, _ in toasts.items] == ids[2:]
    with pytest.raises(ValueError):
        toasts.push("x", "purple")


def test_the_theme_cookie_is_read_by_the_server_and_named_once_in_the_script() -> None:
    assert ui.theme_of({ui.THEME_COOKIE: "dark"}) == "dark"
    assert ui.theme_of({ui.THEME_COOKIE: "<script>"}) is None and ui.theme_of({}) is None
    assert f'"{ui.THEME_COOKIE}"' in ui.SCRIPT.data.decode()
    shell = _tree(ui.shell("x", theme="dark")).tags("div")[0]
    assert shell["data-ui-theme"] == "dark"
    assert "data-ui-theme" not in _tree(ui.shell("x", theme="evil")).tags("div")[0]


# -- assets -----------------------------------------------------------------------------------


def _kit_app(**kw: Any) -> App:
    app = App("Kit", assets=ui.ASSETS, **kw)
    app.page("/")(lambda writer_id, conn: ((lambda: div(ui.button("Go"))), {}))
    return app


def test_pages_link_the_kit_and_it_is_served_hashed_and_compressed() -> None:
    client = TestClient(_kit_app())
    page = client.get("/").text
    css = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page)
    js = re.findall(r'<script src="(/_rweb/a/[^"]+)" defer>', page)
    assert css == [ui.STYLESHEET.path] and js == [ui.SCRIPT.path]
    assert page.index(css[0]) < page.index("</head>") and page.index("/_rweb/rweb.") < page.index(js[0])
    for asset, url in ((ui.STYLESHEET, css[0]), (ui.SCRIPT, js[0])):
        r = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert r.status == 200 and r.header("content-encoding") == "gzip"
        assert r.header("cache-control") == "public, max-age=31536000, immutable"
        assert r.header("content-type") == asset.media_type
        assert gzip.decompress(r.body) == asset.data and r.content == asset.data
        etag = r.header("etag")
        assert client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag}).status == 304
        if BROTLI:
            r = client.get(url, headers={"Accept-Encoding": "br"})
            assert r.header("content-encoding") == "br" and decompress(r.body, "br") == asset.data
        plain = client.get(url)
        assert plain.status == 200 and plain.content == asset.data
    # The unhashed name, and a hash from another build: the current bytes, revalidated each time.
    for url in (ASSET_PREFIX + "ui.css", ASSET_PREFIX + "ui.0123456789abcdef.css"):
        r = client.get(url)
        assert r.status == 200 and r.header("cache-control") == "no-cache" and r.content == ui.STYLESHEET.data
    for url in (ASSET_PREFIX + "other.css", ASSET_PREFIX + "ui.xyz.css", ASSET_PREFIX + "ui.css/x"):
        assert client.get(url).status == 404
    assert client.post(ui.STYLESHEET.path).status in (403, 404, 405)


def test_an_app_without_the_kit_serves_no_asset_and_links_none() -> None:
    app = App("Plain")
    app.page("/")(lambda writer_id, conn: ((lambda: div("hi")), {}))
    client = TestClient(app)
    page = client.get("/").text
    assert "stylesheet" not in page and "/_rweb/a/" not in page
    assert client.get(ui.STYLESHEET.path).status == 404


def test_asset_urls_carry_the_root_path() -> None:
    client = TestClient(_kit_app(root_path="/kit"))
    page = client.get("/kit/").text
    assert f'href="/kit{ui.STYLESHEET.path}"' in page and f'src="/kit{ui.SCRIPT.path}"' in page
    assert client.get("/kit" + ui.STYLESHEET.path).content == ui.STYLESHEET.data
    assert ui.STYLESHEET.url("/kit/") == "/kit" + ui.STYLESHEET.path


def test_asset_names_and_types() -> None:
    with pytest.raises(ValueError):
        Asset("../x.css", lambda: b"")
    with pytest.raises(ValueError, match="media_type"):
        Asset("x.bin", lambda: b"")
    a = Asset("app.v2.js", lambda: b"let x = 1;")
    assert re.fullmatch(r"/_rweb/a/app\.v2\.[0-9a-f]{16}\.js", a.path)
    assert a.media_type.startswith("text/javascript")


def test_the_stylesheet_and_script_stay_within_their_budgets() -> None:
    for asset, budget in ((ui.STYLESHEET, CSS_BUDGET), (ui.SCRIPT, JS_BUDGET)):
        encoded = asset.encoded()
        assert encoded.codings, "served compressed"
        for coding in encoded.codings:
            size = len(encoded.variants[coding][0])
            assert size <= budget, f"{asset.name} is {size} bytes with {coding}, over its {budget}"
        assert len(gzip.compress(asset.data, 9)) <= budget


def test_import_rweb_does_not_load_the_kit() -> None:
    code = "import sys, rweb; import rweb.html; print(sorted(m for m in sys.modules if m.startswith('rweb.ui')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_kit_ships_in_the_package_data() -> None:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["rweb"]
    assert "ui/*.css" in data and "ui/*.js" in data


def mounted_gallery() -> Any:
    """The gallery mounted at /kit in Starlette (uvicorn factory for tests/browser/test_browser_ui.py)."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    import rweb

    return Starlette(routes=[Mount("/kit", app=rweb.asgi(gallery.build_app()))])


def test_the_docs_show_every_screenshot_the_script_takes_and_each_is_small() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import ui_screenshots
    finally:
        sys.path.pop(0)
    expected = {f"{name}-{theme}.png" for name in ui_screenshots.SHOTS for theme in ("light", "dark")}
    folder = ROOT / "docs" / "img" / "ui"
    assert {p.name for p in folder.glob("*.png")} == expected
    doc = (ROOT / "docs" / "ui.md").read_text()
    assert set(re.findall(r"\(img/ui/([^)]+\.png)\)", doc)) == expected
    sizes = {p.name: p.stat().st_size for p in folder.glob("*.png")}
    assert max(sizes.values()) <= 64 * 1024 and sum(sizes.values()) <= 512 * 1024, sizes
