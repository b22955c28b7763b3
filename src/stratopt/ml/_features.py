"""Features: a causal Alpha158-style set, the data's own columns, or a user function.

Every built-in feature at bar `t` reads bars ``<= t`` only (`check_feature_lookahead`
proves it on the data). The set follows Qlib's Alpha158 (candle shape, then per window
rate of change, moving average, volatility, extremes, quantiles, stochastic position,
time since the extreme, share of up moves); its volume features are left out when the
data has no volume. Prices are divided by the current close, so the features carry over
between assets and regimes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stratopt.errors import ConfigError, StratoptError
from stratopt.ml._panel import Panel

__all__ = ["FeatureMatrix", "FeatureSpec", "compute_features", "load_feature_function"]

FeatureFunction = Callable[[Mapping[str, pd.DataFrame]], Mapping[str, Any]]
_EPS = 1e-12


@dataclass(frozen=True)
class FeatureSpec:
    """What to compute: a built-in set and its windows, and/or a user function."""

    set: str = "alpha158"
    windows: tuple[int, ...] = (5, 10, 20, 30, 60)
    function: FeatureFunction | None = None
    function_name: str | None = None

    def code_hash(self) -> str:
        """SHA-256 of the code that computes the features (this module and the function)."""
        h = hashlib.sha256(inspect.getsource(sys.modules[__name__]).encode())
        if self.function is not None:
            module = inspect.getmodule(self.function)
            try:  # the whole module: the function's helpers count too
                h.update(inspect.getsource(module or self.function).encode())
            except (OSError, TypeError):  # no source (a builtin, a lambda in a REPL)
                h.update(repr(self.function).encode())
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        return {"set": self.set, "windows": list(self.windows), "function": self.function_name}


@dataclass(frozen=True, eq=False)
class FeatureMatrix:
    """Features of every bar and asset: ``values[t, i, k]`` is feature `names[k]`."""

    values: np.ndarray
    names: tuple[str, ...]


def _frames(panel: Panel) -> dict[str, pd.DataFrame]:
    return {
        f: pd.DataFrame(getattr(panel, f), index=panel.index, columns=list(panel.symbols))
        for f in ("open", "high", "low", "close", "volume")
    }


def _candle(o: pd.DataFrame, h: pd.DataFrame, lo: pd.DataFrame, c: pd.DataFrame) -> dict[str, Any]:
    top, bottom, span = np.maximum(o, c), np.minimum(o, c), h - lo + _EPS
    return {
        "KMID": (c - o) / o,
        "KLEN": (h - lo) / o,
        "KMID2": (c - o) / span,
        "KUP": (h - top) / o,
        "KUP2": (h - top) / span,
        "KLOW": (bottom - lo) / o,
        "KLOW2": (bottom - lo) / span,
        "KSFT": (2 * c - h - lo) / o,
        "KSFT2": (2 * c - h - lo) / span,
    }


def _window(f: dict[str, pd.DataFrame], w: int, volume: bool) -> dict[str, Any]:
    c, h, lo = f["close"], f["high"], f["low"]
    roll = c.rolling(w, min_periods=w)
    hi, low = h.rolling(w, min_periods=w).max(), lo.rolling(w, min_periods=w).min()
    move = c.diff()
    out: dict[str, Any] = {
        f"ROC{w}": c.shift(w) / c,
        f"MA{w}": roll.mean() / c,
        f"STD{w}": roll.std() / c,
        f"MAX{w}": hi / c,
        f"MIN{w}": low / c,
        f"QTLU{w}": roll.quantile(0.8) / c,
        f"QTLD{w}": roll.quantile(0.2) / c,
        f"RSV{w}": (c - low) / (hi - low + _EPS),
        f"IMAX{w}": _arg_position(h, w, np.argmax) / w,
        f"IMIN{w}": _arg_position(lo, w, np.argmin) / w,
        f"CNTP{w}": (move > 0).astype(float).rolling(w, min_periods=w).mean(),
        f"SUMP{w}": move.clip(lower=0).rolling(w, min_periods=w).sum()
        / (move.abs().rolling(w, min_periods=w).sum() + _EPS),
    }
    if volume:
        v = f["volume"]
        vroll = v.rolling(w, min_periods=w)
        out[f"VMA{w}"] = vroll.mean() / (v + _EPS)
        out[f"VSTD{w}"] = vroll.std() / (v + _EPS)
        log_volume = pd.DataFrame(np.log(v.to_numpy() + 1.0), index=v.index, columns=v.columns)
        out[f"CORR{w}"] = c.rolling(w, min_periods=w).corr(log_volume)
    return out


def _arg_position(frame: pd.DataFrame, w: int, arg: Callable[..., Any]) -> np.ndarray:
    """Position of the extreme within each trailing window of `w` bars (first on ties)."""
    values = frame.to_numpy(dtype=np.float64)
    out = np.full(values.shape, np.nan)
    if values.shape[0] >= w:
        windows = np.lib.stride_tricks.sliding_window_view(values, w, axis=0)
        out[w - 1 :] = arg(windows, axis=-1)
    return out


def alpha158(panel: Panel, windows: tuple[int, ...]) -> dict[str, Any]:
    """The built-in set (module docs), as ``{name: (T, N) frame}``."""
    f = _frames(panel)
    out = _candle(f["open"], f["high"], f["low"], f["close"])
    for w in windows:
        out.update(_window(f, w, panel.has_volume))
    return out


def compute_features(panel: Panel, spec: FeatureSpec) -> FeatureMatrix:
    """The features of `spec` on `panel`, as a (T, N, F) float64 array.

    Raises:
        ConfigError: a user function that fails or returns a wrong shape (named).
    """
    named: dict[str, Any] = {}
    if spec.set == "alpha158":
        named.update(alpha158(panel, spec.windows))
    elif spec.set == "columns":
        if not panel.columns:
            raise ConfigError("features.set: 'columns' but the data has no feature columns")
        named.update(panel.columns)
    if spec.function is not None:
        named.update(_user_features(panel, spec))
    if not named:
        raise ConfigError("features: no feature to compute")
    names = tuple(named)
    values = np.empty((panel.n_bars, panel.n_assets, len(names)))
    for k, name in enumerate(names):
        arr = np.asarray(named[name], dtype=np.float64)
        if arr.shape != (panel.n_bars, panel.n_assets):
            raise ConfigError(
                f"features.function: feature {name!r} has shape {arr.shape}, expected "
                f"({panel.n_bars}, {panel.n_assets}) (bars, assets)"
            )
        values[:, :, k] = np.where(np.isfinite(arr), arr, np.nan)
    return FeatureMatrix(values, names)


def _user_features(panel: Panel, spec: FeatureSpec) -> dict[str, Any]:
    assert spec.function is not None
    frames = _frames(panel)
    frames.update(
        {
            k: pd.DataFrame(v, index=panel.index, columns=list(panel.symbols))
            for k, v in panel.columns.items()
        }
    )
    try:
        out = spec.function(frames)
    except Exception as exc:  # the user's code: name it, no traceback
        raise ConfigError(
            f"features.function: {spec.function_name} raised {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(out, Mapping) or not out:
        raise ConfigError(
            f"features.function: {spec.function_name} must return a non-empty mapping of "
            f"feature name to a (bars, assets) frame, got {type(out).__name__}"
        )
    return {str(k): v for k, v in out.items()}


def load_feature_function(ref: str, base_dir: Path) -> FeatureFunction:
    """The function `ref` names: ``path/file.py:fn`` or ``package.module:fn``.

    Raises:
        ConfigError: the file or module cannot be loaded, or has no such function.
    """
    target, sep, attr = ref.rpartition(":")
    if not sep or not target or not attr:
        raise ConfigError(f"features.function: expected 'file.py:fn' or 'module:fn', got {ref!r}")
    try:
        module = _load_module(target, base_dir)
    except Exception as exc:  # the user's module: name it, no traceback
        raise ConfigError(f"features.function: cannot load {target!r}: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"features.function: {target!r} has no function {attr!r}")
    return fn  # type: ignore[no-any-return]


def _load_module(target: str, base_dir: Path) -> Any:
    if not target.endswith(".py"):
        return importlib.import_module(target)
    path = Path(target)
    path = (path if path.is_absolute() else base_dir / path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no file {path}")
    name = "stratopt_features_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise StratoptError(f"{path} cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
