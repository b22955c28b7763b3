"""A study's external evaluator: a Python function, a command, or a backtesting.py class.

`External` runs one candidate over one `Period` and gives an `ExternalRun` (stratopt's
metrics, the curve on the study's bars, the trades). Every run keeps its files in
``<output>/<study name>/external/<run id>/`` (run.json, curve.npz, and a command's
stdout.txt, stderr.txt, params.json, its scratch folder): the run id hashes the
evaluator's identity, the parameters and the period, so the statistics, segments and
look-ahead check read a run's curve back instead of running it again, and a changed
evaluator (another source hash) is run afresh. The contract is docs/external.md.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stratopt._jsonable import clean
from stratopt.config import EvaluatorConfig, StudyConfig
from stratopt.data import Bars
from stratopt.evaluation._backtesting_py import (
    backtesting_parameters,
    check_options,
    run_backtesting_py,
)
from stratopt.evaluation._command import run_command
from stratopt.evaluation._contract import ExternalFailure, ExternalRun, Period, parse_result
from stratopt.evaluation._data import StudyData, time_axis
from stratopt.strategies import load_reference, reference_file

__all__ = ["Context", "EvaluatorIdentity", "External", "evaluator_identity"]

_FORMAT = 1  # of run.json / curve.npz


@dataclass(frozen=True)
class EvaluatorIdentity:
    """What makes two evaluators the same: kind, target, and the hash of its source
    (the Python file or module, the backtesting.py class's file, or the command's
    arguments with every argument that names a file in its working directory hashed)."""

    kind: str
    target: str
    source_sha256: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Context:
    """What a Python evaluator is called with besides the parameters.

    Attributes:
        start, end: the period to measure (bars with ``start <= time <= end``).
        data_start: the first bar it may read (warm-up before `start`).
        symbols, data: the study's data series and their files (resolved paths;
            empty for synthetic data).
        bars: the study's bars from `data_start` to `end` (stratopt's `Bars`).
        timeframe: the study's `data.timeframe`, if any.
        seed: the study's search seed.
        scratch: a folder of this run's own.
        study: the study's name.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    data_start: pd.Timestamp
    symbols: list[str]
    data: list[str]
    bars: list[Bars]
    timeframe: str | None
    seed: int
    scratch: Path
    study: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def evaluator_identity(study: StudyConfig) -> EvaluatorIdentity:
    """The identity of `study`'s evaluator (ValueError: the study names a strategy)."""
    spec = study.evaluator
    if spec is None:
        raise ValueError("the study names a strategy, not an external evaluator")
    if spec.command is None:
        ref = str(spec.python or spec.backtesting_py)
        file = reference_file(ref, base_dir=study.base_dir)
        source = file.read_bytes() if file is not None else ref.encode()
        return EvaluatorIdentity(spec.kind, ref, _sha256(source))
    cwd = _cwd(study, spec)
    digest = hashlib.sha256(json.dumps(spec.command).encode())
    for arg in spec.command:
        path = cwd / arg
        if not arg.startswith("{") and path.is_file():
            digest.update(_sha256(path.read_bytes()).encode())
    return EvaluatorIdentity("command", spec.target, digest.hexdigest())


def _cwd(study: StudyConfig, spec: EvaluatorConfig) -> Path:
    path = Path(spec.cwd).expanduser()
    return (path if path.is_absolute() else study.base_dir / path).resolve()


