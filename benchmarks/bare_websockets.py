"""Bare ``websockets`` (asyncio API) server on uvloop: the same fixed first message and
~60-byte reply as bare_picows.py, for an extra comparison row.

    python benchmarks/bare_websockets.py --port 8091
"""

from __future__ import annotations

import os
import sys

from bare_common import PAGE, REPLY, serve_main, stop_on_signals
from websockets.asyncio.server import ServerConnection, serve

PAGE_S = PAGE.decode()
REPLY_S = REPLY.decode()


async def handler(ws: ServerConnection) -> None:
    await ws.send(PAGE_S)
    async for _msg in ws:
        await ws.send(REPLY_S)


async def main_async(host: str, port: int) -> None:
    stop = stop_on_signals()
    async with serve(handler, host, port, compression=None, max_queue=None, backlog=4096,
                     ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"bare websockets listening on ws://{host}:{port}/ (pid {os.getpid()})", flush=True)
        await stop
        server.close()


def main(argv: list[str] | None = None) -> int:
    return serve_main(__doc__, 8091, main_async, argv)


if __name__ == "__main__":
    sys.exit(main())
