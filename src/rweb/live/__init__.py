"""The session runtime floor: one socket's session from its join to its end, and what outlives a
socket.

Its modules: connection, transport, runtime, registry, stream, upload, snapshot, sharing,
presence, broker_redis, redis_store.  It imports only its own floor and the floors beneath it
(docs/architecture.md, pyproject.toml's import-linter contract).  Nothing is imported here: each
module is imported by its full path.
"""