class External:
    """A study's external evaluator over its bars (`data`: the study's, loaded once)."""

    def __init__(self, study: StudyConfig, data: StudyData | None = None) -> None:
        if study.evaluator is None:
            raise ValueError("the study names a strategy, not an external evaluator")
        self.study = study
        self.spec: EvaluatorConfig = study.evaluator
        self.data = data if data is not None else StudyData(study)
        self.identity = evaluator_identity(study)
        self.root = study.output_dir / study.name / "external"
        if self.spec.backtesting_py is not None:
            check_options(self.spec.options)

    @property
    def name(self) -> str:
        return f"{self.identity.kind}:{self.identity.target}"

    @functools.cached_property
    def target(self) -> Any:
        """The loaded function or class (StrategyError when it cannot be loaded)."""
        ref = self.spec.python or self.spec.backtesting_py
        assert ref is not None
        found = load_reference(ref, base_dir=self.study.base_dir, what="evaluator")
        if self.spec.python is not None and not callable(found):
            raise ExternalFailure(f"evaluator {ref!r} is not callable")
        return found

    @functools.cached_property
    def parameters(self) -> tuple[str, ...] | None:
        """The names the evaluator declares (a backtesting.py class); None: any name."""
        if self.spec.backtesting_py is None:
            return None
        return backtesting_parameters(self.target, self.spec.backtesting_py)

    @functools.cached_property
    def axis(self) -> np.ndarray:
        return time_axis(self.data.get(()))

    def period(self, start: int = 0, stop: int | None = None, *, data_start: int = 0) -> Period:
        """The period of bars ``start:stop`` of the study's time axis."""
        axis = self.axis
        last = len(axis) if stop is None else stop
        return Period(
            pd.Timestamp(axis[data_start]), pd.Timestamp(axis[start]), pd.Timestamp(axis[last - 1])
        )

    def merged(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The study's fixed `params:` with the candidate's searched ones."""
        return {**self.study.params, **params}

    def folder(self, params: Mapping[str, Any], period: Period) -> Path:
        key = json.dumps(
            {
                "identity": self.identity.to_dict(),
                "params": clean(self.merged(params)),
                "period": period.to_dict(),
            },
            sort_keys=True,
            default=str,
        )
        return self.root / _sha256(key.encode())[:20]

    def run(
        self,
        params: Mapping[str, Any],
        period: Period,
        *,
        timeout: float | None = None,
        reuse: bool = False,
    ) -> ExternalRun:
        """Run one candidate over `period` (or read its kept run back with `reuse`).

        Raises:
            ExternalFailure: the evaluator failed or broke the contract.
        """
        folder = self.folder(params, period)
        params = self.merged(params)
        if reuse:
            kept = load_run(folder, self.axis)
            if kept is not None:
                return kept
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        try:
            raw = self._call(dict(params), period, folder, timeout)
            bars = self.data.get(())
            run = parse_result(
                raw, period=period, axis=self.axis, ppy=float(bars[0].periods_per_year)
            )
        except ExternalFailure as exc:
            _write_json(folder / "run.json", self._header(params, period, error=str(exc)))
            raise
        except Exception as exc:  # the user's code: this candidate fails, nothing else
            message = f"{type(exc).__name__}: {exc}"
            _write_json(folder / "run.json", self._header(params, period, error=message))
            raise ExternalFailure(message) from None
        save_run(folder, run, self._header(params, period, seconds=time.perf_counter() - started))
        return ExternalRun(**{**run.__dict__, "folder": folder})

    def _header(self, params: Mapping[str, Any], period: Period, **more: Any) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "identity": self.identity.to_dict(),
            "params": dict(params),
            "period": period.to_dict(),
            **more,
        }

    def _call(
        self, params: dict[str, Any], period: Period, folder: Path, timeout: float | None
    ) -> Any:
        if self.spec.command is not None:
            request = self.request(params, period, folder)
            cwd = _cwd(self.study, self.spec)
            return run_command(self.spec.command, request, folder=folder, cwd=cwd, timeout=timeout)
        bars = self._bars(period)
        if self.spec.backtesting_py is not None:
            unknown = [k for k in params if k not in (self.parameters or ())]
            if unknown:
                raise ExternalFailure(
                    f"{self.spec.backtesting_py} has no class attribute {unknown[0]!r}"
                )
            return run_backtesting_py(self.target, bars, params, self.spec.options, period)
        scratch = folder / "scratch"
        scratch.mkdir(exist_ok=True)
        ctx = Context(
            period.start,
            period.end,
            period.data_start,
            [b.symbol for b in bars],
            self._paths(),
            bars,
            self.study.data.timeframe,
            self.study.search.seed,
            scratch,
            self.study.name,
        )
        return self.target(params, ctx)

    def _bars(self, period: Period) -> list[Bars]:
        out = []
        for b in self.data.get(()):
            a = int(np.searchsorted(b.time, period.data_start.to_datetime64(), side="left"))
            z = int(np.searchsorted(b.time, period.end.to_datetime64(), side="right"))
            out.append(b.slice(a, z))
        return out

    def _paths(self) -> list[str]:
        return [b.source for b in self.data.get(()) if b.source and os.path.isfile(b.source)]

    def request(self, params: Mapping[str, Any], period: Period, folder: Path) -> dict[str, Any]:
        """What a command gets on stdin (and through its placeholders)."""
        scratch = folder / "scratch"
        scratch.mkdir(exist_ok=True)
        return {
            "params": clean(dict(params)),
            **period.to_dict(),
            "symbols": [b.symbol for b in self.data.get(())],
            "data": self._data_files(),
            "timeframe": self.study.data.timeframe,
            "seed": self.study.search.seed,
            "scratch": str(scratch),
            "result": str(folder / "result.json"),
        }

    def _data_files(self) -> list[str]:
        """The data files: the study's own when it reads plain files as they are, else
        its bars (resampled, from a package, synthetic) written once as CSV."""
        paths = self._paths()
        series = self.data.get(())
        if len(paths) == len(series) and self.study.data.timeframe is None:
            return paths
        out = []
        for b in series:
            tag = _sha256(f"{b.source}|{b.time[0]}|{b.time[-1]}|{len(b)}".encode())[:12]
            path = self.root / f"data-{b.symbol}-{tag}.csv"
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = _scratch_name(path)
                b.to_frame().to_csv(tmp, date_format="%Y-%m-%dT%H:%M:%S")
                tmp.replace(path)
            out.append(str(path))
        return out


def _scratch_name(path: Path) -> Path:
    """Where to write `path` before renaming it there: a name of this process and thread
    (commands run `jobs` threads at a time, workers as processes, over shared folders)."""
    return path.with_name(f"{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp{path.suffix}")


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = _scratch_name(path)
    tmp.write_text(json.dumps(clean(dict(data)), default=str))
    tmp.replace(path)


_TRADE_COLUMNS = ("net_pnl", "ret", "bars", "ror")


def save_run(folder: Path, run: ExternalRun, header: Mapping[str, Any]) -> None:
    """run.json (metrics, returned) and curve.npz (the curve and trades on the bars)."""
    arrays: dict[str, np.ndarray] = {
        "time": run.time.astype("datetime64[ns]").view(np.int64),
        "exposed": run.exposed,
    }
    if run.equity is not None:
        arrays["equity"] = run.equity
    if run.trades is not None:
        for c in ("entry_time", "exit_time"):
            arrays[c] = run.trades[c].to_numpy(dtype="datetime64[ns]").view(np.int64)
        arrays.update({c: run.trades[c].to_numpy(dtype=np.float64) for c in _TRADE_COLUMNS})
    tmp = _scratch_name(folder / "curve.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(folder / "curve.npz")
    info = {
        **header,
        "metrics": run.metrics,
        "returned": run.returned,
        "cash": run.cash,
        "equity": run.equity is not None,
        "trades": run.trades is not None,
    }
    _write_json(folder / "run.json", info)


def load_run(folder: Path, axis: np.ndarray) -> ExternalRun | None:
    """A kept run (None: none, a failed one, or one of another format)."""
    try:
        info = json.loads((folder / "run.json").read_text())
        if info.get("format") != _FORMAT or "error" in info:
            return None
        with np.load(folder / "curve.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, KeyError):
        return None
    trades = None
    if info["trades"]:
        trades = pd.DataFrame(
            {
                "entry_time": pd.DatetimeIndex(arrays["entry_time"].view("datetime64[ns]")),
                "exit_time": pd.DatetimeIndex(arrays["exit_time"].view("datetime64[ns]")),
                **{c: arrays[c] for c in _TRADE_COLUMNS},
            }
        )
    metrics = {k: float("nan") if v is None else float(v) for k, v in info["metrics"].items()}
    returned = {k: float("nan") if v is None else float(v) for k, v in info["returned"].items()}
    time_ = arrays["time"].view("datetime64[ns]")
    equity = arrays["equity"] if info["equity"] else None
    return ExternalRun(
        metrics,
        returned,
        time_,
        equity,
        float(info["cash"]),
        trades,
        arrays["exposed"].astype(bool),
        folder,
    )
