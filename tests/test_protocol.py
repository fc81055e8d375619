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
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import rweb
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
from rweb.words import protocol

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
    assert encode_reply({"display": {"0": "6"}}) == b'{"t":"r","d":{"display":{"0":"6"}}}'
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


# -- the fast paths: the same results as orjson's ----------------------------------
# decode() reads the action frame clients write without a JSON parser, and the encoders
# write a patch of string slots straight into bytes (C functions of protocol.pxd, in the
# compiled build).  Whatever they take must come out exactly as the orjson path gives it:
# the same values and types, the same error codes, the same bytes.

FRAMES = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
# Strings near the fast path's edges: quotes, backslashes, control characters, DEL, non-ASCII.
_tricky = st.text(alphabet=st.sampled_from(['a', 'Z', '0', ' ', '"', '\\', '/', '\x00', '\x1f', '\x7f', '\n', 'é', '\u2028', '😀']),
                  max_size=6)
_word = st.one_of(st.text(max_size=8), _tricky, st.sampled_from(["inc", "toggle", "id", "42", ""]))
_ref = st.one_of(st.none(), st.integers(-(10**17), 10**17), st.integers(), st.booleans(), _word, st.floats(allow_nan=False))
_value = st.one_of(_word, st.integers(-5, 10**16), st.booleans(), st.none(), st.lists(st.integers(0, 3), max_size=2))


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """An action frame as some client might write it: usually the fast path's shape, often not."""
    if draw(st.booleans()):  # the shape the fast path takes: printable ASCII strings, a small integer
        ascii_ = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=6)
        msg: dict[str, Any] = {"action": draw(ascii_)}
        if draw(st.booleans()):
            msg["params"] = draw(st.dictionaries(ascii_, ascii_, max_size=3))
        if draw(st.booleans()):
            msg["ref"] = draw(st.integers(-(10**16), 10**16))
    else:
        msg = {"action": draw(st.one_of(_word, st.integers(0, 9), st.none()))}
        if draw(st.booleans()):
            msg["params"] = draw(st.one_of(st.dictionaries(_word, _value, max_size=3),
                                           st.dictionaries(_word, _word, max_size=3), st.none(), st.lists(_word, max_size=1)))
        if draw(st.booleans()):
            msg["ref"] = draw(_ref)
        if draw(st.booleans()):
            msg = dict(reversed(list(msg.items())))
    style = draw(st.sampled_from(["orjson", "orjson", "orjson", "spaced", "ascii"]))
    if style == "orjson" and any(type(v) is int and not -(2**63) <= v < 2**64 for v in msg.values()):
        style = "ascii"  # orjson writes 64-bit integers only
    data = (orjson.dumps(msg) if style == "orjson"
            else json.dumps(msg, ensure_ascii=style == "ascii", separators=(", ", ": ") if style == "spaced" else (",", ":")).encode(
                "utf-8", "surrogatepass"))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # a byte changed, dropped or added: mostly not JSON any more
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        b = bytes([draw(st.sampled_from(b'"\\{}:,0-9 a\x00\x80'))])
        data = draw(st.sampled_from([data[:i] + b + data[i + 1:], data[:i] + data[i + 1:], data[:i] + b + data[i:], data[:i]]))
    return data


def example_each(items: list[Any]) -> Any:
    """Hypothesis's @example for each of ``items``."""
    def wrap(test: Any) -> Any:
        for item in items:
            test = example(item)(test)
        return test
    return wrap


def _outcome(fn: Any, *args: Any) -> Any:
    """What fn gives: its value with the types inside (True == 1, but not on the wire), or its error."""
    try:
        got = fn(*args)
    except ProtocolError as e:
        return ("error", e.code, e.ref)
    except Exception as e:
        return ("raised", type(e))
    return ("value", got, repr(got))


# The edges of the fast path's integers and structure, each tried on every run.
EDGE_FRAMES = [b'{"action":"a","ref":01}', b'{"action":"a","ref":-0}', b'{"action":"a","ref":-}', b'{"action":"a","ref":1.5}',
               b'{"action":"a","ref":123456789012345}', b'{"action":"a","ref":1234567890123456}', b'{"action":"a","ref":1e3}',
               b'{"action":"a","params":{"k":"v",}}', b'{"action":"a","params":{"k":"v"}', b'{"action":"a"}}', b'{"action":"a"',
               b'{"action":"a","params":{"k":"v","k":"w"}}', b'{"action":"a","params":{},"ref":1,"ref":2}', b'{"action":""}',
               b'{"action":"a\x7f"}', b'{"action":"a","params":{"":""}}', b'{"action":"a","params":{"k"}}']


