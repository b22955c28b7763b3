"""A study made ready to run, once: the preamble every operation on a study shares.

`PreparedStudy.from_config` validates the whole study file (search plan, study name,
strategy and parameter routing, holdout) before anything touches a storage, resolves
the storage URL in the documented order and keeps the study's bars for everything that
runs its candidates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.evaluation import Router, StudyData, StudyEvaluator
from stratopt.search import SearchPlan, compile_search, parse_objective, parse_requirements
from stratopt.storage import check_study_name, resolve_storage_url
from stratopt.strategies import Strategy, get_strategy
from stratopt.validation import Holdout, prepare_holdout

__all__ = ["PreparedStudy", "check_study"]


@dataclass(frozen=True)
class PreparedStudy:
    """A study validated and resolved once, for every operation on it.

    Attributes:
        study: The study as loaded.
        plan: Its search plan (space, constraints, objective, requirements, settings
            and target of COMPLETE trials).
        strategy: The strategy instance.
        router: Splits searched parameters between strategy, backtest and data.
        holdout: The holdout split (None without `validation.holdout`).
        data: The bars of `searched`, per data override, loaded once.
        storage: The `storage=` the caller gave (None: the environment, the study
            file's `storage:`, else SQLite in its output); see `url`.
    """

    study: StudyConfig
    plan: SearchPlan
    strategy: Strategy
    router: Router
    holdout: Holdout | None
    data: StudyData
    storage: str | None = None

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
        strategy = get_strategy(study.strategy, base_dir=study.base_dir)
        router = Router(study, strategy, plan.space.names)
        split = prepare_holdout(study, router) if holdout else None
        searched = study if split is None else split.in_sample  # the search never sees it
        return cls(study, plan, strategy, router, split, StudyData(searched), storage)

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


def check_study(study: StudyConfig) -> None:
    """Refuse a study whose search parts are invalid even when only its backtest runs.

    The study file is one document: a typo in `space:` or `objective:` is reported by
    every command, not first by `optimize` after the user trusted its backtest.
    """
    names: tuple[str, ...] = ()
    if study.space:
        names = compile_search(study).space.names
    else:
        parse_objective(study.objective, field="objective")
        parse_requirements(study.require, field="require")
    Router(study, get_strategy(study.strategy, base_dir=study.base_dir), names)
