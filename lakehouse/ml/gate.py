"""The champion gate: a new model takes the alias only when it beats the baseline and the champion."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def decide(candidate_rmse: float, baseline_rmse: float, champion_rmse: float | None) -> GateDecision:
    """Compare RMSEs measured on the same validation window (lower is better)."""
    if not candidate_rmse < baseline_rmse:
        return GateDecision(False, f"RMSE {candidate_rmse:.6g} does not beat the naive baseline {baseline_rmse:.6g}")
    if champion_rmse is not None and not candidate_rmse < champion_rmse:
        return GateDecision(False, f"RMSE {candidate_rmse:.6g} does not beat the champion {champion_rmse:.6g}")
    if champion_rmse is None:
        return GateDecision(True, f"first model; RMSE {candidate_rmse:.6g} beats the baseline {baseline_rmse:.6g}")
    return GateDecision(
        True, f"RMSE {candidate_rmse:.6g} beats the champion {champion_rmse:.6g} and the baseline {baseline_rmse:.6g}"
    )
