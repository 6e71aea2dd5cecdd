r"""Conformal intervals around any point predictor: split conformal and CV+.

**Split conformal** (Vovk et al. 2005; Lei et al. 2018). With absolute residuals
:math:`s_j = |R_j - \hat R_j|` on :math:`n` calibration runs that the point predictor never saw,
the interval at level :math:`1 - \alpha` is

.. math::

    \hat R(x) \pm \hat q, \qquad
    \hat q = s_{(k)}, \quad k = \lceil (n + 1)(1 - \alpha) \rceil,

the :math:`k`-th smallest residual (:math:`\hat q = \infty` when :math:`k > n`). For a test run
exchangeable with the calibration runs, :math:`P(R \in \hat R \pm \hat q) \ge 1 - \alpha`.
The signed residuals :math:`R_j - \hat R_j` also give each run a predictive distribution,
:math:`\hat R(x) + (R_j - \hat R_j)`, the split-conformal predictive system, from which CRPS is
computed.

**CV+** (Barber, Candès, Ramdas and Tibshirani 2021, "Predictive inference with the jackknife+",
section 3.4). The :math:`n` training runs are split into :math:`K` folds; :math:`k(i)` is run
:math:`i`'s fold and :math:`\hat\mu_{-k}` the regressor fitted without fold :math:`k`. Each run's
out-of-fold residual is :math:`R_i = |y_i - \hat\mu_{-k(i)}(x_i)|`, and the interval at a test point
:math:`x` is

.. math::

    \Big[\, \hat q^-_{\alpha}\{\hat\mu_{-k(i)}(x) - R_i\},\;
            \hat q^+_{\alpha}\{\hat\mu_{-k(i)}(x) + R_i\} \,\Big],

where :math:`\hat q^-_{\alpha}\{v_i\}` is the :math:`\lfloor \alpha (n+1) \rfloor`-th smallest of
the :math:`n` values (:math:`-\infty` when that rank is 0) and :math:`\hat q^+_{\alpha}\{v_i\}` the
:math:`\lceil (1-\alpha)(n+1) \rceil`-th smallest (:math:`+\infty` when that rank exceeds
:math:`n`). Unlike split conformal, every run serves both for fitting and for calibration. With
equal folds of :math:`m = n/K` runs and exchangeable data, their Theorem 4 guarantees coverage at
least :math:`1 - 2\alpha - \min\{2(1 - 1/K)/(n/K + 1),\ (1 - K/n)/(K + 1)\}`; in practice it is close
to :math:`1 - \alpha`. The signed out-of-fold residuals give the CV+ predictive ensemble
:math:`\hat\mu_{-k(i)}(x) + (y_i - \hat\mu_{-k(i)}(x_i))`, :math:`i = 1..n`, from which CRPS is
computed.

The ranks are computed with a tolerance of :math:`10^{-9}`, so that a level such as 0.9 at
:math:`n + 1 = 10` gives ranks 1 and 9 despite :math:`1 - 0.9` not being exact in floating point.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["conformal_quantile", "SplitConformal", "cv_plus_ranks", "cv_plus_interval", "CVPlus"]

_RANK_TOL = 1e-9


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


def cv_plus_ranks(n: int, level: float) -> tuple[int, int]:
    """The 1-based ranks :math:`\\lfloor \\alpha(n+1) \\rfloor` and :math:`\\lceil (1-\\alpha)(n+1) \\rceil`
    of the CV+ bounds, :math:`\\alpha = 1 - level` (module doc); 0 and ``n + 1`` stand for infinite bounds."""
    if not 0 < level < 1:
        raise ValueError(f"conformal level must lie in (0, 1), got {level}")
    if n < 1:
        raise ValueError("CV+ needs at least one training run")
    low = math.floor((1 - level) * (n + 1) + _RANK_TOL)
    high = math.ceil(level * (n + 1) - _RANK_TOL)
    return max(low, 0), min(high, n + 1)


def cv_plus_interval(loo_predictions: np.ndarray, residuals: np.ndarray, level: float):
    """CV+ bounds (module doc) at ``level`` for ``m`` test points.

    ``loo_predictions[j, i]`` is :math:`\\hat\\mu_{-k(i)}(x_j)`, ``(m, n)``; ``residuals`` are the
    absolute out-of-fold residuals :math:`R_i`, ``(n,)``. Returns ``lower, upper``, ``(m,)`` each.
    """
    mu = np.atleast_2d(np.asarray(loo_predictions, dtype=float))
    r = np.abs(np.asarray(residuals, dtype=float))
    n = r.size
    if mu.shape[1] != n:
        raise ValueError(f"CV+: {mu.shape[1]} out-of-fold predictions per test point for {n} residuals")
    low, high = cv_plus_ranks(n, level)
    lower = np.full(mu.shape[0], -np.inf)
    upper = np.full(mu.shape[0], np.inf)
    if low >= 1:
        lower = np.partition(mu - r, low - 1, axis=1)[:, low - 1]
    if high <= n:
        upper = np.partition(mu + r, high - 1, axis=1)[:, high - 1]
    return lower, upper


class CVPlus:
    """CV+ intervals and predictive ensemble from K fold models' out-of-fold residuals (module doc).

    :meth:`calibrate` takes each training run's out-of-fold prediction, its truth and its fold;
    :meth:`interval` and :meth:`ensemble` take the fold models' predictions for the test points,
    ``(m, K)``, column ``k`` from the model fitted without fold ``k``.
    """

    def __init__(self, level: float = 0.9):
        self.level = level

    def calibrate(self, oof_predicted: np.ndarray, truth: np.ndarray, fold: np.ndarray) -> CVPlus:
        self.residuals_ = np.asarray(truth, dtype=float) - np.asarray(oof_predicted, dtype=float)
        self.fold_ = np.asarray(fold, dtype=int)
        if self.fold_.shape != self.residuals_.shape:
            raise ValueError("CV+: one fold index per training run")
        return self

    def _loo(self, fold_predictions: np.ndarray) -> np.ndarray:
        return np.atleast_2d(np.asarray(fold_predictions, dtype=float))[:, self.fold_]

    def interval(self, fold_predictions: np.ndarray, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """CV+ bounds at ``level`` (the calibrated level when None)."""
        return cv_plus_interval(self._loo(fold_predictions), self.residuals_, self.level if level is None else level)

    def coverage(self, fold_predictions: np.ndarray, truth: np.ndarray, levels) -> np.ndarray:
        """Whether each truth lies in the CV+ interval at each level, ``(m, len(levels))``."""
        truth = np.asarray(truth, dtype=float)
        covered = []
        for level in levels:
            lower, upper = self.interval(fold_predictions, float(level))
            covered.append((truth >= lower) & (truth <= upper))
        return np.column_stack(covered)

    def ensemble(self, fold_predictions: np.ndarray) -> np.ndarray:
        """The CV+ predictive ensemble, ``(m, n)``."""
        return self._loo(fold_predictions) + self.residuals_[None, :]
