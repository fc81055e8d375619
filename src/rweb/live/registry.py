"""This process's live sessions: who holds each writer id, their hooks, and their resumes.

The :class:`SessionRegistry` an app owns (``app.registry``; :class:`rweb.App`
forwards its public methods to it) keeps

- the live sessions by writer id (``app.sessions`` is its ``live`` dict), and
  the writer-id allocation, unique across the server's worker processes;
- the session hooks (``@app.on_session_start``, ``@app.on_session_end``);
- the sessions whose socket was lost and that wait for their browsers
  (``waiting``), within ``max_detached`` in all and
  ``max_detached_per_address``: past either, the oldest ends;
- the resume tokens that take a waiting session back (signed, bound to this
  process's life and to the socket that holds the session).

It touches no socket and no app: a :class:`~rweb.connection.Connection`
reports to it (through the app, rweb.runtime.Runtime).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from ..addressing.proxies import bucket
from ..addressing.signing import Signer
from ..sessions.scheduler import Scheduler
from ..sessions.session import ConnectionInfo
from ..web.loglimit import LogLimit

__all__ = ["SessionRegistry"]

log = logging.getLogger("rweb.app")  # its messages are the app's, as they were

Hook = Callable[[Any], Any]


class SessionRegistry:
    """The live sessions of one process (see the module's docstring)."""

    def __init__(
        self,
        signer: Signer,
        scheduler: Scheduler,
        snapshots: Callable[[], Any],
        *,
        max_detached: int = 10_000,
        max_detached_per_address: int | None = 100,
        behind_trusted_proxies: bool = False,
    ) -> None:
        if max_detached < 0 or (max_detached_per_address is not None and max_detached_per_address < 0):
            raise ValueError("max_detached and max_detached_per_address must be >= 0")
        self.signer = signer
        self.scheduler = scheduler  # its boot id goes into the tokens
        self.snapshots = snapshots  # () -> the app's rweb.snapshot.Snapshots, or None
        self.live: dict[Any, Any] = {}  # writer id -> live Connection
        self.start_hooks: list[Hook] = []
        self.end_hooks: list[Hook] = []
        self.ids = itertools.count(0)
        self.max_detached = max_detached
        self.max_detached_per_address = max_detached_per_address
        self.behind_trusted_proxies = behind_trusted_proxies  # for the eviction's hint
        self.waiting: dict[Any, str | None] = {}  # Connection -> its address's bucket, oldest first
        self.waiting_by: dict[str, dict[Any, None]] = {}  # bucket -> its Connections, oldest first
        self.evictions = LogLimit(1)
        self.evicted = 0  # sessions ended to keep within those caps (a counter, for tests and stats)

    # -- writer ids ------------------------------------------------------------------------

    def number(self, worker_index: int, workers: int) -> None:
        """This process is worker ``worker_index`` of ``workers``: its writer ids are its own."""
        self.ids = itertools.count(worker_index, max(workers, 1))

    def next_writer_id(self) -> int:
        """A writer id unique across this server's worker processes."""
        return next(self.ids)

    # -- sessions' lives -------------------------------------------------------------------

    def run_hooks(self, hooks: list[Hook], conn: Any, what: str) -> None:
        for fn in hooks:
            try:
                fn(conn)
            except BaseException:  # user code: SystemExit, KeyboardInterrupt... stop only this hook
                log.exception("session %s: a session %s hook raised", conn.writer_id, what)

    def started(self, conn: Any, connection: Any) -> None:
        """``connection``'s session is live: registered by its writer id; the start hooks get ``conn``
        (None: the setup kept no conn, hence no hooks)."""
        self.live[connection.writer_id] = connection
        if conn is not None and self.start_hooks:
            self.run_hooks(self.start_hooks, conn, "start")

    def ended(self, conn: Any, connection: Any) -> None:
        """``connection``'s session ended: if it started, it is unregistered and the end hooks get ``conn``."""
        wid = connection.writer_id
        if self.live.get(wid) is connection:  # it started: its end hooks run
            del self.live[wid]
            if conn is not None and self.end_hooks:
                self.run_hooks(self.end_hooks, conn, "end")

    def moved(self, connection: Any) -> None:
        """``connection`` took its writer id's session over (a resume): the registered one from now."""
        self.live[connection.writer_id] = connection

    # -- resuming sessions -----------------------------------------------------------------

    def resume_token(self, connection: Any) -> str:
        """The token a browser presents to get ``connection``'s session back after a lost socket.

        Signed with the app's key, bound to this process's life (a token from
        before a restart, or from another worker, matches nothing but the
        session's snapshot) and to the socket that holds the session (its
        ``nonce``): a resume hands out a new token and spends the old one.
        """
        return self.signer.sign(f"{self.scheduler.boot}.{connection.writer_id}.{connection.nonce}")

    def resume_target(self, token: str, info: ConnectionInfo) -> Any:
        """What ``token`` names: a connection of this process that can be taken over (claimed: the
        token is spent); the snapshot key of another process's session (a str, with a snapshot
        store); or None (a fresh session)."""
        from ..addressing.signing import BadSignature

        try:
            boot, wid, nonce = self.signer.unsign(token).split(".")
        except (BadSignature, ValueError):
            return None
        if not (boot.isalnum() and wid.isdigit() and nonce.isalnum()):  # not one resume_token made
            return None
        if boot != self.scheduler.boot:
            snapshots = self.snapshots()
            return snapshots.key_for(wid, nonce, boot) if snapshots is not None else None
        connection = self.live.get(int(wid))
        if connection is None or not connection.resumable() or not connection.claim(nonce):
            return None
        return connection

    def end_detached(self) -> None:
        """End every session still waiting for its browser (the server stops)."""
        for connection in list(self.live.values()):
            if connection.detached():
                connection.close()

    def detached(self, connection: Any) -> None:
        """``connection``'s socket was lost and its session waits for its browser: counted against
        ``max_detached`` and ``max_detached_per_address``; past either, the oldest waiting ends."""
        key = bucket(connection.address)
        self.waiting[connection] = key
        waiting = self.waiting
        while len(waiting) > self.max_detached:
            self.evict(next(iter(waiting)), "max_detached", self.max_detached)
        cap = self.max_detached_per_address
        if key is not None and cap is not None and connection in waiting:
            same = self.waiting_by.setdefault(key, {})
            same[connection] = None
            while len(same) > cap:
                self.evict(next(iter(same)), "max_detached_per_address", cap)

    def undetached(self, connection: Any) -> None:
        """``connection`` no longer waits (resumed, expired, ended)."""
        key = self.waiting.pop(connection, None)
        if key is not None:
            same = self.waiting_by.get(key)
            if same is not None:
                same.pop(connection, None)
                if not same:
                    del self.waiting_by[key]

    def evict(self, connection: Any, setting: str, cap: int) -> None:
        """End ``connection``, a waiting session past the cap ``setting`` (logged, rate-limited)."""
        self.evicted += 1
        if self.evictions.allow():
            log.warning(
                "resume: more dropped sessions waiting for their browsers than App(%s=%d)%s: the oldest "
                "(session %s, client %s) ended, %d so far%s",
                setting, cap, "" if setting == "max_detached" else " from one address",
                connection.writer_id, connection.address, self.evicted,
                " (behind a proxy? App(trusted_proxies=...): see docs/security.md)"
                if setting != "max_detached" and not self.behind_trusted_proxies else "",
            )
        self.undetached(connection)
        connection.close()
