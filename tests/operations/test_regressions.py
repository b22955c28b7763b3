"""The three defects of issue #6, each checked end to end through the public API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import stratopt
from stratopt.cli import main
from stratopt.config import load_study
from stratopt.errors import ConfigError
from stratopt.operations import study_from_run_folder, walk_forward, work_study
from stratopt.storage import ENV_STORAGE, open_storage, study_names

WF_STUDY: dict[str, Any] = {
    "name": "wfenv",
    "data": {"synthetic": {"bars": 700, "seed": 5}},
    "strategy": "sma_cross",
    "space": {"fast": [3, 8], "slow": [20, 40]},
    "search": {"method": "grid"},
    "validation": {"walk_forward": {"train": 400, "test": 150, "step": 150}},
}


def _write(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    path = tmp_path / f"{cfg['name']}.yaml"
    path.write_text(yaml.safe_dump({**cfg, "output": str(tmp_path / "runs")}))
    return path


def _windows(url: str) -> list[str]:
    return sorted(n for n in study_names(open_storage(url)) if "/wf-" in n)


def test_walk_forward_honours_the_environment_storage_and_storage_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, WF_STUDY)
    env_url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv(ENV_STORAGE, env_url)
    result = walk_forward(path)
    assert result.storage == env_url
    assert _windows(env_url) == ["wfenv/wf-000", "wfenv/wf-001"]
    assert not (tmp_path / "runs" / "stratopt.db").exists()  # the default was not used
    explicit = f"sqlite:///{tmp_path / 'explicit.db'}"
    assert walk_forward(path, storage=explicit).storage == explicit
    assert _windows(explicit) == ["wfenv/wf-000", "wfenv/wf-001"]


def test_validate_reads_the_run_folder_a_worker_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = {**WF_STUDY, "name": "wkr", "search": {"method": "grid"}}
    del cfg["validation"]
    path = _write(tmp_path, cfg)
    done = work_study(load_study(path))
    assert done.run_folder is not None
    summary = json.loads(done.run_folder.summary.read_text())
    assert summary["study_dir"] == str(tmp_path.resolve())
    assert [d["bars"] for d in summary["data"]] == [700]
    study = study_from_run_folder(done.run_folder.path)
    assert study.name == "wkr" and study.base_dir == tmp_path.resolve()
    with pytest.raises(SystemExit) as exited:  # `stratopt validate RUN_FOLDER`
        main(["validate", str(done.run_folder.path)])
    assert exited.value.code in (0, None)
    folder = Path(capsys.readouterr().out.split("validation folder:")[1].split()[0])
    report = json.loads((folder / "validation.json").read_text())
    assert report["study"] == "wkr" and report["trials"]["completed"] == 4


def _free(params: dict[str, Any]) -> dict[str, float]:
    return {"sharpe": -((params["x"] - 1.0) ** 2)}


def _study_file_error(tmp_path: Path, search: dict[str, Any]) -> str:
    cfg = {**WF_STUDY, "name": "bad", "search": search}
    with pytest.raises(ConfigError) as err:
        load_study(_write(tmp_path, cfg))
    return str(err.value).partition("search.")[2]


@pytest.mark.parametrize(
    ("kwargs", "search"),
    [({"trials": 0}, {"trials": 0}), ({"method": "tpee"}, {"method": "tpee"})],
)
def test_optimize_validates_its_options_as_a_study_file_before_any_storage(
    tmp_path: Path, kwargs: dict[str, Any], search: dict[str, Any]
) -> None:
    expected = _study_file_error(tmp_path, search)
    url = f"sqlite:///{tmp_path / 'never.db'}"
    with pytest.raises(ConfigError) as err:
        stratopt.optimize(_free, {"x": {"low": 0.0, "high": 2.0}}, storage=url,
                          output=tmp_path / "out", **kwargs)  # fmt: skip
    assert str(err.value).endswith(expected)
    assert not (tmp_path / "never.db").exists()
    assert not (tmp_path / "out").exists()
