r"""Early-stop extrapolation: fit a learning curve to the probe and read it off at the run's end.

Two saturating curves are fitted by least squares to each run's probe points :math:`(t_k, y_k)`,
with :math:`u = t / 1000`:

.. math::

    y = a - b\, u^{-\gamma} \quad (\gamma > 0), \qquad
    y = a - b\, e^{-u / s} \quad (s > 0),

and the one with the smaller residual sum of squares extrapolates to the run's budget :math:`T`
(Domhan, Springenberg and Hutter, 2015, use a weighted ensemble of such families; one best
fit is the common cheap form). A three-parameter curve needs ``min_points`` (default 3) points;
a run with fewer keeps its last value, and a fit that fails or extrapolates outside the training
scores' range (a score cannot end where no finished run ended) is clipped to it.

:class:`LossDecayRegression` is the variant in TuneAhead's code: ordinary least squares of the
final score on the probe's initial value and its decay :math:`y_1 - y_K`.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import curve_fit

from ..data.runtable import RunTable
from .base import MethodPrediction, check_scored
from .features import PROBE_FEATURES, impute, probe_features

__all__ = ["CurveExtrapolation", "LossDecayRegression", "power_law", "exponential", "extrapolate_curve"]


def power_law(u, a, b, gamma):
    """:math:`a - b u^{-\\gamma}`."""
    return a - b * np.power(u, -gamma)


def exponential(u, a, b, s):
    """:math:`a - b e^{-u/s}`."""
    return a - b * np.exp(-u / s)


def _fit_one(family, u, y, p0, bounds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            params, _ = curve_fit(family, u, y, p0=p0, bounds=bounds, maxfev=800)
        except (RuntimeError, ValueError):
            return None, np.inf
    sse = float(np.sum((family(u, *params) - y) ** 2))
    return params, sse if np.isfinite(sse) else np.inf


def extrapolate_curve(steps: np.ndarray, values: np.ndarray, horizon: float, min_points: int = 3) -> tuple[float, str]:
    """Extrapolate one run's probe points to ``horizon`` steps; returns (value, family used)."""
    ok = np.isfinite(values)
    steps, values = steps[ok], values[ok]
    if steps.size == 0:
        return np.nan, "none"
    if steps.size < min_points:
        return float(values[-1]), "last"
    u, y = steps / 1000.0, values
    span = float(np.ptp(y)) or 1.0
    a0 = float(y[-1])
    b0 = float(y[-1] - y[0]) or span
    fits = [
        (
            power_law,
            "power",
            _fit_one(power_law, u, y, [a0, b0, 0.5], ([-np.inf, -np.inf, 1e-3], [np.inf, np.inf, 5.0])),
        ),
        (
            exponential,
            "exponential",
            _fit_one(exponential, u, y, [a0, b0, float(u.mean())], ([-np.inf, -np.inf, 1e-3], [np.inf, np.inf, 1e3])),
        ),
    ]
    family, label, (params, sse) = min(fits, key=lambda f: f[2][1])
    if params is None:
        return float(values[-1]), "last"
    return float(family(horizon / 1000.0, *params)), label


class CurveExtrapolation:
    """Best of a saturating power law and an exponential per run, read off at ``T`` (module doc)."""

    name = "extrapolation"

    def __init__(self, metric: str, min_points: int = 3):
        self.metric = metric
        self.min_points = min_points

    def fit(self, train: RunTable, budget: float) -> CurveExtrapolation:
        train = check_scored(train, self.name)
        self.budget = float(budget)
        lo, hi = float(np.min(train.final)), float(np.max(train.final))
        self.range_ = (lo, hi)
        self.fallback_ = float(np.mean(train.final))
        return self

    def extrapolate(self, steps: np.ndarray, values: np.ndarray, horizon: float) -> tuple[float, str]:
        """One run's probe read off at ``horizon``: (value, the form used); NaN for no value."""
        return extrapolate_curve(steps, values, horizon, self.min_points)

    def predict(self, test: RunTable) -> MethodPrediction:
        curve = test.curve(self.metric)
        mean = np.empty(len(test))
        self.families_ = []
        for i in range(len(test)):
            steps, values = curve.points(i)
            seen = steps <= self.budget
            value, family = self.extrapolate(steps[seen], values[seen], float(test.budget[i]))
            self.families_.append(family)
            mean[i] = self.fallback_ if not np.isfinite(value) else value
        return MethodPrediction(mean=np.clip(mean, *self.range_))


class LossDecayRegression:
    """OLS of the final score on the probe's initial value and decay (TuneAhead's code)."""

    name = "loss-decay regression"
    _columns = [PROBE_FEATURES.index("initial"), PROBE_FEATURES.index("decay")]

    def __init__(self, metric: str):
        self.metric = metric

    def _design(self, table: RunTable, fill=None):
        x, fill = impute(probe_features(table, self.budget, self.metric)[:, self._columns], fill)
        return np.column_stack([np.ones(len(table)), x]), fill

    def fit(self, train: RunTable, budget: float) -> LossDecayRegression:
        train = check_scored(train, self.name)
        self.budget = float(budget)
        design, self._fill = self._design(train)
        self.coef_, *_ = np.linalg.lstsq(design, train.final, rcond=None)
        return self

    def predict(self, test: RunTable) -> MethodPrediction:
        design, _ = self._design(test, self._fill)
        return MethodPrediction(mean=design @ self.coef_)
