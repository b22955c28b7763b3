"""Evaluating a search's candidates with a study's external evaluator.

Commands run as child processes, `jobs` at a time (threads wait on them), each killed
with its process group past `trial_timeout`. Python functions and backtesting.py classes
run in this process, or, with `jobs > 1` or a `trial_timeout`, in worker processes (one
candidate per task, a worker past its timeout killed and replaced). Every outcome is the
run over the searched period (the study's bars, before any holdout) and carries the
returned metrics and the run's folder for the trial's record.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba

from stratopt.config import StudyConfig
from stratopt.evaluation._contract import ExternalFailure, Period
from stratopt.evaluation._data import StudyData
from stratopt.evaluation._external import External
from stratopt.evaluation._outcome import CandidatePool, Outcome

__all__ = ["ExternalEvaluator", "external_outcome"]


def external_outcome(
    external: External, params: Mapping[str, Any], period: Period, timeout: float | None = None
) -> Outcome:
    """One candidate's outcome; a failure fails it alone, with the reason."""
    started = time.perf_counter()
    extra: dict[str, Any] = {"dir": str(external.folder(params, period))}
    try:
        run = external.run(params, period, timeout=timeout)
    except ExternalFailure as exc:
        return Outcome(error=str(exc), runtime=time.perf_counter() - started, extra=extra)
    extra["returned"] = run.returned
    return Outcome(run.metrics, runtime=time.perf_counter() - started, extra=extra)


class ExternalEvaluator:
    """Runs a study's candidates through its external evaluator (an `Evaluator`)."""

    def __init__(
        self, study: StudyConfig, *, jobs: int, timeout: float | None, data: StudyData | None = None
    ) -> None:
        self.external = External(study, data)
        self.data = self.external.data
        self.timeout = timeout
        self.period = self.external.period()  # bad data fails the study before any trial
        self.threads: ThreadPoolExecutor | None = None
        self.pool: CandidatePool | None = None
        if study.evaluator is not None and study.evaluator.command is not None:
            self.threads = ThreadPoolExecutor(jobs) if jobs > 1 else None
        elif jobs > 1 or timeout is not None:
            self.pool = CandidatePool(jobs, timeout, _init_worker, (study,))

    def evaluate(self, params: Sequence[Mapping[str, Any]]) -> list[Outcome]:
        if self.pool is not None:
            return self.pool.map(_run_in_worker, params)
        ext, period, timeout = self.external, self.period, self.timeout
        if self.threads is not None:
            return list(
                self.threads.map(lambda p: external_outcome(ext, p, period, timeout), params)
            )
        return [external_outcome(ext, p, period, timeout) for p in params]

    def close(self) -> None:
        if self.threads is not None:
            self.threads.shutdown()
        if self.pool is not None:
            self.pool.close()


_WORKER: dict[str, Any] = {}


def _init_worker(study: StudyConfig) -> None:
    numba.set_num_threads(1)  # `jobs` processes already use the cores
    external = External(study)
    _WORKER["external"] = external
    _WORKER["period"] = external.period()


def _run_in_worker(params: Mapping[str, Any]) -> Outcome:
    return external_outcome(_WORKER["external"], params, _WORKER["period"])
