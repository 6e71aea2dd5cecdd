r"""LightGBM on static and/or probe features: static-only, dynamic-only, and TuneAhead.

TuneAhead (arXiv:2606.17660) maps static descriptors plus dynamic probe features to the final
score with LightGBM, at its paper's settings (:data:`TUNEAHEAD_PARAMS`): learning rate 0.05,
4 leaves, row subsample 0.6, column subsample 0.6, at least 20 runs per leaf, L2 1.0, early
stopping after 50 rounds without gain, z-scored features. The same regressor on static features
alone, or on probe features alone, gives the two ablations. The features are the table's static
descriptors and, for each probe metric given (the evaluation passes every metric of the table),
the :data:`~tuneahead.baselines.PROBE_FEATURES` of its curve cut at the budget
(:func:`~tuneahead.baselines.feature_matrix`).

Every training run is used, as TuneAhead's users would use them:

1. **K-fold early stopping.** The training runs are split in ``folds`` folds (seeded; fewer, but at
   least 2, when there are fewer than two runs per fold; at least 4 runs are needed). For each
   fold, LightGBM is fitted on the other folds with early stopping on the held fold, up to
   ``max_trees`` trees. The number of trees :math:`T` is the median of the per-fold best
   iterations (the paper's fixed 140 trees in :data:`TUNEAHEAD_PARAMS` are not used).
2. **Refit on all.** One model with :math:`T` trees is fitted on every training run; its prediction
   is the point prediction (and the model that :mod:`tuneahead.explain` explains).
3. **Interval** at ``level`` :math:`= 1 - \alpha`. ``interval="cv_plus"`` (default): each fold's
   model is refitted on the other folds with :math:`T` trees and no early stopping (so a held fold
   never picks its own model's stopping point; :math:`T` itself is one scalar chosen over all
   folds, the usual approximation), and the CV+ interval of :mod:`tuneahead.baselines.conformal`
   is built from their out-of-fold residuals. ``interval="quantile"``: two LightGBM quantile
   regressions (``objective="quantile"`` at :math:`\alpha/2` and :math:`1 - \alpha/2`) with
   :math:`T` trees on every training run, their predictions sorted so that the bounds never cross.
   This interval is not calibrated (at the tree count chosen for the mean it tends to undercover
   new runs), so the evaluation's calibration block has no row for it.

Either way the CV+ ensemble, the fold models' predictions plus the signed out-of-fold residuals,
is the predictive distribution that CRPS scores.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..data.runtable import RunTable, RunTableError
from .base import MethodPrediction, check_scored
from .conformal import CVPlus
from .features import feature_matrix

__all__ = ["TUNEAHEAD_PARAMS", "LIGHTGBM_INTERVALS", "GradientBoosted", "fold_assignment"]

TUNEAHEAD_PARAMS = dict(
    learning_rate=0.05,
    num_leaves=4,
    n_estimators=140,
    subsample=0.6,
    subsample_freq=1,
    colsample_bytree=0.6,
    min_child_samples=20,
    reg_lambda=1.0,
)
# the interval kinds of GradientBoosted (evaluation.baselines.lightgbm.interval)
LIGHTGBM_INTERVALS = ("cv_plus", "quantile")
MIN_RUNS = 4  # two folds of two runs


def fold_assignment(n: int, folds: int, seed: int, who: str = "GradientBoosted") -> np.ndarray:
    """Each of ``n`` runs' fold, ``(n,)``: a seeded shuffle dealt round-robin into
    ``min(folds, n // 2)`` folds (at least 2), so that every fold holds at least two runs."""
    if n < MIN_RUNS:
        raise RunTableError(
            f"{who}: {n} training runs are too few for K-fold early stopping (folds={folds}); "
            f"it needs at least {MIN_RUNS} runs, two folds of two"
        )
    k = max(2, min(int(folds), n // 2))
    fold = np.empty(n, dtype=int)
    fold[np.random.default_rng(seed).permutation(n)] = np.arange(n) % k
    return fold


class GradientBoosted:
    """LightGBM regressor on a chosen feature set, with a CV+ or quantile interval (module doc).

    Parameters
    ----------
    metrics
        Probe metrics whose features enter (ignored for ``features="static"``).
    features
        ``"static"``, ``"dynamic"`` or ``"both"`` (TuneAhead).
    level
        Nominal coverage of the interval.
    folds
        Folds of the K-fold early stopping and of CV+ (fewer when there are too few runs).
    early_stopping
        Rounds without gain on the held fold before stopping.
    interval
        ``"cv_plus"`` or ``"quantile"`` (:data:`LIGHTGBM_INTERVALS`).
    max_trees
        Cap on the trees of each early-stopped fold fit.
    seed
        Seeds the folds and LightGBM's subsampling.
    params
        LightGBM settings overriding :data:`TUNEAHEAD_PARAMS` (``n_estimators`` is chosen by the CV).
    """

    def __init__(
        self,
        metrics,
        features: str = "both",
        level: float = 0.9,
        folds: int = 5,
        early_stopping: int = 50,
        interval: str = "cv_plus",
        max_trees: int = 1000,
        seed: int = 0,
        params: dict | None = None,
        name: str | None = None,
    ):
        if features not in ("static", "dynamic", "both"):
            raise ValueError(f"features={features!r}; use 'static', 'dynamic' or 'both'")
        if interval not in LIGHTGBM_INTERVALS:
            raise ValueError(f"interval={interval!r}; use one of {list(LIGHTGBM_INTERVALS)}")
        if int(folds) < 2:
            raise ValueError(f"folds={folds}; K-fold early stopping needs at least 2 folds")
        self.metrics = tuple(metrics)
        self.features = features
        self.level = level
        self.folds = int(folds)
        self.early_stopping = early_stopping
        self.interval = interval
        self.max_trees = int(max_trees)
        self.seed = seed
        self.params = {**TUNEAHEAD_PARAMS, **(params or {})}
        self.name = name or {"static": "static-only", "dynamic": "dynamic-only", "both": "TuneAhead"}[features]

    def _x(self, table: RunTable) -> np.ndarray:
        x, self.feature_names_ = feature_matrix(
            table,
            self.budget,
            self.metrics,
            static=self.features in ("static", "both"),
            dynamic=self.features in ("dynamic", "both"),
        )
        return (x - self.x_mean_) / self.x_sd_ if hasattr(self, "x_mean_") else x

    def _standardize(self, x: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column has no moments
            mean = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0)
            sd = np.nanstd(np.where(np.isfinite(x), x, np.nan), axis=0)
        self.x_mean_ = np.where(np.isfinite(mean), mean, 0.0)
        self.x_sd_ = np.where(np.isfinite(sd) & (sd > 1e-12), sd, 1.0)
        return (x - self.x_mean_) / self.x_sd_

    def _regressor(self, n_trees: int, **extra):
        import lightgbm

        params = {**self.params, "n_estimators": int(n_trees), **extra}
        return lightgbm.LGBMRegressor(**params, random_state=self.seed, n_jobs=1, verbose=-1, min_child_weight=1e-3)

    def _best_iteration(self, x: np.ndarray, y: np.ndarray, held: np.ndarray) -> int:
        """Trees of a fit on the runs outside ``held``, early-stopped on those inside."""
        import lightgbm

        model = self._regressor(self.max_trees).fit(
            x[~held],
            y[~held],
            eval_X=x[held],
            eval_y=y[held],
            callbacks=[lightgbm.early_stopping(self.early_stopping, verbose=False)],
        )
        return max(1, int(model.best_iteration_ or model.booster_.current_iteration()))

    def fit(self, train: RunTable, budget: float) -> GradientBoosted:
        train = check_scored(train, self.name)
        self.budget = float(budget)
        for attr in ("x_mean_", "x_sd_"):
            self.__dict__.pop(attr, None)
        x = self._standardize(self._x(train))
        y = np.asarray(train.final, dtype=float)
        self.fold_ = fold_assignment(len(y), self.folds, self.seed, self.name)
        k = int(self.fold_.max()) + 1
        self.best_iterations_ = [self._best_iteration(x, y, self.fold_ == j) for j in range(k)]
        self.n_trees_ = max(1, int(round(float(np.median(self.best_iterations_)))))
        self.fold_models_ = [
            self._regressor(self.n_trees_).fit(x[self.fold_ != j], y[self.fold_ != j]) for j in range(k)
        ]
        oof = np.empty_like(y)
        for j, model in enumerate(self.fold_models_):
            oof[self.fold_ == j] = model.predict(x[self.fold_ == j])
        self.cv_plus_ = CVPlus(self.level).calibrate(oof, y, self.fold_)
        self.model_ = self._regressor(self.n_trees_).fit(x, y)
        self.n_refit_ = len(y)
        self.quantile_models_ = None
        if self.interval == "quantile":
            tail = (1 - self.level) / 2
            self.quantile_models_ = tuple(
                self._regressor(self.n_trees_, objective="quantile", alpha=a).fit(x, y) for a in (tail, 1 - tail)
            )
        return self

    def transform(self, table: RunTable) -> np.ndarray:
        """The z-scored feature matrix this model reads (for explanations)."""
        return self._x(table)

    def _fold_predictions(self, x: np.ndarray) -> np.ndarray:
        """Each fold model's prediction for each row of ``x``, ``(n, K)``."""
        return np.column_stack([m.predict(x) for m in self.fold_models_])

    def predict(self, test: RunTable) -> MethodPrediction:
        x = self._x(test)
        mean = self.model_.predict(x)
        folds = self._fold_predictions(x)
        if self.quantile_models_ is None:
            lower, upper = self.cv_plus_.interval(folds)
        else:
            lower, upper = np.sort(np.column_stack([m.predict(x) for m in self.quantile_models_]), axis=1).T
        return MethodPrediction(mean, lower, upper, self.level, self.cv_plus_.ensemble(folds))

    def interval_coverage(self, test: RunTable, levels) -> np.ndarray | None:
        """Whether each of ``test``'s scores lies in the CV+ interval at each level, ``(n, len(levels))``;
        None for ``interval="quantile"``, whose bounds exist at ``level`` alone."""
        if self.quantile_models_ is not None:
            return None
        return self.cv_plus_.coverage(self._fold_predictions(self._x(test)), test.final, levels)
