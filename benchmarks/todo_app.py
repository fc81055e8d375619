"""The todo workload's server (``benchmarks/todo.py``): 100 keyed rows, each click toggles one.

Each session has its own list of 100 todos; every row is a component (``row-<id>``)
with a checkbox, the todo's title and a delete button, inside a page with a heading,
an input and a footer.  A row is one function for all rows, given the row's record and
key as arguments (``component(name, fn, *args)``, docs/components.md); ``--closures``
writes each row as a closure made per row instead, as pages were written before
components took arguments (and as they are on an rweb without them: ``--baseline``). The action ``toggle`` (``{"id": "7"}``) flips one row's
``done``: the reply carries that row's patch (the workload of ../shared/reference/anchors.md,
where Phoenix LiveView and PyView ran the same page).

    python benchmarks/todo_app.py --port 8096 [--workers 1]
"""

from __future__ import annotations

import argparse
from typing import Any

from rweb import App, reactive, start_rweb
from rweb.html import button, component, div, footer, form, h1, header, input_, label, li, span, ul

ROWS = 100


@reactive
class Todo:
    title: str
    done: bool


STYLES = ("elements", "template")

# The same page written with templates (rweb.html.Template): statics compiled once, a re-render
# fills the holes (the row's class, checkbox and title) without building and walking elements.
ROW_SOURCE = """
<li class={cls} data-key={key}>
  <label><input type="checkbox" checked={done} data-action="toggle" data-param-id={key}><span>{title}</span></label>
  <button aria-label="Delete" data-action="delete" data-param-id={key}>x</button>
</li>"""
PAGE_SOURCE = """
<div>
  <header>
    <h1>todos</h1>
    <form data-onsubmit="add"><input name="title" placeholder="What needs to be done?" autofocus></form>
  </header>
  <ul class="todo-list">{rows}</ul>
  <footer>{count} items</footer>
</div>"""


def takes_arguments() -> bool:
    """Does this rweb's ``component`` take the function's arguments (older ones: no)?"""
    try:
        component("probe", lambda x: x, 1)
    except TypeError:
        return False
    return True


def todo_app(style: str = "elements", closures: bool = False, **app_options: Any) -> App:
    """The app, its page written with element functions (``style="elements"``) or with templates
    (``"template"``), its rows given their arguments or (``closures``, or on an rweb without
    them) closures; ``app_options`` go to :class:`rweb.App` (the in-process benchmarks turn the
    slow-handler log off: ``slow_callback_ms=None``)."""
    if style not in STYLES:
        raise ValueError(f"style: one of {STYLES}, not {style!r}")
    app = App("todos", **app_options)
    if style == "template":  # compiled here: the element style runs on builds from before templates
        from rweb.html import Template

        ROW, PAGE = Template(ROW_SOURCE), Template(PAGE_SOURCE)
    closures = closures or not takes_arguments()

    # A row, one function for them all: its record and key are its arguments.
    def row_template(todo: Todo, key: str) -> Any:
        done = todo.done
        return ROW(cls="done" if done else None, key=key, done=done, title=todo.title)

    def row_elements(todo: Todo, key: str) -> Any:
        return li(
            label(
                input_(type="checkbox", checked=todo.done, data_action="toggle", data_param_id=key),
                span(todo.title),
            ),
            button("x", aria_label="Delete", data_action="delete", data_param_id=key),
            class_="done" if todo.done else None,
            data_key=key,
        )

    row_fn = row_template if style == "template" else row_elements

    @app.page("/")
    def home(writer_id: Any) -> Any:
        todos = [Todo(f"Write the report, part {i + 1}", i % 3 == 0) for i in range(ROWS)]
        keys = [str(i) for i in range(ROWS)]  # made once: the same arguments at each render of the page

        def row(i: int) -> Any:
            if not closures:
                return component(f"row-{i}", row_fn, todos[i], keys[i])
            todo = todos[i]

            def render_template() -> Any:
                done = todo.done
                return ROW(cls="done" if done else None, key=key, done=done, title=todo.title)

            def render() -> Any:
                return li(
                    label(
                        input_(type="checkbox", checked=todo.done, data_action="toggle", data_param_id=str(i)),
                        span(todo.title),
                    ),
                    button("x", aria_label="Delete", data_action="delete", data_param_id=str(i)),
                    class_="done" if todo.done else None,
                    data_key=str(i),
                )

            key = str(i)
            return component(f"row-{i}", render_template if style == "template" else render)

        def render_page() -> Any:
            if style == "template":
                return PAGE(rows=[row(i) for i in range(ROWS)], count=ROWS)
            return div(
                header(
                    h1("todos"),
                    form(input_(name="title", placeholder="What needs to be done?", autofocus=True),
                         data_onsubmit="add"),
                ),
                ul([row(i) for i in range(ROWS)], class_="todo-list"),
                footer(f"{ROWS} items"),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "toggle":
                todo = todos[int(params["id"])]
                todo.done = not todo.done

        return render_page, on_action

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8096)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--style", choices=STYLES, default="elements", help="how the page is written")
    parser.add_argument("--no-huge-pages", action="store_true", help="start_rweb(huge_pages=False)")
    parser.add_argument("--closures", action="store_true", help="each row a closure made per row (see above)")
    parser.add_argument("--gc-threshold", default=None, help="start_rweb's gc_threshold: A,B,C (default: its default)")
    parser.add_argument("--gc-log", default=None, metavar="PATH",
                        help="time collections, written to PATH.<pid> at shutdown (fanout_app.log_gc)")
    args = parser.parse_args()
    extra: dict[str, Any] = {"huge_pages": False} if args.no_huge_pages else {}  # (older rweb: no such keyword)
    if args.gc_threshold:
        extra["gc_threshold"] = tuple(int(x) for x in args.gc_threshold.split(","))
    app = todo_app(args.style, args.closures)
    if args.gc_log:
        from fanout_app import log_gc  # beside this file

        log_gc(app, args.gc_log)
    start_rweb(args.port, app, host=args.host, workers=args.workers, **extra)
