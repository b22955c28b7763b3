"""The command evaluator: no shell, whole-argument placeholders, one JSON answer, and a
failing, hanging or babbling program failing only its own trial, with the reason."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from stratopt.config import load_study
from stratopt.operations import optimize_study
from stratopt.search import DUPLICATE
from stratopt.storage import record

TOY = Path(__file__).with_name("programs") / "toy.py"


def _study(tmp_path: Path, mode: str, *extra: str, **more: Any) -> Path:
    cfg: dict[str, Any] = {
        "name": f"cmd_{mode}",
        "data": {"synthetic": {"bars": 300, "seed": 1}},
        "evaluator": {
            "command": ["python", str(TOY), mode, "{params_json}", "{start}", "{end}", *extra]
        },
        "space": {"x": {"low": 0, "high": 6}},
        "search": {"method": "random", "trials": 4, "seed": 3},
        "output": str(tmp_path / "runs"),
        **more,
    }
    path = tmp_path / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _trials(result: Any, tmp_path: Path) -> list[optuna.trial.FrozenTrial]:
    url = f"sqlite:///{tmp_path / 'runs' / 'stratopt.db'}"
    return optuna.load_study(study_name=result.study_name, storage=url).trials


def test_a_parameter_value_with_shell_syntax_arrives_as_data(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.write_text("still here")
    value = f"x; rm -rf {canary} $(touch {tmp_path}/pwned) `id` > /dev/null"
    log = tmp_path / "argv.json"
    path = _study(tmp_path, "echo", str(log), space={"x": [1]},
                  params={"note": value}, search={"method": "grid"})  # fmt: skip
    result = optimize_study(load_study(path), analyze=False)
    assert result.counts["complete"] == 1
    seen = json.loads(log.read_text())
    assert seen["argv"][2] == json.dumps({"note": value, "x": 1})  # one argument, verbatim
    assert json.loads(seen["argv"][2])["note"] == value
    assert seen["stdin"]["params"] == {"note": value, "x": 1}
    assert canary.read_text() == "still here"
    assert not (tmp_path / "pwned").exists()
    assert Path(seen["argv"][0]).name == "toy.py"
    assert os.path.samefile(seen["cwd"], tmp_path)  # the study folder
    assert os.path.samefile(
        seen["stdin"]["scratch"], Path(seen["stdin"]["result"]).parent / "scratch"
    )


def test_the_program_runs_in_the_study_folder_and_its_output_is_kept(tmp_path: Path) -> None:
    path = _study(tmp_path, "ok")
    result = optimize_study(load_study(path), analyze=False)
    assert result.counts["complete"] == 4
    for t in _trials(result, tmp_path):
        if t.state != TrialState.COMPLETE:  # a duplicate candidate, pruned, never run
            assert record(t)["pruned"] == DUPLICATE
            continue
        rec = record(t)
        folder = Path(rec["external"]["dir"])
        assert json.loads((folder / "stdout.txt").read_text())["metrics"]["score"] == t.params["x"]
        assert (folder / "stderr.txt").exists()
        # every returned metric is kept with the trial; the objective reads stratopt's ids
        assert rec["external"]["returned"] == {"sharpe": -((t.params["x"] - 3) ** 2), "trades": 12,
                                               "score": t.params["x"]}  # fmt: skip
        assert rec["metrics"]["score"] == t.params["x"]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("garbage", "stdout.txt is not one JSON object; it starts b'Traceback? no: <html>not json"),
        ("fail", "exit code 3; last stderr: loading data... | ValueError: bad window"),
    ],
)
def test_a_failing_program_fails_only_its_trial_with_the_reason(
    tmp_path: Path, mode: str, reason: str
) -> None:
    path = _study(
        tmp_path, mode, search={"method": "random", "trials": 2, "seed": 3, "max_attempts": 2}
    )
    result = optimize_study(load_study(path), analyze=False)
    trials = _trials(result, tmp_path)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]
    assert all(record(t)["error"].startswith(reason) for t in trials), record(trials[0])["error"]


def test_a_hanging_program_is_killed_at_the_trial_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    path = _study(tmp_path, "hang", str(pid_file),
                  search={"method": "grid", "trial_timeout": 2, "max_attempts": 1},
                  space={"x": [1]})  # fmt: skip
    result = optimize_study(load_study(path), analyze=False)
    (trial,) = _trials(result, tmp_path)
    assert trial.state == TrialState.FAIL
    error = record(trial)["error"]
    assert error == "timed out after 2 s (process group killed); last stderr: started, now hanging"
    with pytest.raises(ProcessLookupError):  # really stopped, not left running
        os.kill(int(pid_file.read_text()), 0)


def test_placeholders_must_be_whole_arguments(tmp_path: Path) -> None:
    path = _study(tmp_path, "ok")
    raw = yaml.safe_load(path.read_text())
    raw["evaluator"]["command"][2] = "--params={params_json}"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(Exception, match=r"a placeholder must be a whole argument"):
        load_study(path)


def test_python_in_the_command_is_the_running_interpreter() -> None:
    from stratopt.evaluation._command import substitute

    request = {"params": {}, "start": "s", "end": "e", "data_start": "d", "symbols": ["A"],
               "data": [], "seed": 0, "scratch": "c", "result": "r", "timeframe": None}  # fmt: skip
    assert substitute(["python", "{start}", "{symbol}x"], request, Path("p"))[:2] == [
        sys.executable,
        "s",
    ]


def test_a_study_killed_mid_trial_resumes_where_it_stopped(tmp_path: Path) -> None:
    marker = tmp_path / "pid"  # the program run for x == 5 writes its pid there, then hangs
    path = _study(tmp_path, "hang_once", str(marker), space={"x": list(range(10))},
                  search={"method": "grid", "batch": 1})  # fmt: skip
    cmd = [sys.executable, "-m", "stratopt.cli", "optimize", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (marker.exists() and marker.read_text()):
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its program: a crash
        with contextlib.suppress(ValueError, OSError):
            os.killpg(int(marker.read_text()), signal.SIGKILL)
        proc.wait()
    url = f"sqlite:///{tmp_path / 'runs' / 'stratopt.db'}"
    before = optuna.load_study(study_name="cmd_hang_once", storage=url).trials
    assert [t.params["x"] for t in before] == [0, 1, 2, 3, 4]
    result = optimize_study(load_study(path), analyze=False)
    assert result.counts["complete"] == 10
    after = optuna.load_study(study_name="cmd_hang_once", storage=url).trials
    assert sorted(t.params["x"] for t in after) == list(range(10))
    assert all(t.state == TrialState.COMPLETE for t in after)
    kept = {t.number: (t.params, t.values, t.datetime_complete) for t in before}
    assert {t.number: (t.params, t.values, t.datetime_complete) for t in after[:5]} == kept
