"""A tool's study: a study file under the root or an inline spec, checked before any run.

Everything is validated here, before a job starts or any storage is opened: the study
(the same ConfigError text the CLI prints, as a `ToolError`), the workspace confinement
and the server's caps. So bad input leaves the storage as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from stratopt.config import StudyConfig, load_study, parse_study
from stratopt.errors import StratoptError
from stratopt.mcp_server._models import StudySpec
from stratopt.mcp_server._settings import ServerSettings
from stratopt.mcp_server._workspace import Workspace
from stratopt.operations import check_study, compile_study

__all__ = ["SearchArgs", "StudyInput", "user_errors"]

T = TypeVar("T")


@contextmanager
def user_errors() -> Iterator[None]:
    """stratopt's own errors (bad study, data, storage) as the one-line `ToolError`."""
    try:
        yield
    except StratoptError as exc:
        raise ToolError(str(exc)) from None


@dataclass(frozen=True)
class SearchArgs:
    """The search settings a tool call may override (None: the study's)."""

    trials: int | None = None
    method: str | None = None
    seed: int | None = None

    def items(self) -> dict[str, Any]:
        given = {"trials": self.trials, "method": self.method, "seed": self.seed}
        return {k: v for k, v in given.items() if v is not None}


@dataclass(frozen=True)
class StudyInput:
    """A checked study: its config, storage URL and target of COMPLETE trials."""

    config: StudyConfig
    storage: str
    target: int

    @classmethod
    def read(
        cls,
        ws: Workspace,
        settings: ServerSettings,
        source: tuple[str | None, StudySpec | None],
        search: SearchArgs,
    ) -> StudyInput:
        study, spec = source
        if (study is None) == (spec is None):
            raise ToolError(
                "study, spec: give exactly one: a study file under the workspace root, or an "
                "inline spec"
            )
        field = "study" if study is not None else "spec"
        with user_errors():
            if study is not None:
                path = ws.path(study, "study")
                if not path.is_file():
                    raise ToolError(f"study: {study!r} is not a file")
                overrides = [f"search.{k}={v}" for k, v in search.items().items()]
                cfg = load_study(path, overrides)
            else:
                assert spec is not None
                raw = spec.model_dump()
                raw["search"] = {**raw["search"], **search.items()}
                cfg = parse_study(raw, source="spec", base_dir=ws.root)
            url = ws.check_study(cfg, field)
            target = _check_caps(cfg, settings, field)
        return cls(cfg, url, target)


def _check_caps(cfg: StudyConfig, settings: ServerSettings, field: str) -> int:
    synthetic = cfg.data.synthetic
    if synthetic is not None and synthetic.bars > settings.max_bars:
        _over(f"{field}.data.synthetic.bars", synthetic.bars, settings.max_bars)
    if cfg.search.jobs > settings.max_jobs_per_study:
        _over(f"{field}.search.jobs", cfg.search.jobs, settings.max_jobs_per_study)
    check_study(cfg)
    target = compile_study(cfg).target
    if target > settings.max_trials:
        _over(f"{field}.search.trials", target, settings.max_trials)
    return target


def _over(field: str, value: int, cap: int) -> None:
    raise ToolError(f"{field}: {value} is above this server's cap of {cap}")


def checked(fn: Callable[[], T]) -> T:
    """`fn()` with stratopt's errors as `ToolError`."""
    with user_errors():
        return fn()
