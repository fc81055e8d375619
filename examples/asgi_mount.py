"""The seed's counter mounted under ``/counter`` in a Starlette app, next to a route of its own.

    uvicorn examples.asgi_mount:app             # from the repository's root
    python examples/asgi_mount.py [--port 8000] [--host 127.0.0.1]

http://127.0.0.1:8000/ is Starlette's page; http://127.0.0.1:8000/counter/
the counter (its script at /counter/_rweb/rweb.<hash>.js, the component kit's
stylesheet and script at /counter/_rweb/a/ui.<hash>.css and .js, its socket at /counter/ws).
Needs ``pip install 'uvicorn[standard]' starlette``: plain ``uvicorn`` has no
WebSocket library, and the page would paint but never go live.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

import rweb
from rweb import ui

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the seed's counter, beside this file
from rweb_counter import session_setup

counter = rweb.App("RWeb Counter", session_setup, assets=ui.ASSETS)


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Starlette + rweb</title></head>'
        '<body><main><h1>A Starlette app</h1><p><a href="/counter/">The rweb counter</a></p></main></body></html>'
    )


app = Starlette(
    routes=[
        Route("/", home),
        Mount("/counter", app=rweb.asgi(counter)),
    ]
)


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port)
