"""The regime of a task at a tolerance: Static-Sufficient, Dynamic-Critical or Noise-Dominant
(the definitions are in the package doc, :mod:`tuneahead.risk`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .curve import RiskCurve
from .power_law import PowerLaw

__all__ = ["REGIMES", "RegimeCall", "classify_regime", "call_regime", "regime_summary"]

REGIMES = ("Static-Sufficient", "Dynamic-Critical", "Noise-Dominant")


@dataclass(frozen=True)
class RegimeCall:
    """The regime of a task under the posterior, with the probability of each regime."""

    label: str
    probabilities: dict
    epsilon: float
    c_max: float
    L0: float
    L_int: float
    L_c_max: float
    reachable: bool
    budget_to_tolerance: float


def classify_regime(L0, L_int, epsilon: float):
    """Regime labels (elementwise) from :math:`L(0)`, :math:`L_{int}` and the tolerance :math:`\\epsilon`."""
    tol = epsilon**2
    L0, L_int = np.asarray(L0, dtype=float), np.asarray(L_int, dtype=float)
    return np.where(L0 <= tol, REGIMES[0], np.where(L_int >= tol, REGIMES[2], REGIMES[1]))


def call_regime(risk: RiskCurve, power_law: PowerLaw, epsilon: float, c_max: float) -> RegimeCall:
    """The regime of the task at tolerance ``epsilon`` and largest budget ``c_max``."""
    if epsilon <= 0 or c_max <= 0:
        raise ValueError("risk.epsilon and risk.c_max must be positive")
    label = str(classify_regime(risk.at(0.0), risk.intrinsic, epsilon))
    per_draw = classify_regime(risk.draws[:, 0], risk.intrinsic_draws, epsilon)
    probabilities = {r: float(np.mean(per_draw == r)) for r in REGIMES}
    if c_max in risk.budgets:
        L_c_max = risk.at(c_max)
    else:
        L_c_max = float(risk.intrinsic + power_law(c_max) + risk.epistemic_variance[-1])
    needed = 0.0 if label == REGIMES[0] else power_law.budget_for(epsilon**2 - risk.intrinsic)
    return RegimeCall(
        label=label,
        probabilities=probabilities,
        epsilon=epsilon,
        c_max=c_max,
        L0=risk.at(0.0),
        L_int=risk.intrinsic,
        L_c_max=L_c_max,
        reachable=bool(L_c_max <= epsilon**2),
        budget_to_tolerance=needed,
    )


def regime_summary(regime: RegimeCall) -> dict:
    """A regime call as plain values."""
    return {
        "label": regime.label,
        "probabilities": regime.probabilities,
        "epsilon": regime.epsilon,
        "c_max": regime.c_max,
        "L0": regime.L0,
        "L_int": regime.L_int,
        "L_c_max": regime.L_c_max,
        "reachable_within_c_max": regime.reachable,
        "budget_to_tolerance": regime.budget_to_tolerance,
    }
