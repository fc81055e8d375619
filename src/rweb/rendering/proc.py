"""Process and socket helpers shared by the workers' supervisor (rweb.server) and the reloader (rweb.reload)."""

from __future__ import annotations

import os
import signal
import socket

__all__ = ["die_with_parent", "listen"]


def listen(host: str, port: int, backlog: int = 4096) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (raises ``OSError`` if the port is taken).

    The parent of the workers holds it for as long as it runs: connections
    wait in its backlog while no worker accepts.
    """
    infos = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(addr)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def die_with_parent(parent: int) -> None:
    """Linux: this process gets SIGTERM when ``parent`` (its supervisor, its reloader) dies: no orphan keeps serving."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)
