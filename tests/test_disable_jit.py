"""``NUMBA_DISABLE_JIT=1``, numba's switch for debugging kernels as Python: the package
imports and runs under it (the CLI end to end), with the compiled kernels' results.

Each check runs a subprocess with the variable set (numba reads it at import) on small
data: pure Python is slow. Its metrics are the compiled ones bit for bit, except those
the metrics kernels sum with fast-math reassociation (`metrics._nb._FASTMATH`): LLVM
reorders those sums into vector lanes, so the plain Python loop rounds differently in
the last bits (with the reassociation off, every metric matched bit for bit:
benchmarks/README.md, session 20).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import stratopt
from stratopt.backtest import backtest, backtest_study, evaluate_many
from stratopt.config import load_study
from stratopt.data import synthetic_bars
from stratopt.engine import ExecSettings

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT / "examples" / "sma_cross_synthetic.yaml"

# The metrics summed with reassociation in the compiled kernels (see the docstring).
# summed with fast-math reassociation (cvar_95 on series long enough for the stored
# returns' pass, which the series here are not)
_REASSOCIATED = {
    "volatility",
    "sharpe",
    "sortino",
    "skew",
    "kurtosis",
    "ulcer_index",
    "omega",
    "cvar_95",
}
_SETTINGS = (
    ExecSettings(commission=0.001, slippage_bps=2),
    ExecSettings(fill="close", stop_loss=0.03, take_profit=0.05, trailing_stop=0.04),
    ExecSettings(sizing="risk", stop_loss=0.02, max_leverage=2.0, whole_units=True,
                 direction="short", max_bars=20, holding_cost=1e-4),
)  # fmt: skip
_CANDIDATES = {
    "sma_cross": [{"fast": f, "slow": s} for f in (3, 5, 9) for s in (12, 20, 31)],
    "rsi_reversion": [{}, {"period": 7}],
    "macd": [{}],
    "bollinger_reversion": [{}],
    "donchian_breakout": [{}],
}


def _results() -> dict[str, np.ndarray]:
    """`evaluate_many` (every metric, and a subset: its own kernel) and `backtest` on
    small data, and a sweep large enough for the many-candidates kernel's threads."""
    bars = synthetic_bars(400, seed=3)
    out: dict[str, np.ndarray] = {}
    for name, cands in _CANDIDATES.items():
        for i, settings in enumerate(_SETTINGS):
            full = evaluate_many(bars, name, cands, settings).metrics
            out[f"{name}/{i}/" + ",".join(full.columns)] = full.to_numpy()
            some = evaluate_many(bars, name, cands, settings, metrics=["sharpe", "trades"])
            out[f"{name}/{i}/sharpe,trades"] = some.metrics.to_numpy()
        one = backtest(bars, name, cands[0], _SETTINGS[1])
        out[f"{name}/equity"] = np.asarray(one.equity)
        out[f"{name}/trades"] = one.trades.select_dtypes("number").to_numpy(dtype=float)
        out[f"{name}/one/" + ",".join(one.metrics)] = np.array([list(one.metrics.values())])
    sweep = [{"fast": f, "slow": s} for f in range(2, 10) for s in range(14, 50, 6)]
    full = evaluate_many(synthetic_bars(1000, seed=4), "sma_cross", sweep).metrics
    out["sweep/" + ",".join(full.columns)] = full.to_numpy()
    return out


def _without_jit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # this stratopt (a relative PYTHONPATH would not hold in another folder) and tests/
    path = os.pathsep.join([str(Path(stratopt.__file__).resolve().parents[1]), str(ROOT)])
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=600, env=env, cwd=cwd
    )


def _assert_metrics_match(columns: list[str], want: np.ndarray, got: np.ndarray) -> None:
    assert want.shape == got.shape
    for j, metric in enumerate(columns):
        if metric in _REASSOCIATED:
            np.testing.assert_allclose(got[:, j], want[:, j], rtol=1e-11, atol=1e-15)
        else:
            np.testing.assert_array_equal(got[:, j], want[:, j], err_msg=metric)


def test_evaluate_many_and_backtest_without_the_jit_give_the_compiled_results(
    tmp_path: Path,
) -> None:
    saved = tmp_path / "no_jit.npz"
    code = (
        "import numpy as np, sys; from tests.test_disable_jit import _results; "
        "np.savez(sys.argv[1], **_results())"
    )
    proc = _without_jit("-c", code, str(saved))
    assert proc.returncode == 0, proc.stderr
    want = _results()
    with np.load(saved) as got:
        assert sorted(got.files) == sorted(want)
        for key, value in want.items():
            if key.endswith(("/equity", "/trades")):  # the simulation: no reduction
                np.testing.assert_array_equal(got[key], value, err_msg=key)
            else:
                _assert_metrics_match(key.rsplit("/", 1)[1].split(","), value, got[key])


def _small_study(tmp_path: Path) -> Path:
    text = SYNTHETIC.read_text()
    for old, new in (("bars: 5000", "bars: 600"), ("trials: 80", "trials: 6"),
                     ("output: ../runs", f"output: {tmp_path / 'runs'}")):  # fmt: skip
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "small.yaml"
    path.write_text(text)
    return path


def test_the_cli_backtests_and_optimizes_without_the_jit(tmp_path: Path) -> None:
    study = _small_study(tmp_path)
    proc = _without_jit("-m", "stratopt.cli", "backtest", str(study), "--json")
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    (compiled,) = backtest_study(load_study(study))
    names = list(compiled.metrics)
    got = np.array([[report["metrics"][m] for m in names]], dtype=float)
    _assert_metrics_match(names, np.array([list(compiled.metrics.values())]), got)
    proc = _without_jit("-m", "stratopt.cli", "optimize", str(study), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "trials: 6 complete" in proc.stdout
    assert len(list((tmp_path / "runs").glob("*/*/ranked_results.csv"))) == 1


@pytest.mark.parametrize("module", ["stratopt.engine", "stratopt.backtest", "stratopt.cli"])
def test_the_package_imports_without_the_jit(module: str) -> None:
    proc = _without_jit("-c", f"import {module}")
    assert proc.returncode == 0, proc.stderr
