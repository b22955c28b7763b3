"""The tools over results: backtest_batch, analyze_results and report.

Each checks everything first (paths under the root, built-in strategies, the caps on
cells and Monte Carlo paths), then calls the operation the CLI calls (`backtest_batch`,
`analyze_target`, `report`) off the event loop, so its results are the CLI's. Results
are named by their paths under the root: analyze_results and report take those paths,
never a result passed back as data.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import anyio
import anyio.from_thread
import pandas as pd
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from stratopt._jsonable import dumps
from stratopt.analysis import AnalysisOptions, parse_sections
from stratopt.config import StudyConfig, load_study
from stratopt.mcp_server._inputs import checked
from stratopt.mcp_server._result_models import (
    AnalysisOutcome,
    BatchOutcome,
    FromStudy,
    ReportOutcome,
)
from stratopt.mcp_server._settings import ServerSettings
from stratopt.mcp_server._workspace import Workspace
from stratopt.operations import (
    AnalyzeRequest,
    BatchRequest,
    BatchResult,
    ParamSets,
    analyze_target,
    backtest_batch,
    report,
    stored_param_sets,
    study_from_run_folder,
)

__all__ = ["register_result_tools"]

T = TypeVar("T")

Section = Literal["trades", "drawdowns", "distribution", "correlation", "monte_carlo", "breakdown"]
StudyFile = Annotated[
    str,
    Field(description="A study file under the workspace root: strategy, data and backtest."),
]
ParamList = Annotated[
    list[dict[str, Any]] | None,
    Field(description="Parameter sets, e.g. [{fast: 5, slow: 50}, {fast: 10, slow: 100}]."),
]
Grid = Annotated[
    dict[str, list[Any]] | None,
    Field(description="Every combination of these values, e.g. {fast: [5, 10], slow: [50]}."),
]
Stored = Annotated[
    FromStudy | None,
    Field(description="Take the sets from the study's stored trials: its top or robust ones."),
]
Symbols = Annotated[
    list[str] | None,
    Field(description="Data files under the workspace root (default: the study's data.path)."),
]
Timeframes = Annotated[
    list[str] | None, Field(description="Timeframes to resample each file to, e.g. [1h, 1d].")
]
Metric = Annotated[
    str | None, Field(description="Metric ranking the sets (default: the study's objective).")
]
Target = Annotated[
    str,
    Field(description=(
        "A stored result: a run folder under the workspace root (the run_folder of optimize "
        "or backtest_batch), or a study file (its fixed parameters are backtested)."
    )),
]  # fmt: skip
Numbers = Annotated[list[int] | None, Field(description="Trial numbers of an optimize run.")]
Rows = Annotated[list[int] | None, Field(description="Row numbers of a batch run's batch.csv.")]
Sections = Annotated[list[Section] | None, Field(description="Sections to compute (default: all).")]
Targets = Annotated[
    list[str],
    Field(min_length=1, max_length=10, description=(
        "Run folders or study files under the workspace root; the first is shown in full, "
        "the others compared with it."
    )),
]  # fmt: skip
Out = Annotated[
    str | None,
    Field(description="The .html file to write under the root (default: in the first run folder)."),
]


def register_result_tools(server: MCPServer, settings: ServerSettings, ws: Workspace) -> None:
    """Add backtest_batch, analyze_results and report to `server`."""
    _register_batch(server, settings, ws)
    _register_analysis(server, settings, ws)


def _register_batch(server: MCPServer, settings: ServerSettings, ws: Workspace) -> None:
    @server.tool(name="backtest_batch")
    async def backtest_batch_tool(
        study: StudyFile, params: ParamList = None, grid: Grid = None,
        from_study: Stored = None, symbols: Symbols = None, timeframes: Timeframes = None,
        metric: Metric = None, ctx: Context | None = None,
    ) -> BatchOutcome:  # fmt: skip
        """Backtest a study's strategy over data files x timeframes x parameter sets.

        Give exactly one of params, grid and from_study. Returns per-parameter-set
        summaries across the series; batch.csv in the run folder holds every cell.
        """
        cfg = await _off_loop(lambda: _study_file(ws, study, "study"))
        files = [ws.path(s, f"symbols[{i}]") for i, s in enumerate(symbols or [])]
        series = len(files) if symbols else len(cfg.data.paths)
        cells = _param_count(params, grid, from_study)
        cells *= max(series, 1) * max(len(timeframes or []), 1)
        _cap("cells", cells, settings.max_cells, "series x parameter sets")
        if from_study is not None:
            chosen = await _off_loop(lambda: _stored_sets(ws, cfg, from_study))
        else:
            chosen = _param_sets(params, grid)
        request = BatchRequest(
            chosen.sets, param_source=chosen.source, symbols=[str(f) for f in files] or None,
            timeframes=timeframes or None, metric=metric, on_progress=_progress(ctx, "cells"),
        )  # fmt: skip
        result = await _off_loop(lambda: backtest_batch(cfg, request))
        return _batch_outcome(result, ws)


def _register_analysis(server: MCPServer, settings: ServerSettings, ws: Workspace) -> None:
    @server.tool()
    async def analyze_results(
        target: Target, trials: Numbers = None, rows: Rows = None, sections: Sections = None,
        sims: Annotated[int, Field(ge=1, description="Monte Carlo paths.")] = 1000,
        seed: Annotated[int, Field(ge=0, description="Monte Carlo seed.")] = 0,
        top: Annotated[int, Field(ge=1, le=100, description="Drawdown table rows.")] = 5,
    ) -> AnalysisOutcome:  # fmt: skip
        """A deep look at stored results: trades, drawdowns, return distribution,
        correlation, Monte Carlo luck and yearly breakdown (the same as stratopt analyze).

        Name trials of an optimize run folder (default: its best), rows of a batch run
        folder, or a study file; analysis.json is written beside them.
        """
        _cap("sims", sims, settings.max_paths, "Monte Carlo paths")
        path = await _off_loop(lambda: _analyze_target(ws, target))
        options = AnalysisOptions(sections=parse_sections(sections), top_drawdowns=top,
                                  n_sims=sims, seed=seed)  # fmt: skip
        request = AnalyzeRequest(trials=trials, rows=rows, options=options)
        result = await _off_loop(lambda: analyze_target(path, request))
        body = json.loads(dumps(result.analysis.to_dict(), indent=None))
        return AnalysisOutcome(analysis_path=ws.show(result.path), **body)

    @server.tool(name="report")
    async def report_tool(
        targets: Targets, out: Out = None,
        top: Annotated[int, Field(ge=1, le=1000, description="Rows of the trials table.")] = 200,
    ) -> ReportOutcome:  # fmt: skip
        """Write the offline HTML report of run folders or study files (the same as
        stratopt report): equity, drawdowns, trials, robustness, overfitting statistics."""
        paths, storage = await _off_loop(lambda: _report_targets(ws, targets))
        dest = None if out is None else _html(ws, out)
        written = await _off_loop(lambda: report(*paths, out=dest, top=top, storage=storage))
        return ReportOutcome(path=ws.show(written), size=written.stat().st_size)


async def _off_loop(fn: Callable[[], T]) -> T:
    """`fn()` in a worker thread (it reads data or runs backtests), errors as `ToolError`."""
    return await anyio.to_thread.run_sync(checked, fn)


def _progress(ctx: Context | None, what: str) -> Callable[[int, int], None] | None:
    """A worker thread's progress, reported through the tool call's context."""
    if ctx is None:
        return None
    report_progress = ctx.report_progress

    def send(done: int, total: int) -> None:
        anyio.from_thread.run(report_progress, float(done), float(total), f"{what}: {done}")

    return send


def _cap(field: str, value: int, cap: int, what: str) -> None:
    if value > cap:
        raise ToolError(f"{field}: {value} ({what}) is above this server's cap of {cap}")


def _study_file(ws: Workspace, text: str, field: str) -> StudyConfig:
    path = ws.path(text, field)
    if not path.is_file():
        raise ToolError(f"{field}: {text!r} is not a file")
    cfg = load_study(path)
    ws.check_study(cfg, field)
    return cfg


def _param_count(
    params: list[dict[str, Any]] | None, grid: dict[str, list[Any]] | None,
    stored: FromStudy | None,
) -> int:  # fmt: skip
    """How many parameter sets were asked for (a grid not expanded: it may be huge)."""
    if sum(x is not None for x in (params, grid, stored)) != 1:
        raise ToolError(
            "params, grid, from_study: give exactly one: a list of parameter sets, a grid, "
            "or the study's stored candidates"
        )
    if stored is not None:
        return stored.top
    if params is not None:
        if not params:
            raise ToolError("params: give at least one parameter set")
        return len(params)
    assert grid is not None
    if not grid or not all(grid.values()):
        raise ToolError("grid: give at least one value for each parameter")
    return math.prod(len(v) for v in grid.values())


def _param_sets(
    params: list[dict[str, Any]] | None, grid: dict[str, list[Any]] | None
) -> ParamSets:
    """The sets given; a grid's combinations first name outer (as `stratopt batch --grid`)."""
    if params is not None:
        return ParamSets(params, {"kind": "given"})
    assert grid is not None
    names = list(grid)
    sets = [dict(zip(names, c, strict=True)) for c in itertools.product(*grid.values())]
    return ParamSets(sets, {"kind": "grid", "grid": grid})


