r"""Last value: the probe curve's last point, mapped to the score scale.

The prediction for run :math:`i` is :math:`\hat R_i = a + b\, y_{iK}`, where :math:`y_{iK}` is the
last finite point of the probe curve at or before the budget. With ``linear_map=True``, :math:`(a, b)`
is the least-squares fit of the training runs' final scores on their own last values (the metric
may be a loss or differ from the score); with ``linear_map=False`` it is the identity. A run
without a point gets the training mean of the last values.
"""

from __future__ import annotations

import numpy as np

from ..data.runtable import RunTable
from .base import MethodPrediction, check_scored
from .features import impute, probe_features

__all__ = ["LastValue"]


class LastValue:
    """The last probe value, through a fitted linear map (see module doc)."""

    name = "last-value"

    def __init__(self, metric: str, linear_map: bool = True):
        self.metric = metric
        self.linear_map = linear_map

    def fit(self, train: RunTable, budget: float) -> LastValue:
        train = check_scored(train, self.name)
        self.budget = float(budget)
        last, self._fill = impute(probe_features(train, budget, self.metric)[:, :1])
        if self.linear_map:
            design = np.column_stack([np.ones(len(train)), last[:, 0]])
            self.coef_, *_ = np.linalg.lstsq(design, train.final, rcond=None)
        else:
            self.coef_ = np.array([0.0, 1.0])
        return self

    def predict(self, test: RunTable) -> MethodPrediction:
        last, _ = impute(probe_features(test, self.budget, self.metric)[:, :1], self._fill)
        return MethodPrediction(mean=self.coef_[0] + self.coef_[1] * last[:, 0])
