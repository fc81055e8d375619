"""The wire's words have one home (rweb.protocol.WIRE), mirrored by the browser client and the docs.

- no error code is spelled outside ErrorCode (an AST scan of the package);
- the protocol's encoders and decoder write only keys of the table;
- the browser client, as served, carries the table's constants block, refers
  only to words the table has, and has an effect handler for every kind;
- the test client (and Page) has a handler for every effect kind;
- effects encode to the ``[kind, {...}]`` the wire carried before they had types;
- the generated block and docs/protocol.md's table are fresh.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

import rweb
from rweb import protocol
from rweb.protocol import WIRE, WIRE_BEGIN, WIRE_CLIENT, WIRE_END, EffectKind, ErrorCode, Key
from rweb.web.client_script import client_js
from rweb.wire import codec, effects

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(rweb.__file__).resolve().parent
SCRIPT = ROOT / "scripts" / "wire_table.py"


# -- error codes ---------------------------------------------------------------------------


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def error_code_literals(source: str, filename: str) -> list[str]:
    """``file:line: code`` for each string constant equal to an error code, but in docstrings and ErrorCode's body."""
    codes = {c.value for c in ErrorCode}
    tree = ast.parse(source, filename)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "ErrorCode":
            skip |= {id(n) for n in ast.walk(node) if isinstance(n, ast.Constant)}
    return [
        f"{filename}:{n.lineno}: {n.value!r}"
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in codes and id(n) not in skip
    ]


def test_no_error_code_is_spelled_outside_its_enum() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += error_code_literals(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE)))
    assert found == [], "spell these ErrorCode.X (rweb.protocol):\n" + "\n".join(found)


def test_the_scan_finds_a_bare_code() -> None:
    source = '"""not_found in a docstring is prose."""\ndef f():\n    return ("not_found", "x")\n'
    assert error_code_literals(source, "m.py") == ["m.py:3: 'not_found'"]


def test_error_codes_meanings_come_from_the_enum() -> None:
    assert protocol.ERROR_CODES == {c.value: c.meaning for c in ErrorCode}
    assert all(c.meaning for c in ErrorCode)


# -- the encoders' keys ----------------------------------------------------------------------


def test_the_protocols_encoders_and_decoder_write_only_wire_keys() -> None:
    """They keep their keys as literals (the hot path); each must be one of Key's."""
    keys = {k.value for k in Key}
    tree = ast.parse((PACKAGE / "words/protocol.py").read_text(encoding="utf-8"))
    used: set[str] = set()
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith(("encode", "decode", "_nav", "_upload")):
            continue
        for n in ast.walk(fn):
            if isinstance(n, ast.Dict):
                used |= {k.value for k in n.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            elif isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str):
                used.add(n.slice.value)
            elif (
                isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute)
                and n.func.attr == "get"
                and n.args
                and isinstance(n.args[0], ast.Constant)
                and isinstance(n.args[0].value, str)
            ):
                used.add(n.args[0].value)
    assert {"t", "d", "fx", "e", "tok"} <= used  # the scan sees the keys
    assert used - keys - {"ids", "chunk", "size", "type"} == set()  # upload's own fields: docs/protocol.md


# -- the browser client ----------------------------------------------------------------------


def served_script() -> str:
    return client_js()[0].decode("utf-8")


def client_block(script: str) -> str:
    found = re.search(r"[ \t]*" + re.escape(WIRE_BEGIN) + r".*?" + re.escape(WIRE_END), script, re.S)
    assert found is not None, "the client script has no /* rweb:wire:begin */ ... /* rweb:wire:end */ block"
    return found.group(0)


