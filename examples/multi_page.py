"""Several pages in one app, shown over one WebSocket without page reloads.

    python examples/multi_page.py [--port 8080] [--host 127.0.0.1] [--workers N] [--reload]

- ``/``: a counter. Each time the page is mounted it gets a new session, so
  the count starts again at 0; "Open item 1" calls ``conn.navigate``.
- ``/items/{item_id}``: an item page. Going from one item to another (a
  ``data-navigate`` link, or "Next (server)", which calls ``conn.patch``)
  keeps the session: ``conn.on_params`` updates the item and the likes given
  during the visit survive.
- ``/members``: only with the ``member`` cookie; without it the page's setup
  raises ``rweb.Redirect("/about")``, on the first load (a 303) as on a live
  navigation. "Become a member" sets the cookie from the live session (an
  HttpOnly cookie, redeemed over HTTP) and then loads the members' page.
- ``/about``: a plain HTML page (``@app.get``): a ``data-navigate`` link to it
  loads it for real.

Links with ``data-navigate`` change the page live; plain links load as usual.
``conn.navigate`` and ``conn.patch`` take paths within the app; links are built
with ``app.url_for``, so the app also works mounted under a prefix.

The pages use the component kit (``rweb.ui``): a shell with a navbar (the
current page marked ``aria-current``) and a theme switch; the plain page links
the kit's stylesheet itself, with ``app.static_url(ui.STYLESHEET)``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from rweb import App, Conn, Redirect, Request, reactive, start_rweb, ui
from rweb.html import a, component, div, escape, h1, p, span, to_html
from rweb.http import QueryParams

PageSetup = tuple[Callable[[], Any], Callable[[str, dict[str, Any]], None]]


@reactive
class Counter:
    value: int


@reactive
class ItemVisit:
    item_id: int
    likes: int


def build_app() -> App:
    """A fresh app (the tests serve one per test)."""
    app = App("rweb pages", assets=ui.ASSETS)
    # Links are built with url_for: they carry the app's root path when it is
    # mounted under a prefix (rweb.asgi in a Starlette Mount, say).
    url = app.url_for

    def nav_bar(current: str) -> Any:
        def link(text: str, name: str, id: str, **params: Any) -> Any:
            return ui.nav_link(text, url(name, **params), current=name == current, id=id, data_navigate=True)

        return ui.navbar(
            "rweb pages",
            link("Counter", "home", "nav-home"),
            link("Item 1", "item", "nav-item", item_id=1),
            link("Members", "members", "nav-members"),
            link("About", "about", "nav-about"),
            ui.nav_link("About (plain link)", url("about"), id="plain-about"),
            end=ui.theme_switch(),
        )

    def shell(conn: Conn, current: str, *content: Any) -> Any:
        return ui.shell(*content, navbar=nav_bar(current), theme=ui.theme_of(conn.cookies))

    @app.page("/", title="Counter")
    def home(writer_id: int, conn: Conn) -> PageSetup:
        counter = Counter(0)

        def render_page() -> Any:
            return shell(
                conn,
                "home",
                h1("Counter", id="page"),
                component("display", lambda: p("Count: ", span(counter.value, id="count"))),
                div(
                    ui.button("+", data_action="inc", id="inc"),
                    ui.button("Open item 1", data_action="open_item", id="open-item", variant="secondary"),
                    ui.button("Become a member", data_action="join", id="join", variant="secondary"),
                    class_="ui-row",
                ),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            match action:
                case "inc":
                    counter.value += 1
                case "open_item":
                    conn.navigate("/items/1")
                case "join":
                    # The cookie is set first, then the members' page loads with it.
                    conn.set_cookie("member", "yes")
                    conn.redirect("/members")

        return render_page, on_action

    @app.page("/items/{item_id:int}", title="Item")
    def item(writer_id: int, conn: Conn) -> PageSetup:
        visit = ItemVisit(conn.params["item_id"], 0)

        @conn.on_params
        def show(params: Mapping[str, Any], query: QueryParams) -> None:
            visit.item_id = params["item_id"]

        def links() -> Any:
            n = visit.item_id
            return div(
                h1(f"Item {n}", id="page"),
                p(
                    a("Previous", href=url("item", item_id=n - 1), id="prev", data_navigate=True)
                    if n > 1
                    else None,
                    a("Next", href=url("item", item_id=n + 1), id="next", data_navigate=True),
                    a(
                        "Next (replace)",
                        href=url("item", item_id=n + 1),
                        id="next-replace",
                        data_navigate="replace",
                    ),
                    class_="ui-row",
                ),
            )

        def render_page() -> Any:
            return shell(
                conn,
                # Item 1 is the navbar's link; other items are no page of the navbar's.
                "item" if visit.item_id == 1 else "",
                component("item", links),
                component("likes", lambda: p("Likes this visit: ", span(visit.likes, id="likes"))),
                div(
                    ui.button("Like", data_action="like", id="like"),
                    ui.button("Next (server)", data_action="next", id="server-next", variant="secondary"),
                    ui.button("Back to the counter", data_action="home", id="go-home", variant="ghost"),
                    class_="ui-row",
                ),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            match action:
                case "like":
                    visit.likes += 1
                case "next":
                    conn.patch(f"/items/{visit.item_id + 1}")
                case "home":
                    conn.navigate("/")

        return render_page, on_action

    @app.page("/members", title="Members")
    def members(writer_id: int, conn: Conn) -> PageSetup:
        if conn.cookies.get("member") != "yes":
            raise Redirect("/about")

        def render_page() -> Any:
            return shell(
                conn,
                "members",
                h1("Members", id="page"),
                p("Welcome, member.", id="welcome"),
                ui.button("Leave", data_action="leave", id="leave", variant="danger"),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "leave":
                conn.clear_cookie("member")
                conn.redirect("/about")

        return render_page, on_action

    @app.get("/about")
    def about(request: Request) -> str:
        # A plain page: no WebSocket, no script; the kit's stylesheet, linked behind the root path.
        body = ui.shell(
            h1("About", id="page"),
            p("A plain page: no WebSocket here. Members only see the members' page."),
            p(a("Back to the counter", href=url("home"), id="home")),
            navbar=ui.navbar("rweb pages"),
            theme=ui.theme_of(request.cookies),
        )
        return (
            f'<!DOCTYPE html>\n<html lang="{escape(app.lang)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><title>About</title>'
            f'<link rel="stylesheet" href="{escape(app.static_url(ui.STYLESHEET))}"></head>'
            f"<body>{to_html(body)}</body></html>"
        )

    return app


app = build_app()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--reload", action="store_true", help="restart when a file changes (one worker)")
    args = parser.parse_args()
    start_rweb(args.port, app, host=args.host, workers=args.workers, reload=args.reload or None)
