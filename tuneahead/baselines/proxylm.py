r"""ProxyLM, run faithfully: tree regression of the target's score on proxy-model scores; and a config ridge.

**ProxyLM** (Anugraha et al., NAACL Findings 2025, arXiv:2406.09334) predicts a fine-tuned target
model's score on an experiment from the scores of small *proxy* models run on the same experiment
plus dataset and URIEL language features, with a tree regressor; XGBoost is its main one, LightGBM
the other (their README: ``regressor`` one of ``xgb``, ``lgbm``, ``poly``, ``mf``, set up by a
``regressor_config`` JSON). :class:`ProxyLM` reads every static feature of the table, and needs
proxy scores among them: static features named ``proxy_*`` (the convention of
:func:`tuneahead.data.load_proxylm_table`); a table without any is refused, since the method *is*
the regression on proxy scores (use ``config_ridge`` or ``static_only`` there).

The README documents no grid; the regressor JSONs released in their repository
(``src/proxy_regressor/regressor_configs/``, not among the shared tables) do, and are followed:

- ``regressor="xgboost"``: the fixed parameters of ``xgb_config_intent_aya.json``
  (:data:`PROXYLM_XGB_PARAMS`: depth 5, min child weight 4.5, gamma 0.1, row subsample 0.85, column
  subsample 0.8, L1 and L2 0.1) and their search space, ``n_estimators`` in 1000..5000 by 250 and
  ``eta`` log-uniform on [0.01, 0.1], searched by 10-fold CV on the training runs for the least MSE.
  They search it by Bayesian optimisation (skopt, 25 points); here the grid
  :data:`PROXYLM_XGB_GRID` covers every tree count of their space (one fit with the most trees per
  rate and fold, read at each count: boosting is sequential, so this is exact) at four log-spaced
  rates;
- ``regressor="lightgbm"``: ``lgbm_config.json`` as released, a 10-fold grid search over
  ``learning_rate`` in {0.03, 0.1, 0.3} x ``num_leaves`` in {16, 32, 64} with the fixed parameters
  :data:`PROXYLM_LGBM_PARAMS` (100 trees, depth 10, L1 and L2 0.1, ...).

They standardise the features first; trees split on quantile bins, so that changes nothing and is
left out. With the chosen parameters one model is refitted on every training run (the point
prediction), and ``folds`` fold models give the CV+ interval and predictive ensemble of
:mod:`tuneahead.baselines.conformal` (the parameters are chosen once, on all training runs, the usual
approximation, as for the LightGBM peer). ``probe_last=True`` also reads the probe's last value of
``metric`` at the budget, a ProxyLM-style variant for tables with curves; the default is faithful.

**Config ridge** (:class:`ConfigRidge`, once called ProxyLM-style): ridge on z-scored static features
plus, when a probe metric is given, the probe's last value at the budget,

.. math::

    \hat R = \beta_0 + \sum_j \beta_j z_j + \beta_p z_{last}, \qquad
    \hat\beta = \arg\min \lVert R - Z\beta \rVert^2 + \lambda \lVert \beta_{1:} \rVert^2,

for sources without proxy scores.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from ..data.proxylm_tables import PROXY_PREFIX
from ..data.runtable import RunTable, RunTableError
from .base import MethodPrediction, check_scored
from .conformal import CVPlus
from .features import impute, probe_features
from .gradient_boosting import fold_assignment

__all__ = [
    "ProxyLM",
    "ConfigRidge",
    "PROXYLM_REGRESSORS",
    "PROXYLM_XGB_PARAMS",
    "PROXYLM_XGB_GRID",
    "PROXYLM_LGBM_PARAMS",
    "PROXYLM_LGBM_GRID",
]

PROXYLM_REGRESSORS = ("xgboost", "lightgbm")
# xgb_config_intent_aya.json's fixed_param (their eta is XGBoost's learning_rate)
PROXYLM_XGB_PARAMS = dict(
    n_estimators=4000,
    learning_rate=0.1,
    min_child_weight=4.5,
    max_depth=5,
    gamma=0.1,
    subsample=0.85,
    colsample_bytree=0.8,
    reg_alpha=0.1,
    reg_lambda=0.1,
)
# their space: n_estimators 1000..5000 by 250, eta log-uniform on [0.01, 0.1] (four log-spaced points)
PROXYLM_XGB_GRID = dict(n_estimators=list(range(1000, 5001, 250)), learning_rate=[0.01, 0.0215, 0.0464, 0.1])
# lgbm_config.json's fixed_param and grid, as released
PROXYLM_LGBM_PARAMS = dict(
    n_estimators=100,
    max_bin=200000,
    max_depth=10,
    min_child_weight=0.001,
    min_child_samples=20,
    min_split_gain=0.0,
    colsample_bytree=1.0,
    subsample=1.0,
    reg_alpha=0.1,
    reg_lambda=0.1,
)
PROXYLM_LGBM_GRID = dict(learning_rate=[0.03, 0.1, 0.3], num_leaves=[16, 32, 64])
_DEFAULTS = {"xgboost": (PROXYLM_XGB_PARAMS, PROXYLM_XGB_GRID), "lightgbm": (PROXYLM_LGBM_PARAMS, PROXYLM_LGBM_GRID)}


class ProxyLM:
    """XGBoost (or LightGBM) on the proxy scores and the other static features, searched and
    refitted as ProxyLM does, with a CV+ interval (module doc).

    Parameters
    ----------
    regressor
        ``"xgboost"`` (ProxyLM's main regressor) or ``"lightgbm"``.
    folds
        Folds of the CV+ interval.
    search_folds
        Folds of the hyperparameter search (their configs: 10).
    grid, params
        The searched grid and the fixed parameters; None: the released ones of ``regressor``. Given
        ones update the released ones key by key.
    level, seed
        The interval's nominal coverage; the seed of the folds and the trees.
    metric, probe_last
        With ``probe_last=True``, the probe's last value of ``metric`` is read as one more feature.
    """

    name = "ProxyLM"

    def __init__(
        self,
        regressor: str = "xgboost",
        folds: int = 5,
        search_folds: int = 10,
        grid: dict | None = None,
        params: dict | None = None,
        level: float = 0.9,
        seed: int = 0,
        metric: str | None = None,
        probe_last: bool = False,
    ):
        if regressor not in PROXYLM_REGRESSORS:
            raise ValueError(f"regressor={regressor!r}; use one of {list(PROXYLM_REGRESSORS)}")
        if int(folds) < 2 or int(search_folds) < 2:
            raise ValueError(f"folds={folds}, search_folds={search_folds}; CV+ and the search need at least 2 folds")
        if probe_last and metric is None:
            raise ValueError(
                "probe_last=True reads the probe's last value, but there is no probe metric (a table without "
                "curves): set evaluation.baselines.proxylm.probe_last=false"
            )
        fixed, searched = _DEFAULTS[regressor]
        self.regressor = regressor
        self.folds = int(folds)
        self.search_folds = int(search_folds)
        self.grid = {k: list(v) for k, v in {**searched, **(grid or {})}.items()}
        self.params = {**fixed, **(params or {})}
        self.level = level
        self.seed = seed
        self.metric = metric
        self.probe_last = bool(probe_last)

    def _x(self, table: RunTable) -> np.ndarray:
        x = np.asarray(table.static, dtype=float)
        if self.probe_last:
            x = np.concatenate([x, probe_features(table, self.budget, self.metric)[:, :1]], axis=1)
        return x

    def check(self, table: RunTable) -> None:
        """Refuse, before any fit, a table without proxy-score features."""
        self.proxy_features_ = [s for s in table.static_names if s.startswith(PROXY_PREFIX)]
        if not self.proxy_features_:
            raise RunTableError(
                f"{self.name}: the table has no proxy-score features (static features named {PROXY_PREFIX}<model>, "
                f"the scores of small proxy models on the same experiment; it has {list(table.static_names)[:6]}); "
                "ProxyLM regresses the target's score on them: load a table with proxy scores "
                "(tuneahead.data.load_proxylm_table, data=proxylm), name such features proxy_<model>, or use "
                "config_ridge or static_only for a source without proxy scores"
            )

    def _regressor(self, **params):
        merged = {**self.params, **params}
        if self.regressor == "xgboost":
            import xgboost

            return xgboost.XGBRegressor(**merged, tree_method="hist", random_state=self.seed, n_jobs=1)
        import lightgbm

        return lightgbm.LGBMRegressor(**merged, random_state=self.seed, n_jobs=1, verbose=-1)

    def _predict_at(self, model, x: np.ndarray, trees: int) -> np.ndarray:
        """``model``'s prediction from its first ``trees`` trees."""
        if self.regressor == "xgboost":
            return model.predict(x, iteration_range=(0, int(trees)))
        return model.predict(x, num_iteration=int(trees))

    def _search(self, x: np.ndarray, y: np.ndarray) -> tuple[dict, float]:
        """The grid point of least K-fold MSE and its CV RMSE; each tree count is read off one fit."""
        counts = sorted(int(n) for n in self.grid.get("n_estimators", [self.params["n_estimators"]]))
        others = {k: v for k, v in self.grid.items() if k != "n_estimators"}
        combos = [dict(zip(others, values)) for values in product(*others.values())]
        fold = fold_assignment(len(y), self.search_folds, self.seed + 1, f"{self.name} search")
        sse = np.zeros((len(combos), len(counts)))
        for c, combo in enumerate(combos):
            for j in range(int(fold.max()) + 1):
                held = fold == j
                model = self._regressor(**combo, n_estimators=counts[-1]).fit(x[~held], y[~held])
                for t, n in enumerate(counts):
                    sse[c, t] += float(np.sum((self._predict_at(model, x[held], n) - y[held]) ** 2))
        c, t = np.unravel_index(int(np.argmin(sse)), sse.shape)
        return {**combos[c], "n_estimators": counts[t]}, float(np.sqrt(sse[c, t] / len(y)))

    def fit(self, train: RunTable, budget: float) -> ProxyLM:
        train = check_scored(train, self.name)
        self.check(train)
        self.budget = float(budget)
        x = self._x(train)
        y = np.asarray(train.final, dtype=float)
        self.best_params_, self.cv_rmse_ = self._search(x, y)
        self.fold_ = fold_assignment(len(y), self.folds, self.seed, self.name)
        k = int(self.fold_.max()) + 1
        self.fold_models_ = [
            self._regressor(**self.best_params_).fit(x[self.fold_ != j], y[self.fold_ != j]) for j in range(k)
        ]
        oof = np.empty_like(y)
        for j, model in enumerate(self.fold_models_):
            oof[self.fold_ == j] = model.predict(x[self.fold_ == j])
        self.cv_plus_ = CVPlus(self.level).calibrate(oof, y, self.fold_)
        self.model_ = self._regressor(**self.best_params_).fit(x, y)
        return self

    def _fold_predictions(self, x: np.ndarray) -> np.ndarray:
        return np.column_stack([m.predict(x) for m in self.fold_models_])

    def predict(self, test: RunTable) -> MethodPrediction:
        x = self._x(test)
        folds = self._fold_predictions(x)
        lower, upper = self.cv_plus_.interval(folds)
        return MethodPrediction(self.model_.predict(x), lower, upper, self.level, self.cv_plus_.ensemble(folds))

    def interval_coverage(self, test: RunTable, levels) -> np.ndarray:
        """Whether each of ``test``'s scores lies in the CV+ interval at each level, ``(n, len(levels))``."""
        return self.cv_plus_.coverage(self._fold_predictions(self._x(test)), test.final, levels)


class ConfigRidge:
    """Ridge on z-scored static features, plus the probe's last value of ``metric`` when given (module doc)."""

    name = "config ridge"

    def __init__(self, metric: str | None = None, alpha: float = 1.0):
        self.metric = metric
        self.alpha = float(alpha)

    def _x(self, table: RunTable, fit: bool = False) -> np.ndarray:
        x = np.asarray(table.static, dtype=float)
        if self.metric is not None:
            x = np.concatenate([x, probe_features(table, self.budget, self.metric)[:, :1]], axis=1)
        x, fill = impute(x, None if fit else self._fill)
        if fit:
            self._fill = fill
            self._mean, sd = x.mean(axis=0), x.std(axis=0)
            self._sd = np.where(sd > 1e-12, sd, 1.0)
        return (x - self._mean) / self._sd

    def fit(self, train: RunTable, budget: float) -> ConfigRidge:
        train = check_scored(train, self.name)
        self.budget = float(budget)
        design = np.column_stack([np.ones(len(train)), self._x(train, fit=True)])
        penalty = self.alpha * np.eye(design.shape[1])
        penalty[0, 0] = 0.0
        self.coef_ = np.linalg.solve(design.T @ design + penalty, design.T @ np.asarray(train.final, dtype=float))
        return self

    def predict(self, test: RunTable) -> MethodPrediction:
        return MethodPrediction(mean=np.column_stack([np.ones(len(test)), self._x(test)]) @ self.coef_)
