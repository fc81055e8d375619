"""Session snapshots: a session's reactive state saved through the broker, restored by any process.

A session whose socket is lost may come back on another worker, another
instance behind the load balancer, or a server started after a deploy.  With a
snapshot store (the Redis broker's, by default), each process keeps the state
of its sessions there, and the process a browser comes back to restores it:
the page's setup runs again, then the records it created take their saved
values.

What is saved: the reactive records (``@reactive``), ``RList`` and ``RDict``
that the page's setup creates, in the order it creates them, and everything
they hold: JSON values (``None``, booleans, numbers, strings), tuples, lists
and dicts of those, and further records and collections (created later, by
handlers: a todo appended to a list), with their identity (an object reached
twice is restored once, reached twice).  Records are matched by position and
class on restore; fields by name.  What is not saved:

- a record declared :func:`transient` (a cache, a connection);
- a field holding anything else (a ``datetime``, a function, a set, a custom
  object): the field keeps the value setup gave it, and the first snapshot
  that meets it logs a warning naming the record, the field and the type;
- records created outside the setup and not reachable from its records (a
  module-level shared record is the app's, not the session's);
- plain Python variables of the setup's closure.

The snapshot format (JSON, version 1), under ``snap:<boot>.<writer id>.<nonce>``::

    {"final": true, "v": 1, "path": "/items/3", "last": 41,
     "objs": [["r", "app:Counter", {"value": 3}],     # a record: class, fields
              ["l", [1, {"$i": 3}]],                  # an RList
              ["d", [["a", 1]]],                      # an RDict: [key, value] pairs
              ["x"]]}                                 # transient: not saved

The first entries are the setup's objects, in creation order; the others are
objects reached from them.  Inside values, ``{"$i": n}`` refers to entry
``n``, ``{"$t": [...]}`` is a tuple, ``{"$l": [...]}`` a plain list and
``{"$d": [[k, v], ...]}`` a plain dict.  ``last`` is the ref of the last
action applied, so that actions are applied exactly once across processes.

When: a session whose state changed is saved at most once per
``App(snapshot_interval=1.0)`` seconds (one batch for every session that
changed), at once when its socket is lost, and all at once when the server
stops (SIGTERM).  A snapshot larger than ``App(snapshot_limit=64 KiB)`` is
not kept (a warning; a resume elsewhere then starts afresh).  Snapshots live
for ``App(resume_grace=...)`` seconds after the socket went away, and an hour
while it is open; a session that ends deletes its own.

Checked on restore (what the store holds is untrusted): the stored length
first (over ``snapshot_limit``: deleted unread), then the version, the page's
path, and each field's value against its record's declared type (a string in
an ``int`` field); any mismatch gives a fresh session and a warning.  The key
holds the nonce of the session's current resume token: a spent token names
no snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import orjson

from ..core.reactive import (
    _SHARED_OK,
    CLASSES,
    IdentitySet,
    RDict,
    RList,
    Tracker,
    _born,
    begin,
    end,
    is_reactive,
    unsubscribe,
)

__all__ = ["MemoryStore", "SnapshotStore", "Snapshots", "transient"]

log = logging.getLogger("rweb.snapshot")

VERSION = 1
LIVE_TTL = 3600.0  # a snapshot of a session whose socket is open (a crash loses nothing older)
CLAIM_TIMEOUT = 2.0  # seconds a joining browser waits for its snapshot before a fresh session
ASK_TIMEOUT = 0.5  # seconds a claim waits for the process that holds the session (a dead one never answers)
KEY_PREFIX = "snap:"  # + the process's boot id, ".", the writer id, ".", the token's nonce
FINAL = b'{"final":true,'  # how a final snapshot starts (see Snapshots._save)
TOPIC = "rweb:owner:"  # + a process's boot id: claims of its sessions, and answers to its claims

_TRANSIENT: Any = IdentitySet()


_T = TypeVar("_T")


def transient(obj: _T) -> _T:
    """Declare that a record (or RList/RDict) of a session is not saved in its snapshots.

    After a resume in another process it holds what the page's setup gave it.
    """
    _TRANSIENT.add(obj)
    return obj


class SnapshotStore(Protocol):
    """Where snapshots go: a key-value store with expiry, shared by every process that may resume a session.

    It may also offer ``store_many(items, ttl)`` (see :data:`StoreMany`): the interval's save then
    hands it every snapshot at once.
    """

    def store(self, key: str, data: bytes, ttl: float) -> None:
        """Keep ``data`` under ``key`` for ``ttl`` seconds (fire and forget)."""

    def forget(self, key: str) -> None:
        """Delete ``key`` (fire and forget)."""

    def take(self, key: str, limit: int) -> Awaitable[bytes | None]:
        """Get and delete ``key`` atomically (two browsers never get one session).

        A value longer than ``limit`` bytes is deleted without being read (its
        stored length is checked first): raise :class:`TooLarge`.
        """

    def sync(self, timeout: float) -> Awaitable[bool]:
        """Wait until what was stored is written (False: not within ``timeout``)."""


# A store may also offer ``store_many(items, ttl)``: keep each ``(key, data)`` of ``items`` for
# ``ttl`` seconds (fire and forget), in as few round-trips as it can (RedisStore: one command per
# batch, so one reply to read instead of one per session).  The interval's save and the one when
# the server stops hand it every snapshot at once; a store without it gets them one by one.
StoreMany = Callable[[list[tuple[str, bytes]], float], None]


class MemoryStore:
    """A :class:`SnapshotStore` in this process's memory: for tests, and for several Apps in one process."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, float]] = {}

    def store(self, key: str, data: bytes, ttl: float) -> None:
        self.data[key] = (data, time.monotonic() + ttl)

    def store_many(self, items: list[tuple[str, bytes]], ttl: float) -> None:
        until = time.monotonic() + ttl
        for key, data in items:
            self.data[key] = (data, until)

    def forget(self, key: str) -> None:
        self.data.pop(key, None)

    def get(self, key: str) -> bytes | None:
        found = self.data.get(key)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    async def take(self, key: str, limit: int) -> bytes | None:
        value = self.get(key)
        self.data.pop(key, None)
        if value is not None and len(value) > limit:
            raise TooLarge(len(value))
        return value

    async def sync(self, timeout: float) -> bool:
        return True


