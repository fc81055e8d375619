"""Development mode: restart the server when the app's files change (``--reload``).

A small reloader process (:func:`run_reloader`) binds the listening socket,
runs the real server as a child process (the same command again, so that the
new code is imported) and polls the modification times of the app's files.
On a change it stops the child with SIGTERM (the server closes its
WebSockets with 1012, "service restart", so open pages reconnect at once),
waits for it and starts the command again; connections made meanwhile wait
in the socket's backlog.  A child that fails (a syntax error, an import
error) leaves its traceback in the log and the reloader waits for the next
change.  SIGINT / SIGTERM stop the child and the reloader; SIGHUP restarts
the child.

No dependency: a scan costs about 8 µs per file (rweb's own checkout, 117
files: 0.9 ms), so polling a small app every quarter of a second costs nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = [
    "CHILD_ENV",
    "DEFAULT_EXTENSIONS",
    "IGNORED_DIRS",
    "Snapshot",
    "changes",
    "child_socket",
    "child_socket_pending",
    "default_watch",
    "env_reload",
    "run_reloader",
    "scan",
    "this_command",
]

log = logging.getLogger("rweb.reload")

CHILD_ENV = "RWEB_RELOAD_CHILD"  # in the server started by the reloader: the reloader's pid
FD_ENV = "RWEB_RELOAD_FD"  # ... and the descriptor of the listening socket it passed down
DEFAULT_EXTENSIONS: tuple[str, ...] = ("py", "html", "css", "js", "jinja", "jinja2")
# Never scanned: these, every hidden directory (.venv, .git, .mypy_cache ...) and *.egg-info.
IGNORED_DIRS = frozenset({"__pycache__", "build", "dist", "node_modules", "venv", "site-packages"})
MANY_FILES = 20_000  # a scan that finds more says so once: the watched directory is probably too wide

Snapshot = dict[str, tuple[int, int]]  # path -> (mtime in ns, size)


def _ignored(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_DIRS or name.endswith(".egg-info")


def scan(dirs: Iterable[str | os.PathLike[str]], extensions: Iterable[str] = DEFAULT_EXTENSIONS) -> Snapshot:
    """Every watched file under ``dirs`` (recursively, ignored directories pruned) with its mtime and size."""
    suffixes = tuple("." + e.lstrip(".") for e in extensions)
    found: Snapshot = {}
    for top in dirs:
        for root, subdirs, files in os.walk(top):
            subdirs[:] = [d for d in subdirs if not _ignored(d)]
            for name in files:
                if name.endswith(suffixes) and not name.startswith("."):
                    path = os.path.join(root, name)
                    try:
                        st = os.stat(path)
                    except OSError:  # removed meanwhile
                        continue
                    found[path] = (st.st_mtime_ns, st.st_size)
    return found


def changes(old: Snapshot, new: Snapshot) -> list[str]:
    """The files added, removed or modified between two scans, sorted."""
    return sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))


def env_reload() -> bool:
    """Whether the environment asks for development mode: ``RWEB_RELOAD=1`` (or true, yes, on)."""
    return os.environ.get("RWEB_RELOAD", "").strip().lower() in ("1", "true", "yes", "on")


def child_socket_pending() -> bool:
    """Whether this process is a server started by the reloader (and has not taken its socket yet)."""
    return CHILD_ENV in os.environ and FD_ENV in os.environ


def child_socket() -> socket.socket | None:
    """In a server started by the reloader: the listening socket it passed down; elsewhere ``None``.

    The server also stops (SIGTERM) if the reloader dies, so that no orphan
    keeps serving.
    """
    parent = os.environ.pop(CHILD_ENV, None)
    fd = os.environ.pop(FD_ENV, None)
    if parent is None or fd is None:
        return None
    from .proc import die_with_parent

    die_with_parent(int(parent))
    sock = socket.socket(fileno=int(fd))
    sock.set_inheritable(False)
    sock.setblocking(False)
    return sock


def _describe(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown"
        return f"was killed by signal {name} ({-returncode})"
    return f"exited with code {returncode}"


class _Reloader:
    def __init__(
        self,
        command: Sequence[str],
        sock: socket.socket,
        watch: list[str],
        extensions: tuple[str, ...],
        interval: float,
        stop_timeout: float,
    ) -> None:
        self.command = list(command)
        self.sock = sock
        self.watch = watch
        self.extensions = extensions
        self.interval = interval
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.reported = False  # the child's own exit was logged
        self.stopping = False
        self.restart = False  # SIGHUP
        # One key for every server this reloader starts: with a broker, a page's session is
        # saved by the server that stops and restored by the next one (docs/resume.md).
        self.secret = os.environ.get("RWEB_SECRET_KEY") or secrets.token_urlsafe(32)

    def start(self) -> None:
        env = {
            **os.environ,
            CHILD_ENV: str(os.getpid()),
            FD_ENV: str(self.sock.fileno()),
            "RWEB_SECRET_KEY": self.secret,
        }
        try:
            self.proc = subprocess.Popen(self.command, env=env, pass_fds=(self.sock.fileno(),))
        except OSError as exc:
            log.error("the server could not be started (%s); waiting for a change", exc)
            self.proc = None
        self.reported = False

    def stop_child(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("the server (pid %d) still ran %.0f s after SIGTERM: killed", proc.pid, self.stop_timeout)
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5.0)

    def check_child(self) -> None:
        proc = self.proc
        if proc is None or self.reported or proc.poll() is None:
            return
        self.reported = True
        log.error(
            "the server (pid %d) %s; waiting for a change to start it again",
            proc.pid,
            _describe(proc.returncode),
        )

    def run(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)

        def stop(_signum: int, _frame: object) -> None:
            self.stopping = True

        def hup(_signum: int, _frame: object) -> None:
            self.restart = True

        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.getsignal(sig) for sig in handled}
        old_wakeup = signal.set_wakeup_fd(wake_w)
        try:
            signal.signal(signal.SIGINT, stop)
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGHUP, hup)
            files = scan(self.watch, self.extensions)
            if len(files) > MANY_FILES:
                log.warning("--reload watches %d files under %s: name a narrower directory", len(files), self.watch)
            self.start()
            while not self.stopping:
                with contextlib.suppress(InterruptedError):
                    select.select([wake_r], [], [], self.interval)
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_r, 512):
                        pass
                if self.stopping:
                    break
                self.check_child()
                now = scan(self.watch, self.extensions)
                changed = changes(files, now)
                if not changed and not self.restart:
                    continue
                if changed:
                    # An editor may write a file in steps: let it finish.
                    time.sleep(min(self.interval, 0.05))
                    now = scan(self.watch, self.extensions)
                    shown = ", ".join(os.path.relpath(p) for p in changed[:3])
                    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
                    log.info("rweb: %s%s changed: restarting the server", shown, more)
                else:
                    log.info("rweb: SIGHUP: restarting the server")
                files, self.restart = now, False
                self.stop_child()
                if not self.stopping:
                    self.start()
        finally:
            self.stop_child()
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(wake_r)
            os.close(wake_w)


def run_reloader(
    command: Sequence[str],
    *,
    host: str,
    port: int,
    watch: Iterable[str | os.PathLike[str]],
    extensions: Iterable[str] = DEFAULT_EXTENSIONS,
    interval: float = 0.25,
    stop_timeout: float = 10.0,
) -> None:
    """Run ``command`` (a server that calls :func:`child_socket`) and restart it when a watched file changes.

    Binds ``host:port`` here (``OSError`` if it is taken) and passes the
    socket to each server it starts; returns once stopped by SIGINT or
    SIGTERM, the server stopped (SIGTERM, then SIGKILL after
    ``stop_timeout`` seconds).  ``watch``: the directories scanned, every
    ``interval`` seconds, for files with one of ``extensions``.
    """
    from .proc import listen

    dirs = [os.path.abspath(d) for d in watch]
    exts = tuple(e.lstrip(".") for e in extensions)
    sock = listen(host, port)
    try:
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        log.info(
            "rweb: reloader (pid %d) on http://%s:%d/: restarts the server when a *.%s file changes under %s",
            os.getpid(),
            shown,
            bound,
            ", *.".join(exts),
            ", ".join(dirs),
        )
        _Reloader(command, sock, dirs, exts, interval, stop_timeout).run()
    finally:
        sock.close()
    log.info("rweb: reloader stopped")


def this_command() -> list[str]:
    """The command line that started this process, to run it again (interpreter options included)."""
    return [sys.executable, *sys.orig_argv[1:]]


def default_watch() -> list[Path]:
    """The directory of the ``__main__`` script, else the current directory."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return [Path(main).resolve().parent] if main else [Path.cwd()]
