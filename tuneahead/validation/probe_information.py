r"""What a probe's curves can reveal: a many-seed reference for the probe-based risk.

Brute force (:mod:`.brute_force`) conditions on the exact state after :math:`c` steps. A predictor
that sees only the probe's curves conditions on less, and by the law of total variance its risk is
larger by the *hidden-state variance*
:math:`H(c) = \mathbb E \operatorname{Var}(\mathbb E[R \mid I^{state}_c] \mid I^{obs}_c)` (section 6b of
``theory/decomposition.md``). This module estimates the probe-based reducible risk directly.

For each of a set of configs (cells), it reruns the config with ``seeds`` fresh seeds and, for each
budget :math:`c`, regresses :math:`100\, p_T` on the probe's recorded values up to :math:`c` (the
points of ``metrics`` at steps :math:`\le c`) by ridge least squares with an intercept. The
leave-one-out prediction error

.. math::

    \widehat V^{probe}_{opt}(c) = \frac1{n} \sum_i \Big(\frac{y_i - \hat y_i}{1 - h_{ii}}\Big)^2

(:math:`h_{ii}` the leverages) estimates the error of the best linear predictor from the curves
for a new run of the config, averaged over configs. It is the optimization variance the curves
leave, up to the linear restriction: an upper estimate of the Bayes value, and under joint
normality an unbiased one. At :math:`c = 0` it is the within-config variance, as for brute force.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jax
import numpy as np

from ..data.runtable import RunTable
from ..synthetic.mechanics import RunRecord
from ..synthetic.population import SimulatedPopulation

__all__ = ["ProbeInformation", "probe_information_risk"]


@dataclass(frozen=True)
class ProbeInformation:
    """Leave-one-out error of the within-config linear predictor from the curves, per budget."""

    budgets: np.ndarray  # (C,)
    cell_error: np.ndarray  # (cells, C), points squared
    seeds: int
    metrics: tuple[str, ...]
    cell_weight: np.ndarray | None = None  # (cells,) runs per cell (None: equal)

    @property
    def weights(self) -> np.ndarray:
        w = np.ones(self.cell_error.shape[0]) if self.cell_weight is None else np.asarray(self.cell_weight, float)
        return w / w.sum()

    @property
    def optimization_variance(self) -> np.ndarray:
        """The mean over runs (cells weighted by their runs) of the leave-one-out error."""
        return self.weights @ self.cell_error

    @property
    def standard_error(self) -> np.ndarray:
        """Standard error of the weighted mean over cells."""
        w = self.weights
        dev = self.cell_error - self.optimization_variance[None, :]
        n = self.cell_error.shape[0]
        return np.sqrt(n / max(n - 1, 1) * (w**2) @ dev**2)


def _loo_error(X: np.ndarray, y: np.ndarray, ridge: float) -> float:
    """Mean squared leave-one-out residual of ridge regression with an unpenalized intercept."""
    Xc = X - X.mean(axis=0)
    sd = Xc.std(axis=0)
    Xc = Xc[:, sd > 0] / sd[sd > 0]
    A = np.column_stack([np.ones(len(y)), Xc])
    penalty = ridge * np.eye(A.shape[1])
    penalty[0, 0] = 0.0
    G = np.linalg.solve(A.T @ A + penalty, A.T)
    hat = A @ G
    resid = y - hat @ y
    return float(np.mean((resid / (1.0 - np.diag(hat))) ** 2))


def probe_information_risk(
    population: SimulatedPopulation,
    budgets: Sequence[float],
    cells: int = 12,
    seeds: int = 64,
    metrics: Sequence[str] = ("eval_score", "train_loss"),
    ridge: float = 1.0,
    seed: int = 0,
    runs: RunTable | None = None,
) -> ProbeInformation:
    """Rerun configs ``seeds`` times and measure what their curves reveal (module doc).

    With ``runs`` (runs of the population, such as the held-out runs of a brute force), the
    configs are those of these runs, each weighted by its number of runs, so the reference is
    an average over the same runs; otherwise ``cells`` configs are drawn at random.
    """
    if seeds < 8:
        raise ValueError(f"the probe-information reference needs at least 8 seeds per config, got {seeds}")
    unknown = set(metrics) - set(RunRecord._fields[:4])
    if unknown:
        raise ValueError(f"unknown curve metric(s) {sorted(unknown)}; the simulator records {RunRecord._fields[:4]}")
    table = population.table
    if runs is not None:
        groups, weight = np.unique(np.asarray(runs.group), return_counts=True)
        first_rows = np.unique(table.group, return_index=True)[1]
        by_group = dict(zip(np.asarray(table.group)[first_rows], first_rows))
        chosen = np.array([by_group[g] for g in groups])
        order = np.argsort(chosen)
        chosen, weight = chosen[order], weight[order]
    else:
        first_rows = np.unique(table.group, return_index=True)[1]
        chosen = np.sort(np.random.default_rng(seed).choice(first_rows, min(cells, len(first_rows)), replace=False))
        weight = None
    rows = np.repeat(chosen, seeds)
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(77_000 + seed), len(rows)))
    record = population.run(rows, keys, np.zeros(len(rows)))  # fresh seeds of each config
    steps = population.spec.record_steps
    y = 100 * record.p_final.reshape(len(chosen), seeds)
    curves = [np.asarray(getattr(record, m)).reshape(len(chosen), seeds, -1) for m in metrics]
    budgets = np.unique(np.concatenate([[0], np.asarray(budgets, dtype=float)]))
    error = np.zeros((len(chosen), len(budgets)))
    for j, c in enumerate(budgets):
        seen = steps <= c
        for k in range(len(chosen)):
            if not seen.any():
                error[k, j] = y[k].var(ddof=1)
                continue
            X = np.concatenate([cv[k][:, seen] for cv in curves], axis=1)
            error[k, j] = _loo_error(X, y[k], ridge)
    return ProbeInformation(budgets=budgets, cell_error=error, seeds=seeds, metrics=tuple(metrics), cell_weight=weight)
