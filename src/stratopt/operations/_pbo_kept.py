"""The PBO a run's statistics computed, kept for its report in the same process.

`optimize_study` (and `validate`, `walk-forward`) compute the PBO of the re-run
candidates in the statistics, then write report.html, whose PBO figures need the same
`PBOResult` (its logits and IS/OOS pairs, not stored in the run folder): recomputing it
meant re-running every candidate and the CSCV again (~0.4 s of a cold start). The
statistics keep it here, per `StudyData` (dropped with it); the report takes it when it
asks for the same candidates, bins and partitions of the same study, and computes it
itself otherwise. The same inputs give the same bits, so the page is unchanged.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stratopt.config import StudyConfig
from stratopt.evaluation import StudyData
from stratopt.stats import PBOResult

__all__ = ["KeptPbo", "keep_pbo", "kept_pbo"]


@dataclass(frozen=True, eq=False)
class KeptPbo:
    """A PBO and the shape of the return matrix it ran on."""

    result: PBOResult
    candidates: int  # columns: the candidates that re-ran
    periods: int  # rows: periods (bins of `bin_size` bars)


@dataclass(frozen=True, eq=False)
class _Entry:
    study: StudyConfig
    key: tuple[Any, ...]
    pbo: KeptPbo


_KEPT: weakref.WeakKeyDictionary[StudyData, _Entry] = weakref.WeakKeyDictionary()


def _key(params: Sequence[Mapping[str, Any]], bin_size: int, partitions: int) -> tuple[Any, ...]:
    # repr: the report reads the parameters back from ranked_results.csv (2 and 2.0
    # must not meet; `distinct_params` tells candidates apart the same way)
    picked = tuple(tuple(sorted((str(k), repr(v)) for k, v in p.items())) for p in params)
    return (picked, int(bin_size), int(partitions))


def keep_pbo(
    study: StudyConfig,
    data: object,
    params: Sequence[Mapping[str, Any]],
    bin_size: int,
    partitions: int,
    pbo: KeptPbo,
) -> None:
    """Keep ``pbo``, computed on ``params`` of ``study`` re-run on ``data`` (a
    `StudyData`; other data: nothing kept), binned by ``bin_size``."""
    if isinstance(data, StudyData):
        _KEPT[data] = _Entry(study, _key(params, bin_size, partitions), pbo)


def kept_pbo(
    study: StudyConfig,
    data: object,
    params: Sequence[Mapping[str, Any]],
    bin_size: int,
    partitions: int,
) -> KeptPbo | None:
    """The PBO `keep_pbo` kept for exactly these inputs, else None."""
    entry = _KEPT.get(data) if isinstance(data, StudyData) else None
    if entry is None or entry.study is not study:
        return None
    return entry.pbo if entry.key == _key(params, bin_size, partitions) else None
