"""Files an app's pages load (a stylesheet, a script) under content-hashed URLs, compressed once.

The general form of what :mod:`rweb.client_script` does for ``rweb.js``::

    from rweb import App
    from rweb.assets import Asset

    theme = Asset.resource("myapp", "theme.css")   # a file shipped in a package
    site = Asset.file("static/site.css")           # or one of the app's own files
    app = App("Shop", assets=[theme, site])        # every page's <head> links them

- Pages load an asset from :attr:`Asset.path`, ``/_rweb/a/<stem>.<hash>.<ext>``
  (16 hex digits of the SHA-256 of its bytes), behind the app's root path
  (an app mounted at ``/shop`` links ``/shop/_rweb/a/...``), served with
  ``Cache-Control: public, max-age=31536000, immutable``.
- ``/_rweb/a/<name>`` (the unhashed name) and a hashed URL whose hash is not
  this build's (a page from another version during a rolling deploy) get the
  current bytes with ``Cache-Control: no-cache``.
- Each process compresses an asset once (gzip level 9, brotli quality 11 with
  ``rweb[brotli]``; :class:`rweb.compression.Encoded`): ``start_rweb`` does it
  in the parent before forking workers, ``rweb.asgi`` at lifespan startup,
  else on first use.
- In the page: stylesheets (``.css``) are linked before ``App(head=...)``, so
  the app's own rules come later and win; scripts (``.js``) load ``defer``
  after the client script, so they find ``window.rweb`` (its hooks) there.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path

from ..core.html import escape
from .client_script import IMMUTABLE
from .compression import Encoded
from .http import Request, Response

__all__ = ["ASSET_PREFIX", "Asset", "asset_response", "head_links", "head_scripts", "rooted"]

ASSET_PREFIX = "/_rweb/a/"
"""The path every asset URL starts with (within the app, behind its root path)."""
_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.[a-z0-9]+")
_HASHED = re.compile(r"(.+)\.([0-9a-f]{16})(\.[a-z0-9]+)")
_MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}


def rooted(root_path: str, path: str) -> str:
    """``path`` (within the app, starting with ``/``) behind the app's ``root_path`` (``""``: none).

    The one rule for every URL rweb links in a page: assets, the client script,
    the app's static files (:meth:`rweb.App.static_url`).
    """
    return root_path.rstrip("/") + path


class Asset:
    """One file served under its content-hashed URL; see the module's docstring.

    ``name`` is its file name (``ui.css``: letters, digits, ``-``, ``_``, dots,
    and an extension that gives the media type); ``load`` returns its bytes,
    called once.
    """

    __slots__ = ("_data", "_digest", "_encoded", "_load", "media_type", "name")

    def __init__(self, name: str, load: Callable[[], bytes], media_type: str | None = None) -> None:
        if _NAME.fullmatch(name) is None:
            raise ValueError(f"an asset's name is a file name with an extension, got {name!r}")
        ext = name[name.rindex(".") :]
        if media_type is None:
            media_type = _MEDIA_TYPES.get(ext)
            if media_type is None:
                raise ValueError(f"{name}: give media_type= (no default for {ext})")
        self.name = name
        self.media_type = media_type
        self._load = load
        self._data: bytes | None = None
        self._digest = ""
        self._encoded: Encoded | None = None

    @classmethod
    def resource(cls, package: str, path: str, media_type: str | None = None) -> Asset:
        """The file ``path`` (``/``-separated) inside the installed ``package``; named by its last part."""
        return cls(path.rsplit("/", 1)[-1], lambda: resources.files(package).joinpath(path).read_bytes(), media_type)

    @classmethod
    def file(cls, path: str | os.PathLike[str], media_type: str | None = None) -> Asset:
        """The file at ``path`` (an app's own stylesheet, say); named by its file name.

        It must exist now (a typo fails at start-up, not as a 404 in the browser);
        its bytes are read once per process (``rweb run --reload`` restarts on an edit).
        """
        where = Path(path).resolve()
        if not where.is_file():
            raise FileNotFoundError(f"asset {path}: no such file")
        return cls(where.name, where.read_bytes, media_type)

    @property
    def data(self) -> bytes:
        """Its bytes (read once)."""
        if self._data is None:
            self._data = self._load()
            self._digest = hashlib.sha256(self._data).hexdigest()[:16]
        return self._data

    @property
    def digest(self) -> str:
        """16 hex digits of the SHA-256 of its bytes."""
        self.data  # noqa: B018 (reads the bytes once)
        return self._digest

    @property
    def path(self) -> str:
        """Its URL within the app: ``/_rweb/a/<stem>.<hash>.<ext>``."""
        stem, _, ext = self.name.rpartition(".")
        return f"{ASSET_PREFIX}{stem}.{self.digest}.{ext}"

    def url(self, root_path: str = "") -> str:
        """Its URL under the app's root path (``request.root_path`` or ``app.root_path``)."""
        return rooted(root_path, self.path)

    def encoded(self) -> Encoded:
        """Its bytes in every coding offered, compressed once per process."""
        if self._encoded is None:
            self._encoded = Encoded(self.data, self.digest)
        return self._encoded

    def respond(self, request: Request, rest: str) -> Response | None:
        """``GET``/``HEAD`` of ``ASSET_PREFIX + rest``; None when that is not one of this asset's URLs."""
        if rest == self.name:
            cache_control = "no-cache"
        else:
            found = _HASHED.fullmatch(rest)
            if found is None or found.group(1) + found.group(3) != self.name:
                return None
            cache_control = IMMUTABLE if found.group(2) == self.digest else "no-cache"
        from .static import encoded_response

        return encoded_response(request, self.encoded(), cache_control=cache_control, media_type=self.media_type)

    def __repr__(self) -> str:
        return f"<Asset {self.name}>"


def asset_response(assets: Iterable[Asset], request: Request) -> Response | None:
    """The answer to a ``GET``/``HEAD`` of one of ``assets`` (None: ``request.path`` is none of theirs)."""
    path = request.path
    if not path.startswith(ASSET_PREFIX):
        return None
    rest = path[len(ASSET_PREFIX) :]
    for asset in assets:
        answer = asset.respond(request, rest)
        if answer is not None:
            return answer
    return None


def head_links(assets: Iterable[Asset], root_path: str = "") -> str:
    """``<link rel="stylesheet">`` for each stylesheet of ``assets`` (what goes before the app's head)."""
    return "".join(
        f'<link rel="stylesheet" href="{escape(a.url(root_path))}">' for a in assets if a.name.endswith(".css")
    )


def head_scripts(assets: Iterable[Asset], root_path: str = "") -> str:
    """``<script defer>`` for each script of ``assets`` (what goes after the client script)."""
    return "".join(
        f'<script src="{escape(a.url(root_path))}" defer></script>' for a in assets if a.name.endswith(".js")
    )
