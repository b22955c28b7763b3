"""synthetic_bars and PlantedEdge: determinism, validity, speed, and a real planted edge."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
import pytest

from stratopt.data import Bars, PlantedEdge, synthetic_bars, validate_frame
from stratopt.errors import ConfigError

COLUMNS = ("time", "open", "high", "low", "close", "volume")


def _sma(x: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    out = np.full(x.shape[0], np.nan)
    csum = np.concatenate(([0.0], np.cumsum(x)))
    out[window - 1 :] = (csum[window:] - csum[:-window]) / window
    return out


def sma_cross_returns(bars: Bars, fast: int, slow: int) -> npt.NDArray[np.float64]:
    """Per-bar log returns of a long/short SMA crossover decided at each close."""
    signal = _sma(bars.close, fast) - _sma(bars.close, slow)
    position = np.sign(signal[slow - 1 : -1])
    return np.asarray(position * np.diff(np.log(bars.close))[slow - 1 :])


def test_same_seed_same_bits() -> None:
    edge = PlantedEdge(period=50)
    a = synthetic_bars(2_000, seed=3, regimes=[(100, 0.001, 0.02), (50, -0.001, 0.01)], edge=edge)
    b = synthetic_bars(2_000, seed=3, regimes=[(100, 0.001, 0.02), (50, -0.001, 0.01)], edge=edge)
    for name in COLUMNS:
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
    c = synthetic_bars(2_000, seed=4)
    assert not np.array_equal(a.close, c.close)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"volatility": 0.05},
        {"volatility": 0.0},
        {"regimes": [(30, 0.002, 0.03), (70, -0.001, 0.005), (10, 0.0, 0.0)]},
        {"edge": PlantedEdge(period=40, strength=3.0), "start_price": 0.001},
    ],
)
def test_always_valid(kwargs: dict[str, object]) -> None:
    bars = synthetic_bars(3_000, seed=11, **kwargs)  # type: ignore[arg-type]
    validate_frame(bars.to_frame(), "synthetic")
    assert np.all(bars.high >= np.maximum(bars.open, bars.close))
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))
    assert np.all(bars.low > 0) and np.all(bars.volume > 0)
    for name in COLUMNS[1:]:
        arr = getattr(bars, name)
        assert arr.dtype == np.float64 and arr.flags.c_contiguous and arr.shape == (3_000,)


def test_open_near_previous_close() -> None:
    bars = synthetic_bars(5_000, seed=1, volatility=0.01)
    gaps = np.log(bars.open[1:] / bars.close[:-1])
    assert np.std(gaps) == pytest.approx(0.001, rel=0.1)


def test_time_axis_and_metadata() -> None:
    bars = synthetic_bars(10, seed=0, interval="4h", start="2021-06-01T08:00:00+02:00")
    assert str(bars.index[0]) == "2021-06-01 06:00:00"
    assert str(bars.index[-1]) == "2021-06-02 18:00:00"
    assert bars.symbol == "SYN" and bars.source.startswith("synthetic(")
    assert synthetic_bars(100, seed=0).periods_per_year == 365.0
    assert synthetic_bars(100, seed=0, periods_per_year=252).periods_per_year == 252.0
    assert synthetic_bars(100, seed=0, interval="1m").periods_per_year == 525_600.0


def test_regimes_cycle() -> None:
    regimes = [(200, 0.002, 0.001), (100, -0.001, 0.02)]
    bars = synthetic_bars(3_000, seed=5, regimes=regimes)
    steps = np.diff(np.log(np.concatenate(([100.0], bars.close))))
    phase = np.arange(3_000) % 300
    calm, wild = steps[phase < 200], steps[phase >= 200]
    assert np.mean(calm) == pytest.approx(0.002, abs=0.0002)
    assert np.std(calm) == pytest.approx(0.001, rel=0.1)
    assert np.std(wild) == pytest.approx(0.02, rel=0.1)


def test_million_minute_bars_fast() -> None:
    started = time.perf_counter()
    bars = synthetic_bars(1_000_000, seed=0, interval="1m", edge=PlantedEdge(period=1_000))
    elapsed = time.perf_counter() - started
    assert len(bars) == 1_000_000
    assert elapsed < 2.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 1},
        {"start_price": 0.0},
        {"volatility": -0.1},
        {"interval": "1M"},
        {"regimes": []},
        {"regimes": [(0, 0.0, 0.01)]},
        {"regimes": [(10, 0.0, -0.01)]},
        {"regimes": [(10, 50.0, 0.01)]},
        {"n": 200_000, "interval": "1D"},
    ],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"n": 100, "seed": 0, **kwargs}
    with pytest.raises(ConfigError):
        synthetic_bars(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"kind": "meanrev"}, {"period": 3}, {"period": 10.5}, {"strength": 0.0}]
)
def test_bad_edges(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        PlantedEdge(**kwargs)  # type: ignore[arg-type]


def test_known_best_windows() -> None:
    edge = PlantedEdge(period=120, strength=0.5)
    assert (edge.best_fast, edge.best_slow) == (2, 28)
    assert edge.best_score == pytest.approx(0.103, abs=0.002)
    assert edge.best_sma_windows(range(5, 50, 5), [20, 40, 60, 100]) == (5, 20)
    assert PlantedEdge(period=120, strength=1.0).best_sma_windows() == (2, 21)
    with pytest.raises(ConfigError):
        edge.sma_cross_score(10, 10)


def test_planted_edge_is_real_and_matches_its_formula() -> None:
    edge = PlantedEdge(period=120, strength=0.5)
    fast, slow = edge.best_fast, edge.best_slow
    with_edge = synthetic_bars(200_000, seed=21, interval="1h", edge=edge)
    control = synthetic_bars(200_000, seed=21, interval="1h")

    returns = sma_cross_returns(with_edge, fast, slow)
    t_stat = returns.mean() / returns.std() * np.sqrt(returns.shape[0])
    assert t_stat > 20
    assert returns.mean() / 0.01 == pytest.approx(edge.best_score, rel=0.1)

    random_walk = sma_cross_returns(control, fast, slow)
    assert abs(random_walk.mean() / random_walk.std() * np.sqrt(random_walk.shape[0])) < 4

    far = sma_cross_returns(with_edge, 40, 120)
    assert far.mean() / 0.01 == pytest.approx(edge.sma_cross_score(40, 120), abs=0.01)
    assert far.mean() < 0.5 * returns.mean()


def test_edge_clear_in_a_short_daily_sample() -> None:
    edge = PlantedEdge(period=60, strength=1.0)
    bars = synthetic_bars(2_500, seed=8, edge=edge)
    returns = sma_cross_returns(bars, edge.best_fast, edge.best_slow)
    control = sma_cross_returns(synthetic_bars(2_500, seed=8), edge.best_fast, edge.best_slow)
    assert returns.sum() > control.sum() + 1.0


def test_brute_force_search_lands_on_the_plateau() -> None:
    """How to test an optimizer against the edge: compare scores, not exact windows."""
    edge = PlantedEdge(period=120, strength=0.5)
    fasts, slows = [2, 5, 10, 20, 40], [10, 20, 40, 80, 120]
    bars = synthetic_bars(100_000, seed=2, interval="1h", edge=edge)
    found = max(
        ((f, s) for f in fasts for s in slows if f < s),
        key=lambda pair: sma_cross_returns(bars, *pair).mean(),
    )
    best = edge.best_sma_windows(fasts, slows)
    assert edge.sma_cross_score(*found) >= 0.9 * edge.sma_cross_score(*best)
