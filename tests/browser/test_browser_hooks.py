"""Client hooks, server-pushed events and JS commands in Chromium."""

from __future__ import annotations

from typing import Any

from conftest import PW_TIMEOUT_MS, LiveApp

from rweb import JS, App, Conn, reactive
from rweb.html import button, component, div, input_, span

# The page's own script, before rweb.js: a hook that records its life and talks to the server.
HOOKS = """
window.__log = [];
window.rwebHooks = {
  Chart: {
    mounted() {
      window.__log.push("mounted " + this.el.id);
      this.handleEvent("points", (p) => { this.el.dataset.points = String(p.n); });
      this.pushEvent("zoom", {level: 2}).then((reply) => window.__log.push("zoom answered " + (reply && reply.t)));
    },
    updated() { window.__log.push("updated " + this.el.id); },
    destroyed() { window.__log.push("destroyed " + this.el.id); },
  },
};
"""


@reactive
class State:
    level: int = 1
    shown: bool = True
    deleted: int = 0


def app() -> App:
    a = App("hooks", head=f"<script>{HOOKS}</script>")

    @a.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        state = State()

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "zoom":
                state.level = int(params["level"])
            elif action == "points":
                conn.push_event("points", {"n": 42})
            elif action == "remove":
                state.shown = False
            elif action == "delete":
                state.deleted += 1
            elif action == "focus":
                conn.exec_js(JS().focus("#q").add_class("lit", to="#q"))

        def chart() -> Any:
            if not state.shown:
                return span("no chart")
            return div(span(f"level {state.level}"), id="chart", data_hook="Chart",
                       data_hook_actions="zoom")

        def render() -> Any:
            return div(
                component("chart", chart),
                span(str(state.deleted), id="deleted"),
                button("points", id="points", data_action="points"),
                button("remove", id="remove", data_action="remove"),
                button("delete", id="delete", data_action="delete", data_js=JS().confirm("Delete?")),
                button("menu", id="menu-btn", data_js=JS().toggle("#menu").toggle_class("open", to="#menu-btn")),
                button("focus", id="focus", data_action="focus"),
                div("menu", id="menu", hidden=True),
                input_(id="q"),
            )

        return render, on_action

    return a


def log(live: LiveApp) -> list[str]:
    return list(live.page.evaluate("window.__log"))


def wait(live: LiveApp, js: str) -> None:
    live.page.wait_for_function(js, timeout=PW_TIMEOUT_MS)


def test_a_hook_mounts_talks_to_the_server_hears_events_and_is_destroyed(pw_open: Any) -> None:
    live: LiveApp = pw_open(app())
    wait(live, "window.__log.includes('zoom answered r')")
    # Its pushEvent was applied (the action is declared by data-hook-actions), and the
    # re-render of its component called updated().
    wait(live, "document.querySelector('#chart span')?.textContent === 'level 2'")
    wait(live, "window.__log.includes('updated chart')")
    live.page.click("#points")
    wait(live, "document.getElementById('chart')?.dataset.points === '42'")
    live.page.click("#remove")
    wait(live, "window.__log.includes('destroyed chart')")
    assert log(live).count("mounted chart") == 1


def test_js_commands_run_in_the_browser_and_a_declined_confirm_stops_the_action(pw_open: Any) -> None:
    live: LiveApp = pw_open(app())
    page = live.page
    assert page.is_hidden("#menu")
    page.click("#menu-btn")
    assert page.is_visible("#menu") and "open" in (page.get_attribute("#menu-btn", "class") or "")
    page.click("#menu-btn")
    assert page.is_hidden("#menu")

    page.once("dialog", lambda d: d.dismiss())
    page.click("#delete")
    page.wait_for_timeout(300)  # an action sent would have been answered by now
    assert page.text_content("#deleted") == "0"
    page.once("dialog", lambda d: d.accept())
    page.click("#delete")
    wait(live, "document.getElementById('deleted').textContent === '1'")

    page.click("#focus")  # the server's conn.exec_js
    wait(live, "document.activeElement && document.activeElement.id === 'q'")
    assert "lit" in (page.get_attribute("#q", "class") or "")
