"""The words floor: the wire's words and their encoders (the renderer reads the reserved action
prefix), HTTP values.

Its modules: protocol, http_base.  It imports only its own floor and the floors beneath it
(docs/architecture.md, pyproject.toml's import-linter contract).  Nothing is imported here: each
module is imported by its full path.
"""
