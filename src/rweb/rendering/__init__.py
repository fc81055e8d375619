"""The rendering floor: components rendered and diffed, JS commands, the test DOM, clocks, process
helpers.

Its modules: render, js_commands, dom, clock, proc.  It imports only its own floor and the
floors beneath it (docs/architecture.md, pyproject.toml's import-linter contract).  Nothing is
imported here: each module is imported by its full path.
"""
