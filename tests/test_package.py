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


def test_the_engine_and_the_study_file_load_no_database_library() -> None:
    """A backtest needs neither Optuna nor SQLAlchemy nor scipy.special: importing them
    with `stratopt.backtest` (through the study file's URL check) cost each engine
    process ~25 MiB and its start-up time."""
    code = (
        "import sys, stratopt.backtest, stratopt.config; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'optuna', 'sqlalchemy'}), "
        "'scipy.special' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "False"]
