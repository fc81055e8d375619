"""Element functions compiled to templates (rweb.core.element_templates): the same markup, the
same evaluation, fewer slots; and every function it cannot compile run as written."""

from __future__ import annotations

import importlib.util
import linecache
import random
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rweb import App, component, reactive
from rweb.core import element_templates as et
from rweb.html import Filled, Template, UnsafeURLError, to_html
from rweb.testing import Page

HEADER = """\
from rweb.html import a, br, button, div, img, input_, label, li, script, span, ul, raw, component
"""


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Any]:
    """Import a module written from source (a real file: its functions' source is read back)."""
    loaded: list[str] = []

    def _load(source: str, name: str = "rows") -> ModuleType:
        name = f"_rweb_et_{name}_{len(loaded)}"
        path = tmp_path / f"{name}.py"
        path.write_text(HEADER + source)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        loaded.append(name)
        return module

    yield _load
    for name in loaded:
        sys.modules.pop(name, None)


@reactive
class Todo:
    title: str
    done: bool


ROWS = """
def row(todo, key):
    return li(
        label(input_(type="checkbox", checked=todo.done, data_action="toggle", data_param_id=key), span(todo.title)),
        button("x", aria_label="Delete", data_action="delete", data_param_id=key),
        class_="done" if todo.done else None,
        data_key=key,
    )


def odd(x, *rest, k=3, **kw):
    \"\"\"A docstring, a local, literals of every kind, a list, a void element.\"\"\"
    y = x * 2
    return div(
        "a<{b}>&", 5, None, True, False, br(), [span(i) for i in rest],
        a("l", href="/x?a=1&b=2", hidden=True, title=None, data_no=False), y, k,
        data_q="'\\"<>{}", data_kw=kw.get("z"),
    )


lam = lambda t: span(t, class_="c")


class Rows:
    def __init__(self, cls):
        self.cls = cls

    def method(self, n):
        return ul(li(n, class_=self.cls))


def outer(prefix):
    def inner(n):
        return span(prefix, n, title=prefix)
    return inner
"""


def test_a_compiled_function_gives_the_markup_of_the_original(load: Any) -> None:
    m = load(ROWS)
    rows = m.Rows("r")
    cases: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = [
        (m.row, (Todo("Write <it> & {that}", True), "7"), {}),
        (m.row, (Todo("Read", False), "8"), {}),
        (m.odd, (3, 1, "<2>"), {"k": 9, "z": "&"}),
        (m.lam, ("q\"",), {}),
        (rows.method, (4,), {}),
        (m.outer("p<"), (5,), {}),
    ]
    for fn, args, kwargs in cases:
        assert et.why_not(fn) is None, fn
        twin = et.fast(fn)
        assert twin is not fn
        got = twin(*args, **kwargs)
        assert type(got) is Filled
        assert to_html(got) == to_html(fn(*args, **kwargs)), fn
    # The literal attributes and text are the template's statics: only the others are holes.
    source = et.fast(m.row)(Todo("t", False), "1").template.source
    assert 'type="checkbox"' in source and 'data-action="toggle"' in source and ">x</button>" in source
    assert source.count("{h") == 6


def _random_tree(rng: random.Random, depth: int) -> str:
    """Python source of a random element call (its children and attributes literals or the args)."""
    texts = ["'plain'", "'<b>&amp;'", "'{x}'", "\"it's\"", "''", "' '", "'\\u00e9'"]
    values = ["None", "True", "False", "1", "0", "-3", *texts, "x", "y", "x.upper()", "[x, y]", "str(y)"]
    if depth == 0 or rng.random() < 0.25:
        void = rng.random() < 0.2
        tag = rng.choice(["br", "img", "input_"] if void else ["span", "li", "a"])
        kids = [] if void else [rng.choice(values) for _ in range(rng.randrange(3))]
    else:
        tag = rng.choice(["div", "ul", "li", "label", "button"])
        kids = [_random_tree(rng, depth - 1) if rng.random() < 0.6 else rng.choice(values)
                for _ in range(rng.randrange(4))]
    names = rng.sample(["class_", "title", "data_x", "aria_label", "hidden", "data_action", "href", "src"],
                       rng.randrange(4))
    attrs = [f"{n}={rng.choice([*values, repr('/p?q=1&r'), repr('https://x.test/')])}" for n in names]
    return f"{tag}({', '.join([*kids, *attrs])})"


