"""A cold start's compiles, split with a background child (engine/_background.py).

For numba's cache to serve this process, the child must compile for exactly the types
this process calls the kernels with; while the CLI's child compiles the composites,
this process runs their Python twins (engine/_twins.py) for those types only, and
leaves the child to finish them when it exits.
"""

from __future__ import annotations

import gc
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

from stratopt._gc import frozen_heap
from stratopt.config import load_study
from stratopt.engine import (
    ExecSettings,
    _background,
    _background_child,
    _many,
    _nb,
    _twins,
    pack_settings_many,
)
from stratopt.evaluation import candidate_returns
from stratopt.metrics import N_METRICS
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
    # run_many_nb's metrics pass and finish
    chunk = numba.typeof(_nb.metrics_chunk_nb)  # type: ignore[no-untyped-call]
    finish = numba.typeof(_nb.metrics_finish_nb)  # type: ignore[no-untyped-call]
    args = (*many[:9], *many[11:], work_type, f2, types.boolean[::1], chunk, finish)
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
    names = ("_sent", "_pending", "_started", "_waiting", "_early", "_meanwhile", "_gc_timer")
    for name in names:
        monkeypatch.setattr(_background, name, type(getattr(_background, name))())
    monkeypatch.delenv(_background.ENV, raising=False)
    # the collector on, as in a new process (an early child pauses it), and on after
    assert gc.isenabled() and not gc.get_freeze_count()
    monkeypatch.setattr(_background, "_gc_paused", False)
    yield _FakeChild
    _background._resume_gc()
    gc.enable()
    gc.unfreeze()
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
    # work for before the search, done even if the child has saved the metrics already
    child.say(_background.METRICS_SAVED)
    _background.while_compiling(lambda: done.append("work"))
    study = _many_args(readonly=True)  # the types of STUDY_MANY_TYPES
    assert _types(study) == _background.STUDY_MANY_TYPES
    assert _background.composite(_nb.run_many_nb, study) is _twins.TWINS[_nb.run_many_nb]
    callees = _background.batch_callee_types(_background.STUDY_MANY_TYPES)
    # the small kernels the twins call are the child's (SMALL_TYPES)
    assert set(compiled) == {"fill_codes_range_nb", "simulate_range_nb"}
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


def test_the_real_child_never_collects_garbage() -> None:
    # it only compiles: full collections over numba's growing heap cost it seconds
    code = _background._CHILD + "; import gc, sys; sys.stdout.write(str(gc.isenabled()))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=b"",
        capture_output=True,
        env={**os.environ, _background.ENV: "0"},
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout == b"False", proc.stderr


