"""The addressing floor: path patterns, trusted proxies, signed tokens.

Its modules: routing, proxies, signing.  It imports only its own floor and the floors beneath it
(docs/architecture.md, pyproject.toml's import-linter contract).  Nothing is imported here: each
module is imported by its full path.
"""
