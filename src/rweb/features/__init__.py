"""The features floor: optional features built on the public API as an app would be.

Its modules: dashboard, forms.  It imports only its own floor and the floors beneath it
(docs/architecture.md, pyproject.toml's import-linter contract).  Nothing is imported here: each
module is imported by its full path.
"""
