"""Signed and encrypted tokens from a secret key, with the standard library only.

- :meth:`Signer.sign` / :meth:`Signer.unsign`: a value with an HMAC-SHA256
  signature and a timestamp (for session cookies: the browser can read the
  value but cannot forge or alter it; ``max_age`` bounds its age).
- :meth:`Signer.encrypt` / :meth:`Signer.decrypt`: the value is also hidden
  (used for cookies set from a live session, whose token passes through the
  page's JavaScript).  Encrypt-then-MAC: a keystream from HMAC-SHA256 in
  counter mode over a random 16-byte nonce (HMAC as a PRF), then an
  HMAC-SHA256 tag over nonce, timestamp and ciphertext; separate keys for the
  two, derived from the secret.  Tokens are URL-safe base64.

Every comparison of signatures is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import time

__all__ = ["BadSignature", "Signer"]


class BadSignature(ValueError):
    """The token was altered, signed with another key, or is malformed."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and encrypts with keys derived from ``secret`` (keep it out of the repository)."""

    __slots__ = ("_enc_key", "_mac_key", "_sign_key")

    def __init__(self, secret: str | bytes, salt: str = "rweb") -> None:
        if isinstance(secret, str):
            secret = secret.encode()
        if len(secret) < 16:
            raise ValueError("a secret key needs at least 16 bytes")

        def derive(purpose: str) -> bytes:
            return hmac.new(secret, f"{salt}:{purpose}".encode(), hashlib.sha256).digest()

        self._sign_key = derive("sign")
        self._enc_key = derive("encrypt")
        self._mac_key = derive("mac")

    # -- signatures ---------------------------------------------------------

    def sign(self, value: str) -> str:
        """``value.timestamp.signature``; ``value`` must not contain a newline."""
        ts = _b64(struct.pack(">Q", int(time.time())))
        body = f"{value}.{ts}"
        sig = hmac.new(self._sign_key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(sig)}"

    def unsign(self, token: str, max_age: float | None = None) -> str:
        """The value of a token made by :meth:`sign`; raises BadSignature (also when older than ``max_age`` s)."""
        try:
            body, sig = token.rsplit(".", 1)
            value, ts = body.rsplit(".", 1)
            given = _unb64(sig)
            (stamp,) = struct.unpack(">Q", _unb64(ts))
        except (ValueError, struct.error) as exc:
            raise BadSignature("malformed token") from exc
        want = hmac.new(self._sign_key, body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(given, want):
            raise BadSignature("signature does not match")
        if max_age is not None and time.time() - stamp > max_age:
            raise BadSignature("token expired")
        return value

    # -- encryption ---------------------------------------------------------

    def _keystream(self, nonce: bytes, n: int) -> bytes:
        out = bytearray()
        counter = 0
        while len(out) < n:
            out += hmac.new(self._enc_key, nonce + struct.pack(">Q", counter), hashlib.sha256).digest()
            counter += 1
        return bytes(out[:n])

    def encrypt(self, data: bytes) -> str:
        nonce = os.urandom(16)
        stamp = struct.pack(">Q", int(time.time()))
        cipher = bytes(a ^ b for a, b in zip(data, self._keystream(nonce, len(data)), strict=True))
        tag = hmac.new(self._mac_key, nonce + stamp + cipher, hashlib.sha256).digest()
        return _b64(nonce + stamp + tag + cipher)

    def decrypt(self, token: str, max_age: float | None = None) -> bytes | None:
        """The data of a token made by :meth:`encrypt`, or None (altered, foreign or expired)."""
        try:
            raw = _unb64(token)
        except (ValueError, TypeError):
            return None
        if len(raw) < 56:
            return None
        nonce, stamp, tag, cipher = raw[:16], raw[16:24], raw[24:56], raw[56:]
        want = hmac.new(self._mac_key, nonce + stamp + cipher, hashlib.sha256).digest()
        if not hmac.compare_digest(tag, want):
            return None
        (ts,) = struct.unpack(">Q", stamp)
        if max_age is not None and time.time() - ts > max_age:
            return None
        return bytes(a ^ b for a, b in zip(cipher, self._keystream(nonce, len(cipher)), strict=True))