def client_constants(script: str) -> dict[str, dict[str, Any]]:
    """The block's ``const G = Object.freeze({ NAME: value, ... });`` as {G: {NAME: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for group, body in re.findall(r"const (\w+) = Object\.freeze\(\{(.*?)\}\);", client_block(script)):
        out[group] = {name: orjson.loads(value) for name, value in re.findall(r"(\w+): (\"[^\"]*\"|\d+)", body)}
    return out


def test_the_served_client_carries_the_tables_constants() -> None:
    script = served_script()
    assert script.count(WIRE_BEGIN) == 1
    assert client_block(script) == protocol.client_constants(), "regenerate with: python scripts/wire_table.py"
    assert client_constants(script) == {g: {m.name: m.value for m in WIRE[g]} for g in WIRE_CLIENT}


def test_the_client_knows_every_error_code_and_effect_kind() -> None:
    consts = client_constants(served_script())
    assert set(consts["E"].values()) == {c.value for c in ErrorCode}
    assert set(consts["FX"].values()) == {k.value for k in EffectKind}


def test_the_client_refers_only_to_words_of_the_table() -> None:
    script = served_script()
    body = script.replace(client_block(script), "")
    for group in WIRE_CLIENT:
        names = {m.name for m in WIRE[group]}
        used = set(re.findall(rf"(?<![\w.]){group}\.([A-Z_]+)\b", body))
        assert used, f"the client never reads {group}"
        assert used <= names, f"{group}.{sorted(used - names)} are not in rweb.protocol.WIRE"


def test_the_client_has_an_effect_handler_for_every_kind() -> None:
    script = served_script()
    handled = set(re.findall(r"\[FX\.([A-Z_]+),", script))
    assert handled == {k.name for k in EffectKind}


def test_the_client_reads_no_effect_kind_or_message_type_as_a_literal() -> None:
    body = served_script()
    body = body.replace(client_block(body), "")
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", body, flags=re.S)  # comments
    for word in [k.value for k in EffectKind if k.value not in ("focus", "reset")] + ["init", "upload_cancel"]:
        assert f'kind === "{word}"' not in body and f't === "{word}"' not in body and f't: "{word}"' not in body
    for code in ErrorCode:
        assert f'"{code.value}"' not in body, f"the client spells {code.value!r}: use E.{code.name}"


# -- effects: one type per kind, the same bytes ----------------------------------------------


def test_every_effect_kind_has_a_type_that_round_trips() -> None:
    assert set(effects.EFFECTS) == set(EffectKind)
    samples = [
        (effects.Navigate("/a", "push"), ["nav", {"url": "/a", "mode": "push"}]),
        (effects.Navigate("/b", "load"), ["nav", {"url": "/b", "mode": "load"}]),
        (effects.Cookie("/_rweb/cookie", "tk"), ["cookie", {"url": "/_rweb/cookie", "token": "tk"}]),
        (effects.Reset("#f"), ["reset", {"selector": "#f"}]),
        (effects.Focus("#q"), ["focus", {"selector": "#q"}]),
        (effects.RunJs([["hide", {"to": "#x"}]]), ["js", {"cmds": [["hide", {"to": "#x"}]]}]),
        (effects.Event("pts", {"a": 1}), ["event", {"name": "pts", "payload": {"a": 1}}]),
        (effects.StreamOps("rows", [["r"]], -5), ["stream", {"name": "rows", "ops": [["r"]], "limit": -5}]),
        (effects.StreamOps("rows", [["d", "3"]]), ["stream", {"name": "rows", "ops": [["d", "3"]]}]),
        (effects.UploadStop("avatar"), ["upload_stop", {"name": "avatar"}]),
    ]
    assert {type(fx) for fx, _ in samples} == set(effects.EFFECTS.values())
    for fx, wire in samples:
        assert orjson.dumps(fx.wire()) == orjson.dumps(wire)
        assert effects.decode_effect(orjson.loads(orjson.dumps(fx.wire()))) == fx
    assert protocol.encode_push({}, None, [s[0] for s in samples]) == orjson.dumps(
        {"t": "p", "d": {}, "fx": [s[1] for s in samples]}
    )
    assert effects.decode_effect(["teleport", {}]) is None


def test_the_test_client_and_page_handle_every_effect_kind() -> None:
    from rweb.html import div
    from rweb.testing import Client, Page

    def setup(writer_id: Any, conn: Any) -> Any:
        return (lambda: div("x"), {})

    client = Client(setup)
    assert set(client.effect_handlers) == set(EffectKind)
    page = Page(Client(setup))
    assert set(page.client.effect_handlers) == set(EffectKind)
    for kind in codec.DOM_EFFECTS:  # a client without a DOM records them: Page applies them
        handler = page.client.effect_handlers[kind]
        assert getattr(handler, "__self__", None) is page, f"Page does not apply {kind!r}"


# -- the resume handshake and the join ------------------------------------------------------


def test_the_resume_handshake_keeps_its_bytes() -> None:
    c = {"root": {"s": ["<p>", "</p>"], "d": ["x"]}}
    enc = protocol.encode_init
    assert enc(c, resume=protocol.Resume("tk")) == orjson.dumps({"t": "init", "c": c, "tok": "tk"})
    assert enc(c, resume=protocol.Resume("tk", fresh=True)) == orjson.dumps(
        {"t": "init", "c": c, "tok": "tk", "fresh": True}
    )
    assert enc(c, resume=protocol.Resume("tk", resumed=True, last=None)) == orjson.dumps(
        {"t": "init", "c": c, "tok": "tk", "resumed": True, "last": None}
    )
    assert enc(c, resume=protocol.Resume("tk", resumed=True, last=12)) == orjson.dumps(
        {"t": "init", "c": c, "tok": "tk", "resumed": True, "last": 12}
    )


@pytest.mark.parametrize(
    ("query", "url", "path", "page_query", "token"),
    [
        ({}, "/", "/", {}, None),
        ({"x": "1"}, "/?x=1", "/", {"x": "1"}, None),
        ({"x": "1", "tok": "t"}, "/?x=1", "/", {"x": "1"}, "t"),
        ({"url": "/items/3?q=1", "tok": "t"}, "/items/3?q=1", "/items/3", {"q": "1"}, "t"),
        ({"url": "/caf%C3%A9"}, "/caf%C3%A9", "/café", {}, None),
        ({"url": "items"}, "/", "/", {}, None),
        ({"url": "//evil.example/x"}, "/", "/", {}, None),
        ({"url": "/a?b=&c=2"}, "/a?b=&c=2", "/a", {"b": "", "c": "2"}, None),
    ],
)
def test_one_parser_for_the_join(
    query: dict[str, str], url: str, path: str, page_query: dict[str, str], token: str | None
) -> None:
    from rweb.live.connection import page_info
    from rweb.sessions.session import ConnectionInfo

    join = protocol.Join.from_query(query)
    assert (join.url, join.path, join.query, join.token) == (url, path, page_query, token)
    info = page_info(ConnectionInfo(path="/ws", query=query, headers={"h": "1"}))
    assert (info.path, dict(info.query), dict(info.headers)) == (path, page_query, {"h": "1"})


# -- the codec's byte markers ----------------------------------------------------------------


def test_the_codecs_byte_markers_match_the_encoders() -> None:
    assert protocol.encode_push({"a": {"0": "1"}}).startswith(codec.PUSH_PREFIX)
    assert protocol.encode_push({}, (ErrorCode.RENDER_ERROR, "x")).startswith(codec.PUSH_PREFIX)
    assert not protocol.encode_reply({}).startswith(codec.PUSH_PREFIX)
    assert codec.ERROR_MARK in protocol.encode_reply({}, 3, (ErrorCode.HANDLER_ERROR, "boom"))
    assert codec.ERROR_MARK in protocol.encode_error(ErrorCode.BAD_JSON, "x")
    assert codec.ERROR_MARK not in protocol.encode_reply({"e": {"0": '"e":{"code":"'}})
    assert codec.error_of(orjson.loads(protocol.encode_error(ErrorCode.BAD_JSON, "x"))) == ("bad_json", "x")


# -- fresh ------------------------------------------------------------------------------------


def test_the_generated_block_and_docs_table_are_fresh() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_the_docs_table_lists_every_word() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    for group, words in WIRE.items():
        for m in words:
            assert f"| `{group}` | `{m.name}` |" in doc
