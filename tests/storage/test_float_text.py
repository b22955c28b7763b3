"""`float_reprs` and `joined_reprs` write `repr`'s text of every float, whoever formats it.

With orjson installed, most values are formatted by it: these tests compare its text with
`repr` on random bit patterns (STRATOPT_FLOAT_TEXT_CHUNKS chunks of a million, default 2)
and on the values where a formatter or its layout goes wrong.
"""

from __future__ import annotations

import os
import types
from typing import Any

import numpy as np
import pytest

from stratopt.storage import _float_text
from stratopt.storage._float_text import float_reprs, joined_reprs, probe_values

_CHUNK = 1_000_000


def _reprs(values: np.ndarray) -> list[str]:
    return list(map(repr, values.tolist()))


def _random_patterns(rng: np.random.Generator, n: int) -> np.ndarray:
    """Half any bit pattern, half an exponent in [1e-5, 1e17] (where orjson writes)."""
    bits = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, n, dtype=np.int64)
    exponents = rng.integers(1023 - 17, 1023 + 57, n // 2, dtype=np.int64)
    inside = bits[: n // 2] & ~np.int64(0x7FF << 52) | (exponents << 52)
    return np.concatenate([bits[n // 2 :], inside]).view(np.float64)


def test_orjson_is_trusted_where_installed() -> None:
    pytest.importorskip("orjson")
    assert _float_text._orjson() is not None  # its text was repr's on every probe value


@pytest.mark.parametrize("chunk", range(int(os.environ.get("STRATOPT_FLOAT_TEXT_CHUNKS", "2"))))
def test_every_random_bit_pattern_is_written_as_repr_writes_it(chunk: int) -> None:
    values = _random_patterns(np.random.default_rng(1000 + chunk), _CHUNK)
    got = float_reprs(values)
    want = _reprs(values)
    diff = [(v, g, w) for v, g, w in zip(values.tolist(), got, want, strict=True) if g != w]
    assert not diff[:10]
    assert len(got) == len(want)


def _edges() -> np.ndarray:
    """Powers of ten and two and 20 neighbours each way, integers around 2**53, the
    subnormals' ends, values with two shortest texts (the closest wins), and more."""
    powers = [10.0**k for k in range(-8, 24)] + [2.0**k for k in range(-1074, 1024, 7)]
    near = []
    for p in powers:
        up = down = p
        for _ in range(20):
            up, down = np.nextafter(up, np.inf), np.nextafter(down, 0.0)
            near += [up, down]
    ints = [float(2**53 + k) for k in range(-40, 40)] + [float(k) for k in range(-3000, 3000)]
    ties = [5e-324, 1e23, 9007199254740993.0, 2.0**-1022, 1.5 * 2.0**-1022, 0.3, 2.675, 1.005]
    subnormal = np.arange(1, 2000, dtype=np.int64).view(np.float64)  # the smallest ones
    values = np.concatenate([powers, near, ints, ties, subnormal, probe_values()])
    return np.concatenate([values, -values, [0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf]])


def test_the_edges_are_written_as_repr_writes_them() -> None:
    values = _edges()
    assert float_reprs(values) == _reprs(values)


def test_rows_are_joined_reprs_with_nan_written_as_asked() -> None:
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((3000, 7)) * 10.0 ** rng.integers(-7, 18, (3000, 7))
    rows[rng.random((3000, 7)) < 0.01] = np.nan
    rows[5, 2], rows[6, :] = np.inf, np.nan  # a row of NaN alone: ",,,,,,"
    rows[7, :] = _edges()[:7]
    want = [",".join("" if np.isnan(v) else repr(v) for v in row) for row in rows.tolist()]
    assert joined_reprs(rows, nan="") == want
    assert joined_reprs(rows[:, 3:4], nan="") == [w.split(",")[3] for w in want]
    assert joined_reprs(rows[:2], nan="NA")[0] == ",".join(
        "NA" if np.isnan(v) else repr(v) for v in rows[0].tolist()
    )  # below MIN_VALUES: repr alone


def _fake_orjson(wrong: float | None) -> types.ModuleType:
    """orjson's interface, writing repr's text except '9.9' for `wrong`."""

    def dumps(values: np.ndarray, option: int = 0) -> bytes:
        def text(v: float) -> str:
            return "9.9" if v == wrong else repr(v)

        rows = values.reshape(values.shape[0], -1) if values.ndim > 1 else values[None, :]
        inner = "],[".join(",".join(map(text, r)) for r in rows.tolist())
        return (f"[[{inner}]]" if values.ndim > 1 else f"[{inner}]").encode()

    fake = types.ModuleType("orjson")
    fake.dumps = dumps  # type: ignore[attr-defined]
    fake.OPT_SERIALIZE_NUMPY = 0  # type: ignore[attr-defined]
    return fake


@pytest.mark.parametrize("wrong", [None, 1e15, -0.001])
def test_orjson_is_used_only_when_its_text_is_repr_s_on_the_probes(
    wrong: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake_orjson(wrong)
    monkeypatch.setattr(_float_text, "_checked", False)
    monkeypatch.setattr(_float_text, "_import_orjson", lambda: fake)
    trusted = _float_text._orjson()
    assert (trusted is fake) == (wrong is None)
    values = np.concatenate([np.full(3000, 1e15), np.full(3000, -0.001), _edges()])
    assert float_reprs(values) == _reprs(values)


def test_without_orjson_repr_writes_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Any:
        raise ImportError("orjson")

    monkeypatch.setattr(_float_text, "_checked", False)
    monkeypatch.setattr(_float_text, "_import_orjson", missing)
    values = _edges()
    assert float_reprs(values) == _reprs(values)
    assert _float_text._checked is None
