"""`cleanup`: it keeps the selection bias, refuses while workers run, and is atomic."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from stratopt.config import load_study
from stratopt.operations import cleanup_study, optimize_study, study_statistics
from stratopt.operations._selection import counted, selection_record
from stratopt.storage import (
    ATTR,
    ATTR_SELECTION,
    _studies,
    load_ranked,
    load_study_from,
    open_storage,
    resilient_backend,
)
from tests.operations.test_statistics import _study


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stratopt.cli", *map(str, args)],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _stored(url: str, name: str = "s", trials: int = 12) -> optuna.Study:
    """A study of `trials` completed trials with a stored `sharpe` metric (no backtest)."""
    study = optuna.create_study(study_name=name, storage=open_storage(url), direction="maximize")
    for i in range(trials):
        sharpe = float(np.sin(i) + 0.1 * i)
        study.add_trial(
            create_trial(
                params={"p": i}, distributions={"p": IntDistribution(0, 1000)}, value=sharpe,
                user_attrs={ATTR: {"metrics": {"sharpe": sharpe}}},
            )
        )  # fmt: skip
    return study


def test_the_dsr_and_its_n_survive_a_cleanup(tmp_path: Path) -> None:
    cfg = load_study(_study(tmp_path))
    res = optimize_study(cfg)
    url = f"sqlite:///{tmp_path / 'runs' / 'stratopt.db'}"

    def stats() -> dict[str, object]:
        attrs = load_study_from("st", url).user_attrs
        return study_statistics(
            load_ranked("st", url), directions=["maximize"], study=cfg, spa_reps=100,
            selection=attrs.get(ATTR_SELECTION),
        )  # fmt: skip

    before = stats()
    assert before["dsr"]["n_trials"] == res.statistics["dsr"]["n_trials"] == 40  # type: ignore[index]
    proc = _cli("cleanup", tmp_path / "st.yaml", "--keep-top", "5", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "kept 5 trials, deleted 35" in proc.stdout
    assert len(load_ranked("st", url)) == 5
    after = stats()
    for key in ("value", "n_trials", "trials_sharpe_variance_annualized", "trials_with_sharpe"):
        assert after["dsr"][key] == before["dsr"][key], key  # type: ignore[index]
    assert after["trials"]["n_backtested"] == 40  # type: ignore[index]
    assert "N=40 backtested candidates (35 deleted by cleanup still counted)" in str(
        after["verdict"]
    )


def test_the_record_adds_trials_run_after_a_cleanup() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"trial": range(30), "metrics.sharpe": rng.normal(size=30)})
    record = selection_record(frame, None, kept=4, deleted=26)
    # After the cleanup: the 4 kept (renumbered 0-3, already counted) and 6 new trials.
    survivors = frame.iloc[:4].assign(trial=range(4))
    new = pd.DataFrame({"trial": range(4, 10), "metrics.sharpe": rng.normal(size=6)})
    now = counted(pd.concat([survivors, new]), record)
    whole = pd.concat([frame, new])["metrics.sharpe"]
    assert now.n == 36 and now.sharpe_count == 36
    assert now.sharpe_variance == pytest.approx(whole.var(ddof=1), rel=1e-12)
    again = selection_record(pd.concat([survivors, new]), record, kept=2, deleted=8)
    assert again["n_backtested"] == 36 and again["deleted"] == 34 and again["cleanups"] == 2


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # ask() outside optimize()
def test_cleanup_is_refused_while_a_worker_holds_a_trial(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    study = _stored(url)
    running = study.ask()
    backend = resilient_backend(study._storage)
    assert backend is not None
    backend.record_heartbeat(running._trial_id)
    proc = _cli("cleanup", "s", "--storage", url, "--keep-top", "2", "--yes")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "--force" in proc.stderr, proc.stderr
    states = [t.state for t in load_study_from("s", url).trials]
    assert states.count(TrialState.RUNNING) == 1 and len(states) == 13
    forced = cleanup_study("s", 2, storage=url, force=True)
    assert (forced.kept, forced.deleted) == (2, 11)


def test_without_yes_and_a_terminal_nothing_is_deleted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'y.db'}"
    _stored(url)
    proc = _cli("cleanup", "s", "--storage", url, "--keep-top", "2")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "--yes" in proc.stderr, proc.stderr
    assert len(load_study_from("s", url).trials) == 12
    assert ATTR_SELECTION not in load_study_from("s", url).user_attrs


def test_on_a_terminal_cleanup_asks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _stored(url)
    master, slave = pty.openpty()
    os.write(master, b"n\n")
    with os.fdopen(master, "rb", buffering=0):
        proc = subprocess.run(
            [sys.executable, "-m", "stratopt.cli", "cleanup", "s", "--storage", url,
             "--keep-top", "2"],
            stdin=slave, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        os.close(slave)
    assert "Delete 10 trials of 's'" in proc.stdout and proc.returncode == 1, proc
    assert len(load_study_from("s", url).trials) == 12


def test_a_leftover_temporary_study_is_cleaned(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    _stored(url)
    _stored(url, "s.cleanup-tmp", trials=3)  # what an interrupted cleanup left
    proc = _cli("cleanup", "s", "--storage", url, "--keep-top", "4", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "removed 's.cleanup-tmp'" in proc.stdout and "kept 4 trials, deleted 8" in proc.stdout
    names = {s.study_name for s in optuna.get_all_study_summaries(open_storage(url))}
    assert names == {"s"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_interrupted_cleanup_leaves_the_study_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, backend: str
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'i.db'}"
    else:  # the project's throwaway cluster (tests/conftest.py)
        url = request.getfixturevalue("postgres").url()
    s = f"s-{backend}-{tmp_path.name}"
    _stored(url, s)

    rename = _studies._rename
    calls: list[str] = []

    def crash(old: str, new: str) -> object:
        calls.append(old)  # dies between taking the name away and giving it to the copy
        if len(calls) == 2:
            raise RuntimeError("killed mid-cleanup")
        return rename(old, new)

    monkeypatch.setattr(_studies, "_rename", crash)
    with pytest.raises(RuntimeError):
        cleanup_study(s, 3, storage=url)
    assert calls == [s, f"{s}.cleanup-tmp"]
    assert len(load_study_from(s, url).trials) == 12  # untouched
    monkeypatch.undo()
    done = cleanup_study(s, 3, storage=url)
    assert done.leftovers == (f"{s}.cleanup-tmp",) and (done.kept, done.deleted) == (3, 9)
    # An older stratopt deleted the study before copying the kept trials back.
    optuna.copy_study(
        from_study_name=s, from_storage=open_storage(url), to_storage=open_storage(url),
        to_study_name=f"{s}.cleanup-tmp",
    )  # fmt: skip
    optuna.delete_study(study_name=s, storage=open_storage(url))
    restored = cleanup_study(s, 3, storage=url)
    assert restored.leftovers == () and (restored.kept, restored.deleted) == (3, 0)
