r"""SHAP attributions of predicted final scores.

Shapley values split a prediction :math:`f(x)` among features so that they add up exactly:

.. math::

    f(x) = \phi_0 + \sum_j \phi_j(x), \qquad
    \phi_j = \sum_{S \subseteq F \setminus \{j\}} \frac{|S|!\,(|F| - |S| - 1)!}{|F|!}
             \bigl(v(S \cup \{j\}) - v(S)\bigr),

with :math:`v(S)` the expected prediction when the features outside :math:`S` are drawn from a
background set, and :math:`\phi_0 = v(\emptyset)` the mean prediction over the background.

- **Ours**: :math:`f` maps a run's features to the posterior predictive mean
  :math:`E[R \mid I_c]`. The features are the static features, the run's budget :math:`T`, and the
  probe curve's values at each step of the probe grid (the probe-derived features the model reads);
  a missing value means the point is absent. Attributions come from SHAP's permutation explainer,
  which is exact in its additivity for every permutation it averages.
- **LightGBM**: SHAP's TreeExplainer on the fitted booster (exact path-dependent Shapley values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data.runtable import Curve, RunTable, RunTableError
from .model.posterior import Posterior
from .predict import predict

__all__ = ["Attribution", "PosteriorMeanFunction", "explain_posterior_mean", "explain_gradient_boosted", "plot_summary"]


@dataclass(frozen=True)
class Attribution:
    """Shapley values ``values`` ``(n, p)`` of ``prediction`` ``(n,)`` over ``base_value`` ``(n,)``."""

    run_id: np.ndarray
    feature_names: tuple[str, ...]
    data: np.ndarray
    values: np.ndarray
    base_value: np.ndarray
    prediction: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per (run, feature): the feature's value and attribution, with base and prediction."""
        n, p = self.values.shape
        return pd.DataFrame(
            {
                "run_id": np.repeat(self.run_id, p),
                "feature": np.tile(self.feature_names, n),
                "value": self.data.ravel(),
                "attribution": self.values.ravel(),
                "base_value": np.repeat(self.base_value, p),
                "prediction": np.repeat(self.prediction, p),
            }
        )

    def importance(self) -> pd.Series:
        """Mean absolute attribution per feature, largest first."""
        return pd.Series(np.abs(self.values).mean(axis=0), index=list(self.feature_names)).sort_values(ascending=False)


