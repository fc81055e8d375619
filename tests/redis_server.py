"""Test helpers for the Redis broker: a real redis-server, a cuttable TCP path, loops in threads.

* :class:`RedisServer` runs Debian's ``redis-server`` on a free 127.0.0.1 port
  in a temporary directory (no persistence), waits until it answers PING, and
  can be stopped and started again on the same port.
* :class:`TcpGate` forwards a loopback port to Redis and can be closed and
  reopened: one broker loses Redis while the others keep it.
* :class:`LoopThread` runs an event loop (one broker) in a thread.
* ``python tests/redis_server.py agent URL`` is a broker in a child process,
  driven by JSON lines on stdin, reporting on stdout (see :func:`agent`).

Every wait here is bounded.  Loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from processes import free_port

T = TypeVar("T")

REDIS_SERVER = shutil.which("redis-server")
SKIP_REASON = (
    "redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)"
)


def redis_py_missing() -> str | None:
    """Why the Redis tests cannot run, or None."""
    try:
        import redis  # noqa: F401
    except ImportError:
        return "redis-py is not installed (pip install 'rweb[redis]')"
    if REDIS_SERVER is None:
        return SKIP_REASON
    return None


def wait_until(pred: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``pred`` until true or ``timeout`` seconds passed; returns its last truth."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return bool(pred())
        time.sleep(interval)


class RedisServer:
    """A private redis-server on 127.0.0.1."""

    def __init__(self, port: int | None = None) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError(SKIP_REASON)
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="rweb-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        assert REDIS_SERVER is not None
        if self.proc is not None:
            raise RuntimeError("already running")
        log = open(Path(self.dir) / "redis.log", "ab")
        try:
            self.proc = subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    self.dir,
                    "--daemonize",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.ping():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(
            f"redis-server did not answer PING on port {self.port}: {self.log_tail()}"
        )

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def restart(self) -> None:
        self.stop()
        self.start()

    def command(self, *args: str | bytes) -> Any:
        """One command over a fresh connection (synchronous redis-py client)."""
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        try:
            return client.execute_command(*args)
        finally:
            client.close()

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (Path(self.dir) / "redis.log").read_text(errors="replace")[-2000:]
        return ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class TcpGate:
    """Forwards 127.0.0.1:<port> to a target port; ``close()`` cuts every connection and refuses new ones."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.open = True
        self._stopped = False
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, name="tcp-gate", daemon=True)
        self._accepter.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                t = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                self._threads.append(t)
                t.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Cut: drop every forwarded connection; new ones are closed at once."""
        self.open = False
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def reopen(self) -> None:
        self.open = True

    def stop(self) -> None:
        self._stopped = True
        self.close()
        self.listener.close()
        self._accepter.join(5)
        for t in self._threads:
            t.join(2)


class LoopThread:
    """An asyncio event loop running in its own thread (one broker per loop)."""

    def __init__(self, name: str = "loop") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def ident(self) -> int | None:
        return self.thread.ident

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        """Run ``coro`` on the loop and return its result (bounded)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``fn(*args, **kwargs)`` on the loop's thread and return its result (bounded)."""

        async def call() -> T:
            return fn(*args, **kwargs)

        return self.run(call(), 10.0)

    def stop(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(cancel_all(), 10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


# -- a broker in a child process ---------------------------------------------------


class Agent:
    """Drives ``python tests/redis_server.py agent URL`` (a broker in another process)."""

    def __init__(self, url: str, *, heartbeat: float = 0.2, timeout: float = 1.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "agent", url, str(heartbeat), str(timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not wait_until(lambda: self.find("ready"), 15):
            self.kill()
            raise RuntimeError(f"the agent did not start: {self.stderr()}")
        self.instance_id = self.find("ready")[0]["id"]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                with self._lock:
                    self.events.append(event)

    def find(self, ev: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e.get("ev") == ev]

    def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def request(self, timeout: float = 10.0, **command: Any) -> dict[str, Any]:
        """Send a command and wait for its ``done`` event."""
        n = len(self.find("done"))
        self.send(**command)
        if not wait_until(lambda: len(self.find("done")) > n, timeout):
            raise TimeoutError(f"the agent did not answer {command}: {self.stderr()}")
        return self.find("done")[n]

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()[-2000:]

    def kill(self) -> None:
        """SIGKILL: no goodbye, no untrack."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.send(op="exit")
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def agent(url: str, heartbeat: float, timeout: float) -> None:
    """The child process: one RedisPubSub; commands on stdin, events on stdout (JSON lines).

    Commands: ``subscribe`` {topic}, ``publish`` {topic, message},
    ``publish_many`` {topic, count} (messages 0..count-1), ``relay`` {topic, to}
    (republish every message of ``topic`` on ``to``), ``track`` / ``untrack``
    {topic, key, meta}, ``watch`` {topic}, ``flush``, ``exit``.
    Events: ``ready`` {id}, ``message`` {topic, message}, ``join`` / ``leave``
    {topic, key, meta}, ``done`` {op}.
    """
    from rweb.broker_redis import RedisPubSub

    out_lock = threading.Lock()

    def emit(**event: Any) -> None:
        with out_lock:
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        broker = RedisPubSub(url, presence_heartbeat=heartbeat, presence_timeout=timeout)
        await broker.start(wait=10)
        presence = broker.presence
        commands: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def read_stdin() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(commands.put_nowait, json.loads(line))
            loop.call_soon_threadsafe(commands.put_nowait, None)

        threading.Thread(target=read_stdin, daemon=True).start()
        emit(ev="ready", id=broker.instance_id)

        def relay(broker: RedisPubSub, to: str) -> Callable[[str, Any], None]:
            return lambda _topic, message: broker.publish(to, message)

        def on_message(topic: str, message: Any) -> None:
            emit(ev="message", topic=topic, message=message)

        while True:
            cmd = await commands.get()
            if cmd is None or cmd["op"] == "exit":
                break
            op = cmd["op"]
            if op == "subscribe":
                broker.subscribe(cmd["topic"], on_message)
            elif op == "publish":
                broker.publish(cmd["topic"], cmd["message"])
            elif op == "publish_many":
                for i in range(cmd["count"]):
                    broker.publish(cmd["topic"], i)
            elif op == "relay":
                broker.subscribe(cmd["topic"], relay(broker, cmd["to"]))
            elif op == "track":
                presence.track(cmd["topic"], cmd["key"], cmd.get("meta"))
            elif op == "untrack":
                presence.untrack(cmd["topic"], cmd["key"])
            elif op == "watch":
                presence.subscribe(
                    cmd["topic"],
                    on_join=lambda t, k, m: emit(ev="join", topic=t, key=k, meta=m),
                    on_leave=lambda t, k, m: emit(ev="leave", topic=t, key=k, meta=m),
                )
            elif op == "flush":
                await broker.flush(10)
            emit(ev="done", op=op)
        await broker.close()

    asyncio.run(main())


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "agent":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
        agent(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    else:
        raise SystemExit("usage: redis_server.py agent URL HEARTBEAT TIMEOUT")
    os._exit(0)
