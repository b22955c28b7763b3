"""IC, rank IC, ICIR and rank ICIR against a pandas restatement of Qlib's `calc_ic`."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from stratopt.ml import block_ic, per_date_ic, summarize


def qlib_calc_ic(pred: pd.Series, label: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Qlib's `qlib.contrib.eva.alpha.calc_ic`, restated: per-date Pearson and Spearman.

    Dates with fewer than 2 names or no variance are skipped (NaN): pandas alone returns
    a rounding residue (~1e-17) for a constant date whose mean is inexact.
    """
    df = pd.DataFrame({"pred": pred, "label": label}).dropna()

    def corr(d: pd.DataFrame, method: str) -> float:
        if len(d) < 2 or d["pred"].nunique() < 2 or d["label"].nunique() < 2:
            return np.nan
        return float(d["pred"].corr(d["label"], method=method))

    dates = pred.index.get_level_values("datetime").unique()
    groups = df.groupby(level="datetime")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ic = groups.apply(lambda d: corr(d, "pearson")).reindex(dates)
        ric = groups.apply(lambda d: corr(d, "spearman")).reindex(dates)
    return ic, ric


@pytest.fixture
def fixture_panel() -> tuple[np.ndarray, np.ndarray]:
    """30 dates x 12 names: ties, a constant-prediction date, dates with 0 and 1 names."""
    rng = np.random.default_rng(11)
    pred = np.round(rng.standard_normal((30, 12)), 1)  # rounding makes ties
    label = np.round(0.3 * pred + rng.standard_normal((30, 12)), 2)
    pred[4] = 0.7  # constant predictions: no IC on this date
    label[5, :] = 0.01  # constant labels
    pred[7, 1:] = np.nan  # one name left
    label[8] = np.nan  # no name
    pred[9, :5] = np.nan  # some names missing
    label[10, 3:7] = np.nan
    pred[11, :6] = 1.0  # ties of half the names
    pred[12, :] = -0.4  # constant predictions on a date with a missing name
    pred[12, 2] = np.nan
    label[13, :] = 0.07  # constant labels on a date with a missing name
    label[13, 5] = np.nan
    return pred, label


def test_ic_matches_qlib_definitions(fixture_panel: tuple[np.ndarray, np.ndarray]) -> None:
    pred, label = fixture_panel
    dates = pd.date_range("2020-01-01", periods=pred.shape[0])
    index = pd.MultiIndex.from_product([dates, range(pred.shape[1])], names=["datetime", "id"])
    ic_ref, ric_ref = qlib_calc_ic(pd.Series(pred.ravel(), index), pd.Series(label.ravel(), index))
    ic = per_date_ic(pred, label, rank=False)
    ric = per_date_ic(pred, label, rank=True)
    np.testing.assert_array_equal(np.isnan(ic), ic_ref.isna().to_numpy())
    np.testing.assert_array_equal(np.isnan(ric), ric_ref.isna().to_numpy())
    assert np.isnan(ic[[4, 5, 7, 8, 12, 13]]).all()  # constants, one name, no name
    np.testing.assert_allclose(ic, ic_ref.to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ric, ric_ref.to_numpy(), rtol=0, atol=1e-12)
    for ours, ref in ((summarize(ic), ic_ref.dropna()), (summarize(ric), ric_ref.dropna())):
        assert ours.n == len(ref)
        assert ours.mean == pytest.approx(ref.mean(), abs=1e-12)
        assert ours.std == pytest.approx(ref.std(), abs=1e-12)  # ddof 1, as pandas
        assert ours.ir == pytest.approx(ref.mean() / ref.std(), abs=1e-12)
        assert ours.se == pytest.approx(ref.std() / np.sqrt(len(ref)), abs=1e-12)


def test_rank_ic_uses_average_ranks_for_ties() -> None:
    pred = np.array([[1.0, 1.0, 2.0, 3.0]])
    label = np.array([[1.0, 2.0, 3.0, 4.0]])
    # ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4)
    expected = np.corrcoef([1.5, 1.5, 3, 4], [1, 2, 3, 4])[0, 1]
    assert per_date_ic(pred, label, rank=True)[0] == pytest.approx(expected, abs=1e-15)


def test_block_ic_pools_rows_of_each_block() -> None:
    rng = np.random.default_rng(2)
    pred = rng.standard_normal((100, 1))
    label = pred + rng.standard_normal((100, 1))
    ics = block_ic(pred, label, np.arange(100), block=40, rank=False)
    assert len(ics) == 3  # 40, 40, and 20 >= half a block stays alone
    assert ics[0] == pytest.approx(np.corrcoef(pred[:40, 0], label[:40, 0])[0, 1], abs=1e-12)
    assert len(block_ic(pred, label, np.arange(90), block=40, rank=False)) == 2  # 10 joins
