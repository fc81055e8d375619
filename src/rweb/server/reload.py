"""Development mode: restart the server when the app's files change (``--reload``).

A small reloader process (:func:`run_reloader`) binds the listening socket,
runs the real server as a child process (the same command again, so that the
new code is imported) and polls the modification times of the app's files.
On a change it stops the child with SIGTERM (the server closes its
WebSockets with 1012, "service restart", so open pages reconnect at once),
waits for it and starts the command again; connections made meanwhile wait
in the socket's backlog.  A child that fails (a syntax error, an import
error) leaves its traceback in the log, and until the next change the
reloader itself answers on the port (:class:`_Fallback`): a page showing the
error (file, line, message, traceback), and on the WebSocket an
``app_failed`` error that the client shows in its overlay; at the change it
closes those sockets with 1012 and the pages reload.  The child's stderr
passes through the reloader (which keeps its tail for that).  SIGINT /
SIGTERM stop the child and the reloader; SIGHUP restarts the child.

No dependency: a scan costs about 8 µs per file (rweb's own checkout, 117
files: 0.9 ms), so polling a small app every quarter of a second costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import re
import secrets
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from ..words.protocol import (
    CloseCode,
    ErrorCode,
    Ping,
    ProtocolError,
    decode,
    decode_control,
    encode_error,
    encode_reply,
)

__all__ = [
    "CHILD_ENV",
    "DEFAULT_EXTENSIONS",
    "IGNORED_DIRS",
    "Failure",
    "Snapshot",
    "changes",
    "child_socket",
    "child_socket_pending",
    "default_watch",
    "env_reload",
    "failure",
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
    from ..rendering.proc import die_with_parent

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


# -- a child that failed: what it said, and the reloader's answer meanwhile ---------------

TAIL = 64 * 1024  # bytes of the child's stderr kept: its last traceback
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


@dataclass(frozen=True)
class Failure:
    """Why the server could not start: the file and line Python named, the error, the traceback."""

    file: str | None
    line: int | None
    error: str  # "SyntaxError: '(' was never closed"
    traceback: str

    def text(self) -> str:
        """One text for the log-reader, the page and the overlay: where, what, then the traceback."""
        where = f"{self.file}, line {self.line}\n" if self.file else ""
        return f"{where}{self.error}\n\n{self.traceback}".rstrip() + "\n"


def failure(output: str, returncode: int) -> Failure:
    """The last traceback in a failed server's stderr ``output`` (a syntax error in a script has no header)."""
    at = output.rfind("Traceback (most recent call last):")
    if at < 0:
        at = output.rfind('  File "')
    block = output[max(at, 0) :].strip("\n") if at >= 0 else "\n".join(output.splitlines()[-20:])
    frames = list(_FRAME.finditer(block))
    last = frames[-1] if frames else None
    errors = [ln for ln in block.splitlines() if ln.strip() and not ln[0].isspace() and not ln.startswith("Traceback")]
    error = errors[-1] if errors else f"the server {_describe(returncode)}"
    return Failure(last["file"] if last else None, int(last["line"]) if last else None, error, block)


