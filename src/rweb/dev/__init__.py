"""The tools floor: the command line's runner and generators (`rweb run`, `rweb new`, `rweb gen
auth`).

Its modules: runner, scaffold.  It imports only its own floor and the floors beneath it
(docs/architecture.md, pyproject.toml's import-linter contract).  Nothing is imported here: each
module is imported by its full path.
"""
