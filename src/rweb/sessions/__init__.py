"""The session floor: a page's session (dispatch, flush, errors) without a socket; pub/sub topics;
the loop binding.

Its modules: session, redis_topics, scheduler.  It imports only its own floor and the floors
beneath it (docs/architecture.md, pyproject.toml's import-linter contract).  Nothing is imported
here: each module is imported by its full path.
"""
