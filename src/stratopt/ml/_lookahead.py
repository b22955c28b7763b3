"""Does a feature at bar `t` read bars after `t`? Checked by truncating the data.

Each feature is computed on the whole panel and on its first `c` bars for a few cuts
`c` (`stratopt.validation.truncation_points`); a causal feature gives the same values on
bars ``< c`` both times. A feature that differs anywhere is flagged by name, with the
first bar and cut where it did. A centred rolling window and ``shift(-1)`` are caught.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stratopt.ml._features import FeatureSpec, compute_features
from stratopt.ml._panel import Panel
from stratopt.validation import truncation_points

__all__ = ["FeatureLookahead", "check_feature_lookahead"]


@dataclass(frozen=True)
class FeatureLookahead:
    """The result: the features checked, the cuts, and those that looked ahead."""

    checked: tuple[str, ...]
    cuts: tuple[int, ...]
    leaks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.leaks

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "features_checked": len(self.checked),
            "cuts": list(self.cuts),
            "leaks": self.leaks,
        }


def check_feature_lookahead(
    panel: Panel, spec: FeatureSpec, *, points: int = 4, tolerance: float = 1e-9
) -> FeatureLookahead:
    """Compare each feature on the full panel and on truncated copies (module docs)."""
    full = compute_features(panel, spec)
    cuts = tuple(truncation_points(panel.n_bars, points))
    leaks: dict[str, dict[str, Any]] = {}
    for cut in cuts:
        part = compute_features(panel.truncated(cut), spec)
        a, b = full.values[:cut], part.values
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        close = np.abs(a - b) <= tolerance * np.maximum(1.0, np.abs(a))
        bad = ~(same | close)
        for k, name in enumerate(full.names):
            if name in leaks or not bad[:, :, k].any():
                continue
            bar = int(np.argmax(bad[:, :, k].any(axis=1)))
            leaks[name] = {"cut": cut, "first_bar": bar, "time": str(panel.index[bar])}
    return FeatureLookahead(full.names, cuts, leaks)
