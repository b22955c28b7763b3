from __future__ import annotations

import subprocess
import sys

import pytest

import stratopt


@pytest.mark.parametrize("name", [n for n in stratopt.__all__ if n != "__version__"])
def test_every_top_level_name_resolves(name: str) -> None:
    assert getattr(stratopt, name) is not None


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = stratopt.nope  # type: ignore[attr-defined]


def test_version_is_fast_and_light() -> None:
    code = "import sys, stratopt; print(stratopt.__version__, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [stratopt.__version__, "False"]
