"""Structured logs: one JSON object per line, with the session a line belongs to.

``start_rweb(..., log_format="json")`` (or ``RWEB_LOG_FORMAT=json``) logs
every line as a JSON object::

    {"time": "2026-12-05T04:01:02.345Z", "level": "ERROR", "logger": "rweb.connection",
     "message": "session 7: the handler of 'save' raised ... (ref 1a2b3c4d)", "pid": 4242,
     "session": 7, "page": "/settings", "action": "save", "exception": "Traceback ..."}

``session`` (the writer id), ``page`` (the page's path) and ``action`` are on
every line a session causes: rweb's own and the app's handlers' ``logging``
calls alike, in a synchronous handler or an ``async`` one's task.  They are
found when a record is made (``rweb.connection.current()``): a message that
logs nothing pays nothing.

An app that configures logging itself adds them to its own handler::

    handler = logging.StreamHandler()
    handler.addFilter(rweb.logs.SessionContext())      # session, page, action on the record
    handler.setFormatter(rweb.logs.JSONFormatter())    # or a format with %(session)s ...
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import orjson

__all__ = ["FORMATS", "JSONFormatter", "SessionContext", "configure"]

FORMATS = ("text", "json")
"""What ``start_rweb(log_format=...)`` and ``RWEB_LOG_FORMAT`` take."""

TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
_FIELDS = ("session", "page", "action")


class SessionContext(logging.Filter):
    """Puts ``session``, ``page`` and ``action`` on each record made while a session's message or
    async handler runs (None otherwise); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "session", None) is None:
            from ..live.connection import (
                current,  # the runtime floor: looked up when a record is made
            )

            found = current()
            if found is None:
                record.session = record.page = record.action = None
            else:
                connection, action = found
                record.session = connection.writer_id
                record.page = connection.path
                record.action = action
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, pid, the session's
    fields when a :class:`SessionContext` filter (or ``extra=``) set them, and the exception."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                doc[name] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(doc, default=str).decode()


def configure(log_format: str | None = None) -> None:
    """The root logger's handler, unless the app configured one: ``log_format`` ``"text"`` (the
    default) or ``"json"``, else ``RWEB_LOG_FORMAT``; the level from ``RWEB_LOG_LEVEL`` (INFO)."""
    chosen = (log_format or os.environ.get("RWEB_LOG_FORMAT") or "text").lower()
    if chosen not in FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(FORMATS)}, not {chosen!r}")
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.addFilter(SessionContext())
    handler.setFormatter(JSONFormatter() if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(os.environ.get("RWEB_LOG_LEVEL", "INFO").upper())
