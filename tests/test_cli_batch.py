"""`stratopt batch` and `stratopt analyze` from the command line: the acceptance checks
of issue #9 (24 rows equal to `stratopt backtest` of each cell; every analyze section and
analysis.json on the demo study's best trial; bad input exits 2 with one line)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from stratopt.cli import main
from stratopt.metrics import METRIC_IDS

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT / "examples" / "sma_cross_synthetic.yaml"
SETS = [
    {"fast": 5, "slow": 20},
    {"fast": 10, "slow": 40},
    {"fast": 20, "slow": 80, "backtest.stop_loss": 0.05},
    {"fast": 30, "slow": 90, "mode": "long_only"},
]


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("batch")
    (folder / "sets.yaml").write_text(json.dumps(SETS))
    path = folder / "study.yaml"
    path.write_text(
        "name: cells\ndata: {path: unused.csv}\nstrategy: sma_cross\nparams: {mode: reversal}\n"
        "backtest: {commission: 0.001, slippage_bps: 2, stop_loss: 0.1}\noutput: runs\n"
    )
    return path


def test_batch_rows_equal_backtest_of_each_cell(
    study: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [shared_data / f for f in ("GOOG_1d.csv.gz", "SPY_1h.csv.gz", "EURUSD_1h.csv.gz")]
    symbols = ",".join(map(str, files))
    code, out, err = cli(capsys, "batch", study, "--symbols", symbols, "--timeframes", "1d,1w",
                         "--params", study.parent / "sets.yaml")  # fmt: skip
    assert code == 0, err
    assert "Kendall's W" in out and "24 cells by parameter set" in out
    folder = Path(out.split("run folder: ")[1].split()[0])
    frame = pd.read_csv(folder / "batch.csv")
    assert len(frame) == 24 and frame["error"].isna().all()
    assert {"matrix_sharpe.csv", "summary.json"} <= {p.name for p in folder.iterdir()}
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["cells"] == 24 and len(summary["sets"]) == 4
    assert {"median", "worst", "fraction_profitable"} <= set(summary["sets"][0])
    for _, row in frame.iterrows():
        source = next(f for f in files if f.name.startswith(row["symbol"]))
        sets = [
            f"params.{k}={v}" if "." not in k else f"{k}={v}" for k, v in SETS[row["set"]].items()
        ]
        args = ["--set", f"data.path={source}", "--set", f"data.timeframe={row['timeframe']}"]
        for s in sets:
            args += ["--set", s]
        code, out, err = cli(capsys, "backtest", study, "--json", *args)
        assert code == 0, err
        single = json.loads(out)["metrics"]
        for m in METRIC_IDS:
            want = single[m]
            if want is None:  # JSON writes inf / nan as null
                assert not math.isfinite(row[m]), m
            else:
                assert row[m] == pytest.approx(want, rel=1e-12, abs=1e-15), (row["symbol"], m)
    # a batch row analyzed
    code, out, err = cli(capsys, "analyze", folder, "--rows", "0,5", "--sections", "correlation")
    assert code == 0, err
    assert "effective number of independent candidates" in out


def test_analyze_the_demo_studys_best_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "optimize", SYNTHETIC, "--trials", "16", "--output", tmp_path,
                         "--no-analysis")  # fmt: skip
    assert code == 0, err
    run = Path(out.split("run folder: ")[-1].split()[0])
    code, out, err = cli(capsys, "analyze", run)
    assert code == 0, err
    for title in ("summary", "trades", "top drawdowns", "per-bar returns", "monthly returns",
                  "Monte Carlo, trade shuffle", "Monte Carlo, bootstrap", "by calendar year",
                  "annualized with 365 bars per year (inferred from the bars"):  # fmt: skip
        assert title in out, title
    report = json.loads((run / "analysis.json").read_text())
    (cand,) = report["candidates"]
    best = pd.read_csv(run / "ranked_results.csv").iloc[0]
    assert cand["label"] == f"trial {best['trial']}"
    assert cand["summary"]["sharpe"] == pytest.approx(best["metrics.sharpe"], rel=1e-12)
    assert {"trades", "drawdowns", "distribution", "monte_carlo", "breakdown"} <= set(cand)
    code, out, err = cli(capsys, "analyze", run, "--trials", "0,1,2", "--json", "--sims", "50")
    assert code == 0, err
    assert len(json.loads(out)["correlation"]["cluster_order"]) == 3


def test_batch_from_a_stored_studys_top_and_robust_candidates(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "optimize", SYNTHETIC, "--trials", "12", "--output", tmp_path)
    assert code == 0, err
    run = next(tmp_path.glob("sma_cross_synthetic/2*"))
    storage = f"sqlite:///{tmp_path / 'stratopt.db'}"
    common = ["--storage", storage, "--symbols", shared_data / "GOOG_1d.csv.gz",
              "--output", tmp_path, "--top", "3"]  # fmt: skip
    code, out, err = cli(capsys, "batch", SYNTHETIC, "--from-study", SYNTHETIC, *common)
    assert code == 0, err
    folder = Path(out.split("run folder: ")[1].split()[0])
    frame = pd.read_csv(folder / "batch.csv")
    ranked = pd.read_csv(run / "ranked_results.csv")
    top = ranked[ranked["state"] == "complete"].head(3)
    assert list(frame["params.fast"]) == list(top["params.fast"])
    assert list(frame["params.backtest.stop_loss"]) == list(top["params.backtest.stop_loss"])
    # the robust candidates: the optimize run's region, best neighbourhood mean first
    # (docs/validation.md, "Robust candidate"; sharpe is maximized), ties by rank
    region = json.loads((run / "summary.json").read_text())["robustness"]["region"]
    robust = sorted(region, key=lambda c: (-c["smoothed"], c["rank"]))[:3]
    assert [c["trial"] for c in robust] != list(top["trial"])  # the test tells them apart
    code, out, err = cli(capsys, "batch", SYNTHETIC, "--from-study", SYNTHETIC, "--robust",
                         *common)  # fmt: skip
    assert code == 0, err
    assert "the robust candidates of study sma_cross_synthetic" in out
    folder = Path(out.split("run folder: ")[1].split()[0])
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["param_source"]["kind"] == "robust"
    assert summary["param_source"]["trials"] == [c["trial"] for c in robust]
    frame = pd.read_csv(folder / "batch.csv")
    assert [json.loads(p) for p in frame["params"]] == [c["params"] for c in robust]


GOOG = ["--symbols", "{data}/GOOG_1d.csv.gz"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["analyze", "{study}", "--sections", "trades,drawdown"],
         "unknown section 'drawdown'; did you mean 'drawdowns'?"),
        (["analyze", "{tmp}/no_such_run"], "no_such_run does not exist"),
        (["batch", "{study}", *GOOG, "--timeframes", "1h", "--params", "{sets}"],
         "'1h' is finer than the 1d bars"),
        (["batch", "{study}", "--symbols", "{tmp}/NONE_*.csv", "--params", "{sets}"],
         "matches no file"),
        (["batch", "{study}", *GOOG, "--params", "{tmp}/none.yaml"], "--params: cannot read"),
        (["batch", "{study}", *GOOG, "--grid", "fast=5,10", "--cluster", "yarn://x"],
         "--cluster: 'yarn://x' is not"),
        (["batch", "{study}", *GOOG, "--grid", "fast=5,10", "--robust"],
         "--robust: applies to --from-study STUDY"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(
    args: list[str], fragment: str, study: Path, shared_data: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    names = {
        "study": study,
        "data": shared_data,
        "tmp": tmp_path,
        "sets": study.parent / "sets.yaml",
    }
    code, _, err = cli(capsys, *(a.format(**names) for a in args))
    assert code == 2
    assert fragment in err and len(err.strip().splitlines()) == 1, err
