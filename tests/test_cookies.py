"""Cookies set from a live session: no header injection, tokens encrypted with AES-GCM, good once.

- A name, value or attribute with CR, LF or NUL anywhere is refused
  (``format_cookie``, a live ``conn.set_cookie``), and a header a handler
  appends to ``response.headers`` directly is checked where responses are
  written: the built-in server and ``rweb.testing`` answer 500 (rweb.asgi:
  tests/test_asgi.py).
- ``Signer.encrypt``: round trip; any altered byte, another key, an expired
  token, a token of the earlier HMAC-CTR format or another spelling of a
  good one: refused.
- Single use: 20 replays of a token over fresh connections to a server of two
  workers (a real ``start_rweb`` subprocess) give exactly one 204; with a real
  redis-server and two server processes sharing the key and the broker, the
  same across the two.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import http.client
import math
import os
import re
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from processes import ServerProcess, children_of, free_port

import rweb
from rweb import App, Conn
from rweb.html import button, div, p
from rweb.http import Response, format_cookie
from rweb.signing import Signer
from rweb.testing import TestClient, serve

SECRET = "s" * 32

# -- CR, LF and NUL ---------------------------------------------------------------------------

BREAKS = ["\n", "\r", "\r\n", "\x00"]


@pytest.mark.parametrize("brk", BREAKS)
def test_a_line_break_anywhere_in_a_cookie_is_refused(brk: str) -> None:
    for where in ("{}x", "x{}", "x{}y"):
        bad = where.format(brk)
        with pytest.raises(ValueError):
            format_cookie(bad, "v")
        with pytest.raises(ValueError):
            format_cookie("n", bad)
        with pytest.raises(ValueError):
            format_cookie("n", "v", path="/" + bad)
        with pytest.raises(ValueError):
            format_cookie("n", "v", domain="example.com" + bad)
    # Under the rules: what a browser reads back is exactly one cookie.
    assert format_cookie("pref", "secret") == "pref=secret; Path=/; Secure; HttpOnly; SameSite=Lax"


def test_a_header_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValueError):
        Response(b"", 200, [("X-Name\n", "v")])
    with pytest.raises(ValueError):
        Response(b"", 200).set_header("X-Name", "v\r\nSet-Cookie: a=b")


def cookie_app() -> App:
    """A page whose actions set cookies (good and bad), and a handler that appends a header itself."""
    app = App("cookies", secret_key=SECRET)

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "good":
                conn.set_cookie("pref", "dark")
            elif action == "value":
                conn.set_cookie("pref", "secret\n")
            elif action == "path":
                conn.set_cookie("pref", "dark", path="/\n")

        return (lambda: div(*(button(a, data_action=a) for a in ("good", "value", "path")))), on_action

    @app.get("/appended")
    def appended(request: rweb.Request) -> Response:
        response = Response(b"hi")
        response.headers.append(("X-Note", "a\r\nSet-Cookie: injected=1"))
        return response

    return app


def post(port: int, path: str, body: bytes = b"") -> tuple[int, list[tuple[str, str]], bytes]:
    """One request on a fresh connection: status, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST" if body else "GET", path, body=body or None, headers={"Content-Type": "text/plain"})
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        conn.close()


def test_a_live_cookie_with_a_line_break_never_reaches_the_browser(wire: Any) -> None:
    with serve(cookie_app()) as srv:

        async def main() -> list[Any]:
            async with wire.connect(srv.ws_url) as ws:
                await wire.recv(ws)
                replies = [await wire.click(ws, a) for a in ("value", "path", "good")]
                return replies

        bad_value, bad_path, good = wire.run(main())
        for reply in (bad_value, bad_path):
            assert "fx" not in reply and reply["e"]["code"] == "handler_error"
        [(kind, effect)] = good["fx"]
        assert kind == "cookie"
        # The token carries a JSON list of Set-Cookie values, not lines.
        data = Signer(SECRET).decrypt(effect["token"])
        assert data is not None and orjson.loads(data) == ["pref=dark; Path=/; Secure; HttpOnly; SameSite=Lax"]
        status, headers, _ = post(srv.port, "/_rweb/cookie", effect["token"].encode())
        assert status == 204
        assert [v for k, v in headers if k.lower() == "set-cookie"] == [
            "pref=dark; Path=/; Secure; HttpOnly; SameSite=Lax"
        ]