def _stored_storage(ws: Workspace, cfg: StudyConfig, field: str) -> str:
    """The storage URL of a study with stored trials (a missing SQLite file is refused:
    opening it would create it)."""
    url = ws.check_study(cfg, field)
    file = ws.sqlite_file(url)
    if file is not None and not file.is_file():
        raise ToolError(f"{field}: study {cfg.name!r} has no stored trials ({ws.show(file)})")
    return url


def _stored_sets(ws: Workspace, cfg: StudyConfig, choice: FromStudy) -> ParamSets:
    url = _stored_storage(ws, cfg, "from_study")
    return stored_param_sets(cfg, choice.top, robust=choice.robust, storage=url)


def _batch_outcome(result: BatchResult, ws: Workspace) -> BatchOutcome:
    folder, table = result.run_folder, result.table
    return BatchOutcome(
        run_folder=ws.show(folder), batch_path=ws.show(folder / "batch.csv"),
        summary_path=ws.show(folder / "summary.json"),
        matrix_paths={m: ws.show(folder / f"matrix_{m}.csv") for m in table.matrices},
        cells=len(table.frame), errors=table.errors, metric=table.metric,
        sets=json.loads(dumps(table.sets, indent=None)),
        kendall_w=json.loads(dumps(table.kendall, indent=None)),
    )  # fmt: skip