def test_no_garbage_collection_here_until_this_process_has_compiled_its_share(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    _record_compiles(monkeypatch, {})
    with frozen_heap():  # as the optimize operation runs
        _background.start_background()
        assert not gc.isenabled()
        _background.compile_in_background()
        assert not gc.isenabled()
        (child,) = fake_child.started
        child.say(_background.METRICS_SAVED)
        made = [[i] for i in range(1000)]  # what the imports and compiles leave
        frozen = gc.get_freeze_count()
        twin = _background.composite(_nb.run_many_nb, _many_args(readonly=True))
        assert twin is _twins.TWINS[_nb.run_many_nb]
        # on again, with what the pause left frozen, not walked by the next collections
        assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(made)
    assert not gc.get_freeze_count()  # the operation's heap thaws as before


def test_the_collector_is_on_again_when_the_child_gets_no_work(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    _background.start_background()
    assert not gc.isenabled()
    _background.stop_background()  # e.g. the study does not validate
    assert gc.isenabled() and not gc.get_freeze_count()  # no heap of ours to freeze
    assert not _background._gc_timer  # no timer left to fire in another command


def test_a_timer_turns_the_collector_on_should_the_command_never_compile(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    monkeypatch.setattr(_background, "_GC_PAUSE_MAX_S", 0.01)
    with frozen_heap():  # as the optimize operation runs
        frozen = gc.get_freeze_count()
        left = [[] for _ in range(5_000)]  # what the pause leaves (tracked, not frozen)
        _background.start_background()
        _background._gc_timer[0].join(timeout=10)
        assert gc.isenabled()
        # what a long pause left is collected from now on, not frozen for the operation
        # (the count may fall: frozen objects that die leave it)
        assert gc.get_freeze_count() <= frozen, len(left)


def test_the_collector_is_on_again_when_a_composite_gets_no_twin(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prices of other types than the child compiles for: this process compiles the
    composite itself, with the collector on."""
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    _record_compiles(monkeypatch, {})
    _background.start_background()
    _background.compile_in_background()
    assert not gc.isenabled()
    kernel = _background.composite(_nb.run_many_nb, _many_args(readonly=False))
    assert kernel is _nb.run_many_nb
    assert gc.isenabled() and not _background._gc_timer


class _Recorded:
    """Stands in for a kernel in the child: records its compiles in ``log``."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def compile(self, sig: tuple[Any, ...]) -> None:
        self.log.append(self.name)


@pytest.mark.parametrize("early", [True, False])
def test_the_child_compiles_what_the_parent_waits_for_first(
    early: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    log: list[str] = []
    names = ("metrics_chunk_nb", "metrics_finish_nb", "tail_split_nb", "tail_by_value_nb",
             "paths_nb", "run_many_nb", "run_one_nb", "eval_signals_nb")  # fmt: skip
    for name in names:
        monkeypatch.setattr(_background_child, name, _Recorded(name, log))
    small = tuple((_Recorded(k.py_func.__name__, log), sig) for k, sig in _background.SMALL_TYPES)
    monkeypatch.setattr(_background_child, "SMALL_TYPES", small)
    monkeypatch.setattr(_background_child, "_tell", lambda step: log.append(step.decode()))
    job = pickle.dumps((_background.STUDY_MANY_TYPES, early))
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(job)))
    _background_child.compile_from_stdin()
    metrics, tails = (
        ["metrics_chunk_nb", "metrics_finish_nb"],
        ["tail_split_nb", "tail_by_value_nb"],
    )
    if early:  # the twins' small kernels before "m"; the tails (rarely needed) later
        twins = ["trade_stats_init_nb", "sim_state_init_nb", "metrics_begin_nb", "copy_codes_nb"]
        assert log == [*metrics, *twins, "m", "paths_nb", *tails, "run_many_nb", "M",
                       "run_one_nb", "o", "eval_signals_nb", "e", "paths_nb"]  # fmt: skip
    else:  # the parent compiles run_many_nb once it hears "m": it calls the tail kernels
        assert log == [*metrics, *tails, "m", "run_one_nb", "o", "paths_nb"]


def test_the_child_compiles_the_small_kernels_for_the_types_the_twins_call_them_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Else this process compiles them again when a twin first calls them.
    seen: dict[str, set[tuple[Any, ...]]] = {}
    for kernel, _ in _background.SMALL_TYPES:
        name = kernel.py_func.__name__
        calls: list[tuple[Any, ...]] = []
        seen[name] = calls  # type: ignore[assignment]
        monkeypatch.setattr(_nb, name, _recording(kernel, calls))
    many, one = _twins.python_twin(_nb.run_many_nb), _twins.python_twin(_nb.run_one_nb)
    o, h, lo, c, ind, rules, levels, ex, ppy, out, found, *bufs = _study_args()
    many(o, h, lo, c, ind, rules, levels, ex, ppy, out, found, *bufs)
    one(o, h, lo, c, ind, rules[0], levels[0], ex[0], ppy, True)
    want = {k.py_func.__name__: {sig} for k, sig in _background.SMALL_TYPES}
    assert {name: set(calls) for name, calls in seen.items()} == want


def _study_args() -> tuple[Any, ...]:
    """A real call's arguments, of a study's types (`STUDY_MANY_TYPES`)."""
    n = 300
    rng = np.random.default_rng(5)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    prices = []
    for a in (close, close * 1.01, close * 0.99, close):
        a = np.ascontiguousarray(a)
        a.flags.writeable = False
        prices.append(a)
    ind = np.stack([_rolling(close, 5), _rolling(close, 20)])
    rules = np.zeros((2, 2, 5), dtype=np.int64)
    rules[:, 0] = (_nb.RULE_CROSS_ABOVE, 0, 1, _nb.SIG_LONG, 0)
    rules[:, 1] = (_nb.RULE_CROSS_BELOW, 0, 1, _nb.SIG_SHORT, 0)
    ex = pack_settings_many([ExecSettings(), ExecSettings(stop_loss=0.05)])
    out = np.zeros((2, N_METRICS))
    args = (*prices, ind, rules, np.zeros((2, 2)), ex, 252.0, out, np.ones(2, dtype=np.bool_),
            *_many.new_buffers(2, n))  # fmt: skip
    assert _types(args) == _background.STUDY_MANY_TYPES
    return args


def _rolling(x: np.ndarray, w: int) -> np.ndarray:
    out = np.full_like(x, np.nan)
    out[w - 1 :] = np.convolve(x, np.ones(w) / w, mode="valid")
    return out
