"""The HTTP floor: requests and responses, the client script and assets, compression, health and
metrics, Origin rules.

Its modules: http, assets, client_script, static, compression, health, metrics, origins,
loglimit, cookie_tokens.  It imports only its own floor and the floors beneath it
(docs/architecture.md, pyproject.toml's import-linter contract).  Nothing is imported here: each
module is imported by its full path.
"""
