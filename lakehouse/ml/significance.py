"""Is the forecaster better than "no change" for real, or by luck? Pure statistics on validation errors.

- Out-of-sample R² against the naive forecast (Campbell and Thompson): 1 - SSE(model) / SSE(naive); above
  0 means the model's squared errors are smaller than the naive forecast's on the same rows.
- Directional accuracy with a 95 % Wilson interval, on the rows whose price moved, over an effective
  sample size (moves / rows per horizon): neighbouring forecasts share their outcome, so counting every
  row as independent would make the interval far too narrow.
- The Diebold-Mariano test of equal squared-error loss, with a Newey-West (Bartlett) long-run variance:
  30-second-ahead forecasts made a few trades apart share most of their horizon, so their loss
  differences are strongly autocorrelated and a plain t-test would overstate the evidence.

Inputs are plain sequences of floats in time order (one symbol); the caller groups by symbol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class DieboldMariano:
    statistic: float  # < 0: the model's loss is lower
    p_value: float  # two-sided, normal approximation
    lag: int  # Newey-West lags used


def r2_out_of_sample(actual: Sequence[float], predicted: Sequence[float]) -> float:
    """1 - SSE(model) / SSE(naive zero-return forecast); nan when every actual return is 0."""
    naive = sum(a * a for a in actual)
    if naive == 0:
        return math.nan
    model = sum((a - p) ** 2 for a, p in zip(actual, predicted, strict=True))
    return 1 - model / naive


def wilson_interval(successes: float, trials: float, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (well-behaved near 0 and 1, unlike the normal one).

    Counts may be fractional: an effective sample size, for rows that are not independent."""
    if trials == 0:
        return (math.nan, math.nan)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def directional_hits(actual: Sequence[float], predicted: Sequence[float]) -> tuple[int, int]:
    """(right signs, moves) over the rows whose price moved."""
    moves = [(a, p) for a, p in zip(actual, predicted, strict=True) if a != 0]
    return sum(1 for a, p in moves if (a > 0) == (p > 0) and p != 0), len(moves)


def diebold_mariano(model_errors: Sequence[float], naive_errors: Sequence[float], lag: int) -> DieboldMariano:
    """Test H0: equal expected squared error. `lag`: how many neighbouring rows share a horizon."""
    import numpy as np

    model, naive = np.asarray(model_errors, dtype=float), np.asarray(naive_errors, dtype=float)
    if model.shape != naive.shape:
        raise ValueError("model and naive errors must be paired row by row")
    count = model.size
    if count < 2:
        return DieboldMariano(math.nan, math.nan, 0)
    lag = max(0, min(lag, count - 1))
    centred = model * model - naive * naive
    mean = float(centred.mean())
    centred = centred - mean
    variance = float(centred @ centred) / count
    for k in range(1, lag + 1):
        weight = 1 - k / (lag + 1)  # Bartlett: keeps the long-run variance positive
        variance += 2 * weight * float(centred[k:] @ centred[:-k]) / count
    if variance <= 0:
        return DieboldMariano(math.nan, math.nan, lag)
    statistic = mean / math.sqrt(variance / count)
    return DieboldMariano(statistic, math.erfc(abs(statistic) / math.sqrt(2)), lag)


def rows_per_horizon(times_ms: Sequence[int], horizon_ms: int) -> int:
    """How many rows a horizon spans on average: the Newey-West lag for overlapping forecasts."""
    if len(times_ms) < 2 or times_ms[-1] == times_ms[0]:
        return 0
    return math.ceil(len(times_ms) * horizon_ms / (times_ms[-1] - times_ms[0]))
