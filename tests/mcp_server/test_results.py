"""backtest_batch, analyze_results and report through the SDK's client: the same
results as `stratopt batch`, `stratopt analyze` and `stratopt report`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from mcp import Client
from typer.testing import CliRunner

from stratopt.cli import app
from stratopt.data import synthetic_bars

from ._client import call, finish
from .test_tools import run

GRID = {"fast": [5, 10], "slow": [30, 60]}
SECTIONS = ["trades", "drawdowns", "distribution", "correlation", "monte_carlo"]


@pytest.fixture
def cells(workspace: Path) -> Path:
    """data/A.csv and data/B.csv (synthetic bars) and studies/cells.yaml reading A."""
    (workspace / "data").mkdir()
    for seed, name in ((1, "A"), (2, "B")):
        bars = synthetic_bars(600, seed=seed, symbol=name)
        bars.to_frame().to_csv(workspace / "data" / f"{name}.csv")
    study = {"name": "cells", "strategy": "sma_cross", "data": {"path": "../data/A.csv"},
             "backtest": {"commission": 0.001}, "output": "../runs",
             "space": {"fast": {"low": 2, "high": 20}, "slow": {"low": 25, "high": 80}},
             "search": {"trials": 6, "seed": 1, "batch": 2}}  # fmt: skip
    (workspace / "studies" / "cells.yaml").write_text(yaml.safe_dump(study))
    return workspace


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_batch_and_analyze_equal_the_cli(cells: Path, tmp_path: Path) -> None:
    symbols = ["data/A.csv", "data/B.csv"]

    seen: list[tuple[float, float | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total))

    async def body(client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
        args = {"study": "studies/cells.yaml", "grid": GRID, "symbols": symbols}
        answer = await client.call_tool("backtest_batch", args, progress_callback=progress)
        assert not answer.is_error, answer.content
        batch: dict[str, Any] = answer.structured_content  # type: ignore[assignment]
        analysis = await call(client, "analyze_results", target=batch["run_folder"],
                              rows=[0, 5], sections=SECTIONS, sims=200, seed=3)  # fmt: skip
        return batch, analysis

    batch, analysis = run(cells, body)
    folder = cells / batch["run_folder"]
    assert batch["run_folder"].startswith("runs/cells/batch/")
    assert batch["cells"] == 8 and batch["errors"] == 0 and len(batch["sets"]) == 4
    assert seen and seen[-1][0] == seen[-1][1]

    # `stratopt batch` of the same study, files and grid.
    out = tmp_path / "cli-runs"
    _cli("batch", str(cells / "studies/cells.yaml"), "--symbols",
         ",".join(str(cells / s) for s in symbols), "--grid", "fast=5,10", "--grid", "slow=30,60",
         "--output", str(out))  # fmt: skip
    (cli_folder,) = out.glob("cells/batch/*")
    cli_summary = json.loads((cli_folder / "summary.json").read_text())
    assert batch["sets"] == cli_summary["sets"]
    assert batch["kendall_w"] == cli_summary["kendall_w"]
    assert batch["metric"] == cli_summary["metric"]
    pd.testing.assert_frame_equal(pd.read_csv(folder / "batch.csv"),
                                  pd.read_csv(cli_folder / "batch.csv"))  # fmt: skip
    for metric, path in batch["matrix_paths"].items():
        assert path == f"{batch['run_folder']}/matrix_{metric}.csv"
        pd.testing.assert_frame_equal(pd.read_csv(cells / path),
                                      pd.read_csv(cli_folder / f"matrix_{metric}.csv"))  # fmt: skip

    # `stratopt analyze` of the same run folder and rows.
    assert analysis["analysis_path"] == f"{batch['run_folder']}/analysis.json"
    written = json.loads((cells / analysis["analysis_path"]).read_text())
    args = ["--rows", "0,5", "--sections", ",".join(SECTIONS), "--sims", "200", "--seed", "3"]
    shown = json.loads(_cli("analyze", str(folder), *args, "--json"))
    assert {k: v for k, v in analysis.items() if k != "analysis_path"} == shown == written
    labels = [c["label"] for c in analysis["candidates"]]
    assert len(labels) == 2 and labels[0].startswith("row 0 ") and labels[1].startswith("row 5 ")
    assert analysis["correlation"] is not None


def test_optimize_report_and_the_report_tool(workspace: Path) -> None:
    async def body(client: Client) -> tuple[dict[str, Any], ...]:
        start = await call(client, "optimize", study="studies/small.yaml", analyze=False)
        view = await finish(client, start["job_id"])
        folder = view["optimize"]["run_folder"]
        again = await call(client, "report", targets=[folder])
        other = await call(client, "report", targets=[folder], out="runs/mine.html", top=10)
        best = await call(client, "analyze_results", target=folder, sections=["trades"])
        return view, again, other, best

    view, again, other, best = run(workspace, body)
    assert view["state"] == "done", view
    result = view["optimize"]
    assert result["report_problem"] is None
    assert result["report_path"] == f"{result['run_folder']}/report.html"
    assert (workspace / result["report_path"]).is_file()
    assert again["path"] == result["report_path"]
    assert again["size"] == (workspace / again["path"]).stat().st_size > 10_000
    assert other["path"] == "runs/mine.html"
    assert other["size"] == (workspace / "runs/mine.html").stat().st_size

    # analyze_results of the run folder (its best trial) is `stratopt analyze`'s.
    shown = json.loads(_cli("analyze", str(workspace / result["run_folder"]), "--sections",
                            "trades", "--json"))  # fmt: skip
    assert {k: v for k, v in best.items() if k != "analysis_path"} == {"correlation": None,
                                                                         **shown}  # fmt: skip
    (analysed,) = best["candidates"]
    assert analysed["label"] == f"trial {result['best']['trial']}"


def test_batch_of_the_stored_top_candidates_equals_the_cli(cells: Path, tmp_path: Path) -> None:
    async def body(client: Client) -> dict[str, Any]:
        start = await call(client, "optimize", study="studies/cells.yaml", analyze=False,
                           report=False)  # fmt: skip
        assert (await finish(client, start["job_id"]))["state"] == "done"
        return await call(client, "backtest_batch", study="studies/cells.yaml",
                          from_study={"top": 3}, symbols=["data/B.csv"])  # fmt: skip

    batch = run(cells, body)
    study = str(cells / "studies/cells.yaml")
    out = tmp_path / "cli-runs"
    _cli("batch", study, "--from-study", study, "--top", "3", "--symbols",
         str(cells / "data/B.csv"), "--output", str(out))  # fmt: skip
    (cli_folder,) = out.glob("cells/batch/*")
    cli_summary = json.loads((cli_folder / "summary.json").read_text())
    assert batch["cells"] == 3 and batch["sets"] == cli_summary["sets"]
    written = json.loads((cells / batch["summary_path"]).read_text())
    assert written["param_source"] == cli_summary["param_source"]
    assert written["param_source"]["kind"] == "top"
