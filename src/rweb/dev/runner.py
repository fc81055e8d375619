"""``rweb run path/to/app.py[:name]``: serve the app that a module or file defines.

    rweb run app.py                   # its `app` (an rweb.App), else its `session_setup`
    rweb run app.py:shop --port 9000  # the object named `shop`
    rweb run mypkg.web:app            # a module, imported from the current directory
    rweb run app.py --reload          # development: restarted when a file changes

The module is imported as a module (its ``if __name__ == "__main__":`` block
does not run); a file's directory goes first on ``sys.path``, as with
``python app.py``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from pathlib import Path
from types import ModuleType

from ..app.app import App

__all__ = ["AppNotFound", "load_app", "load_module", "main", "watch_dirs"]


class AppNotFound(Exception):
    """The target names no module, file or app (the message says what is missing)."""


def _is_file_target(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec or "/" in spec


def load_module(spec: str) -> ModuleType:
    """Import ``spec``: a ``.py`` file (its directory first on ``sys.path``) or a dotted module name."""
    from .. import server

    with server.importing_app(spec):
        return _import(spec)


def _import(spec: str) -> ModuleType:
    if _is_file_target(spec):
        path = Path(spec).resolve()
        if not path.is_file():
            raise AppNotFound(f"{spec}: no such file")
        directory = str(path.parent)
        if directory not in sys.path:
            sys.path.insert(0, directory)
        name = path.stem
        known = sys.modules.get(name)
        if known is not None and getattr(known, "__file__", None) != str(path):
            name = f"_rweb_app_{name}"  # the stem names another module (json.py, say)
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:  # pragma: no cover - a .py file always loads
            raise AppNotFound(f"{spec}: not a Python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(spec)
    except ModuleNotFoundError as exc:
        if exc.name is not None and spec.startswith(exc.name):
            raise AppNotFound(f"{spec}: no such module (run from the directory that holds it)") from exc
        raise


def load_app(target: str, title: str | None = None) -> App:
    """The app that ``target`` names: ``file.py`` or ``module``, with ``:name`` optionally.

    Without a name: the module's ``app`` if it is an :class:`~rweb.App`, else
    its ``session_setup`` (served at ``/`` under ``title``, by default the
    module's name).  A named object may be either.
    """
    spec, _, attr = target.partition(":")
    module = load_module(spec)
    label = Path(spec).stem if _is_file_target(spec) else spec
    if attr:
        if not hasattr(module, attr):
            raise AppNotFound(f"{spec} has no {attr!r}")
        obj = getattr(module, attr)
    elif isinstance(getattr(module, "app", None), App):
        obj = module.app
    elif callable(getattr(module, "session_setup", None)):
        obj = module.session_setup
    else:
        raise AppNotFound(
            f"{spec} has no `app` (an rweb.App) nor `session_setup` function: name one, as in {spec}:name"
        )
    if isinstance(obj, App):
        return obj
    if callable(obj):
        return App(title or label, obj)
    raise AppNotFound(f"{target} is a {type(obj).__name__}, neither an rweb.App nor a session_setup function")


def watch_dirs(target: str) -> list[Path]:
    """What ``--reload`` watches by default: a file's directory, or the current directory for a module."""
    spec = target.partition(":")[0]
    return [Path(spec).resolve().parent] if _is_file_target(spec) else [Path.cwd()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rweb run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", help="path/to/app.py[:name] or module[:name]")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU; 1 with --reload)")
    parser.add_argument("--title", default=None, help="the page title, for a bare session_setup")
    parser.add_argument(
        "--drain",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="on SIGTERM, answer readiness 503 this long before stopping (default: 0; docs/operations.md)",
    )
    parser.add_argument("--reload", action="store_true", help="development: restart when a file of the app changes")
    parser.add_argument(
        "--reload-dir",
        action="append",
        default=None,
        metavar="DIR",
        help="a directory to watch (repeatable; default: the file's directory, or the current one)",
    )
    return parser


def main(argv: list[str]) -> int:
    """``rweb run ...``; the exit status."""
    args = _parser().parse_args(argv)
    from ..server import _setup_logging, start_rweb
    from ..server.reload import child_socket_pending, env_reload, run_reloader

    reload = args.reload or env_reload()
    if reload and not child_socket_pending():
        # The reloader never imports the app: a syntax error there only stops its server.
        _setup_logging()
        if args.workers is not None and args.workers > 1:
            logging.getLogger("rweb.server").warning(
                "rweb: reload runs one server process: workers=%d ignored", args.workers
            )
        watch = args.reload_dir or watch_dirs(args.target)
        try:
            run_reloader([sys.executable, "-m", "rweb", "run", *argv], host=args.host, port=args.port, watch=watch)
        except OSError as exc:
            print(f"rweb run: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        app = load_app(args.target, args.title)
    except AppNotFound as exc:
        print(f"rweb run: {exc}", file=sys.stderr)
        return 2
    start_rweb(args.port, app, host=args.host, workers=args.workers, drain=args.drain, reload=reload)
    return 0
