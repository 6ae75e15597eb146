"""The champion gate: a new model takes the alias only when it beats the baseline and the champion."""

from __future__ import annotations

from dataclasses import dataclass

# The metric the gate compares: the RMSE of the forecast log return in basis points, which weighs
# every symbol's rows alike whatever its price (see lakehouse.ml.evaluation.forecast_metrics).
GATE_METRIC = "rmse_bps"


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def decide(candidate: float, baseline: float, champion: float | None) -> GateDecision:
    """Compare GATE_METRIC values measured on the same validation window (lower is better)."""
    if not candidate < baseline:
        return GateDecision(False, f"RMSE {candidate:.4g} bps does not beat the naive baseline {baseline:.4g} bps")
    if champion is not None and not candidate < champion:
        return GateDecision(False, f"RMSE {candidate:.4g} bps does not beat the champion {champion:.4g} bps")
    if champion is None:
        return GateDecision(True, f"first model; RMSE {candidate:.4g} bps beats the baseline {baseline:.4g} bps")
    return GateDecision(
        True, f"RMSE {candidate:.4g} bps beats the champion {champion:.4g} bps and the baseline {baseline:.4g} bps"
    )
