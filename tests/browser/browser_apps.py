"""Apps shared by the browser tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# The seed's counter, exactly as examples/rweb_counter.py has it: the browser
# tests drive the example itself, not a copy of it.
_PATH = Path(__file__).resolve().parents[2] / "examples" / "rweb_counter.py"
_spec = importlib.util.spec_from_file_location("rweb_example_rweb_counter", _PATH)
assert _spec is not None and _spec.loader is not None
_example = sys.modules.get(_spec.name) or importlib.util.module_from_spec(_spec)
if _spec.name not in sys.modules:
    sys.modules[_spec.name] = _example
    _spec.loader.exec_module(_example)

Counter = _example.Counter
counter_setup = _example.session_setup


BUTTONS = {
    "inc": '[data-action="inc"]',
    "dec": '[data-action="dec"]',
    "reset": '[data-action="reset"]',
}
