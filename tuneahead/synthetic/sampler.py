"""Populations of runs drawn from the hierarchical model itself, with every generating value known.

This is the parameter-recovery source: it draws run tables from the generative process of
:mod:`tuneahead.model.hierarchical` (sites as in :mod:`tuneahead.model.parameters`), written out
with explicit latents (:math:`a_g`, :math:`\\delta_i`, :math:`B_i`, the gate), in the data's
natural units. The likelihood integrates those latents out in closed form; this sampler never
does, so a fit that recovers the truth checks the two against each other.

Because the generating parameters are known, the Bayes predictor of each run's final score given
its probe up to any budget c is known exactly too: :meth:`Population.true_components` evaluates
the model's own closed-form conditioning at the true parameters, on the natural scale (an identity
design), with the realized curves. Averaging its variance over runs gives the true L(c).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..data.runtable import RunTable
from ..model.parameters import B_MAX, curve_exponent_fraction, initial_rate

__all__ = [
    "PopulationParams",
    "PopulationDesign",
    "Population",
    "sample_population",
    "synthetic_population",
    "with_overrides",
]


@dataclass(frozen=True)
class PopulationParams:
    """Generating values, in score points and steps (names as in the model)."""

    a0: float = 70.0
    tau_a: float = 4.0
    beta: tuple[float, ...] = (3.0, -2.0, 1.5, 0.0)
    sigma_delta: float = 3.0
    sigma_eps: float = 1.5
    lam0: float = 0.0
    lam1: float = 1.0
    mu_B: float = 25.0
    sigma_B: float = 6.0
    gamma_B: tuple[float, ...] = (3.0, 0.0, 0.0, 0.0)
    b: float = 0.6
    t0: float = 100.0
    kappa: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    sigma_y: float = 1.0
    h0: float = -2.5
    w: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0)
    r_fail: float = 33.0
    s_fail: float = 1.5
    y_fail: float = 33.0
    s_yfail: float = 2.0
    tau_div: float = 400.0

    def __post_init__(self) -> None:
        p = len(self.beta)
        if not len(self.gamma_B) == len(self.w) == len(self.kappa) == p:
            raise ValueError(
                f"beta, gamma_B, kappa and w need one entry per static feature; got {len(self.beta)}, "
                f"{len(self.gamma_B)}, {len(self.kappa)}, {len(self.w)}"
            )
        if not 0 < self.b < B_MAX:
            raise ValueError(f"population parameter b must lie in (0, {B_MAX}), got {self.b}")
        for name in (
            "tau_a",
            "sigma_delta",
            "sigma_eps",
            "sigma_B",
            "b",
            "t0",
            "sigma_y",
            "s_fail",
            "s_yfail",
            "tau_div",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"population parameter {name} must be positive, got {getattr(self, name)}")


@dataclass(frozen=True)
class PopulationDesign:
    """The shape of a population: groups, runs, budgets and the probe's evaluation grid."""

    n_groups: int = 8
    runs_per_group: int = 40
    budgets: tuple[float, ...] = (1000.0, 2000.0, 4000.0)
    eval_every: float = 100.0
    metric: str = "eval_score"

    def __post_init__(self) -> None:
        if self.n_groups < 1 or self.runs_per_group < 2:
            raise ValueError("a population needs at least one group of at least two runs")
        if min(self.budgets) < self.eval_every:
            raise ValueError("every budget must allow at least one evaluation")


@dataclass(frozen=True)
class Population:
    """A sampled RunTable with its generating values and per-run latents (indexed by run_id)."""

    table: RunTable
    params: PopulationParams
    design: PopulationDesign
    group_intercepts: np.ndarray
    latents: dict = field(repr=False)

    def truth_for(self, table: RunTable, name: str) -> np.ndarray:
        """Per-run latent ``name`` (``mu``, ``delta``, ``B``, ``gate_logit``, ``failed``) for ``table``'s runs."""
        return self.latents[name][self.table.rows_of(table, "this population")]

    def site_values(self) -> dict[str, np.ndarray]:
        """The generating values as model sites on the natural scale (for an identity design)."""
        p = self.params
        sites = {
            "a0": np.float32(p.a0),
            "tau_a": np.float32(p.tau_a),
            "a": self.group_intercepts.astype(np.float32),
            "beta": np.asarray(p.beta, np.float32),
            "sigma_delta": np.float32(p.sigma_delta),
            "sigma_eps": np.float32(p.sigma_eps),
            "h0": np.float32(p.h0),
            "w": np.asarray(p.w, np.float32),
            "r_fail": np.float32(p.r_fail),
            "s_fail": np.float32(p.s_fail),
            "tau_div": np.float32(p.tau_div),
        }
        per_metric = {
            "lam0": p.lam0,
            "lam1": p.lam1,
            "mu_B": p.mu_B,
            "sigma_B": p.sigma_B,
            "b_frac": curve_exponent_fraction(p.b),
            "rate": initial_rate(p.b, p.t0),
            "sigma_y": p.sigma_y,
            "y_fail": p.y_fail,
            "s_yfail": p.s_yfail,
        }
        sites.update({k: np.array([v], np.float32) for k, v in per_metric.items()})
        sites["gamma_B"] = np.asarray(p.gamma_B, np.float32)[None, :]
        sites["kappa"] = np.asarray(p.kappa, np.float32)[None, :]
        return sites

    def intrinsic_risk(self, table: RunTable) -> float:
        """True :math:`L_{int} = \\overline{\\pi_i s_{fail}^2 + (1 - \\pi_i) \\sigma_\\varepsilon^2}`
        over ``table``'s runs."""
        pi = 1.0 / (1.0 + np.exp(-self.truth_for(table, "gate_logit")))
        return float(np.mean(pi * self.params.s_fail**2 + (1 - pi) * self.params.sigma_eps**2))


