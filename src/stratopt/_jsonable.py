"""The one JSON sanitizer: what stratopt writes to summary.json, trials and reports.

JSON has no NaN or infinity: non-finite floats are written as the strings "nan", "inf"
and "-inf" (`float()` reads them back). NumPy scalars become Python numbers; dates and
paths become text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["clean", "dumps", "to_json_value"]


def clean(value: Any) -> Any:
    """A JSON-safe copy of `value`: mappings (keys as text), lists and finite numbers."""
    if type(value) is float:
        return value if math.isfinite(value) else str(value)
    if type(value) is dict and _finite_numbers(value):
        return value.copy()  # every trial's metrics: nothing to change
    if type(value) is dict or isinstance(value, Mapping):
        # Every trial's metrics pass here: their floats are cleaned inline, without a call
        # or an ABC check each (a search of fast trials spends percents on it otherwise).
        return {
            k if type(k) is str else str(k): (
                (v if math.isfinite(v) else str(v)) if type(v) is float else clean(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


_TEXT = {str}
_NUMBERS = {float, int}


def _finite_numbers(value: dict[Any, Any]) -> bool:
    """True when `clean` would copy `value` unchanged: keys of type `str` (not a str
    subclass such as a str Enum, which `clean` turns into its `str()`), values of type
    `float` or `int` (not NumPy's, nor arrays, whose sum could warn or mean something
    else) whose sum is finite, so none is NaN or infinite. Else `clean` looks at each.
    """
    if not value:
        return True
    if {*map(type, value)} != _TEXT or not {*map(type, value.values())} <= _NUMBERS:
        return False
    try:
        return math.isfinite(sum(value.values()))
    except OverflowError:  # an int too large for a float
        return False


def to_json_value(value: Any) -> Any:
    """`json.dumps`' `default`: a NumPy scalar's value, else the object as text (a date,
    a path)."""
    return value.item() if hasattr(value, "item") else str(value)


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """`value` as JSON text (see `clean`), with a final newline when indented."""
    text = json.dumps(clean(value), indent=indent, allow_nan=False, default=to_json_value)
    return text + "\n" if indent is not None else text
