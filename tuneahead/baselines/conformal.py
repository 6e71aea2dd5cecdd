r"""Split-conformal intervals around any point predictor (Vovk et al. 2005; Lei et al. 2018).

With absolute residuals :math:`s_j = |R_j - \hat R_j|` on :math:`n` calibration runs that the
point predictor never saw, the interval at level :math:`1 - \alpha` is

.. math::

    \hat R(x) \pm \hat q, \qquad
    \hat q = s_{(k)}, \quad k = \lceil (n + 1)(1 - \alpha) \rceil,

the :math:`k`-th smallest residual (:math:`\hat q = \infty` when :math:`k > n`). For a test run
exchangeable with the calibration runs, :math:`P(R \in \hat R \pm \hat q) \ge 1 - \alpha`.

The signed residuals :math:`R_j - \hat R_j` also give each run a predictive distribution,
:math:`\hat R(x) + (R_j - \hat R_j)`, the split-conformal predictive system, from which CRPS is
computed.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["conformal_quantile", "SplitConformal"]


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """:math:`s_{(k)}` with :math:`k = \\lceil (n+1) \\cdot level \\rceil` (module doc); inf if k > n."""
    scores = np.sort(np.asarray(scores, dtype=float))
    if scores.size == 0:
        raise ValueError("split-conformal calibration needs at least one calibration run")
    if not 0 < level < 1:
        raise ValueError(f"conformal level must lie in (0, 1), got {level}")
    k = math.ceil((scores.size + 1) * level)
    return float(scores[k - 1]) if k <= scores.size else math.inf


class SplitConformal:
    """Calibrated interval half-width and residual ensemble from held-out residuals."""

    def __init__(self, level: float = 0.9):
        self.level = level

    def calibrate(self, predicted: np.ndarray, truth: np.ndarray) -> SplitConformal:
        self.residuals_ = np.asarray(truth, dtype=float) - np.asarray(predicted, dtype=float)
        self.half_width_ = conformal_quantile(np.abs(self.residuals_), self.level)
        return self

    def interval(self, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return mean - self.half_width_, mean + self.half_width_

    def ensemble(self, mean: np.ndarray) -> np.ndarray:
        return np.asarray(mean)[:, None] + self.residuals_[None, :]
