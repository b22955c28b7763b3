"""Optuna's TPE with its log Φ compiled: the same trials, bit for bit, in less time.

Both TPEs (`tpe`, `tpe_optuna`) sample and score candidates through Optuna's truncated
normal code (`optuna.samplers._tpe._truncnorm`), which computes log Φ(a) one element
at a time: `np.frompyfunc` over a Python function. A batch TPE evaluates hundreds of
thousands of them per 1,000 trials (its "above" mixture has up to 1,000 kernels); in
a 2,000-trial GOOG study, computing them here took 17 % off the whole study's time
(benchmarks/README.md, session 12).

`install` puts `log_ndtr` in its place: the same expressions, compiled
(`stratopt.stats.nb.log_ndtr_nb`), with Optuna's own function for the rare elements the
kernel leaves to it. It replaces Optuna's function only after checking, on probe values
through every branch, that both give the same bits; with an Optuna whose function
differs, it leaves Optuna's in place and the sampler is only slower. The replacement is
for the whole process (other code using Optuna's TPE gets the same numbers, sooner).

The samplers call `install_on_first_use`: the kernel is compiled (or loaded from numba's
cache) and checked when a TPE first computes log Φ, at its first fit after the startup
trials, not when the sampler is built. On a cold start that keeps its compile off this
process's side of the background compile (`stratopt.engine._background`), whose child
compiles it for the fit to load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from stratopt.stats.nb import FAR_TAIL, log_ndtr_nb

try:  # an internal module of the pinned Optuna: another version may move it
    from optuna.samplers._tpe import _truncnorm
except ImportError:  # pragma: no cover - then Optuna's TPE keeps its own function
    _truncnorm = None  # type: ignore[assignment]

__all__ = ["install", "install_on_first_use", "installed", "log_ndtr"]

LogNdtr = Callable[[np.ndarray], np.ndarray]

_OPTUNAS: LogNdtr | None = getattr(_truncnorm, "_log_ndtr", None)
_lock = threading.Lock()
_state: dict[str, bool] = {}

# Through every branch of Optuna's function: the right tail (> 6), both erfc sides and
# the erf band of Φ, the edges of each, the far left tail, and the special values.
PROBES = np.concatenate(
    [
        np.linspace(-25.0, 12.0, 741),
        [6.0, np.nextafter(6.0, 7.0), FAR_TAIL, np.nextafter(FAR_TAIL, 0.0), -1.0, 1.0],
        [0.0, -0.0, 1e-300, -1e-300, np.inf, -np.inf, np.nan],
    ]
)


def log_ndtr(a: np.ndarray) -> np.ndarray:
    """log Φ(a) element-wise, with the bits of Optuna's `_truncnorm._log_ndtr`."""
    assert _OPTUNAS is not None  # only installed over it
    values = np.asarray(a)
    if values.dtype != np.float64:  # Optuna's converts each element; let it
        return _OPTUNAS(values)
    flat = np.ascontiguousarray(values).reshape(-1)
    out = log_ndtr_nb(flat)
    rest = np.isnan(out)
    if rest.any():
        out[rest] = _OPTUNAS(flat[rest])
    return out.reshape(values.shape)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


def install() -> bool:
    """Use `log_ndtr` inside Optuna's TPE from now on, if it gives Optuna's bits.

    Returns whether it is installed. Cheap after the first call of a process.
    """
    with _lock:
        if "ok" not in _state:
            with np.errstate(all="ignore"):  # Optuna's series warns on the infinite probes
                ok = _OPTUNAS is not None and _same_bits(log_ndtr(PROBES), _OPTUNAS(PROBES))
            if ok and _truncnorm is not None:
                _truncnorm._log_ndtr = log_ndtr
            _state["ok"] = ok
        return _state["ok"]


def install_on_first_use() -> None:
    """`install` when Optuna's TPE first computes log Φ in this process (see the module
    docstring): until then Optuna's function is `_first_use`, which installs and
    computes. Nothing to do once `install` has decided."""
    with _lock:
        if "ok" not in _state and _truncnorm is not None and _OPTUNAS is not None:
            _truncnorm._log_ndtr = _first_use


def _first_use(a: np.ndarray) -> np.ndarray:
    assert _OPTUNAS is not None  # `install_on_first_use` puts this function only over it
    with _lock:  # Optuna's own in place again: `install` replaces it, or leaves it
        if _truncnorm is not None and _truncnorm._log_ndtr is _first_use:
            _truncnorm._log_ndtr = _OPTUNAS  # type: ignore[assignment]  # the same function
    return log_ndtr(a) if install() else _OPTUNAS(a)


def installed() -> bool:
    """Whether Optuna's TPE computes log Φ with `log_ndtr` in this process."""
    current: Any = getattr(_truncnorm, "_log_ndtr", None)
    return current is log_ndtr
