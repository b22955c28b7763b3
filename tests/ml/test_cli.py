"""`stratopt ml`: invalid combinations exit 2 with one line naming the field; a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stratopt.cli import main

from .conftest import SMALL


def write_study(tmp_path: Path) -> Path:
    raw = {**SMALL, "output": str(tmp_path / "runs")}
    raw.pop("storage")
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("model.space.bagging_fraction={low: 0.5, high: 0.9}", "model.space.bagging_fraction"),
        ("model.params.bagging_fraction=0.8", "model.params.bagging_fraction"),
        ("stage2.space.leverage={low: 1.0, high: 3.0}", "stage2.space.leverage"),
        ("folds.purge=1", "folds.purge"),
        ("data.synthetic.assets=4", "ic: cross_sectional needs at least 5 assets"),
        ("stage2.space.treshold=[1, 2]", "stage2.space.treshold"),
        ("stage2.from=worst", "stage2.from"),
        ("model.params.deterministic=false", "model.params.deterministic"),
        ("stage1.objective=sharpe", "stage1.objective"),
    ],
)
def test_invalid_combinations_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, field: str
) -> None:
    code, _, err = run(["ml", "tune", str(write_study(tmp_path)), "--set", override], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "runs" / "small").exists()  # refused before any run folder


def test_bagging_fraction_is_accepted_with_bagging_freq(tmp_path: Path) -> None:
    from stratopt.ml import load_ml_study

    study = load_ml_study(
        write_study(tmp_path),
        [
            "model.space.bagging_fraction={low: 0.5, high: 0.9}",
            "model.params.bagging_freq=1",
            "stage2.space.leverage={low: 1.0, high: 3.0}",
            "stage2.objective=total_return",
        ],
    )
    assert study.model.fixed["bagging_freq"] == 1


def test_stage1_then_stage2_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_study(tmp_path)
    code, out, err = run(["ml", "stage1", str(path), "--trials", "2"], capsys)
    assert code == 0, err
    assert "stage 1, trial" in out and "rank IC" in out
    code, out, err = run(["ml", "stage2", str(path), "--from-trial", "1", "--trials", "5"], capsys)
    assert code == 0, err
    assert "holdout Sharpe" in out and "deflated Sharpe" in out
    folder = Path(out.split("run folder:")[-1].strip())
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["stage2"]["models"] == [1]
    assert summary["overfitting"]["stage2_trials"] == 5
    assert (folder / "report.md").read_text().startswith("# small: two-stage tuning")
    code, _, err = run(["ml", "stage2", str(path), "--set", "name=other"], capsys)
    assert code == 2 and "no stage-1 study 'other.stage1'" in err
