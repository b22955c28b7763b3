"""The report of a `stratopt batch` run folder, opened in a real headless Chromium: every
matrix drawn as SVG offline, and the numbers on the page those of batch.csv and
summary.json."""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import stratopt
from stratopt.cli import main
from stratopt.data import synthetic_bars
from stratopt.errors import ConfigError
from stratopt.reporting import metric_value, number, percent, to_float
from tests.reporting.page import Opened, assert_rendered, open_report

# The last set cannot run (fast above slow): every one of its cells is an error row.
SETS = [
    {"fast": 5, "slow": 20},
    {"fast": 10, "slow": 40},
    {"fast": 20, "slow": 80, "backtest.stop_loss": 0.05},
    {"fast": 40, "slow": 10},
]
# The ranking metric's matrix first, then the others by name.
MATRICES = ["sharpe", "max_drawdown", "total_return"]
FIGURES = [f"fig-batch-matrix-{k}" for k in range(len(MATRICES))]


@dataclass(frozen=True)
class Batch:
    study: Path
    folder: Path
    report: Path
    out: str


def _cli(*args: str | Path) -> str:
    """What the command printed (the console writes to whatever sys.stdout is then)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            main([str(a) for a in args])
        except SystemExit as exit_:
            assert exit_.code in (0, None), printed.getvalue()
    return printed.getvalue()


def _printed(out: str, label: str) -> Path | None:
    lines = [line for line in out.splitlines() if line.startswith(f"{label}: ")]
    return Path(lines[-1].removeprefix(f"{label}: ").strip()) if lines else None


def _files(root: Path) -> str:
    """Three synthetic hourly series and one file that is no bar file (error rows)."""
    names = []
    for i, symbol in enumerate(("AAA", "BBB", "CCC")):
        bars = synthetic_bars(900, seed=i + 1, interval="1h", symbol=symbol)
        bars.to_frame().to_csv(root / f"{symbol}_1h.csv")
        names.append(str(root / f"{symbol}_1h.csv"))
    (root / "BAD_1h.csv").write_text("not,a\nbar,file\n")
    return ",".join([*names, str(root / "BAD_1h.csv")])


def _batch(root: Path, *flags: str) -> str:
    return _cli(
        "batch", root / "study.yaml", "--symbols", _files(root), "--timeframes", "1h,4h",
        "--params", root / "sets.yaml", "--output", root / "runs", *flags,
    )  # fmt: skip


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    root = tmp_path_factory.mktemp("batch-report")
    (root / "sets.yaml").write_text(json.dumps(SETS))
    (root / "study.yaml").write_text(
        "name: cells\ndata: {path: unused.csv}\nstrategy: sma_cross\nparams: {mode: reversal}\n"
        "backtest: {commission: 0.001, slippage_bps: 2}\n"
    )
    out = _batch(root)
    folder, report = _printed(out, "run folder"), _printed(out, "report")
    assert folder is not None and report == folder / "report.html", out
    return Batch(root / "study.yaml", folder, report, out)


@pytest.fixture(scope="module")
def opened(browser: Any, batch: Batch) -> Opened:
    return open_report(browser, batch.report, batch.folder / "report.png", FIGURES)


def test_batch_report_draws_offline_in_chromium(opened: Opened, batch: Batch) -> None:
    assert_rendered(opened, FIGURES)
    for k, metric in enumerate(MATRICES):
        caption = opened.page.locator(f"#{FIGURES[k]} + figcaption").inner_text()
        assert f"matrix_{metric}.csv" in caption
    assert "Error rows (14)" in opened.text  # BAD at 1h and 4h (8) + the last set's 6


def _drawn(page: Any, fig_id: str) -> dict[str, Any]:
    trace = page.evaluate(
        "id => { const t = document.getElementById(id).data[0];"
        " return {x: Array.from(t.x), y: Array.from(t.y), z: t.z.map(r => Array.from(r))}; }",
        fig_id,
    )
    return dict(trace)


def _rows(page: Any, section: str) -> list[list[str]]:
    return list(
        page.evaluate(
            "id => Array.from(document.querySelectorAll(`#${id} table tbody tr`))"
            ".map(tr => Array.from(tr.cells).map(td => td.innerText.trim()))",
            section,
        )
    )


def test_numbers_drawn_are_batch_csv_and_summary(opened: Opened, batch: Batch) -> None:
    cells = pd.read_csv(batch.folder / "batch.csv", keep_default_na=False, na_values=[""])
    summary = json.loads((batch.folder / "summary.json").read_text())
    assert summary["metric"] == MATRICES[0]
    for fig_id, metric in zip(FIGURES, MATRICES, strict=True):
        drawn = _drawn(opened.page, fig_id)
        assert drawn["x"] == [s["label"] for s in summary["sets"]]
        for _, row in cells.iterrows():
            value = drawn["z"][drawn["y"].index(f"{row['symbol']}/{row['timeframe']}")][row["set"]]
            if math.isfinite(row[metric]):
                assert value == row[metric], (fig_id, row["symbol"], row["set"])
            else:
                assert value is None, (fig_id, row["symbol"], row["set"])  # drawn empty
    # summary.json writes a set that never ran with mean_rank "nan": it sorts last.
    by_mean_rank = sorted(
        summary["sets"],
        key=lambda s: (math.isnan(to_float(s["mean_rank"])), to_float(s["mean_rank"])),
    )
    table = _rows(opened.page, "batch-sets")
    assert [r[1] for r in table] == [s["label"] for s in by_mean_rank]
    for shown, s in zip(table, by_mean_rank, strict=True):
        want: list[str] = [
            str(s["set"]), s["label"], str(s["cells"]), str(s["errors"]),
            metric_value("sharpe", s["median"]), metric_value("sharpe", s["worst"]),
            percent(s["fraction_profitable"]), percent(s["median_total_return"]),
            number(s["mean_rank"]),
        ]  # fmt: skip
        assert shown == want
    kendall = summary["kendall_w"]
    tiles = opened.page.locator("#batch-sets .kpi .value").all_inner_texts()
    assert tiles[:2] == [number(kendall["w"]), number(kendall["pvalue"])]
    errors = _rows(opened.page, "batch-errors")
    failed = cells[cells["error"].notna()]
    assert [int(r[0]) for r in errors] == list(failed.index)
    assert [r[4] for r in errors] == list(failed["error"])


def test_report_command_and_no_report(batch: Batch, tmp_path: Path) -> None:
    batch.report.unlink()
    out = _cli("report", batch.folder)
    assert _printed(out, "report") == batch.report and batch.report.is_file()
    assert "cells — batch report" in batch.report.read_text()
    with pytest.raises(ConfigError, match="is a batch run folder; report it alone"):
        stratopt.report(batch.folder, batch.folder)  # not a study to compare with
    (tmp_path / "sets.yaml").write_text(json.dumps(SETS[:2]))
    (tmp_path / "study.yaml").write_text(batch.study.read_text())
    out = _batch(tmp_path, "--no-report")
    folder = _printed(out, "run folder")
    assert folder is not None and (folder / "batch.csv").is_file()
    assert _printed(out, "report") is None and not (folder / "report.html").exists()