def _run_folder_study(ws: Workspace, folder: Path, field: str) -> None:
    """Refuse a run folder whose recorded study reads data outside the root."""
    cfg = study_from_run_folder(folder)
    ws.check_inputs(cfg, field)
    # A batch re-reads its series from batch.csv's `source` column.
    table = folder / "batch.csv"
    if table.is_file():
        sources = pd.read_csv(table, usecols=["source"], keep_default_na=False)["source"]
        for i, source in enumerate(sources):
            ws.path(str(source), f"{field}: batch.csv row {i} source")


def _analyze_target(ws: Workspace, text: str) -> Path:
    path = ws.path(text, "target")
    if path.is_dir():
        _run_folder_study(ws, path, "target")
    else:
        _study_file(ws, text, "target")
    return path


def _report_targets(ws: Workspace, targets: list[str]) -> tuple[list[Path], str | None]:
    """The targets' paths and the storage of their study files (one at most)."""
    paths, urls = [], set()
    for i, text in enumerate(targets):
        field = f"targets[{i}]"
        path = ws.path(text, field)
        if path.is_dir():
            _run_folder_study(ws, path, field)
        else:
            urls.add(_stored_storage(ws, load_study(path), field))
        paths.append(path)
    if len(urls) > 1:
        raise ToolError("targets: study files with different storages; report them one by one")
    return paths, next(iter(urls), None)


def _html(ws: Workspace, text: str) -> Path:
    path = ws.path(text, "out", exists=False)
    if path.suffix != ".html" or path.is_dir():
        raise ToolError(f"out: {text!r} must name an .html file")
    if not path.parent.is_dir():
        raise ToolError(f"out: the folder of {text!r} does not exist under the workspace root")
    return path
