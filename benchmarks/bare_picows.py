"""The ceiling: a bare picows WebSocket server on uvloop that does no work at all.

It sends a small fixed first message on connect (so the same bench client works: it
waits for a "full page") and answers every data message with a fixed ~60-byte reply.
No framework on this WebSocket stack can be faster than this.

``--batched`` answers like rweb's server does: frames are queued as they are read and
answered together once the loop has read every ready socket (to see whether that
alone moves the ceiling).

``--spin-us N`` adds N µs of busy CPU work per message: a stand-in for a framework
that costs N µs more per click, to see what server CPU alone does to throughput and
tail latency when client and server share the cores.

    python benchmarks/bare_picows.py --port 8090 [--workers N] [--host 127.0.0.1] [--batched] [--spin-us N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from time import perf_counter_ns
from typing import Any

from bare_common import PAGE, REPLY, run, stop_on_signals
from picows import (
    WSCloseCode,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_create_server,
)

TEXT = WSMsgType.TEXT
BINARY = WSMsgType.BINARY
CLOSE = WSMsgType.CLOSE


OPEN: set[WSTransport] = set()


class Bare(WSListener):
    def on_ws_connected(self, transport: WSTransport) -> None:
        OPEN.add(transport)
        transport.send(TEXT, PAGE)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        OPEN.discard(transport)

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        mt = frame.msg_type
        if mt is TEXT or mt is BINARY:
            transport.send(TEXT, REPLY)
        elif mt is CLOSE:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()


class Batched(Bare):
    """Queue each text frame; one callback per loop pass answers them all."""

    queue: list[WSTransport] = []

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type is TEXT:
            q = Batched.queue
            q.append(transport)
            if len(q) == 1:
                asyncio.get_running_loop().call_soon(Batched.answer)
        else:
            super().on_ws_frame(transport, frame)

    @staticmethod
    def answer() -> None:
        q, Batched.queue = Batched.queue, []
        for t in q:
            if not t.is_disconnected:
                t.send(TEXT, REPLY)


class Spinning(Bare):
    spin_ns = 0

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type is TEXT:
            until = perf_counter_ns() + self.spin_ns
            while perf_counter_ns() < until:
                pass
        super().on_ws_frame(transport, frame)


async def serve(
    host: str, port: int, reuse_port: bool, aiofastnet: bool = False, spin_us: float = 0, batched: bool = False
) -> None:
    Spinning.spin_ns = int(spin_us * 1000)
    listener = Spinning if spin_us > 0 else Batched if batched else Bare
    server = await ws_create_server(
        lambda request: listener(), host, port, reuse_port=reuse_port, backlog=4096,
        websocket_handshake_timeout=10,
        read_buffer_init_size=2048,  # grows when needed; picows' 16 KiB default is all idle memory
        # The same socket transports as rweb's default (uvloop's own), so that
        # this is the ceiling of rweb's stack; --aiofastnet for picows' default.
        use_aiofastnet=aiofastnet,
    )
    stop = stop_on_signals()
    port = server.sockets[0].getsockname()[1]  # the real one when asked for port 0
    print(f"bare picows listening on ws://{host}:{port}/ (pid {os.getpid()})", flush=True)
    await stop
    server.close()
    for t in list(OPEN):  # don't wait for clients to leave
        t.disconnect(False)


def run_one(
    host: str, port: int, reuse_port: bool, aiofastnet: bool = False, spin_us: float = 0, batched: bool = False
) -> None:
    run(serve(host, port, reuse_port, aiofastnet, spin_us, batched))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    p.add_argument("--aiofastnet", action="store_true",
                   help="aiofastnet socket transports (picows' default) instead of uvloop's")
    p.add_argument("--batched", action="store_true",
                   help="answer the frames read in one loop pass together, as rweb's server does")
    p.add_argument("--spin-us", type=float, default=0.0,
                   help="busy CPU work per message, in µs (default 0: the ceiling)")
    args = p.parse_args(argv)
    if args.workers <= 1:
        run_one(args.host, args.port, False, args.aiofastnet, args.spin_us, args.batched)
        return 0
    if args.port == 0:  # all workers must share one port: pick it now
        with socket.socket() as s:
            s.bind((args.host, 0))
            args.port = s.getsockname()[1]
    children: list[int] = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            try:
                run_one(args.host, args.port, True, args.aiofastnet, args.spin_us, args.batched)
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: Any) -> None:
        for c in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(c, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for c in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(c, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
