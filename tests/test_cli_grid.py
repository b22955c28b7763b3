"""Grid studies through the command line: outputs, path bands, bad settings."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from stratopt.cli import main
from tests.test_cli import _run

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT / "examples" / "hedge_grid_synthetic.yaml"
BTCPERP = ROOT / "examples" / "hedge_grid_btcperp.yaml"


def test_backtest_json_has_the_grid_keys(tmp_path: Path) -> None:
    eq, tr = tmp_path / "eq.csv", tmp_path / "trades.csv"
    proc = _run("backtest", SYNTHETIC, "--json", "--equity", eq, "--trades", tr)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for key in ("round_trips", "grid_profit", "inventory_pnl", "funding", "path_band"):
        assert key in report, key
    band = report["path_band"]
    nets = [band["by_path"][m]["net_pnl"] for m in ("ohlc", "olhc", "adaptive")]
    assert band["net_pnl"] == pytest.approx(max(nets) - min(nets))
    total = report["grid_profit"] + report["inventory_pnl"] + report["funding"]
    assert total == pytest.approx(report["final_equity"] - 10_000, abs=1e-6)
    assert report["n_trades"] == report["metrics"]["trades"] == len(pd.read_csv(tr))
    assert report["round_trips"] > 0 and report["funding"] != 0.0
    assert pd.read_csv(eq)["equity"].iloc[-1] == pytest.approx(report["final_equity"])


def test_backtest_table_flags_the_fill_model_risk() -> None:
    proc = _run("backtest", SYNTHETIC)
    assert proc.returncode == 0, proc.stderr
    assert "round trips" in proc.stdout and "path band" in proc.stdout
    assert "fill model risk: high" in proc.stdout  # this candidate's band is 100 % of its P&L


BOTH = ("backtest", "optimize")


@pytest.mark.parametrize(
    ("args", "fragments", "commands"),
    [
        # the fixed parameters `backtest` runs (optimize searches these four)
        (["--set", "params.grid_step_bps=-5"], ["grid_step_bps", "-5"], ("backtest",)),
        (["--set", "params.grid_levels_long=0"], ["grid_levels_long", "0"], ("backtest",)),
        (
            ["--set", "params.tp_steps=7", "--set", "params.sl_steps=2"],
            ["tp_steps=7", "sl_steps=2", "tp_steps < 3 * sl_steps"],
            ("backtest",),
        ),
        # the grid section and the data behind it
        (["--set", "grid.detail=1D"], ["grid.detail", "coarser"], BOTH),
        (["--set", "grid.detail=7m"], ["grid.detail", "do not divide"], BOTH),
        (["--set", "grid.path=zigzag"], ["grid.path", "zigzag"], BOTH),
        (["--set", "grid.position_mode=oneway"], ["grid.position_mode", "oneway"], BOTH),
        (["--set", "grid.funding={rate: 0.0001}"], ["grid.funding.interval"], BOTH),
        (["--set", "grid.funding.file=nope.csv"], ["grid.funding.file", "not both"], BOTH),
        (["--set", "grid.funding={file: nope.csv}"], ["nope.csv", "not found"], BOTH),
        (["--set", "backtest.stop_loss=0.05"], ["backtest.stop_loss", "grid"], BOTH),
        (["--set", "grid.max_lots=0"], ["grid.max_lots"], BOTH),
    ],
)
def test_bad_grid_settings_exit_2_naming_the_field(
    args: list[str],
    fragments: list[str],
    commands: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in commands:
        extra = ["--trials", "1", "--no-analysis", "--storage", "memory"]
        with pytest.raises(SystemExit) as exc:
            main([command, str(SYNTHETIC), *args, *(extra if command == "optimize" else [])])
        err = " ".join(capsys.readouterr().err.split())
        assert exc.value.code == 2, (command, err)
        assert err.count("error:") == 1, err
        for fragment in fragments:
            assert fragment in err, (command, fragment, err)


def test_without_detail_a_fine_step_is_warned_about(tmp_path: Path) -> None:
    eq = tmp_path / "eq.csv"
    proc = _run("backtest", SYNTHETIC, "--set", "grid.path=ohlc", "--set", "grid.detail=null",
                "--set", "params.grid_step_bps=5", "--equity", eq)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "warning: SYN: grid_step_bps 5 is below half the median bar range" in " ".join(
        proc.stderr.split()
    )
    assert "(grid, ohlc" not in proc.stdout and "grid (ohlc, hedge)" in proc.stdout
    frame = pd.read_csv(eq)
    assert list(frame.columns) == [
        "timestamp", "equity", "net_exposure", "gross_exposure", "open_lots",
    ]  # fmt: skip
    quiet = _run("backtest", SYNTHETIC)  # walked along the minutes: no warning
    assert "warning" not in quiet.stderr


def test_a_bad_setting_prints_no_traceback() -> None:
    proc = _run("backtest", SYNTHETIC, "--set", "grid.detail=1D")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "grid.detail" in proc.stderr


def test_optimize_prints_the_path_band_of_the_top(tmp_path: Path) -> None:
    # on the hourly bars alone: the space's smallest step draws the warning
    proc = _run("optimize", SYNTHETIC, "--trials", "12", "--no-analysis",
                "--output", tmp_path, "--storage", "memory",
                "--set", "grid.path=ohlc", "--set", "grid.detail=null")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "grid_step_bps 15 is below half the median bar range" in " ".join(proc.stderr.split())
    assert "path band of the best 10" in proc.stdout
    folder = Path(proc.stdout.split("run folder:")[1].split()[0])
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["fill_model_risk"] in ("high", "normal")
    best = summary["best"]["metrics"]
    assert summary["path_band"]["net_pnl"] == best["path_band_net_pnl"]
    ranked = pd.read_csv(folder / "ranked_results.csv")
    assert ranked["metrics.path_band_round_trips"].notna().sum() == 12


def test_the_seed_study_backtests_on_the_real_file(shared_data: Path) -> None:
    proc = _run("backtest", BTCPERP, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["bars"] == 751 and report["path_band"]["by_path"]["ohlc"]["round_trips"] > 0
    assert report["grid_per_symbol"]["BTCPERP"]["path"] == "detail"


def test_the_seed_study_optimizes_200_trials(shared_data: Path, tmp_path: Path) -> None:
    proc = _run("optimize", BTCPERP, "--no-analysis", "--output", tmp_path,
                "--storage", "memory")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "200 complete" in proc.stdout
    assert "path band of the best 10" in proc.stdout
    table = proc.stdout.split("path band of the best 10")[1]
    assert len([line for line in table.splitlines() if line.strip()[:2].strip().isdigit()]) == 10
