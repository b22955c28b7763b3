"""A cold start compiles `run_one_nb` in a second process (engine/_background.py): for
the cache to serve this process, the child must compile it for exactly the types this
process calls it with."""

from __future__ import annotations

import io
import os
import pickle
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
from stratopt.engine import _background, _many, _nb
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


def test_the_child_compiles_run_one_nb_for_the_types_the_study_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many: list[tuple[Any, ...]] = []
    one: list[tuple[Any, ...]] = []
    monkeypatch.setattr(_many, "run_many_nb", _recording(_nb.run_many_nb, many))
    monkeypatch.setattr(_nb, "run_one_nb", _recording(_nb.run_one_nb, one))
    study = load_study(ROOT / "examples" / "sma_cross_synthetic.yaml",
                       ["search.method=grid", "space={fast: [5], slow: [40]}", "name=bg",
                        f"output={tmp_path}"])  # fmt: skip
    optimize_study(study, storage="memory", analyze=False)  # the search: run_many_nb
    candidate_returns(study, [{"fast": 5, "slow": 40}])  # the statistics: run_one_nb
    assert many and one
    assert {_background.one_candidate_types(t) for t in many} == set(one)
    # what the CLI's early child is started for, before any study is read
    assert set(many) == {_background.STUDY_MANY_TYPES}


def test_this_process_compiles_run_many_nb_s_callees_for_the_types_its_body_passes() -> None:
    # Typing `batch_metrics_nb`'s body (inlined into run_many_nb's) for a study's types
    # says which types it calls its callees with: with other types, the compiles
    # beside the child would be wasted and the tree compiled again while the child waits.
    many = _background.STUDY_MANY_TYPES
    work = (types.literal(_nb.BATCH),)  # type: ignore[no-untyped-call]
    _nb.new_work_nb.compile(work)
    f2 = types.float64[:, ::1]
    work_type = _nb.new_work_nb.overloads[work].signature.return_type  # type: ignore[attr-defined]
    args = (*many[:9], f2, f2, types.float64[:, :, ::1], work_type, f2, types.boolean[::1])
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
    """Stands in for the child process: records what the parent sends it."""

    started: ClassVar[list[_FakeChild]] = []

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        self.argv, self.env, self.stdin = argv, kwargs["env"], io.BytesIO()
        self.stdin.close = lambda: None  # type: ignore[method-assign]
        read, write = os.pipe()  # the child says "metrics saved", "run_one_nb saved"
        os.write(write, _background.METRICS_SAVED + _background.ONE_SAVED)
        os.close(write)
        self.stdout = os.fdopen(read, "rb")
        self.waited = False
        _FakeChild.started.append(self)

    def wait(self) -> int:
        self.waited = True
        return 0

    def poll(self) -> int:
        return 0


@pytest.fixture
def fake_child(monkeypatch: pytest.MonkeyPatch) -> type[_FakeChild]:
    _FakeChild.started = []
    monkeypatch.setattr("subprocess.Popen", _FakeChild)
    monkeypatch.setattr(_background, "run_one_nb", SimpleNamespace(signatures=[]))
    monkeypatch.setattr(_background, "_sent", set())
    monkeypatch.setattr(_background, "_metrics_pending", {})
    monkeypatch.setattr(_background, "_started", [])
    monkeypatch.delenv(_background.ENV, raising=False)
    return _FakeChild


def test_a_cold_compile_starts_one_child_and_waits_for_it(fake_child: type[_FakeChild]) -> None:
    args = _types(_many_args())
    _background._start(args)
    _background._start(args)  # one child for the same types
    (child,) = fake_child.started
    assert child.env[_background.ENV] == "0"  # the child starts no child
    assert pickle.loads(child.stdin.getvalue()) == _background.one_candidate_types(args)
    _background.wait_for_background()  # until the child says run_one_nb is saved
    assert child.stdout.read() == b"" and not _background._children


def test_the_early_child_is_for_a_study_s_types_and_only_with_a_cold_cache(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_background, "kernels_cached", lambda: True)
    _background.compile_in_background()
    assert not fake_child.started
    monkeypatch.setattr(_background, "kernels_cached", lambda: False)
    _background.compile_in_background()
    _background._start(_background.STUDY_MANY_TYPES)  # numba's compile event, same types
    (child,) = fake_child.started
    want = _background.one_candidate_types(_background.STUDY_MANY_TYPES)
    assert pickle.loads(child.stdin.getvalue()) == want
    _background.wait_for_background()


def test_no_child_when_turned_off(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_background.ENV, "0")
    _background._start(_types(_many_args()))
    assert not fake_child.started
    _background.wait_for_background()  # nothing to wait for


def _many_args() -> tuple[Any, ...]:
    prices = np.ones(8)
    prices.flags.writeable = False
    grid = np.zeros((2, 3))
    rules = np.zeros((2, 1, 5), dtype=np.int64)
    return (prices, prices, prices, prices, grid, rules, grid, grid, 252.0, grid, np.ones(2, bool))


def test_beside_the_child_this_process_compiles_the_rest_then_waits_for_its_metrics(
    fake_child: type[_FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: dict[str, tuple[Any, ...]] = {}
    for name in ("fill_codes_range_nb", "simulate_range_nb", "eval_signals_nb"):
        record = (lambda key: lambda sig: compiled.__setitem__(key, sig))(name)
        monkeypatch.setattr(_background, name, SimpleNamespace(compile=record))
    args = _types(_many_args())
    _background._compile_beside_child(args)  # no child for these types: nothing to do
    assert not compiled
    _background._start(args)
    (child,) = fake_child.started
    _background._compile_beside_child(args)
    assert compiled == _background.batch_callee_types(args)  # not the metrics kernels
    assert child.stdout.read(1) == _background.ONE_SAVED  # "metrics saved" was read
