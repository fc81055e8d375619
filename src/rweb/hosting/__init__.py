"""The app services floor: a page's conn and setup, the first paint, the answer to an HTTP request,
start and stop, broker services.

Its modules: page, conn, http_dispatch, lifecycle, services.  It imports only its own floor and
the floors beneath it (docs/architecture.md, pyproject.toml's import-linter contract).  Nothing
is imported here: each module is imported by its full path.
"""