def test_random_trees_render_the_same_compiled_or_not(load: Any) -> None:
    rng = random.Random(20261206)
    sources = [f"def f{i}(x, y):\n    return {_random_tree(rng, 3)}\n" for i in range(150)]
    m = load("\n\n".join(sources), "random")
    compiled = 0
    for i in range(150):
        fn = getattr(m, f"f{i}")
        for args in (("x<", "y&"), ("", "z")):
            try:
                want: Any = to_html(fn(*args))
            except Exception as exc:  # (an unsafe attribute value, a void element's children...)
                want = type(exc)
            try:
                got: Any = to_html(et.fast(fn)(*args))
            except Exception as exc:
                got = type(exc)
            assert got == want, sources[i]
        compiled += et.why_not(fn) is None
    assert compiled == 150


def test_a_method_call_on_an_imported_name_compiles(load: Any) -> None:
    m = load("import json\n\ndef f(x):\n    return li(json.dumps(x), title=json.dumps(x))\n")
    assert et.why_not(m.f) is None
    assert to_html(et.fast(m.f)({"a": 1})) == to_html(m.f({"a": 1}))


def test_holes_are_evaluated_once_each_in_the_order_the_original_evaluates_them(load: Any) -> None:
    m = load("""
seen = []

def note(x):
    seen.append(x)
    return x

def f():
    return div(note("a"), span(note("b"), title=note("c")), note("d"), class_=note("e"), data_x=note("f"))
""")
    assert et.why_not(m.f) is None
    to_html(m.f())
    want = list(m.seen)
    m.seen.clear()
    to_html(et.fast(m.f)())
    assert m.seen == want == ["a", "b", "c", "d", "e", "f"]


def test_an_element_function_rebound_after_compiling_is_honoured(load: Any) -> None:
    m = load("""
def f(n):
    return li(span(n))
""")
    twin = et.fast(m.f)
    assert type(twin(1)) is Filled
    m.li = m.div  # the twin checks its element functions at each call: the renderer calls f then
    assert twin(1) is et.AS_WRITTEN
    m.li = m.ul.__class__("li")  # another factory of the same tag is another object: as written too
    assert twin(1) is et.AS_WRITTEN


def test_a_page_whose_element_function_was_rebound_renders_as_written(load: Any) -> None:
    m = load("def f(n):\n    return li(span(n))\n")
    app = App("rebound")
    box = Todo("one", False)

    @app.page("/")
    def home(writer_id: Any) -> Any:
        return (lambda: m.ul(component("row", m.f, box.title))), (lambda action, params: None)

    page = Page(app)
    assert page.html("li") == '<li data-rc="row"><span>one</span></li>'
    m.li = m.div
    box.title = "two"  # the page re-renders its row, whose twin now hands it back
    page.run_pending()
    assert page.html("div") == '<div data-rc="row"><span>two</span></div>'


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("def f(n):\n    yield li(n)\n", "a generator or a coroutine"),
        ("async def f(n):\n    return li(n)\n", "a generator or a coroutine"),
        ("G = 1\ndef f(n):\n    global G\n    return li(n)\n", "global or nonlocal"),
        ("def f(n):\n    _rweb_T = n\n    return li(_rweb_T)\n", "_rweb_"),
        ("def f(n):\n    return [li(n)]\n", "returns no element call"),
        ("def f(n):\n    if n:\n        return li(n)\n    n += 1\n", "returns no element call"),
        ("def f(n):\n    return li(*n)\n", "returns no element call"),
        ("def f(n):\n    return script(n)\n", "returns no element call"),
        ("def f(n):\n    li = span\n    return li(n)\n", "returns no element call"),
        ("f, g = (lambda n: li(n)), (lambda n: ul(n))\n", "several functions start on its line"),
        ("def f(n):\n    return a(n, href='javascript:alert(1)')\n", "UnsafeURLError"),
    ],
)
def test_what_is_not_compiled_runs_as_written_and_says_why(load: Any, source: str, why: str) -> None:
    m = load(source)
    assert why in (et.why_not(m.f) or ""), et.why_not(m.f)
    assert et.fast(m.f) is m.f