class PosteriorMeanFunction:
    """:math:`x \\mapsto E[R \\mid I_c]` on feature rows (module doc), batched in fixed-size chunks.

    Rows are evaluated in chunks of ``chunk`` runs (the last padded) so the compiled predictor
    sees one shape.
    """

    def __init__(self, posterior: Posterior, table: RunTable, budget: float, max_draws: int = 100, chunk: int = 256):
        self.posterior = posterior
        self.metrics = tuple(posterior.design.spec.metrics)
        self.static_names = tuple(table.static_names)
        self.max_draws = max_draws
        self.chunk = chunk
        self.budget = float(budget)
        grid = set()
        for m in self.metrics:
            cur = table.curve(m)
            grid |= set(cur.steps[cur.present & (cur.steps <= budget)].tolist())
        self.grid = np.array(sorted(grid))
        if self.grid.size == 0:
            raise RunTableError(f"no probe point at or before step {budget:g} in metrics {list(self.metrics)}")
        labels, counts = np.unique(table.group, return_counts=True)
        self.group = labels[np.argmax(counts)]
        self.feature_names = (
            *self.static_names,
            "budget_T",
            *[f"{m}@{int(s)}" for m in self.metrics for s in self.grid],
        )

    def features(self, table: RunTable) -> np.ndarray:
        """Feature rows of ``table``'s runs: static, T, and curve values on the grid (NaN if absent)."""
        blocks = [np.asarray(table.static, dtype=float), np.asarray(table.budget, dtype=float)[:, None]]
        for m in self.metrics:
            cur = table.curve(m)
            vals = np.full((len(table), self.grid.size), np.nan)
            for i in range(len(table)):
                s, v = cur.points(i)
                where = np.searchsorted(self.grid, s)
                ok = (where < self.grid.size) & (s <= self.budget)
                ok[ok] &= self.grid[where[ok]] == s[ok]
                vals[i, where[ok]] = v[ok]
            blocks.append(vals)
        return np.concatenate(blocks, axis=1)

    def table(self, x: np.ndarray) -> RunTable:
        """Candidate runs whose features are the rows of ``x``."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        n, p = x.shape[0], len(self.static_names)
        total = x[:, p]
        curves = {}
        for k, m in enumerate(self.metrics):
            vals = x[:, p + 1 + k * self.grid.size : p + 1 + (k + 1) * self.grid.size]
            present = np.isfinite(vals) & (self.grid[None, :] <= total[:, None])
            curves[m] = Curve(np.where(present, self.grid[None, :], np.nan), np.where(present, vals, np.nan))
        return RunTable(
            run_id=np.array([f"row{i}" for i in range(n)], dtype=object),
            group=np.full(n, self.group, dtype=object),
            static=x[:, :p],
            static_names=self.static_names,
            budget=total,
            curves=curves,
            final=np.full(n, np.nan),
        )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        out = np.empty(x.shape[0])
        for start in range(0, x.shape[0], self.chunk):
            part = x[start : start + self.chunk]
            padded = np.concatenate([part, np.repeat(part[-1:], self.chunk - part.shape[0], axis=0)])
            mean = predict(self.posterior, self.table(padded), max_draws=self.max_draws).mean
            out[start : start + part.shape[0]] = mean[: part.shape[0]]
        return out


def explain_posterior_mean(
    posterior: Posterior,
    candidates: RunTable,
    background: RunTable,
    budget: float,
    max_draws: int = 100,
    background_size: int = 32,
    permutations: int = 4,
    seed: int = 0,
) -> Attribution:
    """Shapley values of our predictive mean for ``candidates`` probed to ``budget`` (module doc)."""
    import shap

    candidates, background = candidates.truncate(budget), background.truncate(budget)
    f = PosteriorMeanFunction(posterior, background, budget, max_draws)
    x_bg = f.features(background)
    rng = np.random.default_rng(seed)
    if len(x_bg) > background_size:
        x_bg = x_bg[rng.choice(len(x_bg), background_size, replace=False)]
    x = f.features(candidates)
    masker = shap.maskers.Independent(x_bg, max_samples=background_size)
    explainer = shap.PermutationExplainer(f, masker, seed=seed)
    p = x.shape[1]
    result = explainer(x, max_evals=permutations * (2 * p + 1), silent=True)
    return Attribution(
        run_id=np.asarray(candidates.run_id),
        feature_names=f.feature_names,
        data=x,
        values=np.asarray(result.values),
        base_value=np.broadcast_to(np.asarray(result.base_values, dtype=float), (len(x),)).copy(),
        prediction=f(x),
    )


def explain_gradient_boosted(model, candidates: RunTable) -> Attribution:
    """TreeExplainer attributions of a fitted :class:`~tuneahead.baselines.GradientBoosted`."""
    import shap

    x = model.transform(candidates)
    explainer = shap.TreeExplainer(model.model_.booster_)
    values = np.asarray(explainer.shap_values(x))
    base = np.full(len(x), float(np.ravel(explainer.expected_value)[0]))
    return Attribution(
        run_id=np.asarray(candidates.run_id),
        feature_names=tuple(model.feature_names_),
        data=x,
        values=values,
        base_value=base,
        prediction=model.model_.predict(x),
    )


def plot_summary(attribution: Attribution, path, title: str = "", max_display: int = 12):
    """SHAP beeswarm summary of ``attribution``, written atomically to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    from .artifacts import atomic_path

    shap.summary_plot(
        attribution.values,
        np.where(np.isfinite(attribution.data), attribution.data, np.nan),
        feature_names=list(attribution.feature_names),
        show=False,
        max_display=max_display,
    )
    fig = plt.gcf()
    if title:
        fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
