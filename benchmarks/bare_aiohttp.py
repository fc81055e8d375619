"""Bare aiohttp WebSocket server on uvloop: the same fixed first message and ~60-byte
reply as bare_picows.py, for an extra comparison row.

    python benchmarks/bare_aiohttp.py --port 8092
"""

from __future__ import annotations

import os
import sys
from typing import Any

from aiohttp import WSMsgType, web
from bare_common import PAGE, REPLY, serve_main, stop_on_signals

PAGE_S = PAGE.decode()
REPLY_S = REPLY.decode()


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, autoping=True)
    await ws.prepare(request)
    await ws.send_str(PAGE_S)
    async for msg in ws:
        if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            await ws.send_str(REPLY_S)
    return ws


async def main_async(host: str, port: int) -> None:
    app = web.Application()
    app.router.add_get("/{tail:.*}", ws_handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096, shutdown_timeout=0.5)
    await site.start()
    server: Any = site._server
    port = server.sockets[0].getsockname()[1]
    stop = stop_on_signals()
    print(f"bare aiohttp listening on ws://{host}:{port}/ (pid {os.getpid()})", flush=True)
    await stop
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    return serve_main(__doc__, 8092, main_async, argv)


if __name__ == "__main__":
    sys.exit(main())
