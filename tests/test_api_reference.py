"""docs/api.md is the API reference generated from the docstrings (scripts/api_reference.py), and is fresh."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "api_reference.py"


def _load() -> object:
    spec = importlib.util.spec_from_file_location("rweb_api_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_name_has_a_docstring() -> None:
    _text, missing = _load().render()  # type: ignore[attr-defined]
    assert missing == [], f"public names without a docstring: {missing}"


def test_the_reference_names_every_public_name() -> None:
    text, _missing = _load().render()  # type: ignore[attr-defined]
    import rweb
    import rweb.signing

    for name in rweb.__all__:
        assert f"`rweb.{name}" in text, name
    assert "class `rweb.signing.Signer(" in text


def test_docs_api_md_is_fresh() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr + "\n(regenerate with: python scripts/api_reference.py)"
