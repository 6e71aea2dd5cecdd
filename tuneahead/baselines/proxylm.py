r"""ProxyLM-style: a regression on static features plus a cheap proxy of the final score.

ProxyLM (Anugraha et al., 2024) predicts a large model's fine-tuned score from the scores of
cheaper proxy models plus dataset and configuration features. Here the proxy signal is the
probe's own last evaluation score at the budget, and the regressor is ridge on z-scored inputs,

.. math::

    \hat R = \beta_0 + \sum_j \beta_j z_j + \beta_p z_{proxy}, \qquad
    \hat\beta = \arg\min \lVert R - Z\beta \rVert^2 + \lambda \lVert \beta_{1:} \rVert^2,

or LightGBM on the same inputs (``regressor="lightgbm"``).
"""

from __future__ import annotations

import numpy as np

from ..data.runtable import RunTable
from .base import MethodPrediction, check_scored
from .features import impute, probe_features
from .gradient_boosting import TUNEAHEAD_PARAMS

__all__ = ["ProxyRegression"]


class ProxyRegression:
    """Ridge (or LightGBM) on static features plus the probe's last value of ``proxy_metric``."""

    name = "ProxyLM"

    def __init__(self, proxy_metric: str, regressor: str = "ridge", alpha: float = 1.0, seed: int = 0):
        if regressor not in ("ridge", "lightgbm"):
            raise ValueError(f"regressor={regressor!r}; use 'ridge' or 'lightgbm'")
        self.proxy_metric = proxy_metric
        self.regressor = regressor
        self.alpha = alpha
        self.seed = seed

    def _x(self, table: RunTable, fit: bool = False) -> np.ndarray:
        proxy = probe_features(table, self.budget, self.proxy_metric)[:, :1]
        x = np.concatenate([np.asarray(table.static, dtype=float), proxy], axis=1)
        x, fill = impute(x, None if fit else self._fill)
        if fit:
            self._fill = fill
            self._mean, sd = x.mean(axis=0), x.std(axis=0)
            self._sd = np.where(sd > 1e-12, sd, 1.0)
        return (x - self._mean) / self._sd

    def fit(self, train: RunTable, budget: float) -> ProxyRegression:
        train = check_scored(train, self.name)
        self.budget = float(budget)
        z = self._x(train, fit=True)
        y = np.asarray(train.final, dtype=float)
        if self.regressor == "ridge":
            design = np.column_stack([np.ones(len(y)), z])
            penalty = self.alpha * np.eye(design.shape[1])
            penalty[0, 0] = 0.0
            self.coef_ = np.linalg.solve(design.T @ design + penalty, design.T @ y)
        else:
            import lightgbm

            params = {**TUNEAHEAD_PARAMS, "min_child_samples": min(20, max(2, len(y) // 5))}
            self.model_ = lightgbm.LGBMRegressor(**params, random_state=self.seed, n_jobs=1, verbose=-1)
            self.model_.fit(z, y)
        return self

    def predict(self, test: RunTable) -> MethodPrediction:
        z = self._x(test)
        if self.regressor == "ridge":
            return MethodPrediction(mean=np.column_stack([np.ones(len(z)), z]) @ self.coef_)
        return MethodPrediction(mean=self.model_.predict(z))
