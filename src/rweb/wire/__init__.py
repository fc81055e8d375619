"""The wire and security floor: the client side of the protocol, typed effects, CSRF and cookies,
flash, multipart, the broker's link.

Its modules: codec, effects, security, flash, formdata, redis_link, pubsub, single_use.  It
imports only its own floor and the floors beneath it (docs/architecture.md, pyproject.toml's
import-linter contract).  Nothing is imported here: each module is imported by its full path.
"""
