"""Borrowed views (`stratopt.metrics._borrow_nb`): the same array, no references taken."""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.core.unsafe.refcount import get_refcount

from stratopt.metrics._borrow_nb import borrowed


@njit(cache=False)
def _references_while_sliced(a, borrow):  # type: ignore[no-untyped-def]
    before = get_refcount(a)  # type: ignore[call-arg,var-annotated]  # an intrinsic
    view = borrowed(a) if borrow else a
    part = view[1:]
    during = get_refcount(a)  # type: ignore[call-arg]
    return before, during, part[0] + view[2:].sum()


def test_slices_of_a_borrowed_view_take_no_reference_on_the_array() -> None:
    a = np.arange(6.0)
    before, during, total = _references_while_sliced(a, False)
    assert during > before  # a plain slice holds a reference (the test can see one)
    before, during, borrowed_total = _references_while_sliced(a, True)
    assert during == before
    assert borrowed_total == total == 1.0 + 14.0  # the same data, shape and strides


def test_borrowed_is_the_identity_from_python() -> None:
    a = np.arange(3.0)
    assert borrowed(a) is a
