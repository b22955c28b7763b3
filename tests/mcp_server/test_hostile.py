"""Hostile input through the tools: one clear error each, and the workspace untouched."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from mcp import Client

from stratopt.mcp_server import ServerSettings, build_server

from ._client import error
from .conftest import SMALL, files

SPEC = {k: v for k, v in SMALL.items() if k != "output"}


def _spec(**changes: Any) -> dict[str, Any]:
    return {**SPEC, **changes}


def _study(root: Path, **changes: Any) -> str:
    """A study file under `root` with `changes`; its path relative to the root."""
    path = root / "studies" / "bad.yaml"
    path.write_text(yaml.safe_dump({**SMALL, "output": "../runs", **changes}))
    return "studies/bad.yaml"


CASES: list[tuple[str, str, Any, str]] = [
    # (id, tool, arguments (or a function of the root giving them), expected message part)
    ("dotdot", "optimize", {"study": "../outside.yaml"}, "outside the workspace root"),
    ("absolute", "optimize", {"study": "/etc/passwd"}, "outside the workspace root"),
    ("symlink", "optimize", {"study": "studies/link.yaml"}, "outside the workspace root"),
    ("missing", "optimize", {"study": "studies/none.yaml"}, "does not exist"),
    ("both", "optimize", {"study": "studies/small.yaml", "spec": SPEC}, "exactly one"),
    ("neither", "walk_forward", {}, "exactly one"),
    ("huge trials", "optimize", {"study": "studies/small.yaml", "trials": 10**9},
     "search.trials: 1000000000 is above this server's cap of 5000"),
    ("huge bars", "optimize",
     {"spec": _spec(data={"synthetic": {"bars": 9_000_000}})}, "above this server's cap"),
    ("huge jobs", "optimize",
     {"spec": _spec(search={"jobs": 1000})}, "search.jobs: 1000 is above"),
    ("huge grid", "optimize",
     {"spec": _spec(search={"method": "grid"}, space={"fast": {"low": 1, "high": 9000},
                                                       "slow": {"low": 1, "high": 9000}},
                    constraints=[])}, "search.trials"),
    ("unknown strategy", "optimize", {"spec": _spec(strategy="sma_crosss")},
     "not a built-in strategy"),
    ("code strategy", "optimize", {"spec": _spec(strategy="evil.py:Strategy")},
     "not a built-in strategy"),
    ("unknown method", "optimize", {"study": "studies/small.yaml", "method": "magic"},
     "unknown search method"),
    ("malformed spec", "optimize", {"spec": {"name": "x", "strategy": "sma_cross"}},
     "spec.data: Field required"),
    ("extra spec key", "optimize", {"spec": _spec(storage="sqlite:////tmp/x.db")},
     "spec.storage: Extra inputs are not permitted (got 'sqlite:////tmp/x.db')"),
    ("bad space", "optimize", {"spec": _spec(space={"fast": {"low": 9, "high": 2}})}, "space"),
    ("wrong type", "optimize", {"study": "studies/small.yaml", "trials": "many"},
     "trials: Input should be a valid integer"),
    ("spec as text", "walk_forward", {"spec": "name: x"}, "spec: Input should be"),
    ("wait too long", "job_status", {"job_id": "optimize-0123456789ab", "wait_seconds": 600},
     "wait_seconds: Input should be less than or equal to 50 (got 600)"),
    ("job id path", "job_status", {"job_id": "../../etc/passwd"}, "is not a job id"),
    ("unknown job", "cancel_job", {"job_id": "optimize-0123456789ab"}, "no job"),
    ("no walk-forward", "walk_forward", {"study": "studies/small.yaml"},
     "validation.walk_forward: not set"),
    ("storage outside", "optimize", lambda r: {"study": _study(r, storage="sqlite:////tmp/x.db")},
     "outside the workspace root"),
    ("postgres storage", "optimize",
     lambda r: {"study": _study(r, storage="postgresql://u@db.example/x")}, "SQLite file"),
    ("data outside", "optimize",
     lambda r: {"study": _study(r, data={"path": "/etc/hosts"})}, "data.path[0]"),
    ("output outside", "optimize", lambda r: {"study": _study(r, output="/tmp/elsewhere")},
     "output"),
    ("listing outside", "list_studies", {"storage": "../x.db"}, "outside the workspace root"),
    ("study name path", "study_summary", {"study": "../x"}, "not a valid study name"),
    ("unknown study", "study_summary", {"study": "nope"}, "no study 'nope'"),
    ("batch study outside", "backtest_batch", {"study": "../x.yaml", "params": [{"fast": 5}]},
     "study: '../x.yaml' is outside the workspace root"),
    ("batch symbol outside", "backtest_batch",
     {"study": "studies/small.yaml", "params": [{"fast": 5}], "symbols": ["/etc/hosts"]},
     "symbols[0]: '/etc/hosts' is outside the workspace root"),
    ("batch huge grid", "backtest_batch",
     {"study": "studies/small.yaml", "grid": {"fast": list(range(1000)),
                                               "slow": list(range(1000))}},
     "cells: 1000000 (series x parameter sets) is above this server's cap of 20000"),
    ("batch huge timeframes", "backtest_batch",
     {"study": "studies/small.yaml", "params": [{"fast": 5}] * 500, "timeframes": ["1d"] * 50},
     "cells: 25000"),
    ("batch params and grid", "backtest_batch",
     {"study": "studies/small.yaml", "params": [{"fast": 5}], "grid": {"fast": [5]}},
     "give exactly one"),
    ("batch unstored study", "backtest_batch",
     {"study": "studies/small.yaml", "from_study": {"top": 3}}, "has no stored trials"),
    ("batch huge top", "backtest_batch",
     {"study": "studies/small.yaml", "from_study": {"top": 10**6}},
     "from_study.top: Input should be less than or equal to 100"),
    ("batch code strategy", "backtest_batch",
     lambda r: {"study": _study(r, strategy="evil.py:S"), "params": [{"fast": 5}]},
     "not a built-in strategy"),
    ("batch output outside", "backtest_batch",
     lambda r: {"study": _study(r, output="/tmp/elsewhere"), "params": [{"fast": 5}]},
     "study.output"),
    ("analyze outside", "analyze_results", {"target": "/etc"}, "outside the workspace root"),
    ("analyze tampered run", "analyze_results", lambda r: {"target": _run_folder(r)},
     "target.data.path[0]: '/etc/hosts' is outside the workspace root"),
    ("analyze tampered batch", "analyze_results",
     lambda r: {"target": _batch_folder(r), "rows": [0]},
     "target: batch.csv row 0 source: '/etc/hosts' is outside the workspace root"),
    ("analyze huge sims", "analyze_results", {"target": "studies/small.yaml", "sims": 10**9},
     "sims: 1000000000 (Monte Carlo paths) is above this server's cap"),
    ("analyze unknown section", "analyze_results",
     {"target": "studies/small.yaml", "sections": ["luck"]}, "sections.0: Input should be"),
    ("report outside", "report", {"targets": ["../runs"]}, "outside the workspace root"),
    ("report out outside", "report", lambda r: {"targets": [_run_folder(r, None)],
                                                "out": "/tmp/r.html"}, "out: '/tmp/r.html'"),
    ("report out not html", "report", lambda r: {"targets": [_run_folder(r, None)],
                                                 "out": "studies/small.yaml"}, "an .html file"),
    ("report unstored study", "report", {"targets": ["studies/small.yaml"]},
     "has no stored trials"),
    ("report no targets", "report", {"targets": []}, "targets: List should have at least 1"),
]  # fmt: skip


def _run_folder(root: Path, data: str | None = "/etc/hosts") -> str:
    """A run folder whose summary.json records a study reading `data` (None: synthetic)."""
    folder = root / "runs" / "small" / "old"
    folder.mkdir(parents=True)
    config = {**SPEC, "data": {"path": data}} if data else SPEC
    summary = {"kind": "optimize", "config": config, "study_dir": str(root / "studies")}
    (folder / "summary.json").write_text(json.dumps(summary))
    return "runs/small/old"


@pytest.mark.parametrize(("tool", "arguments", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_hostile_input_is_one_clear_error_and_changes_nothing(
    workspace: Path, tool: str, arguments: Any, expected: str
) -> None:
    os.symlink("/etc/hostname", workspace / "studies" / "link.yaml")
    (workspace / "runs").mkdir()
    args = arguments(workspace) if callable(arguments) else arguments
    before = files(workspace)

    async def main() -> str:
        async with Client(build_server(ServerSettings(root=workspace)),
                          raise_exceptions=True) as client:  # fmt: skip
            return await error(client, tool, **args)

    message = anyio.run(main)
    assert expected in message
    assert message.startswith(f"Error executing tool {tool}: ") and "\n" not in message
    assert files(workspace) == before
    assert not (workspace / ".stratopt-mcp").exists()


def _batch_folder(root: Path) -> str:
    """A batch run folder whose batch.csv reads /etc/hosts."""
    folder = root / _run_folder(root, None)
    summary = json.loads((folder / "summary.json").read_text())
    summary.update(kind="batch", param_sets=[{"fast": 5, "slow": 30}], timeframes=None)
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "batch.csv").write_text("source,symbol,timeframe,set,label,error\n"
                                      "/etc/hosts,x,-,0,s,\n")  # fmt: skip
    return str(folder.relative_to(root))
