"""File uploads over the page's own WebSocket (LiveView's ``allow_upload``).

The socket, not a side HTTP request: with several workers the bytes always
reach the process that holds the session.  In the page's setup::

    avatar = conn.allow_upload("avatar", accept=(".png", "image/jpeg"), max_size=2 * 1024 * 1024)

    def save(params):                       # the form's action
        for f in avatar.consume():          # the files received completely
            shutil.move(f.path, f"media/{uuid4().hex}.png")

    def render():
        return form(avatar.input(), [progress_bar(e) for e in avatar.entries],
                    button("Save"), data_onsubmit="save")

On the wire (docs/protocol.md, "Uploads"):

1. the browser declares the files: ``{"t": "upload", "name": "avatar",
   "files": [{"name", "size", "type"}], "ref": 5}``; the server checks the
   upload exists, the count, the declared sizes and types and the session's
   limit, and answers with one reply: ``"up": {"ids": [7], "chunk": 65472}``,
   or an ``upload_refused`` error (nothing is kept);
2. the browser sends each file as binary frames: ``0x01``, the file id (4
   bytes, big-endian), then at most ``chunk`` bytes; they get no reply of
   their own.  The server appends them to a temporary file, updates the
   entry's ``progress`` (at most every 10 points or 100 ms: a push), marks it
   ``done`` at the declared size, and fails it (``upload_failed``, pushed;
   the file deleted) when more bytes come than were declared;
3. the browser sends the form's action; its handler calls ``consume()``.

``{"t": "upload_cancel", "name": ...}`` (or ``up.cancel()``) drops the
upload's entries and their files.  A new request for an upload replaces its
entries.  A socket lost during an upload fails the files under way (their
entries say so); the browser uploads again on the next submit.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from typing import Any

from ..core.reactive import RList, reactive, untracked
from ..wire.effects import UploadStop
from ..words.protocol import ErrorCode
from .snapshot import transient

__all__ = [
    "CHUNK_KIND",
    "DEFAULT_MAX_SIZE",
    "MAX_SESSION_BYTES",
    "Upload",
    "UploadEntry",
    "UploadedFile",
    "chunk_frame",
]

log = logging.getLogger("rweb.upload")

CHUNK_KIND = 1  # the first byte of a binary frame that carries an upload's chunk
HEADER = 5  # kind (1 byte) + file id (4 bytes, big-endian)
DEFAULT_MAX_SIZE = 8 * 1024 * 1024  # bytes per file, unless allow_upload(max_size=...) says otherwise
MAX_SESSION_BYTES = 64 * 1024 * 1024  # App(max_upload_bytes=...): a session's unconsumed upload bytes
PROGRESS_STEP = 10  # percentage points between two progress updates...
PROGRESS_INTERVAL = 0.1  # ... or this many seconds, whichever comes first
MAX_NAME = 255  # characters of a file name kept (the rest is cut)


def chunk_frame(file_id: int, data: bytes) -> bytes:
    """A binary frame carrying ``data`` for the file ``file_id`` (what the browser sends)."""
    return bytes((CHUNK_KIND,)) + file_id.to_bytes(4, "big") + data


@reactive
class UploadEntry:
    """One file of an upload, as the page renders it (every field is reactive).

    ``progress`` goes 0 to 100; ``done`` once every byte arrived; ``error``
    says why it failed (its bytes are gone then).
    """

    id: int
    name: str
    size: int
    type: str
    progress: int = 0
    done: bool = False
    error: str | None = None


@reactive
class _Status:
    error: str | None = None  # why the latest request was refused


class UploadedFile:
    """A file received completely: ``name``, ``type`` (as the browser declared them), ``size``, ``path``.

    ``path`` is a temporary file in the session's own directory; move it
    (``shutil.move``) or read it: whatever is left there is deleted when the
    session ends.  ``name`` and ``type`` come from the browser: never use
    them as a path, and check the content when it matters.
    """

    __slots__ = ("name", "path", "size", "type")

    def __init__(self, name: str, type: str, size: int, path: str) -> None:
        self.name = name
        self.type = type
        self.size = size
        self.path = path

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            return f.read()

    def delete(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __repr__(self) -> str:
        return f"<UploadedFile {self.name!r} {self.type!r} {self.size} bytes>"


class _File:
    """A file being received (or received, not consumed yet)."""

    __slots__ = ("entry", "fh", "last_at", "last_progress", "path", "received", "upload")

    def __init__(self, upload: Upload, entry: UploadEntry, path: str) -> None:
        self.upload = upload
        self.entry = entry
        self.path = path
        self.fh: Any = None
        self.received = 0
        self.last_progress = 0
        self.last_at = 0.0

    def drop(self) -> None:
        """Close and delete its temporary file."""
        fh, self.fh = self.fh, None
        if fh is not None:
            fh.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class Upload:
    """What ``conn.allow_upload(name, ...)`` gives: the file input to render, its entries, its files.

    - ``input(**attrs)``: the ``<input type="file">`` element (``name``,
      ``data-upload``, ``accept``, ``multiple`` when ``max_files > 1``);
    - ``entries``: a reactive list of :class:`UploadEntry` (render progress bars);
    - ``error``: why the latest request was refused (reactive), or None;
    - ``consume()``: the :class:`UploadedFile` s received completely, handed
      over (their entries leave ``entries``);
    - ``cancel()``: drop every entry and its file.
    """

    __slots__ = ("_status", "_uploads", "accept", "auto", "entries", "max_files", "max_size", "name")

    def __init__(
        self, uploads: Uploads, name: str, accept: Iterable[str] | str, max_size: int, max_files: int, auto: bool
    ) -> None:
        self._uploads = uploads
        self.name = name
        self.accept = _accept(accept)
        self.max_size = max_size
        self.max_files = max_files
        self.auto = auto
        # Not in the session's snapshots (rweb.snapshot): the files are this process's.
        self.entries: RList = transient(RList())
        self._status: _Status = transient(_Status())

    @property
    def error(self) -> str | None:
        return self._status.error

    def input(self, **attrs: Any) -> Any:
        """The file input for this upload (put it in the form whose action uses the files)."""
        from ..core.html import input_

        if self.accept is not None:
            attrs.setdefault("accept", ",".join(self.accept))
        if self.max_files > 1:
            attrs.setdefault("multiple", True)
        if self.auto:
            attrs.setdefault("data_upload_auto", True)
        return input_(type="file", name=self.name, data_upload=self.name, **attrs)

    def consume(self) -> list[UploadedFile]:
        """The files received completely, handed over to the caller (move or read them)."""
        out = []
        keep = []
        with untracked():
            entries = list(self.entries)
        for entry in entries:
            f = self._uploads.files.get(entry.id) if entry.done else None
            if f is None:
                keep.append(entry)
                continue
            del self._uploads.files[entry.id]
            out.append(UploadedFile(entry.name, entry.type, entry.size, f.path))
        if out:
            self.entries[:] = keep
        return out

    def cancel(self) -> None:
        """Drop every entry of this upload, and its file (received or under way); the browser stops sending."""
        if any(f.fh is not None for f in self._uploads.files.values() if f.upload is self):
            self._uploads.stop(self.name)
        self._uploads.drop(self)
        self.entries.clear()
        self._status.error = None

    def refuse(self, why: str | None) -> None:
        """Show why the last request to upload was refused (``up.error``; None: it was not)."""
        self._status.error = why

    def allows(self, name: str, mime: str) -> bool:
        """Does this upload accept a file named ``name`` of type ``mime``?"""
        accept = self.accept
        if accept is None:
            return True
        ext = os.path.splitext(name)[1].lower()
        mime = mime.lower()
        for a in accept:
            if a.startswith("."):
                if ext == a:
                    return True
            elif a.endswith("/*"):
                if mime.startswith(a[:-1]):
                    return True
            elif mime == a:
                return True
        return False

    def __repr__(self) -> str:
        return f"<Upload {self.name!r} {len(self.entries)} entries>"


def _accept(accept: Iterable[str] | str) -> tuple[str, ...] | None:
    if accept == "*":
        return None
    if isinstance(accept, str):
        accept = (accept,)
    out = []
    for a in accept:
        a = str(a).strip().lower()
        if not a or a == "*" or ("/" not in a and not a.startswith(".")):
            raise ValueError(f"accept: an extension ('.png') or a MIME type ('image/png', 'image/*'), not {a!r}")
        out.append(a)
    if not out:
        raise ValueError('accept: name the types accepted, or accept="*" for any')
    return tuple(out)


def _clean_name(name: str) -> str:
    """The last component of a browser's file name, without control characters (for display only)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable())
    return name[:MAX_NAME] or "file"


