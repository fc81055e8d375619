"""Client hooks' actions, server-pushed events and JS commands: the server's side, in-process."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rweb import JS, App, Conn, reactive
from rweb.html import button, component, div, span
from rweb.testing import Client


@reactive
class Zoom:
    level: int = 1


def hooked_app() -> App:
    app = App("h")

    @app.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        zoom = Zoom()

        def ping(params: dict[str, Any]) -> None:
            conn.push_event("pong", {"n": params.get("n")})
            conn.exec_js(JS().focus("#q").add_class("flash", to="#chart"))

        def render() -> Any:
            return div(
                div(id="chart", data_hook="Chart", data_hook_actions="zoom ping"),
                component("level", lambda: span(zoom.level)),
                button("menu", data_js=JS().toggle("#menu").confirm("Sure?")),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:  # any name: the page's bindings gate it
            if action == "zoom":
                zoom.level = int(params["level"])
            elif action == "ping":
                ping(params)

        return render, on_action

    return app


def test_a_hook_may_send_the_actions_its_element_declares() -> None:
    c = Client(hooked_app(), "/")
    assert "e" not in c.send("zoom", {"level": 3}) and "3" in c.html("level")
    assert c.send("secret")["e"]["code"] == "unknown_action"


def test_push_event_and_exec_js_travel_as_effects_of_the_reply() -> None:
    c = Client(hooked_app(), "/")
    reply = c.send("ping", {"n": 7})
    assert reply["fx"] == [
        ["event", {"name": "pong", "payload": {"n": 7}}],
        ["js", {"cmds": [["focus", {"to": "#q"}], ["add_class", {"to": "#chart", "names": "flash"}]]}],
    ]


def test_data_js_holds_the_commands_as_escaped_json() -> None:
    html = Client(hooked_app(), "/").html()
    assert 'data-js="[[&quot;toggle&quot;,{&quot;to&quot;:&quot;#menu&quot;}]' in html
    cmds = JS().show().hide("#a").toggle_class("x  y", to=".b").set_attr("aria-expanded", "true")
    assert json.loads(str(cmds)) == [
        ["show", {}], ["hide", {"to": "#a"}], ["toggle_class", {"to": ".b", "names": "x y"}],
        ["set_attr", {"name": "aria-expanded", "value": "true"}],
    ]


@pytest.mark.parametrize("name", ["onclick", "href", "style", "data-action", "data-onsubmit", "data-js", "a b"])
def test_js_commands_refuse_dangerous_attributes(name: str) -> None:
    with pytest.raises(ValueError):
        JS().set_attr(name, "x")


def test_js_commands_refuse_what_is_not_json_or_not_a_selector() -> None:
    with pytest.raises(TypeError):
        JS().dispatch("e", detail=object())
    with pytest.raises(ValueError):
        JS().show(to="  ")
    with pytest.raises(ValueError):
        JS().add_class("  ")


def test_push_event_refuses_a_payload_that_is_not_json() -> None:
    app = App("h", actions=("go",))

    @app.page("/")
    def page(writer_id: Any, conn: Conn) -> Any:
        return (lambda: div("x")), {"go": lambda p: conn.push_event("e", {1, 2})}

    assert Client(app, "/").send("go")["e"]["code"] == "handler_error"
