"""What evaluating a candidate gives (`Outcome`), who gives it (`Evaluator`), and the
process pool that runs user code one candidate per task (`CandidatePool`)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from pebble import ProcessPool

from stratopt.evaluation._main_guard import check_main_guard

__all__ = ["CandidatePool", "Evaluator", "Outcome"]


@dataclass
class Outcome:
    """What evaluating one candidate gave."""

    metrics: dict[str, float] | None = None
    per_symbol: dict[str, dict[str, float]] = field(default_factory=dict)
    error: str | None = None
    runtime: float = 0.0
    infeasible: str | None = None  # the strategy's `validate` refused it: pruned, not failed
    extra: dict[str, Any] = field(default_factory=dict)  # kept with the trial's record
    # `metrics` is a dict of `str` keys and finite Python floats, made for this outcome:
    # what `stratopt._jsonable.clean` copies as it is (the evaluator checked a batch at once)
    json_safe: bool = False
    # `metrics` made from one row of a batch's float block: (the block, its column names,
    # the row), `metrics` being `dict(zip(names, block[row].tolist()))` (None: not so made)
    row: tuple[Any, tuple[str, ...], int] | None = None


class Evaluator(Protocol):
    """Anything that turns parameter sets into outcomes, one each, in order."""

    def evaluate(self, params: Sequence[Mapping[str, Any]]) -> list[Outcome]: ...


class CandidatePool:
    """A pebble process pool: one candidate per task, killed past its timeout."""

    def __init__(
        self,
        jobs: int,
        timeout: float | None,
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
    ) -> None:
        check_main_guard("jobs" if jobs > 1 else "trial_timeout")
        self.timeout = timeout
        # spawn, not fork: numba's OpenMP threads make a forked child abort.
        self.pool = ProcessPool(
            max_workers=jobs,
            initializer=initializer,
            initargs=initargs,
            context=multiprocessing.get_context("spawn"),
        )

    def map(
        self, task: Callable[[Mapping[str, Any]], Outcome], params: Sequence[Any]
    ) -> list[Outcome]:
        futures = [self.pool.schedule(task, args=(p,), timeout=self.timeout) for p in params]
        outcomes = []
        for fut in futures:
            try:
                outcomes.append(fut.result())
            except FutureTimeout as exc:
                if self.timeout is None:  # raised by the task itself
                    outcomes.append(Outcome(error=f"TimeoutError: {exc}"))
                    continue
                message = f"timed out after {self.timeout:g} s (worker stopped)"
                outcomes.append(Outcome(error=message, runtime=self.timeout))
            except Exception as exc:  # a crashed worker: the candidate fails, the pool heals
                outcomes.append(Outcome(error=f"worker failed: {type(exc).__name__}: {exc}"))
        return outcomes

    def close(self) -> None:
        self.pool.close()  # type: ignore[no-untyped-call]
        self.pool.join()
