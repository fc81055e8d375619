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
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from rweb import App, Conn, Redirect, Request, reactive, start_rweb
from rweb.html import a, button, component, div, h1, nav, p, span
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
    app = App("rweb pages")
    # Links are built with url_for: they carry the app's root path when it is
    # mounted under a prefix (rweb.asgi in a Starlette Mount, say).
    url = app.url_for

    def nav_bar() -> Any:
        return nav(
            a("Counter", href=url("home"), id="nav-home", data_navigate=True),
            " | ",
            a("Item 1", href=url("item", item_id=1), id="nav-item", data_navigate=True),
            " | ",
            a("Members", href=url("members"), id="nav-members", data_navigate=True),
            " | ",
            a("About", href=url("about"), id="nav-about", data_navigate=True),
            " | ",
            a("About (plain link)", href=url("about"), id="plain-about"),
        )

    @app.page("/", title="Counter")
    def home(writer_id: int, conn: Conn) -> PageSetup:
        counter = Counter(0)

        def render_page() -> Any:
            return div(
                nav_bar(),
                h1("Counter", id="page"),
                component("display", lambda: p("Count: ", span(counter.value, id="count"))),
                div(
                    button("+", data_action="inc", id="inc"),
                    button("Open item 1", data_action="open_item", id="open-item"),
                    button("Become a member", data_action="join", id="join"),
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
                a("Previous", href=url("item", item_id=n - 1), id="prev", data_navigate=True)
                if n > 1
                else None,
                " ",
                a("Next", href=url("item", item_id=n + 1), id="next", data_navigate=True),
                " ",
                a(
                    "Next (replace)",
                    href=url("item", item_id=n + 1),
                    id="next-replace",
                    data_navigate="replace",
                ),
            )

        def render_page() -> Any:
            return div(
                nav_bar(),
                component("item", links),
                component("likes", lambda: p("Likes this visit: ", span(visit.likes, id="likes"))),
                div(
                    button("Like", data_action="like", id="like"),
                    button("Next (server)", data_action="next", id="server-next"),
                    button("Back to the counter", data_action="home", id="go-home"),
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
            return div(
                nav_bar(),
                h1("Members", id="page"),
                p("Welcome, member.", id="welcome"),
                button("Leave", data_action="leave", id="leave"),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "leave":
                conn.clear_cookie("member")
                conn.redirect("/about")

        return render_page, on_action

    @app.get("/about")
    def about(request: Request) -> str:
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8"><title>About</title></head><body>'
            '<h1 id="page">About</h1>'
            "<p>A plain page: no WebSocket here. Members only see the members' page.</p>"
            f'<p><a href="{url("home")}" id="home">Back to the counter</a></p>'
            "</body></html>"
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
