"""Known, planted edges for synthetic series, with the math of how well they can be traded."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from stratopt.errors import ConfigError

__all__ = ["PlantedEdge"]

FloatArray = npt.NDArray[np.float64]
# Phases averaged over one cycle; the expectation is smooth in phase, 64 points are plenty.
_PHASES = 64


@dataclass(frozen=True)
class PlantedEdge:
    """A known, tradable pattern added to a synthetic random walk.

    ``kind="trend"`` adds slow sinusoidal trend cycles to the log price::

        log close[t] = random walk[t] + A * sin(2 * pi * t / period)
        A = strength * volatility * sqrt(period)

    so ``strength`` is the cycle's amplitude in units of the noise's typical move over one
    period; the tradability of the edge does not depend on ``volatility``.

    A long/short SMA crossover (long while SMA(fast) > SMA(slow) at a bar's close, short
    otherwise, held over the next bar) earns in expectation
    ``sma_cross_score(fast, slow) * volatility`` log return per bar; on a random walk it
    earns 0. The score has a closed form (`sma_cross_score`), so the best windows are
    known exactly: `best_fast` and `best_slow` maximise it over
    ``2 <= fast < slow <= period``. The optimum always has the fastest window allowed
    (the cycle's phase matters more than smoothing) and ``best_slow`` shrinks as
    ``strength`` grows; e.g. period 120: ``(2, 28)`` at strength 0.5, ``(2, 21)`` at 1.0.
    Around the optimum the surface is a broad plateau (about 1 % of the pairs score within
    5 % of the best), so tests should compare scores, e.g. that an optimizer's pick
    reaches 90 % of ``best_score``, rather than demand the exact pair. A long-only
    crossover earns half the long/short score and has the same best windows.

    Attributes:
        kind: Only ``"trend"`` for now.
        period: Bars per full cycle (>= 4).
        strength: Amplitude in noise units (> 0); 0.5 gives a per-bar Sharpe ratio of
            about 0.1 at the best windows of a 120-bar cycle.
    """

    kind: Literal["trend"] = "trend"
    period: int = 120
    strength: float = 0.5

    def __post_init__(self) -> None:
        if self.kind != "trend":
            raise ConfigError(f"unknown planted edge kind {self.kind!r}; expected 'trend'")
        if int(self.period) != self.period or self.period < 4:
            raise ConfigError(f"edge period must be a whole number >= 4, got {self.period!r}")
        if not (math.isfinite(self.strength) and self.strength > 0):
            raise ConfigError(f"edge strength must be positive, got {self.strength!r}")

    def log_component(self, n: int, volatility: float) -> FloatArray:
        """The pattern added to the log price of bars ``0 .. n-1``."""
        amplitude = self.strength * volatility * math.sqrt(self.period)
        return amplitude * np.sin(2.0 * np.pi * np.arange(n) / self.period)

    def sma_cross_score(self, fast: int, slow: int) -> float:
        """Expected log return per bar of the long/short SMA crossover, in units of volatility.

        Exact for SMAs of the log price on the pattern plus Gaussian random-walk noise;
        SMAs of the price agree closely. Zero would mean no edge.

        Args:
            fast: The fast window (>= 1).
            slow: The slow window (> fast).

        Returns:
            The expected per-bar return divided by the volatility.
        """
        if not 1 <= fast < slow:
            raise ConfigError(f"need 1 <= fast < slow, got fast={fast}, slow={slow}")
        return float(self._scores(fast, np.array([slow], dtype=np.float64))[0])

    def best_sma_windows(
        self, fast: Iterable[int] | None = None, slow: Iterable[int] | None = None
    ) -> tuple[int, int]:
        """The ``(fast, slow)`` pair with the highest `sma_cross_score` on a grid.

        Args:
            fast: Candidate fast windows; by default ``2 .. period - 1``.
            slow: Candidate slow windows; by default ``3 .. period``. Only pairs with
                ``fast < slow`` count.

        Returns:
            The best pair (the smallest windows win ties).
        """
        fasts = sorted(set(fast if fast is not None else range(2, self.period)))
        slows = np.array(
            sorted(set(slow if slow is not None else range(3, self.period + 1))),
            dtype=np.float64,
        )
        best, pair = -math.inf, (0, 0)
        for f in fasts:
            candidates = slows[slows > f]
            if f < 1 or candidates.shape[0] == 0:
                continue
            scores = self._scores(f, candidates)
            i = int(np.argmax(scores))
            if scores[i] > best:
                best, pair = float(scores[i]), (f, int(candidates[i]))
        if pair == (0, 0):
            raise ConfigError("no pair with 1 <= fast < slow in the given windows")
        return pair

    @functools.cached_property
    def _best(self) -> tuple[int, int]:
        return self.best_sma_windows()

    @property
    def best_fast(self) -> int:
        """The fast window of the best pair over ``2 <= fast < slow <= period``."""
        return self._best[0]

    @property
    def best_slow(self) -> int:
        """The slow window of the best pair over ``2 <= fast < slow <= period``."""
        return self._best[1]

    @property
    def best_score(self) -> float:
        """`sma_cross_score` of (`best_fast`, `best_slow`)."""
        return self.sma_cross_score(self.best_fast, self.best_slow)

    def _scores(self, fast: int, slow: FloatArray) -> FloatArray:
        """Scores of one fast window against many slow windows.

        With the noise as a random walk W (unit steps) and the pattern T, the crossover
        signal is D = SMA_f - SMA_s of (W + T). Its pattern part is a sinusoid with gain
        and phase given by the SMAs' frequency responses; its noise part is Gaussian with
        variance V(f) + V(s) - 2 C(f, s) (sums of the SMA weights on past steps). The
        position sign(D) earns the pattern's next step; the noise's next step is
        independent of the past and earns nothing. Averaging
        erf(E[D] / sqrt(2 Var D)) * (next pattern step) over the cycle's phase gives the
        expected return.
        """
        omega = 2.0 * np.pi / self.period
        f = float(fast)
        gain = _sma_response(np.array([f]), omega) - _sma_response(slow, omega)
        var = _sma_var(f) + _sma_var(slow) - 2.0 * _sma_cov(f, slow)
        amplitude = self.strength * math.sqrt(self.period)
        phase = np.linspace(0.0, 2.0 * np.pi, _PHASES, endpoint=False)
        ratio = amplitude * np.abs(gain) / np.sqrt(2.0 * var)
        signal = ratio[:, None] * np.sin(phase[None, :] + np.angle(gain)[:, None])
        step = amplitude * (np.sin(phase + omega) - np.sin(phase))
        return np.asarray(np.mean(_erf(signal) * step[None, :], axis=1), dtype=np.float64)


def _sma_response(window: FloatArray, omega: float) -> npt.NDArray[np.complex128]:
    """Complex gain of an SMA at angular frequency omega (lag (w-1)/2, sinc-like damping)."""
    damping = np.sin(omega * window / 2.0) / (window * np.sin(omega / 2.0))
    return np.asarray(np.exp(-0.5j * omega * (window - 1.0)) * damping)


def _sma_var(w: FloatArray | float) -> FloatArray:
    """Variance of (SMA_w - last value) of a unit random walk: sum of ((w-1-k)/w)^2."""
    w = np.asarray(w, dtype=np.float64)
    return np.asarray((w - 1.0) * (2.0 * w - 1.0) / (6.0 * w))


def _sma_cov(f: float, s: FloatArray) -> FloatArray:
    """Covariance of the two SMA deviations (f < s) of a unit random walk."""
    return np.asarray(((f - 1) * f * (2 * f - 1) / 6.0 + (s - f) * (f - 1) * f / 2.0) / (s * f))


def _erf(x: FloatArray) -> FloatArray:
    """The error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), vectorized."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t) * t
    poly += 0.254829592 * t
    return np.asarray(np.sign(x) * (1.0 - poly * np.exp(-a * a)))
