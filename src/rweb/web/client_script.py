"""The browser client (``rweb.js``) as the server sends it: under a content-hashed URL, compressed once.

- Its source is split by concern into ``rweb/client/NN-name.js`` (the wire's
  words, the morph, the connection, actions, navigation, effects, hooks,
  streams, uploads, forms, the public API): fragments of one closure,
  joined in the order of their names (:func:`client_js`, once per process)
  into the one script served. There is no build step: the join is a
  concatenation, but for the client's version (:func:`client_version`,
  ``"<protocol>.<build>"``, the build being 16 hex digits of the SHA-256 of
  the joined parts), written in place of ``VSN``'s placeholder. The page
  joins with it (``vsn``); a server with another one answers ``stale_client``
  and the page reloads (docs/operations.md, deploys).
- Pages load it from :func:`client_url`, ``/_rweb/rweb.<hash>.js`` (the
  first 16 hex digits of the SHA-256 of its bytes), served with
  ``Cache-Control: public, max-age=31536000, immutable``: a browser fetches it
  once per version of rweb, and a new version is a new URL.
- ``/_rweb/rweb.js`` (:data:`CLIENT_PATH`), the URL of pages rendered before
  the hash, and a hashed URL whose hash is not this build's (a page from
  another version during a rolling deploy) get the current script with
  ``Cache-Control: no-cache`` (revalidated on each use, a cheap 304): never
  cached for good under a name that does not match its bytes.
- Each worker process compresses it once (:func:`client_encoded`: gzip level
  9, and brotli quality 11 when ``rweb[brotli]`` is installed), before it
  serves (``start_rweb`` warms it in the parent, so forked workers share it;
  ``rweb.asgi`` at lifespan startup) or else on first use.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from importlib import resources

from ..words.protocol import PROTOCOL_VERSION
from .compression import Encoded
from .http import Request, Response

__all__ = [
    "CLIENT_PATH",
    "CLIENT_PREFIX",
    "IMMUTABLE",
    "client_encoded",
    "client_js",
    "client_parts",
    "client_response",
    "client_url",
    "client_version",
]

CLIENT_PATH = "/_rweb/rweb.js"
CLIENT_PREFIX = "/_rweb/rweb."  # every URL the script is served at starts so
IMMUTABLE = "public, max-age=31536000, immutable"
_HASHED = re.compile(r"/_rweb/rweb\.([0-9a-f]{16})\.js")
_MEDIA_TYPE = "text/javascript; charset=utf-8"


_PART = re.compile(r"[0-9]{2}-[a-z]+\.js")
_VERSION_SLOT = b'"@rweb-client-version@"'  # in 10-wire.js: replaced by the client's version


def client_parts() -> list[str]:
    """The names of the client's source files (in ``rweb/client/``), in the order they are joined."""
    return sorted(p.name for p in resources.files("rweb").joinpath("client").iterdir() if _PART.fullmatch(p.name))


@lru_cache(maxsize=1)
def _joined() -> tuple[bytes, str]:
    """The client's parts joined with its version written in; the version."""
    folder = resources.files("rweb").joinpath("client")
    data = b"".join(folder.joinpath(name).read_bytes() for name in client_parts())
    if data.count(_VERSION_SLOT) != 1:
        raise RuntimeError(f"the client's parts must hold {_VERSION_SLOT.decode()} once")
    version = f"{PROTOCOL_VERSION}.{hashlib.sha256(data).hexdigest()[:16]}"
    return data.replace(_VERSION_SLOT, b'"' + version.encode() + b'"'), version


@lru_cache(maxsize=1)
def client_js() -> tuple[bytes, str]:
    """The browser client's bytes (its parts joined) and their hash (16 hex digits of SHA-256)."""
    data = _joined()[0]
    return data, hashlib.sha256(data).hexdigest()[:16]


def client_version() -> str:
    """The version the client joins with (``vsn``): ``"<protocol version>.<build>"``.

    The build is the first 16 hex digits of the SHA-256 of the joined parts (before the
    version is written into them): two servers answer alike exactly when they serve the same
    client.
    """
    return _joined()[1]


def client_url() -> str:
    """The path (within the app) that pages load the client from: ``/_rweb/rweb.<hash>.js``."""
    return f"{CLIENT_PREFIX}{client_js()[1]}.js"


@lru_cache(maxsize=1)
def client_encoded() -> Encoded:
    """The client in every coding offered, compressed once per process."""
    data, digest = client_js()
    return Encoded(data, digest)


def client_response(request: Request) -> Response | None:
    """``GET``/``HEAD`` of the client script (None: ``request.path`` is not one of its URLs)."""
    path = request.path
    if path == CLIENT_PATH:
        cache_control = "no-cache"
    else:
        found = _HASHED.fullmatch(path)
        if found is None:
            return None
        cache_control = IMMUTABLE if found.group(1) == client_js()[1] else "no-cache"
    from .static import encoded_response

    return encoded_response(request, client_encoded(), cache_control=cache_control, media_type=_MEDIA_TYPE)