_MAX_FRAME = 64 * 1024


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>rweb: the app failed to start</title></head>
<body style="margin:0;background:#141414;color:#fff;font:13px ui-monospace,monospace">
<div id="rweb-error-overlay" role="alert" style="padding:24px">
<h2 style="font:bold 16px sans-serif">app_failed: the app failed to start</h2>
<pre style="white-space:pre-wrap">{text}</pre>
<p style="font:14px sans-serif;color:#bbb">rweb --reload: this page reloads once a change starts the app again.</p>
</div>
<script>
(function () {{
  var u = new URL(location.href); u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  var s = new WebSocket(u.href);
  s.onclose = function () {{ setTimeout(function () {{ location.reload(); }}, 200); }};
}})();
</script>
</body></html>
"""


class _FallbackSocket(WSListener):
    """One browser's WebSocket on the fallback: the ``app_failed`` error, then held until :meth:`_Fallback.stop`."""

    def __init__(self, fallback: _Fallback) -> None:
        self.fallback = fallback

    def on_ws_connected(self, transport: WSTransport) -> None:
        transport.send(WSMsgType.TEXT, self.fallback.message)
        if self.fallback.stopping:  # stop() came during the handshake: the app is back
            transport.send_close(WSCloseCode(CloseCode.SERVICE_RESTART))
            transport.disconnect()
            return
        self.fallback.held.add(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.CLOSE:
            code = frame.get_close_code()
            transport.send_close(code if code != WSCloseCode.NO_INFO else WSCloseCode.OK)
            transport.disconnect()
        elif frame.msg_type is WSMsgType.TEXT and frame.fin:
            with contextlib.suppress(ProtocolError):
                action, msg, ref = decode(frame.get_payload_as_bytes())
                if action is None and isinstance(decode_control(msg, ref), Ping):  # the client's heartbeat
                    transport.send(WSMsgType.TEXT, encode_reply({}, ref))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.fallback.held.discard(transport)


class _Fallback:
    """While the server is down after a failure: the reloader answers on its port with the error.

    picows on a duplicate of the reloader's listening socket, in a thread
    running its own event loop.  A page request (any ``GET``) gets the error
    page (status 500), a WebSocket (any path: rweb.js's and the page's own
    script's) the ``app_failed`` error, then stays open (picows answers
    pings, this the client's heartbeat) until :meth:`stop` closes it with
    1012 (service restart): the client reconnects at once, to the server
    started again, and reloads the page.
    """

    def __init__(self, sock: socket.socket, failed: Failure) -> None:
        text = failed.text()
        self.page = _PAGE.format(text=html.escape(text)).encode()
        self.message = encode_error(ErrorCode.APP_FAILED, text)
        self.held: set[WSTransport] = set()
        self.stopping = False
        self.loop = asyncio.new_event_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        # The reloader keeps its socket for the next server: picows closes only this duplicate.
        self.thread = threading.Thread(target=self._serve, args=(sock.dup(),), name="rweb-reload-fallback", daemon=True)
        self.thread.start()

    def _serve(self, listener: socket.socket) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._run(listener))
        except Exception:
            log.exception("rweb: the error page could not be served")
        finally:
            listener.close()
            self.loop.close()

    async def _run(self, listener: socket.socket) -> None:
        server = await ws_create_server(
            self._route,
            sock=listener,
            websocket_handshake_timeout=10,
            max_frame_size=_MAX_FRAME,
            use_aiofastnet=False,
        )
        try:
            await self.done
        finally:
            server.close()
            self.stopping = True
            held, self.held = list(self.held), set()
            for transport in held:
                transport.send_close(WSCloseCode(CloseCode.SERVICE_RESTART))
                transport.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    def _route(self, request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener:
        """picows' listener factory: an upgrade gets the socket, any other ``GET`` the page."""
        headers = request.headers
        if headers.get("upgrade", "").lower() != "websocket":
            page = WSUpgradeResponse.create_error_response(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                self.page,
                {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
            )
            return WSUpgradeResponseWithListener(page, None)
        # picows takes "Connection: Upgrade" only, not Firefox's "keep-alive, Upgrade" (as HTTP1Protocol does).
        if "upgrade" in (t.strip().lower() for t in headers.get("connection", "").split(",")):
            headers["Connection"] = "Upgrade"
        return _FallbackSocket(self)

    def stop(self) -> None:
        """Stop answering; close the sockets held with 1012, so that their pages come back at once."""
        with contextlib.suppress(RuntimeError):  # the loop already ended
            self.loop.call_soon_threadsafe(self.done.set_result, None)
        self.thread.join(5.0)


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
        self.tail = bytearray()  # the end of the child's stderr, which passes through here
        self.tee: threading.Thread | None = None
        self.fallback: _Fallback | None = None  # answers on the port while the child is down after a failure
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
        if self.fallback is not None:
            self.fallback.stop()
            self.fallback = None
        try:
            self.proc = subprocess.Popen(
                self.command, env=env, pass_fds=(self.sock.fileno(),), stderr=subprocess.PIPE
            )
        except OSError as exc:
            log.error("the server could not be started (%s); waiting for a change", exc)
            self.proc = None
        else:
            assert self.proc.stderr is not None
            self.tail = bytearray()
            self.tee = threading.Thread(target=self._copy, args=(self.proc.stderr,), daemon=True)
            self.tee.start()
        self.reported = False

    def _copy(self, stream: Any) -> None:
        """The child's stderr to ours, as it comes; its end kept in ``tail``."""
        fd = stream.fileno()
        try:
            while chunk := os.read(fd, 65536):
                with contextlib.suppress(OSError):
                    os.write(2, chunk)
                self.tail += chunk
                del self.tail[:-TAIL]
        finally:
            stream.close()

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
        if self.tee is not None:
            self.tee.join(2.0)  # the rest of its traceback
        failed = failure(bytes(self.tail).decode(errors="replace"), proc.returncode)
        self.fallback = _Fallback(self.sock, failed)
        log.info("rweb: the page and the socket show the error until a file changes")

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
            if self.fallback is not None:
                self.fallback.stop()
                self.fallback = None
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
    from ..rendering.proc import listen

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
