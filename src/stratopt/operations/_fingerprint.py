"""What defines a study, as text: stored on the Optuna study, compared on every rerun.

Two runs under one study name must be the same study: the same data (file hashes and
the bars searched), the same strategy and source, backtest settings, objective,
requirements, constraints and space. Search settings (`--trials`, method, seed, jobs)
may change: they decide how the same study is searched, not what it is.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stratopt.data import Bars
from stratopt.operations._prepared import PreparedStudy
from stratopt.storage import sha256

__all__ = ["function_fingerprint", "study_fingerprint"]


def study_fingerprint(prepared: PreparedStudy) -> dict[str, str]:
    """The study's definition, one entry per setting (dotted names, JSON text values)."""
    study = prepared.study
    cfg = json.loads(study.model_dump_json())
    data = {k: v for k, v in cfg["data"].items() if k not in ("path", "paths")}
    parts: dict[str, Any] = {
        "strategy": study.strategy,
        "strategy source": source_hash(type(prepared.strategy)),
        "data files": [_series(bars) for bars in prepared.bars()],
        "objective": cfg["objective"],
        "constraints": cfg["constraints"],
        "aggregate": cfg["aggregate"],
        "validation.holdout": cfg["validation"].get("holdout"),
    }
    for section in ("params", "backtest", "require", "space"):
        parts.update({f"{section}.{k}": v for k, v in cfg[section].items()})
    parts.update({f"data.{k}": v for k, v in data.items()})
    return _texts(parts)


def function_fingerprint(
    objective: Callable[..., Any], search: Mapping[str, Any]
) -> dict[str, str]:
    """`optimize()`'s definition: the function (name and source) and the search parts."""
    parts: dict[str, Any] = {
        "function": getattr(objective, "__qualname__", repr(objective)),
        "function source": _own_source_hash(objective),
    }
    parts.update(search)
    return _texts(parts)


def source_hash(obj: Any) -> str:
    """SHA-256 of the file defining `obj` (a user's whole module: its helpers count too),
    or of `obj`'s own source inside stratopt; "unknown" when Python cannot tell."""
    try:
        file = inspect.getsourcefile(obj)
        if file is not None and "stratopt" not in Path(file).parts:
            return sha256(Path(file))
        return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()
    except (OSError, TypeError):
        return "unknown"


def _own_source_hash(obj: Any) -> str:
    """SHA-256 of `obj`'s own source: the script around it may change (`trials=`)."""
    try:
        return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()
    except (OSError, TypeError):
        return "unknown"


def _series(bars: Bars) -> str:
    """One data series: its symbol, its file's hash and the bars searched."""
    path = Path(bars.source)
    digest = sha256(path)[:16] if path.is_file() else bars.source
    return f"{bars.symbol} {digest} {len(bars)} bars {bars.index[0]}..{bars.index[-1]}"


def _texts(parts: Mapping[str, Any]) -> dict[str, str]:
    return {k: json.dumps(v, sort_keys=True, default=str) for k, v in parts.items()}
