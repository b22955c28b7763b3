from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from stratopt.config import load_study
from stratopt.data import Bars
from stratopt.validation import check_lookahead, check_study_lookahead, truncation_points
from tests.strategies.test_builtin import SIGNAL_BUILTINS, SMALL_PARAMS

HERE = Path(__file__).resolve().parent
LEAKY = HERE / "leaky_strategy.py"
ROOT = HERE.parents[1]
SYNTHETIC = ROOT / "examples" / "sma_cross_synthetic.yaml"


def _bars(n: int = 800, seed: int = 3) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.012, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    time = (np.datetime64("2021-01-01") + np.arange(n)).astype("datetime64[ns]")
    return Bars(time, open_, high, low, close, np.ones(n), symbol="RND")


def test_truncation_points_are_spread_over_the_last_90_percent() -> None:
    assert truncation_points(100, 5) == [10, 32, 54, 77, 99]
    assert truncation_points(100, 1) == [10]
    assert truncation_points(10, 20) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert truncation_points(2, 5) == []


@pytest.mark.parametrize("name", SIGNAL_BUILTINS)
@pytest.mark.parametrize("bounded", [False, True])
def test_builtins_pass(name: str, bounded: bool) -> None:
    sets = [{**SMALL_PARAMS[name], "mode": m} for m in ("reversal", "long_only")]
    kw: dict[str, Any] = {"lookback": 300, "horizon": 40} if bounded else {}
    report = check_lookahead(name, _bars(), sets, points=12, **kw)
    assert report.errors == []
    assert report.parameter_sets == 2 and report.points == 12
    assert report.clean, report.leaks[:3]


@pytest.mark.parametrize("bounded", [False, True])
def test_the_hedge_grid_regime_passes(bounded: bool) -> None:
    # a grid strategy's decisions are its active sides per bar
    sets = [{"ema_fast": 5, "ema_slow": 20, "adx_len": 7, "atr_len": 7}, {"mode": "long"}]
    kw: dict[str, Any] = {"lookback": 300, "horizon": 40} if bounded else {}
    report = check_lookahead("hedge_grid", _bars(), sets, points=12, **kw)
    assert report.errors == [] and report.parameter_sets == 2
    assert report.clean, report.leaks[:3]


def test_honest_numpy_strategy_passes() -> None:
    report = check_lookahead(f"{LEAKY}:TrailingMomentum", _bars(), [{"window": 7}], points=15)
    assert report.clean and report.parameter_sets == 1


def test_shifted_close_is_caught_at_the_bar_before_each_cut() -> None:
    bars = _bars()
    report = check_lookahead(f"{LEAKY}:PeekNextClose", bars, [{"window": 3}], points=6)
    cuts = truncation_points(len(bars), 6)
    assert report.n_leaks == len(cuts) == 6 and not report.clean
    for leak, cut in zip(report.leaks, cuts, strict=True):
        assert (leak.cut, leak.bar, leak.changed) == (cut, cut - 1, 1)
        assert leak.bar_time == str(bars.index[cut - 1]) and leak.cut_time == str(bars.index[cut])
        assert leak.truncated == 0
        assert leak.full == (1 if bars.close[cut] > bars.close[cut - 1] else -1)
        assert leak.params == {"window": 3} and leak.symbol == "RND"


def test_bounded_check_catches_the_shift_and_whole_series_statistics() -> None:
    bars = _bars()
    peek = check_lookahead(f"{LEAKY}:PeekNextClose", bars, [{}], points=4, lookback=100, horizon=10)
    assert [leak.bar for leak in peek.leaks] == [c - 1 for c in truncation_points(len(bars), 4)]
    zscore = check_lookahead(f"{LEAKY}:WholeSeriesZScore", bars, [{"level": 1}], points=4)
    assert zscore.n_leaks >= 3
    assert all(leak.bar < leak.cut for leak in zscore.leaks)


def test_bad_parameter_sets_are_skipped_not_fatal() -> None:
    report = check_lookahead("sma_cross", _bars(), [{"fast": 30, "slow": 10}, {}], points=3)
    assert report.parameter_sets == 1 and report.clean
    assert "'fast' (30) must be < 'slow' (10)" in report.errors[0]["error"]


