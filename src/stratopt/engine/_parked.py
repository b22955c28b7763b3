"""Large arrays kept a moment after their owner ended, for the next owner of their shape.

Fresh pages cost on this project's VM: it hands freed memory back to its host at once
(virtio-balloon free-page reporting), and touching it again page-faults and zeroes it.
Back-to-back `evaluate_many` calls on a long series each allocated the same few hundred
MB again: `run_many` on the four calls of one `evaluate_many` on 1M bars x 1,000
candidates (2 threads, Zen 4) took 1.46-1.78 s (median 1.70) with fresh buffers against
1.43-1.52 s (median 1.48) with the last call's. What is parked waits a couple of
seconds, then is dropped; an owner that asks for another shape drops it at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Parking"]

_T = TypeVar("_T")


class Parking(Generic[_T]):
    """Items (arrays, or tuples of them) of at least ``min_bytes``, at most ``limit``,
    each kept ``keep_s`` seconds after the last one was parked."""

    def __init__(self, min_bytes: int, limit: int, keep_s: float = 2.0) -> None:
        self.min_bytes, self.limit, self.keep_s = min_bytes, limit, keep_s
        self._items: list[_T] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def park(self, items: list[_T], nbytes: Callable[[_T], int]) -> None:
        """Keep those of ``items`` of at least ``min_bytes`` (``nbytes(item)``)."""
        big = [x for x in items if nbytes(x) >= self.min_bytes]
        if not big:
            return
        with self._lock:
            self._items.extend(big)
            del self._items[: max(0, len(self._items) - self.limit)]
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.keep_s, self.clear)
            self._timer.daemon = True  # never holds up the interpreter's exit
            self._timer.start()

    def take(self, fits: Callable[[_T], bool]) -> _T | None:
        """A parked item that ``fits`` (those that do not are dropped), or None."""
        with self._lock:
            self._items[:] = [x for x in self._items if fits(x)]
            return self._items.pop() if self._items else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
