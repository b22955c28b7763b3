import gc
import weakref

from stratopt._gc import freeze_survivors, frozen_heap, with_frozen_heap


def test_objects_alive_on_entry_are_frozen_until_exit() -> None:
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 1000  # the loaded modules, at least
    assert gc.get_freeze_count() == 0


def test_a_callers_own_freezing_is_left_alone() -> None:
    mine = [object()]  # a container the collector tracks
    gc.freeze()
    try:
        with_frozen_heap(lambda: None)()
        # still frozen: out of every generation's list. (Not a count: frozen objects
        # freed meanwhile, by another thread say, lower it.)
        assert gc.get_freeze_count() > 0
        assert not any(o is mine for o in gc.get_objects())
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0


def test_optimize_leaves_the_heap_as_it_found_it(tmp_path: object) -> None:
    from stratopt.operations import optimize

    seen: list[int] = []

    def objective(params: dict[str, float]) -> dict[str, float]:
        seen.append(gc.get_freeze_count())
        return {"sharpe": -(params["x"] ** 2)}

    optimize(
        objective, {"x": {"low": -1.0, "high": 1.0}}, method="random", trials=5,
        storage="memory", output=tmp_path, analyze=False,
    )  # fmt: skip
    assert seen and min(seen) > 1000  # frozen while candidates ran
    assert gc.get_freeze_count() == 0


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_survivors_are_frozen_and_young_garbage_is_collected_first() -> None:
    with frozen_heap():
        kept = [object()]
        garbage = _Node()
        gone = weakref.ref(garbage)
        del garbage
        freeze_survivors()
        assert gone() is None  # collected, not frozen until the run ends
        assert not any(o is kept for o in gc.get_objects())  # frozen
    assert gc.get_freeze_count() == 0
    freeze_survivors()  # outside frozen_heap: nobody would unfreeze, so nothing done
    assert gc.get_freeze_count() == 0