class Uploads:
    """A session's uploads (one per ``Conn``): the requests, the chunks, the temporary files."""

    __slots__ = ("by_name", "conn", "dir", "files", "last_id")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.by_name: dict[str, Upload] = {}
        self.files: dict[int, _File] = {}  # file id -> a file under way or received, not consumed
        self.dir: str | None = None  # the session's temporary directory, made on the first file
        self.last_id = 0  # ids are never reused in a session: a chunk of a dropped file is recognised

    # -- requests --------------------------------------------------------------------------

    def start(self, name: str, files: tuple[tuple[str, int, str], ...]) -> tuple[list[int], str | None]:
        """A request to upload ``files`` -> (their ids, None), or ([], why it is refused)."""
        up = self.by_name.get(name)
        if up is None:
            return [], f"no upload named {name!r} on this page"
        refused = self._check(up, files)
        up.refuse(refused)
        if refused is not None:
            return [], refused
        self.drop(up)  # a new request replaces the upload's entries
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="rweb-upload-")
        entries = []
        ids = []
        for fname, size, mime in files:
            self.last_id += 1
            fid = self.last_id
            entry = UploadEntry(fid, _clean_name(fname), size, mime[:MAX_NAME])
            f = _File(up, entry, os.path.join(self.dir, str(fid)))  # never the browser's name
            f.fh = open(f.path, "xb")  # closed once the file is complete, or dropped
            self.files[fid] = f
            if size == 0:
                self._done(f)
            entries.append(entry)
            ids.append(fid)
        up.entries[:] = entries
        return ids, None

    def _check(self, up: Upload, files: tuple[tuple[str, int, str], ...]) -> str | None:
        if len(files) > up.max_files:
            return f"{len(files)} files: {up.name!r} takes {up.max_files} at most"
        for fname, size, mime in files:
            shown = _clean_name(fname)
            if size > up.max_size:
                return f"{shown!r} is {size} bytes: {up.name!r} takes {up.max_size} at most"
            if not up.allows(shown, mime):
                return f"{shown!r} ({mime or 'no type'}): {up.name!r} accepts {', '.join(up.accept or ())}"
        held = sum(f.entry.size for f in self.files.values() if f.upload is not up)
        limit = self.conn.app.max_upload_bytes
        total = sum(size for _, size, _ in files)
        if held + total > limit:
            return f"{total} bytes: over this session's upload limit ({limit} bytes)"
        return None

    def stop(self, name: str) -> None:
        """Tell the browser to stop sending upload ``name``'s chunks (the effect ``upload_stop``)."""
        connection = self.conn.connection
        if connection is not None:
            connection.effect(UploadStop(name))

    def drop(self, up: Upload) -> None:
        """Forget ``up``'s files (their chunks still under way are then ignored)."""
        for fid in [fid for fid, f in self.files.items() if f.upload is up]:
            self.files.pop(fid).drop()

    # -- chunks ----------------------------------------------------------------------------

    def receive(self, data: bytes) -> tuple[bool, tuple[str, str] | None]:
        """A binary frame -> (is it an upload's, an error to push).

        A frame for a file dropped before (cancelled, failed, consumed) is
        ignored: the browser may not know yet.
        """
        if len(data) < HEADER or data[0] != CHUNK_KIND:
            return False, None
        fid = int.from_bytes(data[1:HEADER], "big")
        f = self.files.get(fid)
        if f is None:
            return 0 < fid <= self.last_id, None
        n = len(data) - HEADER
        entry = f.entry
        if f.fh is None or f.received + n > entry.size:
            return True, self._fail(f, f"more bytes than the {entry.size} declared")
        try:
            f.fh.write(memoryview(data)[HEADER:])
        except OSError as exc:
            log.error("session %s: upload %r: %s", self.conn.writer_id, entry.name, exc)
            return True, self._fail(f, "the server could not store it")
        f.received += n
        if f.received == entry.size:
            self._done(f)
            return True, None
        progress = f.received * 100 // entry.size
        if progress != f.last_progress:
            now = time.monotonic()
            if progress - f.last_progress >= PROGRESS_STEP or now - f.last_at >= PROGRESS_INTERVAL:
                f.last_progress = progress
                f.last_at = now
                entry.progress = progress
        return True, None

    def _done(self, f: _File) -> None:
        fh, f.fh = f.fh, None
        if fh is not None:
            fh.close()
        f.entry.progress = 100
        f.entry.done = True

    def _fail(self, f: _File, why: str) -> tuple[str, str]:
        entry = f.entry
        log.warning("session %s: upload %r refused: %s", self.conn.writer_id, entry.name, why)
        self.files.pop(entry.id, None)
        f.drop()
        self.stop(f.upload.name)
        entry.done = False
        entry.error = why
        return (ErrorCode.UPLOAD_FAILED, f"{entry.name!r}: {why}")

    # -- the session's life ----------------------------------------------------------------

    def lost(self) -> None:
        """The socket was lost: the files under way cannot go on (the browser sends them again)."""
        for f in [f for f in self.files.values() if f.fh is not None]:
            self.files.pop(f.entry.id, None)
            f.drop()
            f.entry.error = "the connection was lost: upload it again"

    def close(self) -> None:
        """The session ended: every file not consumed, and the session's directory, are deleted."""
        for f in self.files.values():
            fh, f.fh = f.fh, None
            if fh is not None:
                fh.close()
        self.files.clear()
        d, self.dir = self.dir, None
        if d is not None:
            shutil.rmtree(d, ignore_errors=True)
