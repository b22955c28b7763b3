"""Finding a strategy by built-in name, `package.module:Class` or `file.py:Class`."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from stratopt._suggest import did_you_mean
from stratopt.errors import StrategyError
from stratopt.strategies._base import Strategy
from stratopt.strategies._builtin import (
    BollingerReversion,
    DonchianBreakout,
    EmaCross,
    Macd,
    RsiReversion,
    SmaCross,
)
from stratopt.strategies._grid import HedgeGrid

__all__ = ["BUILTIN_STRATEGIES", "get_strategy", "load_reference", "reference_file"]

BUILTIN_STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        SmaCross,
        EmaCross,
        RsiReversion,
        BollingerReversion,
        DonchianBreakout,
        Macd,
        HedgeGrid,
    )
}


def get_strategy(
    spec: str | Strategy | type[Strategy], *, base_dir: Path | None = None
) -> Strategy:
    """A strategy instance from a built-in name, `pkg.module:Class` or `path/file.py:Class`.

    Args:
        spec: The name or reference (or a Strategy class / instance, returned as is).
        base_dir: Folder a relative file path is resolved against (the study file's).

    Raises:
        StrategyError: unknown name (with a suggestion), unimportable module, missing
            class, or a class that is not a Strategy.
    """
    if isinstance(spec, Strategy):
        return spec
    if isinstance(spec, type):
        return _instantiate(spec, repr(spec))
    if ":" not in spec:
        cls = BUILTIN_STRATEGIES.get(spec)
        if cls is None:
            more = did_you_mean(spec, BUILTIN_STRATEGIES)
            raise StrategyError(
                f"unknown strategy {spec!r}{more} (built-ins: {', '.join(BUILTIN_STRATEGIES)}; "
                "or give 'package.module:Class' or 'path/to/file.py:Class')"
            )
        return cls()
    return _instantiate(load_reference(spec, base_dir=base_dir), spec)


def load_reference(spec: str, *, base_dir: Path | None = None, what: str = "strategy") -> object:
    """The object `pkg.module:name` or `path/file.py:name` names (a file loads once per
    process); StrategyError naming `what` and the reference otherwise."""
    target, _, attr = spec.rpartition(":")
    module = _load_file(target, base_dir, what) if target.endswith(".py") else _import(target, what)
    found = getattr(module, attr, None)
    if found is None:
        raise StrategyError(f"{what} {spec!r}: {target} has no attribute {attr!r}")
    return found


def reference_file(spec: str, *, base_dir: Path | None = None) -> Path | None:
    """The source file of `pkg.module:name` or `file.py:name` (None: not a file)."""
    target = spec.rpartition(":")[0]
    if target.endswith(".py"):
        return _resolve(target, base_dir)
    try:
        found = importlib.util.find_spec(target)
    except (ImportError, ValueError):
        return None
    origin = getattr(found, "origin", None)
    return Path(origin) if origin and Path(origin).is_file() else None


def _instantiate(cls: object, spec: str) -> Strategy:
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyError(f"strategy {spec!r} is not a subclass of stratopt.Strategy")
    return cls()


def _import(name: str, what: str) -> object:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise StrategyError(f"{what} module {name!r} cannot be imported: {exc}") from None


def _resolve(target: str, base_dir: Path | None) -> Path:
    path = Path(target)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path.resolve()


def _load_file(target: str, base_dir: Path | None, what: str) -> object:
    path = _resolve(target, base_dir)
    if not path.is_file():
        raise StrategyError(f"{what} file not found: {path}")
    # A stable module name per file, so the same file loads once per process.
    mod_name = "stratopt_user_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise StrategyError(f"{what} file {path} cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[mod_name]
        raise StrategyError(f"{what} file {path} failed to load: {exc!r}") from None
    return module
