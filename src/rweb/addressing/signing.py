"""Signed and encrypted tokens from a secret key.

- :meth:`Signer.sign` / :meth:`Signer.unsign`: a value with an HMAC-SHA256
  signature and a timestamp (for session cookies: the browser can read the
  value but cannot forge or alter it; ``max_age`` bounds its age).
- :meth:`Signer.encrypt` / :meth:`Signer.decrypt`: the value is also hidden
  (used for cookies set from a live session, whose token passes through the
  page's JavaScript).  AES-256-GCM from the ``cryptography`` package (an
  authenticated encryption, never a construction of our own): the key is
  derived from the secret with HKDF-SHA256, each token has a random 12-byte
  nonce, and the format byte and the timestamp are its associated data, so
  that neither can be altered.  A token is ``version (1) | timestamp (8) |
  nonce (12) | ciphertext and tag``, in URL-safe base64 without padding; only
  that exact encoding is accepted (one token, one spelling: a store of
  redeemed tokens can key on the text).  Tokens of the earlier HMAC-CTR
  format are refused.

Every comparison of signatures is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["BadSignature", "Signer"]


class BadSignature(ValueError):
    """The token was altered, signed with another key, or is malformed."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and encrypts with keys derived from ``secret`` (keep it out of the repository)."""

    __slots__ = ("_aead", "_sign_key")

    def __init__(self, secret: str | bytes, salt: str = "rweb") -> None:
        if isinstance(secret, str):
            secret = secret.encode()
        if len(secret) < 16:
            raise ValueError("a secret key needs at least 16 bytes")  # pragma: no mutate (the message's wording)

        def derive(purpose: str) -> bytes:
            return hmac.new(secret, f"{salt}:{purpose}".encode(), hashlib.sha256).digest()

        self._sign_key = derive("sign")
        hkdf = HKDF(  # pragma: no mutate (salt=None dropped: the same key where HKDF's salt has a default)
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"{salt}:aes-gcm".encode()
        )
        self._aead = AESGCM(hkdf.derive(secret))

    # -- signatures ---------------------------------------------------------

    def sign(self, value: str) -> str:
        """``value.timestamp.signature``; ``value`` must not contain a newline."""
        ts = _b64(_STAMP.pack(int(time.time())))
        body = f"{value}.{ts}"
        sig = hmac.new(self._sign_key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(sig)}"

    def unsign(self, token: str, max_age: float | None = None) -> str:
        """The value of a token made by :meth:`sign`; raises BadSignature (also when older than ``max_age`` s)."""
        try:
            body, sig = token.rsplit(".", 1)
            value, ts = body.rsplit(".", 1)
            given = _unb64(sig)
            (stamp,) = _STAMP.unpack(_unb64(ts))
        except (ValueError, struct.error) as exc:
            raise BadSignature("malformed token") from exc  # pragma: no mutate (the message's wording)
        want = hmac.new(self._sign_key, body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(given, want):
            raise BadSignature("signature does not match")  # pragma: no mutate (the message's wording)
        if max_age is not None:
            age = time.time() - stamp  # the clock's time minus whole seconds: never exactly max_age
            if age > max_age:  # pragma: no mutate (> or >=: the age is never exactly max_age)
                raise BadSignature("token expired")  # pragma: no mutate (the message's wording)
        return value

    # -- encryption ---------------------------------------------------------

    def encrypt(self, data: bytes) -> str:
        """``data``, encrypted and authenticated, with the time it was made (see the module's docstring)."""
        head = _VERSION + _STAMP.pack(int(time.time()))
        nonce = os.urandom(_NONCE)
        return _b64(head + nonce + self._aead.encrypt(nonce, data, head))

    def decrypt(self, token: str, max_age: float | None = None) -> bytes | None:
        """The data of a token made by :meth:`encrypt`, or None (altered, foreign, older than
        ``max_age`` seconds, of another format, or not in its one encoding)."""
        try:
            raw = _unb64(token)
        except (ValueError, TypeError):
            return None
        if len(raw) < _HEAD + _NONCE + 16 or raw[:1] != _VERSION or _b64(raw) != token:
            return None
        head, nonce = raw[:_HEAD], raw[_HEAD : _HEAD + _NONCE]
        try:
            data = self._aead.decrypt(nonce, raw[_HEAD + _NONCE :], head)
        except InvalidTag:
            return None
        (ts,) = _STAMP.unpack(head[1:])
        if max_age is not None:
            age = time.time() - ts  # never exactly max_age (see unsign)
            if age > max_age:  # pragma: no mutate (> or >=: the age is never exactly max_age)
                return None
        return data


_VERSION = b"\x01"  # the format of encrypt()'s tokens (AES-GCM); the HMAC-CTR ones had none
_HEAD = 9  # version and timestamp: the associated data
_NONCE = 12
_STAMP = struct.Struct(">Q")  # a token's time: whole seconds, 8 bytes big-endian
