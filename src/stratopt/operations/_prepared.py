"""A study made ready to run, once: the preamble every operation on a study shares.

`PreparedStudy.from_config` validates the whole study file (search plan, study name,
strategy and parameter routing, holdout) before anything touches a storage, resolves
the storage URL in the documented order and keeps the study's bars for everything that
runs its candidates. `study_from_run_folder` is the study a run folder was made from.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna

from stratopt.config import StudyConfig, parse_study
from stratopt.data import Bars
from stratopt.errors import ConfigError
from stratopt.evaluation import External, Router, StudyData, StudyEvaluator
from stratopt.search import (
    SearchPlan,
    compile_search,
    parse_objective,
    parse_requirements,
    restore_normalizer,
)
from stratopt.storage import check_study_name, load_study_from, resolve_storage_url
from stratopt.strategies import Strategy, get_strategy
from stratopt.validation import Holdout, prepare_holdout

__all__ = ["PreparedStudy", "check_study", "own_strategy", "study_from_run_folder", "study_router"]


@dataclass(frozen=True)
class PreparedStudy:
    """A study validated and resolved once, for every operation on it.

    Attributes:
        study: The study as loaded.
        plan: Its search plan (space, constraints, objective, requirements, settings
            and target of COMPLETE trials).
        strategy: The strategy instance (None: the study names an external evaluator).
        router: Splits searched parameters between strategy, backtest and data.
        holdout: The holdout split (None without `validation.holdout`).
        data: The bars of `searched`, per data override, loaded once.
        storage: The `storage=` the caller gave (None: the environment, the study
            file's `storage:`, else SQLite in its output); see `url`.
        external: The study's external evaluator (None: it names a strategy); it
            runs the searched study's candidates.
    """

    study: StudyConfig
    plan: SearchPlan
    strategy: Strategy | None
    router: Router
    holdout: Holdout | None
    data: StudyData
    storage: str | None = None
    external: External | None = None

    @classmethod
    def from_config(
        cls, study: StudyConfig, *, storage: str | None = None, holdout: bool = True
    ) -> PreparedStudy:
        """Validate `study` (ConfigError naming the field) and load its data.

        `holdout=False` ignores `validation.holdout` (a walk-forward window's study,
        already cut before it).
        """
        plan = compile_search(study)
        check_study_name(study.name, "name")
        strategy, router = study_router(study, plan.space.names)
        split = prepare_holdout(study, router) if holdout else None
        searched = study if split is None else split.in_sample  # the search never sees it
        data = StudyData(searched)
        external = None if study.evaluator is None else External(searched, data)
        return cls(study, plan, strategy, router, split, data, storage, external)

    @property
    def evaluator_identity(self) -> dict[str, str] | None:
        """What the study's external evaluator is (kind, target, source hash); None
        for a study that names a strategy. Part of the study's fingerprint."""
        return None if self.external is None else self.external.identity.to_dict()

    def own_strategy(self, what: str) -> Strategy:
        """The study's strategy, for an operation that runs stratopt's engine itself.

        Raises:
            ConfigError: the study names an external evaluator instead.
        """
        return own_strategy(self.study, self.strategy, what)

    @property
    def runner_name(self) -> str:
        """The strategy's name, or the external evaluator's `kind:target`."""
        if self.external is not None:
            return self.external.name
        assert self.strategy is not None
        return self.strategy.name

    @property
    def name(self) -> str:
        return self.study.name

    @property
    def searched(self) -> StudyConfig:
        """The study the search sees: restricted to the bars before the holdout."""
        return self.data.study

    @property
    def target(self) -> int:
        """COMPLETE trials to reach (grid default: every valid combination)."""
        return self.plan.target

    @functools.cached_property
    def url(self) -> str:
        """The storage URL: `storage=`, else $STRATOPT_STORAGE, else the study file's
        `storage:`, else SQLite in the output folder (made then)."""
        return resolve_storage_url(self.storage, self.study.storage_url, self.study.output_dir)

    def stored(self) -> optuna.Study:
        """The study's stored trials, scored as the search scored them (an adaptive
        objective's normalization restored); ConfigError naming the study if missing."""
        stored = load_study_from(self.name, self.url)
        restore_normalizer(stored, self.plan)
        return stored

    def bars(self) -> list[Bars]:
        """The searched bars (the study's own data options)."""
        return self.data.get(())

    def evaluator(self, *, jobs: int | None = None) -> StudyEvaluator:
        """An evaluator of the searched study's candidates (close it when done)."""
        search = self.study.search
        return StudyEvaluator(
            self.searched,
            self.router,
            jobs=search.jobs if jobs is None else jobs,
            timeout=search.trial_timeout,
            data=self.data,
        )


def check_study(study: StudyConfig) -> Strategy | None:
    """Refuse a study whose search parts are invalid even when only its backtest runs;
    its strategy (None: the study names an external evaluator).

    The study file is one document: a typo in `space:` or `objective:` is reported by
    every command, not first by `optimize` after the user trusted its backtest. The
    operations that run fixed parameter sets (backtest, batch, analyze of a study file)
    start here; a study with a space may also be a `PreparedStudy`.
    """
    names: tuple[str, ...] = ()
    if study.space:
        names = compile_search(study).space.names
    else:
        parse_objective(study.objective, field="objective")
        parse_requirements(study.require, field="require")
    strategy, _ = study_router(study, names)
    return strategy


def own_strategy(study: StudyConfig, strategy: Strategy | None, what: str) -> Strategy:
    """`strategy`, or one line saying `what` runs only stratopt's own strategies."""
    if strategy is None:
        raise ConfigError(
            f"{what} runs stratopt's own strategies; study {study.name!r} names an external "
            "evaluator (see docs/external.md for what runs with one)"
        )
    return strategy


def study_router(study: StudyConfig, names: Sequence[str]) -> tuple[Strategy | None, Router]:
    """The study's strategy (None: an external evaluator) and its parameter router.

    An external evaluator is loaded here, so a missing file or function, or a name it
    does not declare, fails before any storage is touched.
    """
    if study.evaluator is None:
        assert study.strategy is not None
        strategy = get_strategy(study.strategy, base_dir=study.base_dir)
        return strategy, Router(study, strategy, names)
    external = External(study)
    if study.evaluator.command is None:
        external.target  # noqa: B018 (loads the function or class: a bad reference fails here)
    return None, Router(study, None, names, parameters=external.parameters)


def study_from_run_folder(folder: Path) -> StudyConfig:
    """The study a run folder's summary.json was made from (its exact config).

    Raises:
        ConfigError: no readable summary.json, or one written before run folders
            recorded the study file's directory.
    """
    path = folder / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable run folder summary ({exc})") from None
    config, base = summary.get("config"), summary.get("study_dir")
    if not isinstance(config, dict) or not isinstance(base, str):
        raise ConfigError(
            f"{path}: has no study config and study_dir (written by an older stratopt, or "
            "by optimize() on a function); validate the study file instead"
        )
    config = dict(config)
    if "***" in str(config.get("storage") or ""):
        config.pop("storage")  # redacted: the caller passes --storage or the environment
    return parse_study(config, source=str(path), base_dir=Path(base))