@FRAMES
@given(frames())
@example_each(EDGE_FRAMES)
def test_decode_fast_path_reads_what_orjson_reads(data: bytes) -> None:
    want = _outcome(protocol._decode_json, data)
    fast = protocol._fast_frame(data)
    if fast is not None:  # taken: exactly what orjson read
        assert ("value", fast, repr(fast)) == want, data
    assert _outcome(decode, data) == want, data


@st.composite
def patches(draw: st.DrawFn) -> dict[str, Any]:
    """A reply's patches: usually components' string slots (the fast path's shape), sometimes not."""
    slot = st.one_of(_word, st.text())
    value = st.one_of(slot, slot, st.integers(), st.lists(slot, max_size=2), st.dictionaries(slot, slot, max_size=1))
    d = draw(st.dictionaries(slot, st.one_of(st.dictionaries(slot, value, max_size=4), st.dictionaries(slot, slot, max_size=4)), max_size=4))
    if d and draw(st.booleans()):  # a deleted entry: dict iteration skips holes
        d.pop(next(iter(d)))
    if draw(st.integers(0, 9)) == 0:
        d[draw(slot)] = {"\ud800": "lone surrogate"} if draw(st.booleans()) else {"x": "\udfff"}
    return d


@FRAMES
@given(patches(), _ref)
def test_encode_fast_path_writes_the_bytes_orjson_writes(p: dict[str, Any], ref: Any) -> None:
    assert _outcome(encode_reply, p, ref) == _outcome(protocol._reply_json, p, ref)
    assert _outcome(encode_push, p) == _outcome(protocol._push_json, p)


@pytest.mark.skipif(not rweb.COMPILED, reason="the fast paths are C functions of the compiled build")
def test_the_fast_paths_take_the_common_messages() -> None:
    # Without this, the two tests above could pass with fast paths that never take anything.
    assert protocol._fast_frame(b'{"action":"inc","params":{}}') == ("inc", {}, None)
    got = protocol._fast_frame(b'{"action":"toggle","params":{"id":"42","x":""},"ref":17}')
    assert got == ("toggle", {"id": "42", "x": ""}, 17)
    again = protocol._fast_frame(b'{"action":"toggle","params":{"id":"42"},"ref":18}')
    assert again[0] is got[0] and next(iter(again[1])) is next(iter(got[1]))  # short strings kept: the same str objects
    assert protocol._fast_frame(b'{"action":"inc","params":{"n":1}}') is None  # a number: orjson reads it
    assert protocol._fast_frame(b'{"action":"inc", "params":{}}') is None  # whitespace
    assert protocol._fast_frame(b'{"action":"\\u0041"}') is None  # an escape
    head = protocol._REPLY_HEAD
    assert protocol._fast_patch(head, {"c": {"0": '5 "q"\n'}}, 3) == b'{"t":"r","d":{"c":{"0":"5 \\"q\\"\\n"}},"ref":3}'
    assert protocol._fast_patch(head, {"c": {"0": 5}}, None) is None  # a number: orjson writes it
    assert protocol._fast_patch(head, {"c": {"0": "x"}}, 2**80) is None  # past 64 bits
    # A patch past the one-pass path's buffer on the stack: measured, then written (the same bytes).
    for text in ('é"\n' * 700, "x" * 2040, "\x01" * 341 + "y"):
        big = {"c": {"0": text}, "d": {"1": "z"}}
        got = protocol._fast_patch(head, big, "r")
        assert got is not None and got == protocol._reply_json(big, "r")


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
            assert init["c"]["fragile"]["d"] == ["0"]
            reply = await wire.click(ws, "break")
            assert reply["e"]["code"] == "render_error"
            assert count_of(reply) == "1" and "fragile" not in reply["d"]
            reply = await wire.click(ws)
            assert count_of(reply) == "2"
            reply = await wire.click(ws, "fix")
            assert "e" not in reply
            assert reply["d"] == {"fragile": {"0": "2"}}
            reply = await wire.click(ws)
            assert reply["d"] == {"display": {"0": "3"}, "fragile": {"0": "3"}}

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
            assert reply["d"]["display"] == {"0": "1"}
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
                    assert reply["d"]["display"] == {"0": str(count)} and "e" not in reply
                else:
                    assert reply["d"] == {} and "e" in reply
            # Nothing extra was queued: the next message is the reply to this one.
            reply = await wire.click(ws, ref="last")
            assert reply["ref"] == "last" and reply["d"]["display"]["0"] == str(count + 1)

    wire.run(main())
