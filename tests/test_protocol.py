"""The wire protocol: decode/encode, and every bad input against the real server.

Each bad input must get exactly one reply carrying the right error code, leave
a log line, and leave both the offending session (its state continues) and a
concurrently connected session working.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from rweb import reactive
from rweb.html import button, component, div, span
from rweb.protocol import (
    ERROR_CODES,
    ProtocolError,
    decode,
    encode_error,
    encode_init,
    encode_push,
    encode_reply,
)
from rweb.testing import Served, serve

# -- decode ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"action":"inc"}', ("inc", {}, None)),
        ('{"action":"inc","params":{}}', ("inc", {}, None)),
        ('{"action":"inc","params":null}', ("inc", {}, None)),
        ('{"action":"set","params":{"v":[1,{"a":"b"}]},"ref":7}', ("set", {"v": [1, {"a": "b"}]}, 7)),
        ('{"action":"x","ref":"abc"}', ("x", {}, "abc")),
        ('{"action":"x","ref":0}', ("x", {}, 0)),
        ('{"action":"","extra":1}', ("", {}, None)),
        ('{"action":"caf\\u00e9"}', ("café", {}, None)),
    ],
)
def test_decode_valid_messages(data: str, expected: tuple[Any, ...]) -> None:
    assert decode(data) == expected
    assert decode(data.encode()) == expected
    assert decode(memoryview(data.encode())) == expected


@pytest.mark.parametrize(
    ("data", "code", "ref"),
    [
        ("", "bad_json", None),
        ("{", "bad_json", None),
        ("{'action': 'inc'}", "bad_json", None),
        ('{"action":"inc"} trailing', "bad_json", None),
        (b'{"action":"\xff"}', "bad_json", None),
        ("[]", "bad_message", None),
        ('"inc"', "bad_message", None),
        ("42", "bad_message", None),
        ("null", "bad_message", None),
        ("{}", "bad_message", None),
        ('{"params":{},"ref":3}', "bad_message", 3),
        ('{"action":null,"ref":"r"}', "bad_message", "r"),
        ('{"action":5,"ref":4}', "bad_message", 4),
        ('{"action":["inc"]}', "bad_message", None),
        ('{"action":{"a":1}}', "bad_message", None),
        ('{"action":true}', "bad_message", None),
        ('{"action":"inc","ref":[1]}', "bad_message", None),
        ('{"action":"inc","ref":1.5}', "bad_message", None),
        ('{"action":"inc","ref":true}', "bad_message", None),
        ('{"action":"inc","ref":{}}', "bad_message", None),
        ('{"action":"inc","params":[1],"ref":9}', "bad_params", 9),
        ('{"action":"inc","params":"x"}', "bad_params", None),
        ('{"action":"inc","params":3}', "bad_params", None),
        ('{"action":"inc","params":true}', "bad_params", None),
    ],
)
def test_decode_bad_messages(data: str | bytes, code: str, ref: Any) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(data)
    assert info.value.code == code
    assert info.value.ref == ref
    assert info.value.message
    assert code in ERROR_CODES


def test_encoders_produce_the_documented_shapes() -> None:
    init = {"root": {"s": ["<p>", "</p>"], "d": ["x"]}}
    assert orjson.loads(encode_init(init)) == {"t": "init", "c": init}
    assert encode_reply({"display": {"1": "6"}}) == b'{"t":"r","d":{"display":{"1":"6"}}}'
    assert orjson.loads(encode_reply({}, ref=3)) == {"t": "r", "d": {}, "ref": 3}
    assert orjson.loads(encode_reply({}, ref=0)) == {"t": "r", "d": {}, "ref": 0}
    assert orjson.loads(encode_reply({"a": None}, "r", ("handler_error", "boom"))) == {
        "t": "r",
        "d": {"a": None},
        "ref": "r",
        "e": {"code": "handler_error", "message": "boom"},
    }
    assert orjson.loads(encode_error("bad_json", "nope")) == {
        "t": "r",
        "d": {},
        "e": {"code": "bad_json", "message": "nope"},
    }
    assert orjson.loads(encode_push({"c": {"0": "1"}})) == {"t": "p", "d": {"c": {"0": "1"}}}
    assert orjson.loads(encode_push({}, ("render_error", "x"))) == {
        "t": "p",
        "d": {},
        "e": {"code": "render_error", "message": "x"},
    }


def test_every_documented_error_code_is_known() -> None:
    import re
    from pathlib import Path

    from rweb.protocol import ErrorCode

    doc = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
    table = doc.split("| code | cause | session state |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` +\|", table, re.M))
    assert set(ERROR_CODES) == {c.value for c in ErrorCode} == documented
    assert "not_found" in documented


# -- against the real server -----------------------------------------------------


@reactive
class Count:
    value: int


@reactive
class Mode:
    broken: bool = False


def error_app(writer_id: Any) -> Any:
    """A counter with actions that fail in each possible way."""
    count = Count(0)
    mode = Mode()

    def fragile() -> Any:
        if mode.broken:
            raise RuntimeError("fragile render failed on purpose")
        return span("fragile ok ", count.value)

    def render_page() -> Any:
        return div(
            component("display", lambda: div(span("Count: "), span(count.value))),
            component("fragile", fragile),
            button("+", data_action="inc"),
            button("fail", data_action="fail"),
            button("break", data_action="break"),
            button("fix", data_action="fix"),
        )

    def on_action(action: str, params: dict[str, Any]) -> None:
        if action == "inc":
            count.value += 1
        elif action == "fail":
            count.value += 1  # written before the raise: still rendered and sent
            raise ValueError("handler failed on purpose")
        elif action == "break":
            count.value += 1
            mode.broken = True
        elif action == "fix":
            mode.broken = False

    return render_page, on_action


LIMIT = 64 * 1024


def padded(size: int, action: str = "inc") -> str:
    """A valid JSON message of exactly ``size`` bytes."""
    base = json.dumps({"action": action, "params": {"pad": ""}}, separators=(",", ":"))
    msg = base.replace('"pad":""', '"pad":"' + "x" * (size - len(base)) + '"')
    assert len(msg.encode()) == size
    return msg


@dataclass
class Case:
    name: str
    payload: Any  # str: text frame; bytes: binary frame; list: fragmented message
    code: str
    ref: Any = None
    delta: int = 0  # how much the bad message itself moves the counter
    log: str = ""  # a fragment of the expected log line


CASES = [
    Case("malformed_json", '{"action": "inc"', "bad_json", log="bad_json"),
    Case("not_an_object", '["inc"]', "bad_message", log="bad_message"),
    Case("missing_action", '{"params": {}, "ref": 5}', "bad_message", ref=5, log="missing"),
    Case("non_string_action", '{"action": 5, "ref": "r1"}', "bad_message", ref="r1", log="action"),
    Case("bad_ref", '{"action": "inc", "ref": [1]}', "bad_message", log="ref"),
    Case("non_object_params", '{"action": "inc", "params": [1], "ref": 7}', "bad_params", ref=7,
         log="bad_params"),
    Case("unknown_action", '{"action": "nope", "params": {}, "ref": 8}', "unknown_action", ref=8,
         log="unknown_action"),
    Case("binary_frame", b'{"action": "inc", "params": {}}', "binary_frame", log="binary"),
    Case("fragmented_binary", [b'{"action": ', b'"inc"}'], "binary_frame", log="binary"),
    Case("oversized", padded(LIMIT + 1), "too_large", log="refused"),
    Case("oversized_100k", padded(100 * 1024), "too_large", log="refused"),
    Case("oversized_fragmented", [padded(LIMIT + 1)[i : i + 20000] for i in range(0, LIMIT + 1, 20000)],
         "too_large", log="refused"),
    Case("handler_exception", '{"action": "fail", "params": {}, "ref": 9}', "handler_error", ref=9,
         delta=1, log="fail"),
    Case("render_exception", '{"action": "break", "params": {}}', "render_error", delta=1,
         log="fragile"),
]


@pytest.fixture(scope="module")
def error_server() -> Iterator[Served]:
    with serve(error_app, "errors") as srv:
        yield srv


def rweb_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("rweb") and r.levelno >= logging.WARNING
    ]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_its_error_and_sessions_survive(
    case: Case, error_server: Served, wire: Any, count_of: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="rweb")
    url = error_server.ws_url

    async def main() -> None:
        async with wire.connect(url) as a, wire.connect(url) as b:
            assert (await wire.recv(a))["t"] == "init"
            assert (await wire.recv(b))["t"] == "init"
            for i in (1, 2):
                assert count_of(await wire.click(a)) == str(i)
            assert count_of(await wire.click(b)) == "1"
            caplog.clear()

            reply = await wire.ask(a, case.payload)
            assert reply["t"] == "r"
            assert reply["e"]["code"] == case.code, reply
            assert isinstance(reply["e"]["message"], str) and reply["e"]["message"]
            if case.ref is None:
                assert "ref" not in reply
            else:
                assert reply["ref"] == case.ref
            if case.delta:
                assert count_of(reply) == str(2 + case.delta)  # written state is still sent
            else:
                assert "display" not in reply["d"]
            if case.code == "render_error":
                assert "fragile" not in reply["d"]  # it keeps its last render
                assert "fragile" in reply["e"]["message"]

            logs = rweb_warnings(caplog)
            assert logs, "no log line for the bad input"
            assert any(case.log in line for line in logs), logs

            # The same session carries on from where it was ...
            assert count_of(await wire.click(a)) == str(3 + case.delta)
            assert count_of(await wire.click(a, ref=11))
            # ... and so does the other one.
            assert count_of(await wire.click(b)) == "2"

    wire.run(main())


def test_broken_component_recovers_when_fixed(error_server: Served, wire: Any, count_of: Any) -> None:
    async def main() -> None:
        async with wire.connect(error_server.ws_url) as ws:
            init = await wire.recv(ws)
            assert init["c"]["fragile"]["d"] == ["fragile ok ", "0"]
            reply = await wire.click(ws, "break")
            assert reply["e"]["code"] == "render_error"
            assert count_of(reply) == "1" and "fragile" not in reply["d"]
            reply = await wire.click(ws)
            assert count_of(reply) == "2"
            reply = await wire.click(ws, "fix")
            assert "e" not in reply
            assert reply["d"] == {"fragile": {"1": "2"}}
            reply = await wire.click(ws)
            assert reply["d"] == {"display": {"1": "3"}, "fragile": {"1": "3"}}

    wire.run(main())


def test_message_exactly_at_the_limit_is_accepted(
    error_server: Served, wire: Any, count_of: Any
) -> None:
    async def main() -> None:
        async with wire.connect(error_server.ws_url) as ws:
            await wire.recv(ws)
            assert count_of(await wire.ask(ws, padded(LIMIT))) == "1"
            fragments = [padded(LIMIT)[i : i + 10000] for i in range(0, LIMIT, 10000)]
            assert count_of(await wire.ask(ws, fragments)) == "2"
            assert (await wire.ask(ws, padded(LIMIT + 1)))["e"]["code"] == "too_large"
            assert count_of(await wire.click(ws)) == "3"

    wire.run(main())


def test_configured_small_limit(
    wire: Any, count_of: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="rweb")

    async def main(url: str) -> None:
        async with wire.connect(url) as a, wire.connect(url) as b:
            await wire.recv(a)
            await wire.recv(b)
            assert count_of(await wire.ask(a, padded(100))) == "1"
            caplog.clear()
            reply = await wire.ask(a, padded(101))
            assert reply["e"]["code"] == "too_large"
            assert "100" in reply["e"]["message"]
            assert any("refused" in line for line in rweb_warnings(caplog))
            reply = await wire.ask(a, [padded(101)[:60], padded(101)[60:]])
            assert reply["e"]["code"] == "too_large"
            assert count_of(await wire.click(a)) == "2"
            assert count_of(await wire.click(b)) == "1"

    with serve(error_app, "small", max_message_size=100) as srv:
        wire.run(main(srv.ws_url))


def test_fragmented_text_message_is_one_message(
    error_server: Served, wire: Any, count_of: Any
) -> None:
    async def main() -> None:
        async with wire.connect(error_server.ws_url) as ws:
            await wire.recv(ws)
            reply = await wire.ask(ws, ['{"action":', '"inc","par', 'ams":{},"ref":"frag"}'])
            assert reply["ref"] == "frag" and "e" not in reply
            assert reply["d"]["display"] == {"1": "1"}
            assert count_of(await wire.click(ws)) == "2"

    wire.run(main())


def test_replies_come_in_order_one_per_message(error_server: Served, wire: Any) -> None:
    msgs: list[Any] = []
    for i in range(30):
        msgs.append({"action": "inc", "params": {}, "ref": i})
        if i % 5 == 0:
            msgs.append({"action": "nope", "ref": f"bad{i}"})
        if i % 7 == 0:
            msgs.append({"action": "inc", "params": "no", "ref": f"params{i}"})

    async def main() -> None:
        async with wire.connect(error_server.ws_url) as ws:
            await wire.recv(ws)
            for m in msgs:  # pipelined: all sent before any reply is read
                await ws.send(json.dumps(m))
            count = 0
            for m in msgs:
                reply = await wire.recv(ws)
                assert reply["t"] == "r" and reply["ref"] == m["ref"]
                if isinstance(m["ref"], int):
                    count += 1
                    assert reply["d"]["display"] == {"1": str(count)} and "e" not in reply
                else:
                    assert reply["d"] == {} and "e" in reply
            # Nothing extra was queued: the next message is the reply to this one.
            reply = await wire.click(ws, ref="last")
            assert reply["ref"] == "last" and reply["d"]["display"]["1"] == str(count + 1)

    wire.run(main())
