"""Many floats' `repr` at once: the text pandas writes for a float64 cell, faster.

`repr` of a float is the shortest text that reads back as the same float (of several,
the closest to it) at ~0.4 us a value: 0.12 s of a 10,000-trial grid's
ranked_results.csv. orjson writes a float64 array as JSON at ~0.03 us a value with the
same digits (it too writes the shortest round trip, the closest of several) and, between
1e-4 and 1e16 and for zero, the same layout ('0.0001', '123.0', '-0.0').

Outside that range the layouts differ (orjson writes '0.00001' where repr writes
'1e-05'), and NaN and infinities are JSON's null: those values are written by `repr`.
Before orjson writes anything in a process its text is compared with `repr` on values
where a formatter goes wrong (the range's ends, powers of two and ten and their
neighbours, integers, tenths, the extremes); a single difference and `repr` writes
everything. tests/storage/test_float_text.py compares tens of millions more.
Without orjson installed, `repr` writes everything.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np

__all__ = ["column_reprs", "float_reprs", "joined_reprs"]

# Below this many values `repr` writes them: orjson's import and check would cost more
# than they save (and a small study never loads it).
MIN_VALUES = 2_000

# Where orjson's text is repr's (zero too): from repr's switch to its exponent form below
# 1e-4 to its switch at 1e16.
_LOW, _HIGH = 1e-4, 1e16

_checked: ModuleType | bool | None = False  # False: not yet; None: repr writes everything


def float_reprs(values: np.ndarray) -> list[str]:
    """`[repr(v) for v in values.tolist()]` of a 1-D float64 array ('nan', 'inf' too)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    orjson = _orjson() if values.size >= MIN_VALUES else None
    if orjson is None:
        return list(map(repr, values.tolist()))
    return _fast_reprs(orjson, values)


def column_reprs(values: np.ndarray, nan: str) -> list[str]:
    """`float_reprs(values)` with NaN written `nan`, each distinct value (by its bits:
    -0.0 is not 0.0) formatted once (a grid's columns repeat many)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    distinct, where = np.unique(bits, return_inverse=True)
    floats = distinct.view(np.float64)
    texts = np.array(float_reprs(floats), dtype=object)
    texts[np.isnan(floats)] = nan
    out: list[str] = texts[where].tolist()
    return out


def joined_reprs(rows: np.ndarray, nan: str) -> list[str]:
    """Each row of a 2-D float64 array (one column at least) as its values' `repr`
    joined by ',', NaN written `nan` ("": a CSV's empty cell)."""
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    orjson = _orjson() if rows.size >= MIN_VALUES else None
    if orjson is None:
        return _joined(rows, nan)
    json = orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY)
    out: list[str] = json[2:-2].decode("ascii").split("],[")
    # the rows with a value outside the range (a few metrics, a column of runtimes):
    # written again, column by column
    odd = np.flatnonzero(~_inside(rows).all(axis=1))
    if odd.size:
        for i, text in zip(odd.tolist(), _joined(rows[odd], nan), strict=True):
            out[i] = text
    return out


def _joined(rows: np.ndarray, nan: str) -> list[str]:
    texts = [column_reprs(column, nan) for column in rows.T]
    return list(map(",".join, zip(*texts, strict=True)))


def _inside(values: np.ndarray) -> np.ndarray:
    """Where orjson writes repr's text: zero, and from _LOW up to but not including _HIGH."""
    size = np.abs(values)
    inside: np.ndarray = ((size >= _LOW) & (size < _HIGH)) | (size == 0.0)
    return inside


def _fast_reprs(orjson: ModuleType, values: np.ndarray) -> list[str]:
    """orjson's text of each value inside [_LOW, _HIGH) or zero, `repr`'s of the rest
    (each distinct one once: a batch's runtimes repeat)."""
    json = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    out: list[str] = json[1:-1].decode("ascii").split(",")
    outside = np.flatnonzero(~_inside(values))
    if outside.size:
        floats = values[outside].tolist()
        texts = {v: repr(v) for v in floats}  # equal floats outside zero: the same text
        for i, v in zip(outside.tolist(), floats, strict=True):
            out[i] = texts[v]
    return out


def _orjson() -> ModuleType | None:
    """orjson, once its text was seen to be `repr`'s on `probe_values()` (None: not
    installed, or a difference)."""
    global _checked
    if _checked is False:
        try:
            orjson = _import_orjson()
        except ImportError:
            _checked = None
        else:
            probe = probe_values()
            same = _fast_reprs(orjson, probe) == list(map(repr, probe.tolist()))
            _checked = orjson if same else None
    return _checked if isinstance(_checked, ModuleType) else None


def _import_orjson() -> ModuleType:
    return importlib.import_module("orjson")


def probe_values() -> np.ndarray:
    """Values where a shortest-float formatter or its layout goes wrong, inside the range
    and just outside it (then `repr`'s)."""
    powers = np.array([10.0**k for k in range(-6, 18)] + [2.0**k for k in range(-20, 60)])
    near = [powers]
    up, down = powers.copy(), powers.copy()
    for _ in range(3):  # each neighbour of a power
        up, down = np.nextafter(up, np.inf), np.nextafter(down, 0.0)
        near += [up, down]
    ints = np.arange(-1000, 1001, dtype=np.float64)
    tenths = np.arange(1, 1001, dtype=np.float64) / 10.0  # not exact: 0.1 + 0.2 and such
    # integers past 2**53, the range's ends, the smallest subnormal and normal, the
    # largest float, sums whose shortest text is long
    edges = np.array([2.0**53 + 2, 9999999999999998.0, 5e-324, 2.2250738585072014e-308,
                      1.7976931348623157e308, 0.1 + 0.2, 5e-05, 1.5e-4, 123456.789, 0.1 + 0.7,
                      1 / 3, 2 / 3, np.pi, np.e, -0.0, 0.0, np.nan, np.inf, -np.inf])  # fmt: skip
    rng = np.random.default_rng(17)
    spread = rng.standard_normal(1000) * 10.0 ** rng.integers(-5, 17, 1000)
    every = np.concatenate([*near, ints, tenths, edges, spread])
    return np.concatenate([every, -every])