def test_a_header_appended_with_a_line_break_is_a_500_on_the_server() -> None:
    with serve(cookie_app()) as srv:
        status, headers, body = post(srv.port, "/appended")
    assert status == 500
    assert not any(k.lower() in ("x-note", "set-cookie") for k, _ in headers)
    assert b"injected" not in body


def test_a_header_appended_with_a_line_break_is_a_500_in_the_test_client() -> None:
    response = TestClient(cookie_app()).get("/appended")
    assert response.status == 500
    assert response.header("x-note") is None and "injected" not in TestClient(cookie_app()).cookies


# -- the encryption -------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def old_format_token(secret: str, data: bytes) -> str:
    """A token as the earlier ``Signer.encrypt`` made it (HMAC-SHA256 in counter mode, then an HMAC tag)."""
    enc = hmac.new(secret.encode(), b"rweb:encrypt", hashlib.sha256).digest()
    mac = hmac.new(secret.encode(), b"rweb:mac", hashlib.sha256).digest()
    nonce, stamp = os.urandom(16), struct.pack(">Q", int(time.time()))
    stream = b"".join(
        hmac.new(enc, nonce + struct.pack(">Q", i), hashlib.sha256).digest() for i in range(len(data) // 32 + 1)
    )
    cipher = bytes(a ^ b for a, b in zip(data, stream, strict=False))
    tag = hmac.new(mac, nonce + stamp + cipher, hashlib.sha256).digest()
    return _b64(nonce + stamp + tag + cipher)


def test_signer_round_trip_and_every_refusal() -> None:
    signer = Signer(SECRET)
    data = b'["pref=dark; Path=/"]'
    token = signer.encrypt(data)
    assert signer.decrypt(token) == data
    assert signer.decrypt(token, max_age=60) == data
    assert signer.encrypt(data) != token  # a fresh nonce each time
    assert b"pref" not in _unb64(token)
    raw = _unb64(token)
    for i in range(len(raw)):  # any byte altered: version, timestamp, nonce, ciphertext, tag
        altered = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        assert signer.decrypt(_b64(altered)) is None, i
    assert signer.decrypt(_b64(raw[:-1])) is None
    assert signer.decrypt(token + "A") is None
    assert Signer("another secret key!").decrypt(token) is None
    time.sleep(0.01)
    assert signer.decrypt(token, max_age=0) is None  # older than max_age
    assert signer.decrypt(old_format_token(SECRET, data)) is None
    assert signer.decrypt("") is None and signer.decrypt("!!!") is None


def test_a_token_has_one_spelling() -> None:
    signer = Signer(SECRET)
    for n in range(3):  # data lengths that leave unused bits in the last base64 character
        token = signer.encrypt(b"x" * (n + 1))
        raw = _unb64(token)
        if len(raw) % 3:
            last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(token[-1])
            other = token[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last ^ 1]
            assert _unb64(other) == raw  # base64 decoders ignore those bits...
            assert signer.decrypt(other) is None  # ... the signer does not
        assert signer.decrypt(token + "=") is None and signer.decrypt(token[:5] + "\n" + token[5:]) is None
        assert signer.decrypt(token) == b"x" * (n + 1)


# -- single use -----------------------------------------------------------------------------------


def test_the_used_token_table_refuses_when_full_and_reuses_only_expired_entries() -> None:
    from rweb.wire.single_use import UsedTokens

    table = UsedTokens(3)
    keys = [bytes([i]) * 16 for i in range(5)]
    assert [table.claim(k, 0.3) for k in keys[:3]] == [True, True, True]
    assert table.claim(keys[0], 0.3) is False  # a replay
    assert table.claim(keys[3], 0.3) is False  # full of live entries: refused, nothing forgotten
    assert table.claim(keys[0], 0.3) is False
    time.sleep(0.35)
    assert table.claim(keys[3], 0.3) is True  # the oldest had expired
    assert table.claim(keys[3], 0.3) is False
    table.close()


def test_the_used_token_table_fills_to_its_capacity_and_wraps_around() -> None:
    from rweb.wire.single_use import UsedTokens

    tables = {capacity: UsedTokens(capacity) for capacity in (1, 2, 3, 4)}
    keys = [bytes([i]) * 16 for i in range(4)]
    for capacity, table in tables.items():
        assert all(table.claim(k, 0.5) for k in keys[:capacity])  # every slot, in turn
        assert not any(table.claim(k, 0.5) for k in keys[:capacity])  # each recognised where it sits
        assert table.claim(b"n" * 16, 0.5) is False  # full of live entries
    time.sleep(0.55)
    for capacity, table in tables.items():
        assert all(table.claim(k, 3600) for k in keys[:capacity])  # expired: claimable again, the ring over
        assert not any(table.claim(k, 3600) for k in keys[:capacity])
        assert table.claim(b"n" * 16, 3600) is False
        table.close()


def test_the_used_token_table_finds_a_key_only_on_its_slot() -> None:
    """Keys made of the bytes the table holds around other keys (a key's tail, then its expiry)
    appear across two entries: there they are not a claim, and the claim in its own slot is found
    before or after such a match."""
    from rweb.wire.single_use import UsedTokens

    kept = struct.pack("<d", math.inf)  # what an entry kept for good holds after its key
    table = UsedTokens(8)
    assert table.claim(b"a" * 16, math.inf) and table.claim(b"b" * 16, math.inf)
    across = b"a" * 8 + kept  # the tail of the first entry's key and its expiry
    assert table.claim(across, math.inf) is True  # not claimed yet: it only appears across entries
    assert table.claim(b"c" * 8 + b"a" * 8, math.inf) is True  # its tail and expiry: `across` once more
    assert table.claim(across, math.inf) is False  # off-slot, on its slot, off-slot: found
    last = kept[-1:] * 16  # right after an expiry ending with that byte: off-slot one byte before
    assert table.claim(last, math.inf) is True
    assert table.claim(last, math.inf) is False
    assert table.claim(b"b" * 16, math.inf) is False
    table.close()


def test_the_used_token_table_refuses_a_bad_capacity_or_key() -> None:
    from rweb.wire.single_use import UsedTokens

    for bad in (0, -1, 2.0, "8", None):
        with pytest.raises(ValueError, match=r"^the capacity of a used-token table is a positive integer$"):
            UsedTokens(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive integer"):
        App("x", max_cookie_tokens=0)
    table = UsedTokens(1)
    for key in (b"", b"k" * 15, b"k" * 17):
        with pytest.raises(ValueError, match=r"^a used-token key has 16 bytes$"):
            table.claim(key, 60)
    assert table.claim(b"k" * 16, 60) is True
    table.close()


def test_the_table_is_shared_with_a_forked_process() -> None:
    from rweb.wire.single_use import UsedTokens

    table = UsedTokens(8)
    pid = os.fork()
    if pid == 0:  # the child claims first
        os._exit(0 if table.claim(b"k" * 16, 30) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert table.claim(b"k" * 16, 30) is False
    assert table.claim(b"j" * 16, 30) is True
    table.close()


def test_a_cookie_token_is_redeemed_once_and_only_as_made() -> None:
    """In this process (the servers above run the installed build): once; not when expired; not
    when what it carries is not a list of Set-Cookie values."""
    app = App("tokens", secret_key=SECRET)
    token = app.cookie_token(["a=1; Path=/", "b=2; Path=/"])
    assert asyncio.run(app.redeem_cookie_token(token)) == ["a=1; Path=/", "b=2; Path=/"]
    assert asyncio.run(app.redeem_cookie_token(token)) is None  # a replay
    for data in (b'{"a": "1"}', b'"a=1"', b"[1]", b'["a=1", 2]', b"[null]", b"not json", b""):
        assert asyncio.run(app.redeem_cookie_token(app.signer.encrypt(data))) is None, data
    assert asyncio.run(app.redeem_cookie_token(app.signer.encrypt(b"[]"))) == []
    app.COOKIE_TOKEN_TTL = 0.2
    late = app.cookie_token(["a=1; Path=/"])
    time.sleep(0.3)  # older than that (its time is rounded down: older still)
    assert asyncio.run(app.redeem_cookie_token(late)) is None


def test_a_cookie_token_is_redeemed_once_across_two_apps_sharing_a_broker(redis_server: Any) -> None:
    """In this process: two apps with the same key and Redis (two instances); the use is recorded
    under the broker's prefix (docs/security.md) for the token's lifetime."""
    one, two = (App("tokens", secret_key=SECRET, broker=redis_server.url) for _ in range(2))
    token = one.cookie_token(["user=ada; Path=/"])
    with serve(one) as a, serve(two) as b:
        status, headers, _ = post(b.port, "/_rweb/cookie", token.encode())
        assert status == 204 and ("Set-Cookie", "user=ada; Path=/") in headers
        assert post(a.port, "/_rweb/cookie", token.encode())[0] == 403
        assert post(b.port, "/_rweb/cookie", token.encode())[0] == 403
    [key] = [k for k in redis_server.command("KEYS", "*") if b"cookie" in k.lower()]
    assert re.fullmatch(rb"rweb:cookie-token:[0-9a-f]{32}", key), key
    assert 0 < redis_server.command("PTTL", key) <= one.COOKIE_TOKEN_TTL * 1000


SERVER = r'''
import sys
from rweb import App, start_rweb
from rweb.html import button, div

port, workers, broker = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] or None
app = App("tokens", secret_key="''' + SECRET + r'''", broker=broker)

@app.page("/")
def home(writer_id, conn):
    def on_action(action, params):
        conn.set_cookie("user", "ada")
    return (lambda: div(button("login", data_action="login"))), on_action

if __name__ == "__main__":
    start_rweb(port, app, host="127.0.0.1", workers=workers)
'''


@contextlib.contextmanager
def token_server(tmp_path: Path, name: str, workers: int, broker: str = "") -> Iterator[ServerProcess]:
    script = tmp_path / "token_server.py"
    script.write_text(SERVER)
    port = free_port()
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(port), str(workers), broker],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    srv = ServerProcess(proc, port, log_path)
    try:
        srv.wait_listening()
        deadline = time.monotonic() + 20
        while workers > 1 and len(children_of(proc.pid)) < workers:
            assert time.monotonic() < deadline, f"{workers} workers did not start:\n{srv.log()}"
            time.sleep(0.02)
        yield srv
    finally:
        srv.stop()


def live_token(wire: Any, srv: ServerProcess) -> str:
    async def main() -> str:
        async with wire.connect(srv.url) as ws:
            await wire.recv(ws)
            reply = await wire.click(ws, "login")
            [(kind, effect)] = reply["fx"]
            assert kind == "cookie"
            return str(effect["token"])

    return str(wire.run(main()))


REPLAYS = 20


def replays(servers: list[ServerProcess], token: str) -> list[int]:
    """``REPLAYS`` posts of ``token``, each on a fresh connection, in turn to each server, two at a time."""

    async def one(i: int) -> int:
        return (await asyncio.to_thread(post, servers[i % len(servers)].port, "/_rweb/cookie", token.encode()))[0]

    async def main() -> list[int]:
        statuses = []
        for i in range(0, REPLAYS, 2):  # pairs in flight at once: a race between workers is tried too
            statuses += await asyncio.wait_for(asyncio.gather(one(i), one(i + 1)), 20)
        return statuses

    return asyncio.run(main())


def test_a_token_is_redeemed_once_by_a_server_of_two_workers(tmp_path: Path, wire: Any) -> None:
    with token_server(tmp_path, "two-workers", 2) as srv:
        token = live_token(wire, srv)
        statuses = replays([srv], token)
    assert statuses.count(204) == 1, statuses
    assert set(statuses) == {204, 403}, statuses


def test_a_token_is_redeemed_once_across_two_instances_with_a_broker(
    tmp_path: Path, wire: Any, redis_server: Any
) -> None:
    with (
        token_server(tmp_path, "one", 1, redis_server.url) as one,
        token_server(tmp_path, "two", 1, redis_server.url) as two,
    ):
        token = live_token(wire, one)
        statuses = replays([two, one], token)
        # Another token, redeemed first where it was made: refused by the other instance.
        second = live_token(wire, two)
        assert post(two.port, "/_rweb/cookie", second.encode())[0] == 204
        assert post(one.port, "/_rweb/cookie", second.encode())[0] == 403
    assert statuses.count(204) == 1, statuses
    assert set(statuses) == {204, 403}, statuses


def test_a_token_is_refused_when_the_broker_cannot_record_its_use(
    wire: Any, redis_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis gone: the token is refused (never redeemed twice), logged with the reason, and the page goes on."""
    app = App("tokens", secret_key=SECRET, broker=redis_server.url)

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        return (lambda: p("x")), {"login": lambda params: conn.set_cookie("user", "ada")}

    token = app.cookie_token(["user=ada; Path=/"])
    with serve(app) as srv:
        redis_server.stop()
        status, headers, _ = post(srv.port, "/_rweb/cookie", token.encode())
    assert status == 403 and not any(k.lower() == "set-cookie" for k, _ in headers)
    [said] = [r.getMessage() for r in caplog.records if "cookie token was refused" in r.getMessage()]
    assert re.fullmatch(r"a cookie token was refused: the broker could not record its use \(.*Redis.*\)", said)