class TooLarge(Exception):
    """A stored snapshot longer than the limit: deleted, not read."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


class _Unsaved(Exception):
    """A value a snapshot cannot hold."""


class _Shared(_Unsaved):
    """A record the app shares between sessions (app.share, process_local): the app's, not the session's."""


class Entry(Tracker):
    """One session's snapshot: its setup's objects, and whether they changed since the last save.

    A tracker over everything the last save read: the first write to the
    session's state after a save marks it dirty (whichever code path made it:
    an action, a timer, another thread) and drops its subscriptions, so the
    other writes until the next save (which reads, so subscribes, again) cost
    nothing: a field its page renders keeps one subscriber, the render's, on
    every click but the first of an interval.
    """

    __slots__ = ("connection", "dirty", "final", "key", "objects", "path", "service", "ttl")

    def __init__(self, service: Snapshots, connection: Any, objects: list[Any], path: str, key: str) -> None:
        super().__init__()
        self.service = service
        self.connection = connection
        self.objects = objects
        self.path = path  # the page's (a patch changes it)
        self.key = key
        self.dirty = False
        self.final = False  # the store holds a final snapshot of it (any process may take it)
        self.ttl = LIVE_TTL

    def invalidate(self) -> None:
        if not self.dirty:
            self.dirty = True
            unsubscribe(self)  # dirty until saved: the next save subscribes again (Snapshots._read)
            self.service.mark(self)


class Snapshots:
    """The app's snapshot service in this process (``app.snapshots``)."""

    def __init__(self, app: Any, store: SnapshotStore, interval: float, limit: int) -> None:
        self.app = app
        self.store = store
        self._store_many: StoreMany | None = getattr(store, "store_many", None)
        self.interval = interval
        self.limit = limit
        self.closing = False
        self._dirty: list[Entry] = []
        self._timer: asyncio.TimerHandle | None = None
        self._warned: set[str] = set()
        self._asked: dict[int, asyncio.Future[str]] = {}  # claims waiting for the owner's answer
        self._asks = 0
        self._unsubscribe: Any = None
        self.saved = 0  # counters, for tests and benchmarks
        self.restored = 0

    def start(self) -> None:
        """Listen for claims of this process's sessions by other processes (after any fork; again
        when the app's broker changed, as startup() replaces the in-process one)."""
        pubsub = self.app.pubsub
        if self._unsubscribe is not None:
            if self._unsubscribe[0] is pubsub:
                return
            self._unsubscribe[1]()
        self._unsubscribe = (pubsub, pubsub.subscribe(TOPIC + self.app.scheduler.boot, self._owner_message))

    # -- a session's life -------------------------------------------------------------

    def open(self, connection: Any, objects: list[Any], path: str) -> Entry:
        """A session was set up (``objects``: what its setup created, rweb.reactive.capture): its entry."""
        entry = Entry(self, connection, objects, path, self.key_for(connection.writer_id, connection.nonce))
        self._read(entry)  # subscribe to its state
        return entry

    def key_for(self, writer_id: Any, nonce: Any, boot: str | None = None) -> str:
        """The store key of session ``writer_id`` of process ``boot`` (this one by default), under the
        token of ``nonce``: a token that was spent names no snapshot."""
        return f"{KEY_PREFIX}{boot or self.app.scheduler.boot}.{writer_id}.{nonce}"

    def moved(self, entry: Entry, connection: Any) -> None:
        """The session was taken over by another socket of this process (same writer id, a new
        token): its snapshot moves to the new token's key, the old one goes."""
        entry.connection = connection
        entry.ttl = LIVE_TTL
        key = self.key_for(connection.writer_id, connection.nonce)
        if key != entry.key:
            self.store.forget(entry.key)
            entry.key = key
            self._save(entry)

    def detached(self, entry: Entry) -> None:
        """Its socket was lost: save it now, for the grace period (the browser may come back elsewhere)."""
        entry.ttl = max(self.app.resume_grace, 1.0)
        self._save(entry, final=True)

    def end(self, entry: Entry) -> None:
        """The session ended here: its snapshot goes (unless the server stops: then it is its way back)."""
        entry.connection = None
        entry.dirty = True  # never marked again
        unsubscribe(entry)
        if not self.closing:
            self.store.forget(entry.key)

    # -- saving ---------------------------------------------------------------------

    def mark(self, entry: Entry) -> None:
        self._dirty.append(entry)
        if self._timer is None and self.app.scheduler.loop is not None:
            if self.app.scheduler.on_loop_thread():
                self._arm()
            else:  # a write made on another thread: the timer is the loop's business
                self.app.scheduler.loop.call_soon_threadsafe(self._arm)

    def _arm(self) -> None:
        if self._timer is None and self._dirty:
            self._timer = self.app.scheduler.loop.call_later(self.interval, self.flush)

    def flush(self) -> None:
        """Save every session that changed since its last save (the timer's batch)."""
        self._timer = None
        dirty, self._dirty = self._dirty, []
        batch: list[Entry] = []
        for entry in dirty:
            connection = entry.connection
            if connection is None:
                continue
            if connection.busy():  # an async handler is half-way: its state is not one to restore
                self._dirty.append(entry)
                continue
            batch.append(entry)
        self._save_many(batch, False)
        if self._dirty and self._timer is None and self.app.scheduler.loop is not None:
            self._timer = self.app.scheduler.loop.call_later(self.interval, self.flush)

    async def save_all(self, timeout: float = 5.0) -> bool:
        """The server stops: save every session for the grace period, and wait until stored."""
        self.closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._dirty = []
        # An async handler half-way has a state no browser saw: let it finish (bounded).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout / 2
        while any(c.busy() for c in self.app.sessions.values()) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        batch: list[Entry] = []
        for connection in list(self.app.sessions.values()):
            entry = getattr(connection, "snap", None)
            # One still half-way keeps its last snapshot: an older state, but the one its
            # "last" ref belongs to (the browser sends the unanswered action again).
            if entry is not None and entry.connection is connection and not connection.busy():
                entry.ttl = max(self.app.resume_grace, 1.0)
                batch.append(entry)
        self._save_many(batch, True)
        try:
            return await self.store.sync(timeout)
        except Exception:
            log.exception("snapshots could not be written before the server stopped")
            return False

    def _save(self, entry: Entry, final: bool = False) -> None:
        """Store the entry's state; ``final``: no socket of this process serves it any more
        (lost, or the server stops), so a claim need not ask this process first."""
        blob = self._blob(entry, final)
        if blob is not None:
            self.store.store(entry.key, blob, entry.ttl)
            self._saved(entry, blob, final)

    def _save_many(self, entries: list[Entry], final: bool) -> None:
        """:meth:`_save` each of ``entries``, handed to the store in one batch per ttl (see StoreMany)."""
        many = self._store_many
        if many is None or len(entries) < 2:
            for entry in entries:
                self._save(entry, final)
            return
        batches: dict[float, list[tuple[str, bytes]]] = {}
        for entry in entries:
            blob = self._blob(entry, final)
            if blob is not None:
                items = batches.get(entry.ttl)
                if items is None:
                    items = batches[entry.ttl] = []
                items.append((entry.key, blob))
                self._saved(entry, blob, final)
        for ttl, items in batches.items():
            many(items, ttl)

    def _saved(self, entry: Entry, blob: bytes, final: bool) -> None:
        entry.final = final
        self.saved += 1
        meter = self.app.meter
        if meter is not None:
            meter.saved(len(blob))

    def _blob(self, entry: Entry, final: bool) -> bytes | None:
        """The entry's snapshot (None: it could not be encoded, or is over the limit: then the
        store's older one goes)."""
        entry.dirty = False
        connection = entry.connection
        data = self._read(entry)
        if data is None:
            return None
        last = connection.applied() if connection is not None else None
        # "final" first: a claim reads it from the first bytes (FINAL), whatever the state holds.
        if final:
            doc = {"final": True, "v": VERSION, "path": entry.path, "last": last, "objs": data}
        else:
            doc = {"v": VERSION, "path": entry.path, "last": last, "objs": data}
        blob = orjson.dumps(doc)
        if len(blob) > self.limit:
            self.warn(
                f"size:{entry.key}",
                "session %s: its snapshot is %d bytes, over the limit of %d (App(snapshot_limit=...)): "
                "not kept; a resume in another process starts afresh",
                getattr(connection, "writer_id", "?"), len(blob), self.limit,
            )
            self.store.forget(entry.key)
            entry.final = False
            return None
        return blob

    def _read(self, entry: Entry) -> list[Any] | None:
        """Encode the entry's objects, subscribing it to everything read (and to nothing else)."""
        prev = begin(entry)
        try:
            return _Encoder(entry.objects, self).encode()
        except Exception:
            log.exception("session snapshot failed")
            return None
        finally:
            end(prev)

    def warn(self, what: str, msg: str, *args: Any) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning(msg, *args)

    # -- restoring ----------------------------------------------------------------------

    async def take(self, key: str) -> bytes | None:
        """Take the snapshot under ``key`` out of the store (None: nobody left one, or another took it).

        One longer than ``snapshot_limit`` is deleted unread (the store checks
        its length first) and gives None, with a warning.
        """
        try:
            return await asyncio.wait_for(self.store.take(key, self.limit), CLAIM_TIMEOUT)
        except TooLarge as exc:
            log.warning(
                "session snapshot %s is %d bytes, over the limit of %d (App(snapshot_limit=...)): "  # pragma: no mutate (wording)
                "deleted unread; a fresh session",  # pragma: no mutate (wording)
                key, exc.size, self.limit,
            )
            return None

    async def claim(self, key: str) -> bytes | None:
        """The snapshot of the session named ``key`` (taken: nobody else gets it), or None.

        A final snapshot (its socket was lost, or its server stopped) is taken
        as it is.  Otherwise the process that holds the session may still
        serve it (its socket is half-open: it has not noticed the loss yet)
        and its snapshot may lag by up to ``snapshot_interval``: that process
        is asked to save it now and end it, and answers within milliseconds;
        a process that is gone does not answer, and what the store holds is
        taken after ``ASK_TIMEOUT``.  A process that answers that it does not
        hold the session under this token (another socket took it, or it
        ended) wins over what the store held: at most one claim gets a session.
        """
        boot, _, rest = key.removeprefix(KEY_PREFIX).partition(".")
        wid, _, nonce = rest.partition(".")
        try:
            blob = await self.take(key)
            if blob is not None and blob.startswith(FINAL):
                self.app.pubsub.publish(TOPIC + boot, {"gone": wid, "nonce": nonce})  # its copy ends there
                return blob
            answer = await self._ask(boot, wid, nonce)
            if answer == _SAVED:
                newer = await self.take(key)
                if newer is not None:
                    return newer
            return None if answer == _NOT_HERE else blob
        except Exception as exc:
            log.warning("session snapshot %s could not be read (%s): a fresh session", key, exc)
            return None

    async def _ask(self, boot: str, wid: str, nonce: str) -> str | None:
        """Ask process ``boot`` to save session ``wid`` (under the token of ``nonce``) now and let it
        go: its answer (_SAVED, _NOT_HERE, _BUSY), or None when it does not answer."""
        self._asks += 1
        n = self._asks
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._asked[n] = future
        try:
            msg = {"claim": wid, "nonce": nonce, "from": self.app.scheduler.boot, "n": n}
            self.app.pubsub.publish(TOPIC + boot, msg)
            return await asyncio.wait_for(future, ASK_TIMEOUT)
        except TimeoutError:
            return None
        finally:
            self._asked.pop(n, None)

    def _owner_message(self, _topic: str, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        if "n" in msg and "saved" in msg:  # an answer to one of this process's claims
            future = self._asked.get(msg["n"])
            answer = msg["saved"]
            if future is not None and not future.done() and answer in _ANSWERS:
                future.set_result(answer)
            return
        wid = msg.get("claim", msg.get("gone"))
        nonce = msg.get("nonce")
        if not isinstance(wid, str) or not wid.isdigit() or not isinstance(nonce, str):
            return
        connection = self.app.sessions.get(int(wid))
        # Only the session's current token counts: the claim of a spent one is not answered with it.
        if connection is not None and not connection.claim(nonce):
            connection = None
        entry = getattr(connection, "snap", None) if connection is not None else None
        answer = _NOT_HERE
        if connection is not None:
            answer = _BUSY
            if "gone" in msg or (entry is not None and not connection.busy()):
                if "claim" in msg and entry is not None:
                    self._save(entry, final=True)  # queued before the answer: the claimer reads it after
                    answer = _SAVED
                log.info("session %s: taken over by another process", wid)
                self._let_go(connection)
                connection.close()
            else:  # its async handler runs: the claimer takes its last snapshot; nothing more is saved
                self._let_go(connection)
        if "claim" in msg and isinstance(msg.get("from"), str):
            self.app.pubsub.publish(TOPIC + msg["from"], {"n": msg.get("n"), "saved": answer})

    @staticmethod
    def _let_go(connection: Any) -> None:
        """The session's snapshot is another process's now: this one no longer saves or deletes it."""
        entry = connection.snap
        if entry is not None:
            entry.connection = None
            connection.snap = None
            unsubscribe(entry)

    def restore(self, entry: Entry, blob: bytes, path: str) -> Any:
        """Give the setup's objects their saved values; returns the saved ``last`` ref.

        Raises ValueError when the snapshot does not fit (another page, another format).
        """
        doc = orjson.loads(blob)
        if not isinstance(doc, dict) or doc.get("v") != VERSION or not isinstance(doc.get("objs"), list):
            raise ValueError("not a snapshot of this version")
        if doc.get("path") != path:
            raise ValueError(f"a snapshot of {doc.get('path')!r}, not of {path!r}")
        # Writing the saved values marked the entry dirty: its next save (the interval's) stores it
        # under its new token's key and follows the objects made here.
        _Decoder(entry.objects, doc["objs"], self).decode()
        self.restored += 1
        return doc.get("last")


# A holder's answers to a claim (Snapshots._owner_message).
_SAVED = "saved"  # saved now and let go: take the snapshot again
_NOT_HERE = "gone"  # not held under this token: another socket took it, or it ended
_BUSY = "busy"  # its async handler runs: take what the store held
_ANSWERS = (_SAVED, _NOT_HERE, _BUSY)


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


# A record's class -> its name in snapshots (_class_name), made once per class.  Bounded (cleared
# when full, as the renderer's sharing tables): classes made on the fly do not stay in it for good.
_NAMES: dict[type, str] = {}
_NAMES_MAX = 4096


class _Encoder:
    __slots__ = ("ids", "objs", "out", "service")

    def __init__(self, objects: list[Any], service: Snapshots) -> None:
        self.service = service
        self.objs = objects  # copied when it grows (see value): the entry's list is the setup's
        # id -> index of every object met so far; made at the first reference to a record or
        # collection (a session whose state holds none never needs it)
        self.ids: dict[int, int] | None = None
        self.out: list[Any] = []

    def encode(self) -> list[Any]:
        out = self.out
        i = 0
        while i < len(self.objs):  # the list grows as objects are reached
            out.append(self.entry(self.objs[i], i))
            i += 1
        return out

    def entry(self, obj: Any, i: int) -> list[Any]:
        if obj in _TRANSIENT:
            return ["x"]
        t = type(obj)
        if t is RList:
            try:
                return ["l", [self.value(v) for v in obj]]  # read as a render reads it: tracked
            except _Unsaved as exc:
                self.unsaved(f"an RList (object {i})", exc)
                return ["x"]
        if t is RDict:
            try:
                return ["d", [[self.key(k), self.value(v)] for k, v in obj.copy().items()]]  # tracked
            except _Unsaved as exc:
                self.unsaved(f"an RDict (object {i})", exc)
                return ["x"]
        fields: dict[str, Any] = {}
        for name in t.__rweb_fields__:
            value = getattr(obj, name)  # subscribes the entry
            tv = type(value)
            if value is None or tv is str or tv is int or tv is float or tv is bool:
                fields[name] = value  # the common case, without a call
                continue
            try:
                fields[name] = self.value(value)
            except _Unsaved as exc:
                self.unsaved(f"field {t.__qualname__}.{name}", exc)
        cls = _NAMES.get(t)
        if cls is None:
            if len(_NAMES) >= _NAMES_MAX:
                _NAMES.clear()
            cls = _NAMES[t] = _class_name(t)
        return ["r", cls, fields]

    def unsaved(self, where: str, exc: _Unsaved) -> None:
        if type(exc) is _Shared:  # the setup's value is the right one: the same shared record
            return
        self.service.warn(
            f"unsaved:{where}",
            "%s holds %s, which a session snapshot cannot save: after a resume in another process it has "
            "the value the page's setup gave it (save JSON values, records, RList/RDict; or declare the "
            "record rweb.transient)",
            where, exc,
        )

    def key(self, k: Any) -> Any:
        if k is None or type(k) in (str, int, float, bool):
            return k
        raise _Unsaved(f"a key of type {type(k).__name__}")

    def value(self, v: Any) -> Any:
        t = type(v)
        if v is None or t is str or t is int or t is float or t is bool:
            return v
        if t is RList or t is RDict or is_reactive(v):
            ids = self.ids
            if ids is None:
                self.objs = list(self.objs)
                ids = self.ids = {id(o): i for i, o in enumerate(self.objs)}
            n = ids.get(id(v))
            if n is None:
                if v in _SHARED_OK:
                    raise _Shared("a shared record")
                if v in _TRANSIENT:
                    raise _Unsaved("a transient record")
                n = ids[id(v)] = len(self.objs)
                self.objs.append(v)
            return {"$i": n}
        if t is tuple:
            return {"$t": [self.value(x) for x in v]}
        if t is list:
            return {"$l": [self.value(x) for x in v]}
        if t is dict:
            return {"$d": [[self.key(k), self.value(x)] for k, x in v.items()]}
        name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
        raise _Unsaved(f"a value of type {name}")


# A snapshot object's kind -> how a warning names it (a record is named by its class).
_KINDS = {"r": "a record", "l": "an RList", "d": "an RDict", "x": "not saved"}


class _Decoder:
    __slots__ = ("docs", "made", "n_setup", "service")

    def __init__(self, objects: list[Any], docs: list[Any], service: Snapshots) -> None:
        self.service = service
        self.docs = docs
        self.made: list[Any] = list(objects)
        self.n_setup = len(objects)

    def decode(self) -> None:
        docs, made = self.docs, self.made
        for doc in docs:
            if type(doc) is not list or not doc or doc[0] not in _KINDS:
                raise ValueError("a malformed snapshot object")
        # Objects reached from the setup's: made empty first (references may form cycles).
        for doc in docs[self.n_setup:]:
            made.append(self.blank(doc))
        for i, doc in enumerate(docs):  # made holds an object per doc (and more: a setup grown since)
            self.fill(made[i], doc, i)

    def blank(self, doc: Any) -> Any:
        kind = doc[0]
        if kind == "l":
            return RList()
        if kind == "d":
            return RDict()
        if kind == "r":
            # Any: a user's @reactive class, whose __new__ (its _Record base's) mypy cannot see
            cls: Any = CLASSES.get(doc[1])
            if cls is None:
                raise ValueError(f"no @reactive class {doc[1]} in this process")
            obj = cls.__new__(cls)
            fields = cls.__rweb_fields__
            object.__setattr__(obj, "_rw_vals", [None] * (2 * len(fields)))  # the values, then their subscribers
            object.__setattr__(obj, "_rw_owner", _born())  # as if made now: free for the page to own
            return obj
        return None  # "x": not saved, nothing to make

    def fill(self, obj: Any, doc: Any, i: int) -> None:
        kind = doc[0]
        if kind == "x" or obj in _TRANSIENT:
            return
        t = type(obj)
        if kind == "l" and t is RList:
            obj[:] = [self.value(v) for v in doc[1]]
        elif kind == "d" and t is RDict:
            obj.clear()
            obj.update({k: self.value(v) for k, v in doc[1]})
        elif kind == "r" and is_reactive(obj) and _class_name(t) == doc[1]:
            saved = doc[2]
            declared = _declared(t)
            blank = i >= self.n_setup  # made here: a field the snapshot lacks holds None
            for name in t.__rweb_fields__:
                if name in saved:
                    value = self.value(saved[name])
                elif blank:
                    value = None
                else:
                    continue
                want = declared[name]
                if not _fits(value, want):
                    raise ValueError(
                        f"field {t.__qualname__}.{name} is declared {_shown_type(want)}, "
                        f"the snapshot holds {type(value).__name__} {_short(value)}"
                    )
                setattr(obj, name, value)
        else:
            was = doc[1] if kind == "r" else _KINDS[kind]
            self.service.warn(
                f"mismatch:{i}:{was}",
                "session snapshot: object %d was %s, the page's setup now makes %s: not restored "  # pragma: no mutate (wording)
                "(did the setup change between the two processes?)",  # pragma: no mutate (wording)
                i, was, t.__qualname__,
            )

    def value(self, v: Any) -> Any:
        if type(v) is dict:
            if "$i" in v:
                return self.made[v["$i"]]
            if "$t" in v:
                return tuple(self.value(x) for x in v["$t"])
            if "$l" in v:
                return [self.value(x) for x in v["$l"]]
            if "$d" in v:
                return {k: self.value(x) for k, x in v["$d"]}
            raise ValueError("a malformed snapshot value")
        return v


# -- the declared types of records' fields: a restored value must fit its field's ----------

_DECLARED: dict[type, dict[str, Any]] = {}


def _declared(cls: type) -> dict[str, Any]:
    """``cls``'s fields -> their annotations, resolved (``Any`` for a field whose annotation cannot
    be resolved: any value fits; ``x: None`` is read as type checkers read it, NoneType)."""
    found = _DECLARED.get(cls)  # pragma: no mutate (a cache: a miss computes the same table again)
    if found is None:
        import sys

        module = vars(sys.modules[cls.__module__]) if cls.__module__ in sys.modules else {}  # pragma: no mutate (a class made by exec: no module)
        annotations = cls.__annotations__  # @reactive's: every field's, its bases' included
        found = {}
        for name in cls.__rweb_fields__:  # type: ignore[attr-defined]
            ann = annotations[name]
            if isinstance(ann, str):
                try:
                    ann = eval(ann, dict(module))  # what typing.get_type_hints does, per field
                except Exception:
                    ann = Any
            found[name] = type(None) if ann is None else ann
        _DECLARED[cls] = found  # pragma: no mutate (a cache: a miss computes the same table again)
    return found


def _fits(value: Any, want: Any) -> bool:
    """Does ``value`` (restored from JSON) fit the annotation ``want``?  Unknown forms fit."""
    import types
    import typing

    if want is Any:  # (object, int, str, bool, NoneType: isinstance below)
        return True
    if want is float:  # an int is a float here, as for type checkers
        return type(value) is float or (type(value) is int)
    origin = typing.get_origin(want)
    args = typing.get_args(want)
    if origin is typing.Union or origin is types.UnionType:
        return any(_fits(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin is typing.Annotated:
        return _fits(value, args[0])
    if isinstance(want, typing.NewType):
        return _fits(value, want.__supertype__)
    if origin is None and isinstance(want, type):
        if want is list:
            return isinstance(value, list | RList)
        if want is dict:
            return isinstance(value, dict | RDict)
        return isinstance(value, want)
    if origin is list:
        return isinstance(value, list | RList) and (not args or all(_fits(v, args[0]) for v in value))
    if origin is dict:
        return isinstance(value, dict | RDict) and (
            len(args) != 2 or all(_fits(k, args[0]) and _fits(v, args[1]) for k, v in value.items())
        )
    if origin is tuple:
        if type(value) is not tuple:
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(v, args[0]) for v in value)
        if len(args) != len(value):  # tuple[()]: only the empty tuple
            return False
        return all(_fits(v, a) for v, a in zip(value, args, strict=True))  # pragma: no mutate (lengths checked above)
    if isinstance(origin, type):
        try:
            return isinstance(value, origin)
        except TypeError:
            return True
    return True  # a TypeVar, a forward reference, a special form: not checked


def _shown_type(want: Any) -> str:
    return want.__qualname__ if isinstance(want, type) else str(want)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
