"""The app floor: the thin app: its settings and public methods, composing the services beneath it.

Its modules: app.  It imports only its own floor and the floors beneath it
(docs/architecture.md, pyproject.toml's import-linter contract).  Nothing is imported here: each
module is imported by its full path.
"""
