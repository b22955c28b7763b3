"""Keeping Python's cyclic garbage collector off the objects that outlive a run."""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

__all__ = ["freeze_alive", "freeze_survivors", "frozen_heap", "with_frozen_heap"]

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Leave the objects alive on entry out of garbage collections until exit.

    A full collection visits every tracked object, and with numba, pandas and Optuna
    loaded there are some 260,000 before a study creates any: one took 0.17-0.19 s
    here, as long as 150 backtests of 100,000 bars, and a search of a few thousand fast
    trials triggers them. `gc.freeze` moves those objects out of the collector's view;
    what the run creates is collected as usual, and on exit everything goes back as it
    was. If the caller has frozen objects, freezing is theirs to manage: nothing done.
    """
    global _ours
    with _LOCK:
        mine = not gc.get_freeze_count()
        if mine:
            gc.freeze()
            _ours = True
    if not mine:
        yield
        return
    try:
        yield
    finally:
        with _LOCK:
            _ours = False
            gc.unfreeze()


_ours = False  # a `frozen_heap` of ours is open: `freeze_survivors` may freeze
# Runs in other threads of the process (the MCP server's jobs, a library user's) share
# the one frozen heap: without it, a freeze after the owner's unfreeze would last for good.
# A plain lock is enough: the sections it guards allocate nothing the collector counts
# (no automatic collection, so no finalizer or `gc.callbacks` hook, starts inside one),
# and the one collection run inside (`freeze_survivors`) runs finalizers and hooks that
# cannot call back into this module (the package defines none; the libraries' do not
# know it). A re-entrant lock would not make such a call-back safe either: it would
# freeze the heap in the middle of a collection.
_LOCK = threading.Lock()


def freeze_survivors() -> None:
    """Inside `frozen_heap`: collect the young objects, freeze those that survive.

    A search keeps every trial it made (10,000 of a grid hold some 400,000 objects), so
    the full collections it triggers grow with it: three took 0.03-0.04 s of a 0.55 s
    grid here. Called every thousand trials or so, the trials join the frozen heap; what
    is not frozen is collected first (all of it: frozen objects are not visited, so this
    is what the run made since the last freeze) so that no cyclic garbage is kept until
    the run ends. Outside `frozen_heap` (nobody would unfreeze): nothing done.
    """
    with _LOCK:
        if _ours:
            gc.collect()
            gc.freeze()


def freeze_alive() -> None:
    """Inside `frozen_heap`: freeze every object alive now, without a collection first.

    For a caller that ran with the collector off (a cold start's compiles,
    `stratopt.engine`): most of what it made lives as long as the process (imported
    modules, numba's compiled state), and the collections that follow would walk all
    of it; the cycles among it wait for the end of the `frozen_heap`. Outside
    `frozen_heap` (nobody would unfreeze): nothing done.
    """
    with _LOCK:
        if _ours:
            gc.freeze()


def with_frozen_heap(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` run inside `frozen_heap`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with frozen_heap():
            return fn(*args, **kwargs)

    return wrapper
