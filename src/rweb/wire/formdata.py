"""``multipart/form-data`` bodies for plain handlers: ``request.form()`` with fields and files.

A form with ``enctype="multipart/form-data"`` (any form with a file input)
posts its fields and files as the parts of one body.  ``request.form()``
parses it with python-multipart's streaming ``MultipartParser`` (Starlette's
parser): each field becomes a ``str``, each file an :class:`UploadFile` whose
bytes are kept in memory up to ``SPOOL_SIZE`` and spill to a temporary file
beyond (``tempfile.SpooledTemporaryFile``).  The files are closed when the
response is made: a handler that keeps one copies it first.

Limits (each a keyword of ``request.form()``; over one: 413, the files read
so far closed): ``max_parts`` (fields and files, 1000), ``max_field_size`` (a
field's bytes, 1 MiB), ``max_file_size`` (a file's bytes; default: only the
body's own limit).  The whole body was already bounded by the transport
(``App(max_body_size)``, 1 MiB by default, and ``body_timeout``); each part's
headers by the parser (8 headers, about 4 KiB).  A body that is not valid
multipart (no boundary, another boundary, a part without a name, a field that
is not UTF-8, a body cut short) is answered 400.

The live-session uploads over the socket (``conn.allow_upload``) are another
path: see rweb.upload and docs/uploads.md.
"""

from __future__ import annotations

import tempfile
from typing import IO, Any

from ..words.http_base import Headers, HTTPError, QueryParams

__all__ = ["MAX_FIELD_SIZE", "MAX_PARTS", "SPOOL_SIZE", "FormData", "UploadFile", "parse_multipart"]

MAX_PARTS = 1000  # fields and files in one body
MAX_FIELD_SIZE = 1024 * 1024  # one field's bytes
SPOOL_SIZE = 64 * 1024  # a file's bytes kept in memory; beyond, it spills to a temporary file


class UploadFile:
    """A file posted in a ``multipart/form-data`` body.

    ``filename`` as the browser sent it (never a path to write to: make your
    own), ``content_type`` as the browser guessed it (not checked: look at the
    bytes), ``size`` in bytes, ``headers`` of the part, and ``file`` (a
    ``SpooledTemporaryFile`` at position 0).  ``read``, ``seek`` and ``close``
    go to ``file``.
    """

    __slots__ = ("content_type", "file", "filename", "headers", "size")

    def __init__(self, filename: str, content_type: str, headers: Headers, file: IO[bytes], size: int = 0) -> None:
        self.filename = filename
        self.content_type = content_type
        self.headers = headers
        self.file = file
        self.size = size

    def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)

    def close(self) -> None:
        self.file.close()

    @property
    def closed(self) -> bool:
        return self.file.closed

    def __repr__(self) -> str:
        return f"<UploadFile {self.filename!r} {self.content_type!r} {self.size} bytes>"


class FormData(QueryParams):
    """A multipart form's fields (``str``) and files (:class:`UploadFile`): ``form["x"]``, ``form.getlist("x")``."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        return self._first[key]

    def getlist(self, key: str) -> list[Any]:
        return [v for k, v in self._items if k == key]

    def close(self) -> None:
        """Close every file (done for you once the response is made)."""
        for _, value in self._items:
            if isinstance(value, UploadFile):
                value.close()


def parse_multipart(
    body: bytes,
    content_type: str,
    *,
    max_parts: int | None = None,
    max_field_size: int | None = None,
    max_file_size: int | None = None,
) -> FormData:
    """The fields and files of a ``multipart/form-data`` ``body`` (see the module's docstring for the limits)."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header

    parts_cap = MAX_PARTS if max_parts is None else max_parts
    field_cap = MAX_FIELD_SIZE if max_field_size is None else max_field_size
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise HTTPError(400, "a multipart body needs a boundary in its Content-Type")
    items: list[tuple[str, Any]] = []
    files: list[UploadFile] = []
    header: list[bytes] = [b"", b""]  # the current header's name and value, as they come
    headers: list[tuple[str, str]] = []
    part: dict[str, Any] = {}  # the current part: name, data (a field) or upload (a file)
    ended = [False]

    def on_part_begin() -> None:
        headers.clear()
        part.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        headers.append((_text(header[0]).lower(), _text(header[1])))
        header[0] = header[1] = b""

    def on_headers_finished() -> None:
        if len(items) >= parts_cap:
            raise HTTPError(413, f"more than {parts_cap} parts in the form")
        hdrs = Headers(headers)
        _, disposition = parse_options_header(hdrs.get("content-disposition", ""))
        if b"name" not in disposition:
            raise HTTPError(400, "a part of the form has no name (Content-Disposition: form-data; name=...)")
        part["name"] = _text(disposition[b"name"])
        if b"filename" in disposition:
            upload = UploadFile(
                _text(disposition[b"filename"]),
                hdrs.get("content-type", "application/octet-stream"),
                hdrs,
                tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE),
            )
            files.append(upload)
            part["upload"] = upload
        else:
            part["data"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        upload = part.get("upload")
        if upload is None:
            field = part["data"]
            if len(field) + end - start > field_cap:
                raise HTTPError(413, f"a field of the form is over {field_cap} bytes")
            field += data[start:end]
            return
        upload.size += end - start
        if max_file_size is not None and upload.size > max_file_size:
            raise HTTPError(413, f"a file of the form is over {max_file_size} bytes")
        upload.file.write(data[start:end])

    def on_part_end() -> None:
        upload = part.get("upload")
        if upload is not None:
            upload.file.seek(0)
            items.append((part["name"], upload))
            return
        try:
            items.append((part["name"], part["data"].decode("utf-8")))
        except UnicodeDecodeError:
            raise HTTPError(400, "a field of the form is not valid UTF-8") from None

    def on_end() -> None:
        ended[0] = True

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_end": on_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
        if not ended[0]:
            raise HTTPError(400, "the multipart body ends before its closing boundary")
    except BaseException as exc:
        for upload in files:
            upload.close()
        if isinstance(exc, FormParserError):
            raise HTTPError(400, "the body is not valid multipart/form-data") from None
        raise
    return FormData(items)


def _text(raw: bytes) -> str:
    """A name or header value: UTF-8 as browsers send it, else Latin-1 (any bytes)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
