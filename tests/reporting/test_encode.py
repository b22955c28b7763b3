from __future__ import annotations

import base64
import json

import numpy as np

from stratopt.reporting._encode import drawn, to_json


def test_arrays_become_typed_arrays_and_non_finite_list_items_null() -> None:
    x = np.array([1.5, np.nan, 3.0])
    out = json.loads(to_json({"x": x, "y": drawn([1, 2]), "n": np.arange(3), "l": [1.0, np.inf]}))
    assert out["x"]["dtype"] == "f8"
    back = np.frombuffer(base64.b64decode(out["x"]["bdata"]), dtype="<f8")
    assert np.array_equal(back, x, equal_nan=True)
    assert out["y"]["dtype"] == "f4" and out["n"]["dtype"] == "i4"
    assert out["l"] == [1.0, None]
