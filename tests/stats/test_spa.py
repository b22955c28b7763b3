"""Hansen's SPA: the studentized statistic, checked against a plain restatement of the paper."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import lfilter

from stratopt.stats import (
    BootstrapMethod,
    automatic_block_size,
    bootstrap_indices,
    long_run_variance,
    spa_label,
    spa_name,
    superior_predictive_ability,
)


def hansen_reference(
    d: np.ndarray, idx: np.ndarray, block_size: float, studentize: bool
) -> tuple[float, float, float]:
    """Hansen (2005) written out from the paper, one resample and one lag at a time."""
    n, k = d.shape
    dbar = d.mean(axis=0)
    x = d - dbar
    q = 1.0 / block_size
    omega2 = (x * x).sum(axis=0) / n
    for i in range(1, n):
        kappa = (n - i) / n * (1 - q) ** i + i / n * (1 - q) ** (n - i)
        omega2 = omega2 + 2 * kappa * (x[: n - i] * x[i:]).sum(axis=0) / n
    w = np.sqrt(omega2) if studentize else np.ones(k)
    t_spa = max(0.0, max(math.sqrt(n) * dbar[j] / w[j] for j in range(k)))
    bound = np.sqrt(omega2 / n * 2 * math.log(math.log(n)))
    recentred = [
        np.array([max(m, 0.0) for m in dbar]),
        np.array([m if m >= -b else 0.0 for m, b in zip(dbar, bound, strict=True)]),
        dbar,
    ]
    pvalues = []
    for g in recentred:
        hits = 0
        for row in idx:
            star = d[row].mean(axis=0)
            t_star = max(0.0, max(math.sqrt(n) * (star[j] - g[j]) / w[j] for j in range(k)))
            hits += t_star > t_spa
        pvalues.append(hits / idx.shape[0])
    return pvalues[0], pvalues[1], pvalues[2]


def heteroskedastic(seed: int) -> np.ndarray:
    """20 strategies, daily volatility 0.2 % to 3 % over 750 days; the calmest earns
    exactly 0.03 % a day at exactly 0.2 % volatility (a t-statistic of 4.1)."""
    rng = np.random.default_rng(seed)
    vols = np.linspace(0.002, 0.03, 20)
    r = rng.normal(0.0, 1.0, size=(750, 20)) * vols
    z = r[:, 0] - r[:, 0].mean()
    r[:, 0] = 0.0003 + 0.002 * z / z.std()
    return r


CASES: dict[str, tuple[np.ndarray, BootstrapMethod, int | None]] = {
    "heteroskedastic": (heteroskedastic(4251), "stationary", None),
    "noise_long_blocks": (
        np.random.default_rng(4251).normal(0.0, 0.01, size=(500, 21)),
        "stationary",
        22,
    ),
    "edge_and_losers": (
        np.random.default_rng(7).normal([0.001] + [-0.0005] * 9, 0.01, size=(300, 10)),
        "stationary",
        None,
    ),
    "mixed_circular": (
        np.random.default_rng(11).normal(0.0002, [0.005, 0.02, 0.01], (200, 3)),
        "circular",
        5,
    ),
    "ar1_moving_block": (
        lfilter(
            [1.0],
            [1.0, -0.6],
            np.random.default_rng(12).normal(0.0003, 0.01, size=(400, 6)),
            axis=0,
        ),
        "moving block",
        None,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("studentize", [True, False])
def test_pvalues_equal_a_plain_restatement_of_hansen(name: str, studentize: bool) -> None:
    r, method, given = CASES[name]
    n, reps, seed = r.shape[0], 400, 12345
    res = superior_predictive_ability(
        r, reps=reps, seed=seed, studentize=studentize, bootstrap=method, block_size=given
    )
    block = res.block_size
    assert given is None or block == given
    idx = bootstrap_indices(n, reps, block_size=block, method=method,
                            rng=np.random.default_rng(seed))  # fmt: skip
    ref = hansen_reference(r, idx, block, studentize)
    got = (res.pvalue_lower, res.pvalue_consistent, res.pvalue_upper)
    assert got == pytest.approx(ref, abs=1e-12)
    assert res.test == spa_label(studentize)


def test_the_restated_cases_include_one_where_studentizing_matters() -> None:
    r = CASES["heteroskedastic"][0]
    p = [
        superior_predictive_ability(r, reps=400, seed=12345, studentize=s).pvalue_consistent
        for s in (True, False)
    ]
    assert p[1] - p[0] > 0.3


def test_studentizing_changes_the_answer_where_volatilities_differ() -> None:
    studentized, raw = [], []
    for seed in range(10):
        r = heteroskedastic(4251 + seed)
        studentized.append(superior_predictive_ability(r, reps=2000, seed=seed))
        raw.append(superior_predictive_ability(r, reps=2000, seed=seed, studentize=False))
    # The calm trial's edge is plain to Hansen's statistic in every history ...
    assert max(s.pvalue_consistent for s in studentized) < 0.01
    # ... while the raw maximum belongs to the noisiest trials, whose luck varies.
    raw_p = [s.pvalue_consistent for s in raw]
    assert float(np.median(raw_p)) > 0.3 and float(np.mean(raw_p)) > 0.3
    assert studentized[0].test == "SPA (studentized, Hansen 2005)"
    assert "not studentized" in raw[0].test


def test_pure_noise_gives_roughly_uniform_pvalues() -> None:
    pvalues = []
    for seed in range(20):
        r = np.random.default_rng(1000 + seed).normal(0.0, 0.01, size=(500, 20))
        pvalues.append(superior_predictive_ability(r, reps=500, seed=seed).pvalue_consistent)
    assert 0.35 <= float(np.mean(pvalues)) <= 0.65


def test_long_run_variance_is_the_stationary_bootstrap_kernel() -> None:
    d = np.random.default_rng(3).normal(size=(257, 4)).cumsum(axis=0) * 0.01
    n, q = d.shape[0], 1 / 16
    x = d - d.mean(axis=0)
    want = (x * x).sum(axis=0) / n
    for i in range(1, n):
        kappa = (n - i) / n * (1 - q) ** i + i / n * (1 - q) ** (n - i)
        want = want + 2 * kappa * (x[: n - i] * x[i:]).sum(axis=0) / n
    np.testing.assert_allclose(long_run_variance(d, 16), want, rtol=1e-12)
    # Block length 1 is the iid bootstrap: the plain (biased) variance.
    np.testing.assert_allclose(long_run_variance(d, 1), x.var(axis=0), rtol=1e-12)


def test_the_default_block_follows_the_dependence() -> None:
    e = np.random.default_rng(2).normal(size=(1000, 8))
    assert automatic_block_size(e) <= 2
    assert automatic_block_size(lfilter([1.0], [1.0, -0.8], e, axis=0)) >= 8
    # Mostly-flat trials (a trade now and then) have undefined estimates: no crash.
    sparse = np.zeros((60, 2))
    sparse[5, 0], sparse[7, 1] = 0.01, -0.01
    assert automatic_block_size(sparse) >= 1


def test_noise_is_not_superior_and_an_edge_is() -> None:
    rng = np.random.default_rng(5)
    r = rng.normal(0.0, 0.01, size=(500, 50))
    noise = superior_predictive_ability(r, reps=300, seed=1)
    assert noise.studentized
    assert noise.pvalue_consistent > 0.05
    assert noise.pvalue_lower <= noise.pvalue_consistent <= noise.pvalue_upper
    r[:, 3] += 0.003
    edge = superior_predictive_ability(r, reps=300, seed=1)
    assert edge.pvalue_consistent < 0.01
    assert edge.best == 3


def test_flat_trials_are_left_out() -> None:
    r = np.random.default_rng(8).normal(0.0, 0.01, size=(200, 5))
    with_flat = np.column_stack([r, np.zeros((200, 3))])
    a = superior_predictive_ability(r, reps=200, seed=2)
    b = superior_predictive_ability(with_flat, reps=200, seed=2)
    assert (b.pvalue_lower, b.pvalue_consistent, b.pvalue_upper) == (
        a.pvalue_lower, a.pvalue_consistent, a.pvalue_upper,
    )  # fmt: skip
    assert (b.n_constant, b.n_strategies) == (3, 8)
    with pytest.raises(ValueError, match="varies"):
        superior_predictive_ability(np.zeros((50, 3)))


def test_same_seed_same_pvalues() -> None:
    r = np.random.default_rng(6).normal(0.0002, 0.01, size=(300, 20))
    a = superior_predictive_ability(r, reps=200, seed=9)
    b = superior_predictive_ability(r, reps=200, seed=9)
    assert a == b
    assert a.block_rule.startswith("Politis-White")
    given = superior_predictive_ability(r, reps=200, seed=9, block_size=17)
    assert (given.block_size, given.block_rule) == (17, "given")
    raw = superior_predictive_ability(r, reps=200, seed=9, studentize=False)
    assert not raw.studentized


def test_a_stored_section_is_named_by_what_it_holds() -> None:
    r = np.random.default_rng(6).normal(0.0002, 0.01, size=(100, 3))
    assert spa_name(superior_predictive_ability(r, reps=100).to_dict()) == (
        "SPA (studentized, Hansen 2005)"
    )
    # Written by arch before 0.2: flagged studentized, but it was not.
    assert "not studentized" in spa_name({"studentized": True, "pvalue_consistent": 0.3})


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="T >= 10"):
        superior_predictive_ability(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="benchmark"):
        superior_predictive_ability(np.zeros((50, 3)), benchmark=np.zeros(10))
