"""A private PostgreSQL for the tests: Debian's ``postgresql``, a cluster in a temporary directory.

:class:`PostgresServer` runs ``initdb`` (trust authentication, one user
``rweb``, no fsync) and ``postgres`` on a free 127.0.0.1 port, listening on
loopback only with its socket in that directory, waits until it answers, and
creates the database ``rweb_test``; :meth:`close` stops it (a fast shutdown)
and removes the directory.  PostgreSQL refuses to run as root: when the tests
run as root (as in CI), the cluster's files belong to the ``postgres`` user
(Debian's package creates it) and both programs run as that user
(``subprocess``'s ``user=``/``group=``).  Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from processes import free_port

SKIP_REASON = "PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run installs it)"
USER = "rweb"
DATABASE = "rweb_test"


def bin_dir() -> str | None:
    """Where ``initdb`` and ``postgres`` are: the newest /usr/lib/postgresql/<ver>/bin, else PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


class PostgresServer:
    def __init__(self) -> None:
        where = bin_dir()
        if where is None:
            raise RuntimeError(SKIP_REASON)
        self.bin = where
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="rweb-pg-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.as_user: dict[str, Any] = {}
        if os.geteuid() == 0:  # postgres will not run as root: as Debian's postgres user instead
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.as_user = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the test database (psycopg 3)."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self, timeout: float = 60.0) -> None:
        data = str(Path(self.dir) / "data")
        done = subprocess.run(
            [f"{self.bin}/initdb", "-D", data, "-A", "trust", "-U", USER, "-E", "UTF8", "--locale=C", "--no-sync"],
            cwd=self.dir, capture_output=True, timeout=timeout, **self.as_user,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stdout.decode()[-1000:]} {done.stderr.decode()[-2000:]}")
        log = open(Path(self.dir) / "postgres.log", "ab")
        try:
            self.proc = subprocess.Popen(
                [
                    f"{self.bin}/postgres", "-D", data, "-p", str(self.port), "-h", "127.0.0.1",
                    "-k", self.dir, "-c", "fsync=off", "-c", "full_page_writes=off",
                    "-c", "synchronous_commit=off", "-c", "max_connections=50",
                ],
                cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **self.as_user,
            )
        finally:
            log.close()
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres",
                                     connect_timeout=2, autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {DATABASE}")
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"PostgreSQL did not answer on port {self.port}: {self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGINT)  # a fast shutdown: the sessions are ended
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (Path(self.dir) / "postgres.log").read_text(errors="replace")[-2000:]
        return ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
