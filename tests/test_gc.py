import gc
import threading
import weakref

import pytest

from stratopt._gc import freeze_alive, freeze_survivors, frozen_heap, with_frozen_heap


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


def test_everything_alive_is_frozen_without_a_collection_first() -> None:
    with frozen_heap():
        kept = [object()]
        garbage = _Node()
        gone = weakref.ref(garbage)
        del garbage
        freeze_alive()  # after a cold start's compiles: no walk of all they made
        assert gone() is not None  # frozen with the rest, until the run ends
        assert not any(o is kept for o in gc.get_objects())
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gone() is None
    freeze_alive()  # outside frozen_heap: nobody would unfreeze, so nothing done
    assert gc.get_freeze_count() == 0


def test_garbage_older_than_the_young_generations_is_not_frozen() -> None:
    with frozen_heap():
        garbage = _Node()
        gone = weakref.ref(garbage)
        gc.collect(1)  # it survives a young collection: now in the oldest generation
        del garbage
        freeze_survivors()
        assert gone() is None
    assert gc.get_freeze_count() == 0


def test_a_run_ending_while_another_freezes_leaves_nothing_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inside, leave, left = threading.Event(), threading.Event(), threading.Event()

    def owner() -> None:  # a run in another thread, which froze the heap first
        with frozen_heap():
            inside.set()
            leave.wait()
        left.set()

    collect = gc.collect

    def owner_leaves_meanwhile(*args: int) -> int:
        leave.set()  # the owner leaves while this thread is between its check and freeze
        left.wait(0.3)  # with the lock it cannot: it waits for freeze_survivors to end
        return collect(*args)

    thread = threading.Thread(target=owner)
    thread.start()
    inside.wait()
    monkeypatch.setattr(gc, "collect", owner_leaves_meanwhile)
    freeze_survivors()  # a second run's, inside the owner's frozen heap
    monkeypatch.undo()
    thread.join()
    assert gc.get_freeze_count() == 0
