"""Scores per (split, method, budget), from predictions pooled over a split's folds.

A split's held-out runs (:class:`HeldOut`) are pooled over its folds in fold order; each method's
predictions at one budget accumulate fold by fold in a :class:`MethodResults`, in the same order,
and are scored on the pooled runs at once: the point metrics, the coverage and mean width of the
central interval at the predictive's level, the mean CRPS, and the fit and predict seconds summed
over folds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..baselines import MethodPrediction
from ..data.runtable import RunTable
from .metrics import heldout_metrics, point_metrics

__all__ = ["HeldOut", "MethodResults", "level_tag", "score_predictions", "table_row"]


def level_tag(level: float) -> str:
    """The level as a percentage in column names: ``0.9`` -> ``"90"``."""
    return f"{int(round(100 * level))}"


@dataclass(frozen=True)
class HeldOut:
    """A split's (train, test) folds and its held-out runs pooled over them."""

    split: str
    folds: list[tuple[RunTable, RunTable]]
    run_id: np.ndarray
    final: np.ndarray
    total_steps: np.ndarray

    @classmethod
    def pool(cls, split: str, folds: list[tuple[RunTable, RunTable]]) -> HeldOut:
        """The held-out runs of ``folds``, concatenated in fold order."""
        return cls(
            split=split,
            folds=list(folds),
            run_id=np.concatenate([te.run_id for _, te in folds]),
            final=np.concatenate([te.final for _, te in folds]),
            total_steps=np.concatenate([te.budget for _, te in folds]),
        )

    def training_scores(self) -> np.ndarray:
        """The final scores of every fold's scored training runs, concatenated."""
        return np.concatenate([tr.final[tr.has_final] for tr, _ in self.folds])


@dataclass
class MethodResults:
    """One method's predictions at one budget, fold by fold, with what scoring and screening read.

    ``crps`` and ``covered`` hold None for a fold where the method has no ensemble or no calibrated
    predictive; ``pit`` (the predictive CDF at the truth) and ``p_success`` (``P(R >= tau)`` per
    threshold) are filled for ours only.
    """

    method: str
    budget: float
    preds: list[MethodPrediction] = field(default_factory=list)
    crps: list[np.ndarray | None] = field(default_factory=list)
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    p_success: list[dict[float, np.ndarray]] = field(default_factory=list)
    covered: list[np.ndarray | None] = field(default_factory=list)
    pit: list[np.ndarray] = field(default_factory=list)

    def add(self, pred: MethodPrediction, crps, covered, fit_seconds: float, predict_seconds: float) -> None:
        """Record one fold's prediction, its CRPS and coverage, and the seconds it took."""
        self.fit_seconds += fit_seconds
        self.predict_seconds += predict_seconds
        self.preds.append(pred)
        self.crps.append(crps)
        self.covered.append(covered)

    def mean(self) -> np.ndarray:
        """The pooled predicted means."""
        return np.concatenate([p.mean for p in self.preds])

    def lower(self) -> np.ndarray:
        """The pooled interval lower ends, NaN for folds without an interval."""
        return np.concatenate([p.lower if p.has_interval else np.full(len(p.mean), np.nan) for p in self.preds])

    def upper(self) -> np.ndarray:
        """The pooled interval upper ends, NaN for folds without an interval."""
        return np.concatenate([p.upper if p.has_interval else np.full(len(p.mean), np.nan) for p in self.preds])

    def probability(self, tau: float) -> np.ndarray:
        """The pooled ``P(R >= tau)`` (ours only)."""
        return np.concatenate([d[tau] for d in self.p_success])

    def scores(self, truth: np.ndarray, level: float) -> dict:
        """:func:`score_predictions` of the pooled predictions, with the fit and predict seconds."""
        out = score_predictions(self.preds, self.crps, truth, level)
        out["fit_seconds"], out["predict_seconds"] = self.fit_seconds, self.predict_seconds
        return out


def score_predictions(preds: list[MethodPrediction], crps: list, truth: np.ndarray, level: float) -> dict:
    """Point metrics, interval coverage and width at ``level`` (NaN without intervals) and mean CRPS."""
    mean = np.concatenate([p.mean for p in preds])
    out = point_metrics(mean, truth)
    tag = level_tag(level)
    if all(p.has_interval for p in preds):
        lower = np.concatenate([p.lower for p in preds])
        upper = np.concatenate([p.upper for p in preds])
        m = heldout_metrics(mean, lower, upper, truth, level=level)
        out[f"coverage_{tag}"], out[f"mean_width_{tag}"] = m[f"coverage_{tag}"], m[f"mean_width_{tag}"]
    else:
        out[f"coverage_{tag}"] = out[f"mean_width_{tag}"] = float("nan")
    out["crps"] = float(np.mean(np.concatenate(crps))) if all(c is not None for c in crps) else float("nan")
    return out


def table_row(split: str, label: str, per_budget: list[MethodResults], truth: np.ndarray, level: float) -> dict:
    """One row of ``table.csv``: the method's scores at each budget, as columns ``<budget>/<score>``."""
    row = {"split": split, "method": label}
    for results in per_budget:
        row.update({f"{int(results.budget)}/{k}": v for k, v in results.scores(truth, level).items()})
    return row
