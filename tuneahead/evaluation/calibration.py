"""Calibration: the coverage of central intervals at many nominal levels.

For ours the coverage comes from each held-out run's PIT value, the predictive CDF at its true
score; for the LightGBM variants from their CV+ interval at each level
(:meth:`~tuneahead.baselines.GradientBoosted.interval_coverage`), and for any other split-conformal
baseline from its calibration runs' residuals (:func:`conformal_coverage`). Methods without a
calibrated predictive have no calibration row.
"""

from __future__ import annotations

import numpy as np

from ..baselines import conformal_quantile
from .config import METHOD_LABELS
from .scoring import MethodResults

__all__ = ["CALIBRATION_LEVELS", "coverage_from_pit", "conformal_coverage", "calibration_row"]

# nominal levels of the central intervals whose coverage the calibration block reports
CALIBRATION_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def coverage_from_pit(pit: np.ndarray, levels=CALIBRATION_LEVELS) -> np.ndarray:
    """Whether each truth lies in the central interval at each level, from its PIT value ``F(R)``.

    The central interval at level :math:`\\ell` is :math:`[F^{-1}((1-\\ell)/2), F^{-1}((1+\\ell)/2)]`,
    which holds :math:`R` exactly when :math:`|F(R) - 1/2| \\le \\ell/2`. Returns ``(n, len(levels))``.
    """
    pit = np.asarray(pit, dtype=float)
    return np.abs(pit[:, None] - 0.5) <= np.asarray(levels, dtype=float)[None, :] / 2


def conformal_coverage(mean, truth, residuals, levels=CALIBRATION_LEVELS) -> np.ndarray:
    """Whether each truth lies in the split-conformal interval ``mean +- q_level`` at each level.

    ``q_level`` is :func:`~tuneahead.baselines.conformal_quantile` of the calibration runs' absolute
    ``residuals``, as :class:`~tuneahead.baselines.SplitConformal` uses at its own level.
    Returns ``(n, len(levels))``.
    """
    half = np.array([conformal_quantile(np.abs(residuals), float(lv)) for lv in levels])
    error = np.abs(np.asarray(truth, dtype=float) - np.asarray(mean, dtype=float))
    return error[:, None] <= half[None, :]


def calibration_row(split: str, results: MethodResults) -> dict | None:
    """The calibration block's row of one method at one budget, or None without a calibrated predictive."""
    if not results.covered or any(c is None for c in results.covered):
        return None
    covered = np.concatenate(results.covered)
    return {
        "split": split,
        "budget": results.budget,
        "method": results.method,
        "label": METHOD_LABELS[results.method],
        "n": len(covered),
        "levels": list(CALIBRATION_LEVELS),
        "coverage": covered.mean(axis=0),
    }
