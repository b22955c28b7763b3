"""A cold start's compiles, split with a background child (engine/_background.py).

For numba's cache to serve this process, the child must compile for exactly the types
this process calls the kernels with; while the CLI's child compiles the composites,
this process runs their Python twins (engine/_twins.py) for those types only, and
leaves the child to finish them when it exits.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numba
import numpy as np
import pytest
from numba.core import compiler, ir, types
from numba.core.registry import cpu_target
from numba.core.typed_passes import type_inference_stage

from stratopt.config import load_study
from stratopt.engine import _background, _many, _nb, _twins
from stratopt.evaluation import candidate_returns
from stratopt.operations import optimize_study

ROOT = Path(__file__).resolve().parents[2]


def _types(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(numba.typeof(a) for a in args)  # type: ignore[no-untyped-call]


def _recording(kernel: Any, seen: list[tuple[Any, ...]]) -> Any:
    def call(*args: Any) -> Any:
        seen.append(_types(args))
        return kernel(*args)

    return call


def test_the_child_compiles_the_composites_for_the_types_the_study_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many: list[tuple[Any, ...]] = []
    one: list[tuple[Any, ...]] = []
    signals: list[tuple[Any, ...]] = []
    monkeypatch.setattr(_many, "run_many_nb", _recording(_nb.run_many_nb, many))
    monkeypatch.setattr(_nb, "run_one_nb", _recording(_nb.run_one_nb, one))
    monkeypatch.setattr(_nb, "eval_signals_nb", _recording(_nb.eval_signals_nb, signals))
    study = load_study(ROOT / "examples" / "sma_cross_synthetic.yaml",
                       ["search.method=grid", "space={fast: [5], slow: [40]}", "name=bg",
                        f"output={tmp_path}"])  # fmt: skip
    optimize_study(study, storage="memory", analyze=False)  # the search: run_many_nb
    candidate_returns(study, [{"fast": 5, "slow": 40}])  # the statistics: run_one_nb
    assert many and one
    assert {_background.one_candidate_types(t) for t in many} == set(one)
    # what the CLI's early child is started for, before any study is read
    assert set(many) == {_background.STUDY_MANY_TYPES}
    # a strategy's signals (the statistics, the look-ahead check)
    want = _background.batch_callee_types(_background.STUDY_MANY_TYPES)["eval_signals_nb"]
    assert set(signals) == {want}


def test_this_process_compiles_run_many_nb_s_callees_for_the_types_its_body_passes() -> None:
    # Typing `batch_metrics_nb`'s body (inlined into run_many_nb's) for a study's types
    # says which types it calls its callees with: with other types, the compiles
    # beside the child would be wasted and the tree compiled again while the child waits.
    many = _background.STUDY_MANY_TYPES
    work = (types.int64,)  # the batch size: run_many_nb's len(stored)
    _nb.new_work_nb.compile(work)
    f2 = types.float64[:, ::1]
    work_type = _nb.new_work_nb.overloads[work].signature.return_type  # type: ignore[attr-defined]
    args = (*many[:9], *many[11:], work_type, f2, types.boolean[::1])
    typing, target = cpu_target.typing_context, cpu_target.target_context
    typing.refresh()
    target.refresh()
    func_ir = compiler.run_frontend(_nb.batch_metrics_nb.py_func)  # type: ignore[no-untyped-call]
    typed = type_inference_stage(typing, target, func_ir, args, None)  # type: ignore[no-untyped-call]
    called: dict[str, set[tuple[Any, ...]]] = {}
    for expr, sig in typed.calltypes.items():
        if isinstance(expr, ir.Expr) and expr.op == "call":
            callee = typed.typemap[expr.func.name]
            if isinstance(callee, types.Dispatcher):
                called.setdefault(callee.dispatcher.py_func.__name__, set()).add(sig.args)
    want = _background.batch_callee_types(many)
    assert called["fill_codes_range_nb"] == {want["fill_codes_range_nb"]}
    assert called["simulate_range_nb"] == {want["simulate_range_nb"]}


class _FakeChild:
    """Stands in for the child process: records what the parent sends it; the test
    says its steps (``say``) on the pipe the parent reads."""

    started: ClassVar[list[_FakeChild]] = []

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        self.argv, self.env, self.stdin = argv, kwargs["env"], io.BytesIO()
        self.stdin.close = lambda: None  # type: ignore[method-assign]
        read, self._write = os.pipe()
        self.stdout = os.fdopen(read, "rb")
        self.killed = self.ended = False
        _FakeChild.started.append(self)

    def say(self, steps: bytes) -> None:
        os.write(self._write, steps)

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            os.close(self._write)

    def job(self) -> Any:
        return pickle.loads(self.stdin.getvalue())

    def wait(self) -> int:
        return 0

    def poll(self) -> int | None:
        return 0 if self.killed else None

    def kill(self) -> None:
        self.killed = True


@pytest.fixture
def fake_child(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_FakeChild]]:
    _FakeChild.started = []
    monkeypatch.setattr("subprocess.Popen", _FakeChild)
    monkeypatch.setattr(_background, "run_one_nb", SimpleNamespace(signatures=[]))
    for name in ("_sent", "_pending", "_started", "_waiting", "_early", "_meanwhile"):
        monkeypatch.setattr(_background, name, type(getattr(_background, name))())
    monkeypatch.delenv(_background.ENV, raising=False)
    yield _FakeChild
    for child in _FakeChild.started:
        child.stdout.close()
        child.end()


def test_a_compile_event_starts_one_child_and_waits_for_it(fake_child: type[_FakeChild]) -> None:
    args = _types(_many_args())
    _background._start(args, early=False)
    _background._start(args, early=False)  # one child for the same types
    (child,) = fake_child.started
    assert child.env[_background.ENV] == "0"  # the child starts no child
    assert child.job() == (args, False)
    child.say(_background.METRICS_SAVED + _background.ONE_SAVED)
    _background.wait_for_background()  # until the child says run_one_nb is saved
    assert not _background._waiting


def test_the_early_child_is_for_a_study_s_types_and_only_with_a_cold_cache(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_background, "kernels_cached", lambda: True)
    _background.compile_in_background()
    assert not fake_child.started
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    _background.compile_in_background()
    _background.compile_in_background()  # once per process
    _background._start(_background.STUDY_MANY_TYPES, early=False)  # compile event: same types
    (child,) = fake_child.started
    assert child.job() == (_background.STUDY_MANY_TYPES, True)
    _background.wait_for_background()  # nothing to wait for: the twins run meanwhile


def test_the_cli_starts_the_child_before_it_reads_the_study(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    _background.start_background()  # it imports numba meanwhile: no work yet
    (child,) = fake_child.started
    assert child.stdin.getvalue() == b""
    _background.compile_in_background()  # a valid study: the work
    assert child.job() == (_background.STUDY_MANY_TYPES, True)
    assert len(fake_child.started) == 1


def test_a_child_started_for_a_command_that_needs_no_kernels_gets_no_work(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    _background.start_background()
    _background.stop_background()  # e.g. the study does not validate
    (child,) = fake_child.started
    assert child.stdin.getvalue() == b"" and not _background._early  # it reads EOF, ends
    assert _background.composite(_nb.run_many_nb, _many_args(readonly=True)) is _nb.run_many_nb


def test_no_child_when_turned_off(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_background.ENV, "0")
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    _background._start(_types(_many_args()), early=False)
    _background.compile_in_background()
    assert not fake_child.started
    _background.wait_for_background()  # nothing to wait for
    assert _background.composite(_nb.run_many_nb, _many_args()) is _nb.run_many_nb


def _many_args(readonly: bool = False) -> tuple[Any, ...]:
    prices = np.ones(8)
    prices.flags.writeable = not readonly
    grid = np.zeros((2, 3))
    rules = np.zeros((2, 1, 5), dtype=np.int64)
    return (prices, prices, prices, prices, grid, rules, grid, grid, 252.0, grid, np.ones(2, bool),
            *_many.new_buffers(2, 8))  # fmt: skip


def _record_compiles(monkeypatch: pytest.MonkeyPatch, compiled: dict[str, Any]) -> None:
    names = ("fill_codes_range_nb", "simulate_range_nb", "eval_signals_nb",
             "trade_stats_init_nb", "sim_state_init_nb", "metrics_begin_nb",
             "copy_codes_nb")  # fmt: skip
    for name in names:
        record = (lambda key: lambda sig: compiled.__setitem__(key, sig))(name)
        monkeypatch.setattr(_background, name, SimpleNamespace(compile=record))


def test_beside_an_event_child_this_process_compiles_the_rest_then_waits_for_its_metrics(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: dict[str, Any] = {}
    _record_compiles(monkeypatch, compiled)
    args = _types(_many_args())
    _background._compile_beside_child(args)  # no child for these types: nothing to do
    assert not compiled
    _background._start(args, early=False)
    (child,) = fake_child.started
    child.say(_background.METRICS_SAVED)
    _background._compile_beside_child(args)
    assert compiled == _background.batch_callee_types(args)  # not the metrics kernels


def test_while_the_early_child_compiles_the_composites_this_process_runs_their_twins(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    compiled: dict[str, Any] = {}
    _record_compiles(monkeypatch, compiled)
    _background.compile_in_background()
    (child,) = fake_child.started
    done: list[str] = []
    # work for the wait; the child saves the metrics meanwhile
    _background.while_compiling(lambda: done.append("work") or child.say(b"m"))
    study = _many_args(readonly=True)  # the types of STUDY_MANY_TYPES
    assert _types(study) == _background.STUDY_MANY_TYPES
    assert _background.composite(_nb.run_many_nb, study) is _twins.TWINS[_nb.run_many_nb]
    small = {"trade_stats_init_nb", "sim_state_init_nb", "metrics_begin_nb", "copy_codes_nb"}
    callees = _background.batch_callee_types(_background.STUDY_MANY_TYPES)
    assert set(compiled) == {"fill_codes_range_nb", "simulate_range_nb", *small}
    assert compiled["simulate_range_nb"] == callees["simulate_range_nb"]
    assert done == ["work"] and _background.METRICS_SAVED in _background._early[0].said
    one = (*study[:5], study[5][0], study[6][0], study[7][0], 252.0, True)
    signals = (study[4], study[5][0], study[6][0], 8)
    assert _background.composite(_nb.run_one_nb, one) is _twins.TWINS[_nb.run_one_nb]
    assert _background.composite(_nb.eval_signals_nb, signals) is _twins.TWINS[_nb.eval_signals_nb]
    # other types: the compiled kernel (compiled here on a cache miss)
    assert _background.composite(_nb.run_many_nb, _many_args()) is _nb.run_many_nb
    child.say(_background.MANY_SAVED)  # saved: loaded from the cache from now on
    assert _background.composite(_nb.run_many_nb, study) is _nb.run_many_nb
    assert _background.composite(_nb.run_one_nb, one) is _twins.TWINS[_nb.run_one_nb]
    child.end()  # ended without saying run_one_nb is saved: compiled here
    assert _background.composite(_nb.run_one_nb, one) is _nb.run_one_nb


def test_at_exit_only_the_early_child_past_the_metrics_is_left_running(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    _background.compile_in_background()
    _background._start(_types(_many_args()), early=False)
    early, event = fake_child.started
    early.say(_background.METRICS_SAVED)
    event.say(_background.METRICS_SAVED)
    _background._stop_children()
    assert not early.killed and event.killed  # the early one compiles for the next process
    assert early.stdout.closed


def test_an_early_child_stopped_before_the_metrics(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    _background.compile_in_background()
    (early,) = fake_child.started
    _background._stop_children()  # e.g. the study's data could not be read
    assert early.killed


def test_the_real_child_says_each_step_in_order(tmp_path: Path) -> None:
    # The child module itself, for the study's types (compiled or loaded from numba's
    # cache: the first test of this module compiled most of it).
    proc = subprocess.Popen(
        [sys.executable, "-c", _background._CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, _background.ENV: "0"},
    )
    out, _ = proc.communicate(pickle.dumps((_background.STUDY_MANY_TYPES, True)), timeout=600)
    assert proc.returncode == 0
    b = _background
    assert out == b.METRICS_SAVED + b.MANY_SAVED + b.ONE_SAVED + b.SIGNALS_SAVED


def test_the_real_child_given_no_work_ends_at_once() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _background._CHILD],
        input=b"",
        capture_output=True,
        env={**os.environ, _background.ENV: "0"},
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout == b"", proc.stderr
