"""The core floor: the HTML vocabulary, the diff, reactive records, the build's switch, the meter.

Its modules: html, diff, reactive, _build, meter.  It imports only its own floor and the floors
beneath it (docs/architecture.md, pyproject.toml's import-linter contract).  Nothing is imported
here: each module is imported by its full path.
"""
