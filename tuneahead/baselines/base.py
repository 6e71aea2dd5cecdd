"""The contract every comparison method follows, and the prediction it returns.

A method is fitted on training runs at a probe budget ``c`` and predicts the final scores of test
runs from what a probe of ``c`` steps shows. Training runs are cut at ``c`` too, so that a method
learns from the same view of a run that it later sees for a candidate. Final scores of test runs
are never read by ``predict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..data.runtable import RunTable, RunTableError

__all__ = ["MethodPrediction", "ScorePredictor", "check_scored"]


@dataclass(frozen=True)
class MethodPrediction:
    """A method's predictions for ``n`` runs.

    Attributes
    ----------
    mean
        Point prediction of each final score, ``(n,)``.
    lower, upper
        Central interval bounds, ``(n,)`` each, or ``None`` for a method without intervals.
    level
        Nominal coverage of the interval.
    ensemble
        Draws from each run's predictive distribution, ``(n, m)``, or ``None``; CRPS is computed
        from it where there is no closed form.
    """

    mean: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    level: float = 0.9
    ensemble: np.ndarray | None = None

    @property
    def has_interval(self) -> bool:
        return self.lower is not None and self.upper is not None


class ScorePredictor(Protocol):
    """``fit(train, budget)`` then ``predict(test)``; see the module doc."""

    name: str

    def fit(self, train: RunTable, budget: float) -> ScorePredictor: ...

    def predict(self, test: RunTable) -> MethodPrediction: ...


def check_scored(train: RunTable, who: str) -> RunTable:
    """The training runs with a final score; an error naming ``who`` if there are none."""
    if not train.has_final.any():
        raise RunTableError(f"{who}: the training runs have no final scores; fit on finished runs")
    return train if train.has_final.all() else train.select(train.has_final)