def _leaky_study(tmp_path: Path, strategy: str = "PeekNextClose") -> Path:
    cfg = {
        "name": "leaky",
        "data": {"synthetic": {"bars": 400, "seed": 1}},
        "strategy": f"{LEAKY}:{strategy}",
        "params": {"window": 4},
        "space": {"window": {"low": 1, "high": 30}},
        "search": {"method": "random", "trials": 4, "seed": 0},
        "objective": "sharpe",
        "output": str(tmp_path / "runs"),
    }
    path = tmp_path / "leaky.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_study_check_samples_the_space_deterministically(tmp_path: Path) -> None:
    study = load_study(_leaky_study(tmp_path))
    a = check_study_lookahead(study, samples=5, seed=3, points=3)
    b = check_study_lookahead(study, samples=5, seed=3, points=3)
    assert a.to_dict() == b.to_dict()
    assert a.parameter_sets == 6  # the fixed params and 5 distinct samples
    windows = sorted({leak.params["window"] for leak in a.leaks})
    assert len(windows) == 6 and 4 in windows
    assert a.n_leaks == 6 * 3


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stratopt.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_cli_exit_codes(tmp_path: Path) -> None:
    clean = _cli("check-lookahead", SYNTHETIC, "--points", "4", "--samples", "2")
    assert clean.returncode == 0, clean.stderr
    assert "look-ahead check: clean (3 parameter set(s) x 1 series x 4 truncation points)" in (
        clean.stdout
    )
    leaky = _cli("check-lookahead", _leaky_study(tmp_path), "--points", "3", "--samples", "1")
    assert leaky.returncode == 1, leaky.stderr
    assert "look-ahead check: 6 leak(s) in 2 parameter set(s)" in leaky.stdout
    bad = _cli("check-lookahead", SYNTHETIC, "--set", "strategy=sma_crosss")
    assert bad.returncode == 2 and "did you mean 'sma_cross'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_optimize_records_the_leak_and_warns(tmp_path: Path) -> None:
    study = _leaky_study(tmp_path)
    proc = _cli("optimize", study)
    assert proc.returncode == 0, proc.stderr
    assert "warning:" in proc.stderr and "look-ahead" in proc.stderr
    assert "stability of the best (sharpe):" in proc.stdout
    shown = _cli("show", study)
    assert shown.returncode == 0, shown.stderr
    assert "stability of the best (sharpe):" in shown.stdout and "look-ahead" in shown.stderr
    (summary_path,) = (tmp_path / "runs" / "leaky").glob("*/summary.json")
    look = json.loads(summary_path.read_text())["lookahead"]
    assert look["clean"] is False and look["parameter_sets"] == 3
    assert look["leaks"] == 3 * 5
    assert all(d["bar"] == d["cut"] - 1 for d in look["details"])


def test_nothing_checked_is_not_clean() -> None:
    # Two bars leave no truncation point: the strategy ran, nothing was compared.
    report = check_lookahead("sma_cross", _bars(2), [{}], points=5)
    assert report.parameter_sets == 1 and report.points == 0
    assert report.clean is None and "too short" in str(report.not_checked)
    assert report.to_dict()["clean"] is None


RAISES = """
from stratopt.strategies import Strategy


class Raises(Strategy):
    name = "raises"

    def signals(self, bars, p, cache):
        raise RuntimeError("boom")
"""


def test_cli_says_not_checked_and_exits_1_when_no_candidate_could_be_checked(
    tmp_path: Path,
) -> None:
    (tmp_path / "raises.py").write_text(RAISES)
    cfg = {
        "name": "raises",
        "data": {"synthetic": {"bars": 300, "seed": 1}},
        "strategy": "raises.py:Raises",
        "output": str(tmp_path / "runs"),
    }
    path = tmp_path / "raises.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = _cli("check-lookahead", path, "--points", "3", "--samples", "0")
    assert proc.returncode == 1, proc.stderr
    assert "look-ahead check: not checked: no parameter set could be checked" in proc.stderr
    assert "RuntimeError: boom" in proc.stderr
    assert "clean" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
