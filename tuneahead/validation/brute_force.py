r"""The true risk split of simulated runs, by brute force.

Let :math:`I_c` be everything known after :math:`c` steps of a run: its task and config and its
exact state (weights and optimizer state) after step :math:`c`. Branching a run at :math:`c`
(:mod:`.mechanics`) draws from :math:`R \mid I_c` exactly. With :math:`p_T` the exact accuracy of
the final model and :math:`R = 100\,\mathrm{Binomial}(n_{test}, p_T)/n_{test}`, the tower rule gives

.. math::

    \operatorname{Var}(R \mid I_c)
      = \underbrace{E\big[10^4 p_T (1 - p_T) / n_{test} \,\big|\, I_c\big]}_{\text{test-set noise}}
      + \operatorname{Var}(100\, p_T \mid I_c),

so, averaging over the candidates :math:`i`,

.. math::

    L_{int} = \frac1n \sum_i \frac{10^4 p_{T,i} (1 - p_{T,i})}{n_{test,i}}, \qquad
    V_{opt}(c) = L(c) - L_{int} = \frac1n \sum_i \operatorname{Var}(100\, p_T \mid I_{c,i}).

:math:`L_{int}` is exact given each run's final model; :math:`V_{opt}(c)` is estimated with
``branches`` fresh continuations of every run (the unbiased sample variance), and at :math:`c = 0`
the continuations are whole reruns of the cell with fresh seeds. Its standard error, and a
bootstrap over candidates for the power-law fit, come with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import numpy as np

from ..data.runtable import RunTable
from ..risk import RiskCurve
from ..synthetic.population import SimulatedPopulation

__all__ = ["BruteForceRisk", "brute_force_risk"]


@dataclass(frozen=True)
class BruteForceRisk:
    """True L(c), L_int and V_opt(c) of a set of simulated runs, in points squared."""

    budgets: np.ndarray  # (C,)
    run_variance: np.ndarray  # (n, C) Var(100 p_T | I_c) per run
    run_mean: np.ndarray  # (n, C) E(100 p_T | I_c) per run
    intrinsic_per_run: np.ndarray  # (n,)
    branches: int
    horizon: float = float("inf")  # the runs' step count T

    @property
    def intrinsic(self) -> float:
        return float(self.intrinsic_per_run.mean())

    @property
    def optimization_variance(self) -> np.ndarray:
        """:math:`V_{opt}(c)`, the mean over runs of the branch variance."""
        return self.run_variance.mean(axis=0)

    @property
    def total(self) -> np.ndarray:
        """:math:`L(c) = L_{int} + V_{opt}(c)`."""
        return self.intrinsic + self.optimization_variance

    @property
    def standard_error(self) -> np.ndarray:
        """Standard error of :math:`V_{opt}(c)` over runs (branch noise included)."""
        n = self.run_variance.shape[0]
        return self.run_variance.std(axis=0, ddof=1) / np.sqrt(n)

    def bootstrap(self, n_boot: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Bootstrap over runs: ``(L_int draws (B,), L(c) draws (B, C))``."""
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(self.intrinsic_per_run), (n_boot, len(self.intrinsic_per_run)))
        intrinsic = self.intrinsic_per_run[idx].mean(axis=1)
        return intrinsic, intrinsic[:, None] + self.run_variance[idx].mean(axis=1)

    def as_risk_curve(self, n_boot: int = 400, seed: int = 0):
        """The same numbers as a :class:`tuneahead.risk.RiskCurve`, with bootstrap draws over runs."""
        intrinsic_draws, draws = self.bootstrap(n_boot, seed)
        return RiskCurve(
            budgets=self.budgets.astype(float),
            total=self.total,
            draws=draws,
            intrinsic=self.intrinsic,
            intrinsic_draws=intrinsic_draws,
            horizon=self.horizon,
        )


def brute_force_risk(
    population: SimulatedPopulation,
    candidates: RunTable,
    budgets: Sequence[float],
    branches: int = 16,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> BruteForceRisk:
    """Branch every candidate at every budget ``branches`` times (see module doc).

    Budgets above the runs' step count T are clipped to T, where :math:`V_{opt} = 0` exactly.
    """
    if branches < 2:
        raise ValueError(f"brute force needs at least 2 branches per run to estimate a variance, got {branches}")
    rows = population.rows(candidates)
    T = population.spec.steps
    budgets = np.unique(np.concatenate([[0], np.minimum(np.asarray(budgets, dtype=float), T)])).astype(int)
    n = len(rows)
    run_variance = np.zeros((n, len(budgets)))
    run_mean = np.zeros((n, len(budgets)))
    for j, c in enumerate(budgets):
        if c >= T:
            run_variance[:, j] = 0.0
            run_mean[:, j] = 100 * population.p_final[rows]
        else:
            keys = np.asarray(jax.random.split(jax.random.PRNGKey(10_000 * (seed + 1) + int(c)), n * branches))
            record = population.run(np.repeat(rows, branches), keys, np.full(n * branches, c))
            p = record.p_final.reshape(n, branches)
            run_variance[:, j] = 1e4 * p.var(axis=1, ddof=1)
            run_mean[:, j] = 100 * p.mean(axis=1)
        if progress is not None:
            progress(float(c))
    return BruteForceRisk(
        budgets=budgets.astype(float),
        run_variance=run_variance,
        run_mean=run_mean,
        intrinsic_per_run=population.intrinsic_risk_per_run(candidates),
        branches=branches,
        horizon=float(T),
    )
