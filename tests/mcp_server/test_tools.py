"""Every tool through the SDK's in-process client (`Client(server, raise_exceptions=True)`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import optuna
import yaml
from mcp import Client
from typer.testing import CliRunner

from stratopt.cli import app
from stratopt.mcp_server import ServerSettings, build_server

from ._client import call, finish


def run(root: Path, body: Callable[[Client], Awaitable[Any]], **settings: Any) -> Any:
    """`body(client)` against a fresh server on `root`."""

    async def main() -> Any:
        server = build_server(ServerSettings(root=root, **settings))
        async with Client(server, raise_exceptions=True) as client:
            return await body(client)

    return anyio.run(main)


def test_optimize_job_gives_the_cli_best_and_the_store_tools_read_it(
    workspace: Path, tmp_path: Path
) -> None:
    seen: list[tuple[float, float | None]] = []

    async def body(client: Client) -> tuple[dict[str, Any], ...]:
        async def progress(done: float, total: float | None, message: str | None) -> None:
            seen.append((done, total))

        args = {"study": "studies/demo.yaml", "trials": 8, "analyze": False, "wait_seconds": 50}
        first = await client.call_tool("optimize", args, progress_callback=progress)
        assert not first.is_error, first.content
        view = await finish(client, first.structured_content["job_id"])  # type: ignore[index]
        studies = await call(client, "list_studies")
        summary = await call(client, "study_summary", study="sma_cross_synthetic", top=3)
        return view, studies, summary

    view, studies, summary = run(workspace, body)
    assert view["state"] == "done", view
    assert view["progress"] == {"complete": 8, "target": 8, "windows": None, "windows_done": None}
    assert seen and seen[-1][1] == 8 and all(0 <= d <= 8 for d, _ in seen)
    result = view["optimize"]
    assert result["counts"]["complete"] == 8 and result["stopped_by"] == "target"
    assert (workspace / result["summary_path"]).is_file()
    assert result["run_folder"].startswith("runs/sma_cross_synthetic/")

    # `stratopt optimize` of the same file: the same best candidate.
    out = tmp_path / "cli-runs"
    demo = str(workspace / "studies" / "demo.yaml")
    args = ["optimize", demo, "--trials", "8", "--no-analysis", "--output", str(out)]
    cli = CliRunner().invoke(app, args)
    assert cli.exit_code == 0, cli.output
    (cli_summary,) = out.glob("sma_cross_synthetic/*/summary.json")
    best = json.loads(cli_summary.read_text())["best"]
    assert result["best"]["params"] == best["params"]
    assert result["best"]["trial"] == best["trial"]
    assert result["best"]["value"] == best["values"][0]
    assert result["best_metrics"]["sharpe"] == best["metrics"]["sharpe"]

    assert studies["storage"] == "runs/stratopt.db"
    (row,) = studies["studies"]
    assert row["study"] == "sma_cross_synthetic" and row["complete"] == 8
    assert row["best"] == best["values"][0]
    assert summary["counts"]["complete"] == 8
    assert summary["top"][0]["trial"] == best["trial"]
    assert summary["top"][0]["params"] == best["params"] and len(summary["top"]) == 3


SPEC: dict[str, Any] = {
    "name": "wf_small",
    "strategy": "sma_cross",
    "data": {"synthetic": {"bars": 1200, "seed": 5, "edge_period": 60}},
    "space": {"fast": {"low": 2, "high": 20}, "slow": {"low": 25, "high": 80, "step": 5}},
    "search": {"trials": 3, "seed": 2, "batch": 3},
    "validation": {"walk_forward": {"train": 500, "test": 200}},
}


def test_walk_forward_job_of_an_inline_spec(workspace: Path) -> None:
    async def body(client: Client) -> dict[str, Any]:
        start = await call(client, "walk_forward", spec=SPEC)
        assert start["kind"] == "walk_forward" and start["state"] in ("running", "done")
        return await finish(client, start["job_id"])

    view = run(workspace, body)
    assert view["state"] == "done", view
    result = view["walk_forward"]
    report = json.loads((workspace / result["report_path"]).read_text())
    windows = len(report["windows"])
    assert len(result["windows"]) == windows == 3
    assert view["progress"]["windows"] == windows
    assert view["progress"]["complete"] == view["progress"]["target"] == 3 * windows
    assert result["efficiency"] == report["efficiency"]
    assert result["stitched"]["sharpe"] == report["stitched"]["metrics"]["sharpe"]
    for mine, theirs in zip(result["windows"], report["windows"], strict=True):
        assert mine["params"] == theirs["params"] and mine["trial"] == theirs["trial"]
    names = optuna.get_all_study_names(f"sqlite:///{workspace / 'runs' / 'stratopt.db'}")
    assert sorted(names) == [f"wf_small/wf-{k:03d}" for k in range(windows)]


def test_cancel_stops_a_job_and_keeps_its_trials(workspace: Path) -> None:
    async def body(client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
        start = await call(client, "optimize", study="studies/small.yaml", trials=3000)
        while (await call(client, "job_status", job_id=start["job_id"]))["progress"][
            "complete"
        ] < 2:
            await anyio.sleep(0.05)
        cancelled = await call(client, "cancel_job", job_id=start["job_id"])
        return cancelled, await finish(client, start["job_id"])

    asked, view = run(workspace, body)
    assert asked["job_id"] == view["job_id"]
    assert view["state"] == "cancelled" and view["optimize"] is None
    storage = f"sqlite:///{workspace / 'runs' / 'stratopt.db'}"
    stored = optuna.load_study(study_name="small", storage=storage)
    complete = [t for t in stored.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert 2 <= len(complete) < 3000
    assert view["progress"]["complete"] == len(complete)


def test_docs_resources_are_the_project_docs(workspace: Path) -> None:
    root = Path(__file__).resolve().parents[2] / "docs"

    async def body(client: Client) -> dict[str, str]:
        listed = await client.list_resources()
        texts = {}
        for res in listed.resources:
            read = await client.read_resource(str(res.uri))
            texts[str(res.uri)] = read.contents[0].text  # type: ignore[union-attr]
        return texts

    texts = run(workspace, body)
    topics = ("metrics", "overfitting", "walk_forward")
    assert set(texts) == {f"stratopt://docs/{t}" for t in topics}
    assert texts["stratopt://docs/metrics"] == (root / "metrics.md").read_text()
    validation = (root / "validation.md").read_text()
    for uri, heading in (("overfitting", "## Overfitting statistics"),
                         ("walk_forward", "## Walk-forward")):  # fmt: skip
        text = texts[f"stratopt://docs/{uri}"]
        assert text.startswith(heading + "\n") and text in validation
        assert "\n## " not in text


def test_tool_schemas_describe_every_field(workspace: Path) -> None:
    async def body(client: Client) -> Any:
        return (await client.list_tools()).tools

    tools = {t.name: t for t in run(workspace, body)}
    assert set(tools) == {"optimize", "walk_forward", "job_status", "cancel_job",
                          "list_studies", "study_summary", "backtest_batch",
                          "analyze_results", "report"}  # fmt: skip
    for tool in tools.values():
        assert tool.description and tool.output_schema is not None
        for name, prop in tool.input_schema["properties"].items():
            if name != "spec":
                assert prop.get("description"), (tool.name, name)
    spec = yaml.safe_dump(tools["optimize"].input_schema["$defs"]["StudySpec"])
    assert "built-in strategy" in spec


def test_analysed_optimize_returns_the_run_folder_verdicts(workspace: Path) -> None:
    async def body(client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
        # Seed 2, 16 trials: a robust candidate other than the best.
        start = await call(client, "optimize", study="studies/small.yaml", trials=16, seed=2)
        view = await finish(client, start["job_id"])
        return view, await call(client, "study_summary", study="small")

    view, summary = run(workspace, body)
    assert view["state"] == "done", view
    result = view["optimize"]
    written = json.loads((workspace / result["summary_path"]).read_text())
    stats, robustness = written["statistics"], written["robustness"]
    assert result["overfitting"] == {
        "verdict": stats["verdict"], "dsr": stats["dsr"]["value"], "pbo": stats["pbo"]["pbo"],
        "spa_pvalue": stats["spa"]["pvalue_consistent"],
    }  # fmt: skip
    assert result["robust"]["trial"] == robustness["robust"]["trial"] != result["best"]["trial"]
    assert result["robust"]["params"] == robustness["robust"]["params"]
    assert result["stability"] == robustness["stability"]["verdict"]
    assert result["lookahead_clean"] is written["lookahead"]["clean"] is True
    assert summary["overfitting"] == result["overfitting"]
    assert summary["robust"] == result["robust"]
    assert summary["statistics_path"] == result["summary_path"]
