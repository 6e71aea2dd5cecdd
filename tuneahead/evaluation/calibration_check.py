r"""Is the predictive calibrated on held-out runs? A check with tolerances from the sample size.

For held-out runs with known final scores :math:`R_i`, each cut at probe budget :math:`c`, the
predictive CDF at the truth, :math:`u_i = F_i(R_i)` (the PIT), is uniform when the predictive is
calibrated, and the central interval of level :math:`\ell` covers :math:`R_i` with probability
:math:`\ell`. With :math:`n` runs:

- **coverage**: the share covered has standard error :math:`\sqrt{\ell (1 - \ell) / n}`; the check
  passes when it lies within ``z`` (3 by default: a false alarm about 3 times in a thousand)
  standard errors of :math:`\ell`;
- **PIT**: a Kolmogorov-Smirnov test of the :math:`u_i` against the uniform law at level
  ``alpha`` (1%).

Runs of the same group share their configuration, so the :math:`u_i` are not quite independent;
the tolerances treat them as independent and are therefore a little tight, never loose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..data.runtable import RunTable
from ..model.posterior import Posterior
from ..predict import PredictiveComponents, predictive_components
from .methods import predictive_crps

__all__ = ["CalibrationCheck", "calibration_check", "check_components"]


@dataclass(frozen=True)
class CalibrationCheck:
    """Coverage and PIT of the predictive at each budget, with their tolerances and the verdict."""

    budgets: np.ndarray  # (C,)
    n: int
    level: float
    coverage: np.ndarray  # (C,)
    coverage_se: float
    ks_pvalue: np.ndarray  # (C,)
    crps: np.ndarray  # (C,)
    squared_error: np.ndarray  # (C,) mean squared error of the predictive mean
    variance: np.ndarray  # (C,) mean predictive variance
    mean_z2: np.ndarray  # (C,) mean of squared error over variance, run by run (1 when the variances are right)
    z: float
    alpha: float

    @property
    def coverage_ok(self) -> np.ndarray:
        return np.abs(self.coverage - self.level) <= self.z * self.coverage_se

    @property
    def pit_ok(self) -> np.ndarray:
        return self.ks_pvalue >= self.alpha

    @property
    def passed(self) -> bool:
        return bool(np.all(self.coverage_ok) and np.all(self.pit_ok))

    def to_dict(self) -> dict:
        return {
            "budgets": self.budgets.tolist(),
            "n": self.n,
            "level": self.level,
            "coverage": self.coverage.tolist(),
            "coverage_tolerance": float(self.z * self.coverage_se),
            "coverage_ok": self.coverage_ok.tolist(),
            "pit_ks_pvalue": self.ks_pvalue.tolist(),
            "pit_ks_alpha": self.alpha,
            "pit_ok": self.pit_ok.tolist(),
            "crps": self.crps.tolist(),
            "squared_error": self.squared_error.tolist(),
            "variance": self.variance.tolist(),
            "mean_z2": self.mean_z2.tolist(),
            "passed": self.passed,
        }


def calibration_check(
    posterior: Posterior,
    runs: RunTable,
    budgets: Sequence[float],
    level: float = 0.9,
    z: float = 3.0,
    alpha: float = 0.01,
    max_draws: int | None = 400,
) -> CalibrationCheck:
    """Coverage of the central ``level`` interval and the PIT of ``runs`` cut at each budget (module doc)."""
    truth = np.asarray(runs.final, dtype=float)
    if not np.isfinite(truth).all():
        raise ValueError("the calibration check needs runs with final scores; candidates have none")
    components = [predictive_components(posterior, runs.truncate(c), max_draws) for c in budgets]
    return check_components(components, truth, budgets, level, z, alpha)


def check_components(
    components: Sequence[PredictiveComponents],
    truth: np.ndarray,
    budgets: Sequence[float],
    level: float = 0.9,
    z: float = 3.0,
    alpha: float = 0.01,
) -> CalibrationCheck:
    """:func:`calibration_check` of predictives already computed, one per budget (any mixture of
    draws: a posterior's, or several models' stacked)."""
    truth = np.asarray(truth, dtype=float)
    coverage, pvalue, crps, moments = [], [], [], []
    for comp in components:
        mean, var, (lo, hi) = comp.summary([(1 - level) / 2, (1 + level) / 2])
        err = (truth - mean) ** 2
        moments.append((err.mean(), var.mean(), np.mean(err / var)))
        coverage.append(float(np.mean((truth >= lo) & (truth <= hi))))
        pvalue.append(float(stats.kstest(comp.cdf(truth), "uniform").pvalue))
        crps.append(float(np.mean(predictive_crps(comp, truth))))
    n = len(truth)
    return CalibrationCheck(
        budgets=np.asarray(budgets, dtype=float),
        n=n,
        level=level,
        coverage=np.array(coverage),
        coverage_se=float(np.sqrt(level * (1 - level) / n)),
        ks_pvalue=np.array(pvalue),
        crps=np.array(crps),
        squared_error=np.array([m[0] for m in moments]),
        variance=np.array([m[1] for m in moments]),
        mean_z2=np.array([m[2] for m in moments]),
        z=z,
        alpha=alpha,
    )