def test_a_function_without_source_or_edited_since_runs_as_written(load: Any, tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    exec(HEADER + "def f(n):\n    return li(n)\n", namespace)
    assert et.why_not(namespace["f"]) == "its source is not available"
    m = load("def f(n):\n    return li(n, title='old')\n")
    path = Path(m.__file__)
    path.write_text(path.read_text().replace("'old'", "'new'"))  # edited after it was imported
    linecache.checkcache(str(path))
    assert "does not compile to its code" in (et.why_not(m.f) or "")
    assert to_html(et.fast(m.f)(1)) == '<li title="old">1</li>'


def test_a_void_element_given_children_still_fails_at_its_call(load: Any) -> None:
    m = load("def f(n):\n    return div(br(n), span(n))\n")
    with pytest.raises(TypeError, match="void element"):
        et.fast(m.f)(1)


def test_an_unsafe_url_in_a_hole_is_refused_at_render_as_before(load: Any) -> None:
    m = load("def f(u):\n    return a('go', href=u)\n")
    assert et.why_not(m.f) is None
    with pytest.raises(UnsafeURLError):
        to_html(et.fast(m.f)("javascript:alert(1)"))


def test_an_error_in_a_hole_points_at_the_original_line(load: Any) -> None:
    m = load("def f(todo):\n    return li(\n        span(todo.missing),\n    )\n")
    with pytest.raises(AttributeError) as info:
        et.fast(m.f)(Todo("t", False))
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert frame.filename == m.__file__ and frame.lineno == HEADER.count("\n") + 3


def test_turned_off_every_function_runs_as_written(load: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    m = load("def f(n):\n    return li(n)\n")
    monkeypatch.setattr(et, "ENABLED", False)
    assert et.fast(m.f) is m.f
    assert et.why_not(m.f) == "RWEB_COMPILE_ELEMENTS=0"


TODO_PAGE = """
def row(todo, key):
    return li(
        label(input_(type="checkbox", checked=todo.done, data_action="toggle", data_param_id=key), span(todo.title)),
        class_="done" if todo.done else None,
        data_key=key,
    )
"""


def _todo_app(m: ModuleType) -> App:
    app = App("todos")

    @app.page("/")
    def home(writer_id: Any) -> Any:
        todos = [Todo(f"Task <{i}>", i == 1) for i in range(3)]
        keys = [str(i) for i in range(3)]

        def render_page() -> Any:
            return m.ul([component(f"row-{i}", m.row, todos[i], keys[i]) for i in range(3)])

        def on_action(action: str, params: dict[str, Any]) -> None:
            todos[int(params["id"])].done ^= True

        return render_page, on_action

    return app


def test_a_live_page_of_compiled_rows_is_the_page_written_out(load: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    m = load(TODO_PAGE)
    pages = {}
    for enabled in (True, False):
        monkeypatch.setattr(et, "ENABLED", enabled)
        page = Page(_todo_app(m))
        replies = page.click('li[data-key="0"] input')
        pages[enabled] = (page.html(), replies)
    (compiled_html, compiled_replies), (plain_html, plain_replies) = pages[True], pages[False]
    assert compiled_html == plain_html
    assert 'class="done"' in compiled_html and "Task &lt;0&gt;" in compiled_html
    # The toggle's patch holds the two holes that changed; written out, the row's every attribute
    # is a slot (its patch holds the same two, at other indices).
    patch = compiled_replies[-1]["d"]["row-0"]
    assert sorted(patch.values()) == sorted(plain_replies[-1]["d"]["row-0"].values())
    assert len(patch) == 2


def test_a_compiled_rows_first_message_is_smaller(load: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from rweb.testing import Client

    m = load(TODO_PAGE)
    sizes = {}
    for enabled in (True, False):
        monkeypatch.setattr(et, "ENABLED", enabled)
        app = _todo_app(m)
        sizes[enabled] = len(str(Client(app).init))
    assert sizes[True] < sizes[False]


def test_a_template_is_what_the_twin_fills(load: Any) -> None:
    m = load("def f(n):\n    return li(n, class_='x')\n")
    got = et.fast(m.f)(1)
    assert isinstance(got.template, Template) and got.template.source == '<li class="x">{h0}</li>'


def test_the_environment_variable_turns_it_off() -> None:
    import os
    import subprocess

    code = "from rweb.core import element_templates as et; print(et.ENABLED)"
    for value, want in (("0", "False"), ("1", "True")):
        env = {**os.environ, "RWEB_COMPILE_ELEMENTS": value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
        assert out.stdout.strip() == want
