"""Bare ``websockets`` (asyncio API) server on uvloop: the same fixed first message and
~60-byte reply as bare_picows.py, for an extra comparison row.

    python benchmarks/bare_websockets.py --port 8091
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from bare_common import PAGE, REPLY, run
from websockets.asyncio.server import ServerConnection, serve

PAGE_S = PAGE.decode()
REPLY_S = REPLY.decode()


async def handler(ws: ServerConnection) -> None:
    await ws.send(PAGE_S)
    async for _msg in ws:
        await ws.send(REPLY_S)


async def main_async(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with serve(handler, host, port, compression=None, max_queue=None, backlog=4096,
                     ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"bare websockets listening on ws://{host}:{port}/ (pid {os.getpid()})", flush=True)
        await stop
        server.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8091)
    args = p.parse_args(argv)
    run(main_async(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
