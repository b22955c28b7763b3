"""PreparedStudy: the one preamble of every operation, and the one run-folder builder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from stratopt.config import load_study
from stratopt.errors import ConfigError
from stratopt.operations import (
    BatchRequest,
    PreparedStudy,
    backtest_batch,
    check_study,
    optimize_study,
    report_study,
    work_study,
)
from stratopt.storage import ENV_STORAGE

STUDY: dict[str, Any] = {
    "name": "prep",
    "data": {"synthetic": {"bars": 600, "seed": 2}},
    "strategy": "sma_cross",
    "space": {"fast": [3, 8], "slow": [20, 40]},
    "search": {"method": "grid"},
}


def _load(tmp_path: Path, **changes: Any) -> Any:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, "output": str(tmp_path / "runs"), **changes}))
    return load_study(path)


def test_the_storage_url_is_explicit_then_environment_then_file_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_STORAGE, raising=False)
    in_file = f"sqlite:///{tmp_path / 'file.db'}"
    study = _load(tmp_path, storage=in_file)
    assert PreparedStudy.from_config(study).url == in_file
    monkeypatch.setenv(ENV_STORAGE, "memory")
    assert PreparedStudy.from_config(study).url == "memory"
    assert PreparedStudy.from_config(study, storage="inmemory").url == "inmemory"
    monkeypatch.delenv(ENV_STORAGE)
    plain = PreparedStudy.from_config(_load(tmp_path))
    assert not (tmp_path / "runs").exists()  # nothing made until the URL is needed
    assert plain.url == f"sqlite:///{(tmp_path / 'runs' / 'stratopt.db').resolve()}"


def test_it_holds_the_plan_the_split_and_the_searched_bars(tmp_path: Path) -> None:
    prepared = PreparedStudy.from_config(_load(tmp_path, validation={"holdout": 0.25}))
    assert prepared.target == 4  # every grid combination
    assert prepared.plan.space.names == ("fast", "slow")
    assert prepared.holdout is not None and prepared.holdout.holdout_bars == 150
    assert len(prepared.bars()) == 1 and len(prepared.bars()[0]) == 450  # in sample only
    assert prepared.searched.data.end is not None
    assert PreparedStudy.from_config(prepared.study, holdout=False).holdout is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "a/b"}, "name:"),
        ({"space": {"fsat": [3]}}, "space.fsat"),
        ({"params": {"slow": "x"}}, "params.slow"),
        ({"objective": "sharp"}, "did you mean 'sharpe'"),
    ],
)
def test_a_bad_study_fails_before_anything_runs(
    tmp_path: Path, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError, match=field):
        PreparedStudy.from_config(_load(tmp_path, **changes))
    assert not (tmp_path / "runs").exists()


def test_check_study_refuses_a_bad_space_even_for_a_backtest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"space\.fsat"):
        check_study(_load(tmp_path, space={"fsat": [3]}))
    check_study(_load(tmp_path, space={}))  # no space: objective and requirements only


def test_every_run_folder_of_a_study_has_the_same_summary_keys(tmp_path: Path) -> None:
    """optimize, a worker and launch's report build their summary.json in one place."""
    opt = optimize_study(_load(tmp_path, name="a"), analyze=False)
    worker = work_study(_load(tmp_path, name="b"))
    report = report_study(_load(tmp_path, name="b"))
    keys = [
        set(json.loads(r.run_folder.summary.read_text()))
        for r in (opt, worker, report)
        if r.run_folder is not None
    ]
    assert keys[1] ^ keys[0] == {"worker"}
    # launch's report analyses as optimize does (issue 21 item 14); analyze=False did not
    assert keys[2] ^ keys[0] == {"statistics", "robustness", "lookahead"}
    assert {"config", "study_dir", "data", "strategy", "best"} <= keys[0]
    assert {"kind": "search", "study": "a"}.items() <= json.loads(
        opt.run_folder.summary.read_text()
    ).items()
    # each states its bars per year and the rule that chose them, as each ranked row does
    annualization = {"periods_per_year": 365.0, "rule": "1d bars on all seven weekdays: 365 days"}
    for r in (opt, worker, report):
        assert r.run_folder is not None
        assert json.loads(r.run_folder.summary.read_text())["annualization"] == annualization
        assert (pd.read_csv(r.run_folder.ranked)["periods_per_year"] == 365.0).all()


def test_a_batch_run_folder_has_every_runs_summary_keys(tmp_path: Path, shared_data: Path) -> None:
    """A batch's summary.json comes from the same builder: the study's config, data and
    provenance as an optimize run's (what `stratopt analyze RUN_FOLDER` reads)."""
    opt = optimize_study(_load(tmp_path, name="a"), analyze=False)
    assert opt.run_folder is not None
    searched = json.loads(opt.run_folder.summary.read_text())
    goog = str(shared_data / "GOOG_1d.csv.gz")
    batch = backtest_batch(_load(tmp_path, name="a"), BatchRequest([{"fast": 3}], symbols=[goog]))
    summary = json.loads((batch.run_folder / "summary.json").read_text())
    common = {"kind", "study", "this_run", "git", "versions", "config", "study_dir", "data"}
    assert common | {"strategy"} <= set(summary) and common <= set(searched)
    assert summary["kind"] == "batch" and summary["strategy"] == searched["strategy"]
    assert set(summary["this_run"]) >= {"seconds", "started_utc", "finished_utc"}
    assert summary["config"] == searched["config"] | {"storage": summary["config"]["storage"]}
    (data,) = summary["data"]
    assert data["source"] == goog and len(data["sha256"]) == 64