def sample_population(
    params: PopulationParams = PopulationParams(),
    design: PopulationDesign = PopulationDesign(),
    seed: int = 0,
) -> Population:
    """Draw a population from the generative process with explicit latents (see module doc)."""
    rng = np.random.default_rng(seed)
    p = len(params.beta)
    n = design.n_groups * design.runs_per_group
    group_idx = np.repeat(np.arange(design.n_groups), design.runs_per_group)
    a = rng.normal(params.a0, params.tau_a, design.n_groups)
    x = rng.normal(size=(n, p))
    mu = a[group_idx] + x @ np.asarray(params.beta)
    gate_logit = params.h0 + x @ np.asarray(params.w)
    failed = rng.random(n) < 1.0 / (1.0 + np.exp(-gate_logit))
    delta = rng.normal(0.0, params.sigma_delta, n)
    B = rng.normal(params.mu_B + x @ np.asarray(params.gamma_B), params.sigma_B)
    budget = rng.choice(np.asarray(design.budgets, dtype=float), size=n)

    final = np.where(
        failed,
        rng.normal(params.r_fail, params.s_fail, n),
        mu + delta + rng.normal(0.0, params.sigma_eps, n),
    )
    records = []
    run_t0 = params.t0 * np.exp(x @ np.asarray(params.kappa))
    divergence_time = rng.exponential(params.tau_div, n)
    for i in range(n):
        steps = np.arange(design.eval_every, budget[i] + 1e-9, design.eval_every)
        shape = (1 + steps / run_t0[i]) ** (-params.b) - (1 + budget[i] / run_t0[i]) ** (-params.b)
        healthy = (
            params.lam0 + params.lam1 * (mu[i] + delta[i]) - B[i] * shape + rng.normal(0.0, params.sigma_y, steps.size)
        )
        if failed[i]:
            # a healthy run until it diverges, then at chance
            chance = params.y_fail + params.s_yfail * rng.standard_t(3.0, steps.size)
            values = np.where(steps < divergence_time[i], healthy, chance)
        else:
            values = healthy
        records.append(
            {
                "run_id": f"run-{i:05d}",
                "group": f"task-{group_idx[i]:02d}",
                "budget": budget[i],
                "final": final[i],
                "diverged": float(failed[i]),
                "static": {f"x{j + 1}": x[i, j] for j in range(p)},
                "curves": {design.metric: list(zip(steps, values))},
            }
        )
    table = RunTable.from_records(records, static_names=[f"x{j + 1}" for j in range(p)])
    latents = {
        "mu": mu,
        "delta": delta,
        "B": B,
        "gate_logit": gate_logit,
        "failed": failed,
        "divergence_time": np.where(failed, divergence_time, np.inf),
    }
    return Population(table, params, design, a, latents)


def with_overrides(params: PopulationParams, **changes) -> PopulationParams:
    """A copy of ``params`` with some values changed (tuples for per-feature values)."""
    return replace(params, **{k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()})


def synthetic_population(population: dict | None = None, params: dict | None = None, seed: int = 0) -> Population:
    """:func:`sample_population` from plain config mappings (the ``data: synthetic`` config)."""
    try:
        design = PopulationDesign(**{k: tuple(v) if isinstance(v, list) else v for k, v in (population or {}).items()})
        values = with_overrides(PopulationParams(), **(params or {}))
    except TypeError as err:
        raise ValueError(f"data.population / data.params: {err}; see PopulationDesign and PopulationParams") from None
    return sample_population(values, design, seed)
