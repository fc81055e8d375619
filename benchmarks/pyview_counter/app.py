"""PyView app serving the counter at "/", for benchmarks/compare.py.

    PYVIEW_SECRET=... python -m uvicorn app:app --app-dir benchmarks/pyview_counter \
        --host 127.0.0.1 --port 8000

(in benchmarks/.venv-pyview, which compare.py creates; set PYVIEW_SECRET so that every
uvicorn worker signs and checks the CSRF tokens with the same key).
"""

from __future__ import annotations

from counter_live import CounterLiveView
from pyview import PyView

app = PyView()
app.add_live_view("/", CounterLiveView)
