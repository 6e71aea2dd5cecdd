r"""A posterior updated with new runs without a refit: importance resampling of its draws.

Given draws :math:`\theta_s \sim p(\theta \mid D)` of a fit and new runs :math:`D'`,
Bayes' rule

.. math::

    p(\theta \mid D \cup D') \propto p(\theta \mid D)\, p(D' \mid \theta)

makes the fit's draws importance samples of the updated posterior, with weights

.. math::

    \log w_s = \sum_{i \in D'} \log p(y_i, R_i \mid \theta_s),

each run's latents and gate integrated out (:func:`pointwise_loglik`, the same per-run likelihood
that PSIS-LOO reads). A run stopped early, with no final score, adds the likelihood of the curve
it ran. It must be folded in too: when runs are stopped on what their curves showed, the runs that
finished are a selected sample, and only the stopped runs' curves make that selection ignorable
(the decision to stop read nothing but observed values).

The weights are Pareto-smoothed (PSIS, :func:`arviz.psislw`) and the draws resampled
systematically, so whatever reads the result reads an ordinary :class:`Posterior`. A stacked
posterior (:mod:`tuneahead.model.stacked`) is updated the same way, over the draws of all its
variants at once: a variant's share of the resampled draws is its new weight, so the variants
whose draws explain the new runs gain weight, as Bayes' rule over the mixture says.

Weights accumulate against the fit's own draws, never against draws already resampled, so the
update after k runs is judged by the weights of all k together:

- the relative effective sample size, Kish's :math:`(\sum_s w_s)^2 / (S \sum_s w_s^2)`;
- the Pareto :math:`\hat k` of the weights: PSIS estimates are reliable for :math:`\hat k < 0.7`.

Once the relative ESS falls below ``min_relative_ess`` or :math:`\hat k` rises above
``max_pareto_k``, the new runs have moved the posterior further than the fit's draws can follow,
and :attr:`ImportanceUpdate.needs_refit` says so: fit again on all runs.

What an update leaves as it was: the design (standardization, groups, basis) is the fit's, so a
run of a group the fit never saw is read through the population intercept (``a0``, ``tau_a``), as
candidates are; and the draws' diversity is at most that of the fit (resampling duplicates draws).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from functools import cached_property, partial

import jax
import numpy as np
import xarray as xr

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

from ..data.runtable import RunTable
from ..model.design import ModelDesign
from ..model.likelihood import run_loglik
from ..model.posterior import DrawSet, Posterior
from ..model.stacked import StackedPosterior
from .arguments import size_classes

__all__ = ["ImportanceUpdate", "pointwise_loglik"]


@partial(jax.jit, static_argnames=("failure_gate",))
def _batched_run_loglik(params, data, failure_gate: bool):
    return jax.vmap(lambda p: run_loglik(p, data, failure_gate))(params)


def pointwise_loglik(
    posterior: Posterior | StackedPosterior, table: RunTable, max_draws: int | None = None
) -> np.ndarray:
    """:math:`\\log p(y_i, R_i \\mid \\theta_s)` of every run of ``table`` under every draw, ``(S, n)``."""
    return _loglik_sets(posterior.draw_sets(max_draws), table)


def _loglik_sets(draws: list[DrawSet], table: RunTable) -> np.ndarray:
    """:func:`_loglik` under every set of draws, each read with its own design, ``(S, n)``."""
    return np.concatenate([_loglik(params, design, table) for params, design in draws])


def _loglik(params: dict, design: ModelDesign, table: RunTable) -> np.ndarray:
    """A few draws and runs are padded to their size classes, and the point axis to a common width
    (:func:`~tuneahead.inference.arguments.size_classes`; the padding is masked), so that tables
    of a few runs reuse a handful of compiled programs."""
    n_draws = len(params["sigma_eps"])
    params, data = size_classes(params, design.encode(table, with_outcome=True), bool(design.spec.metrics))
    loglik = _batched_run_loglik(params, data, design.spec.failure_gate)
    return np.asarray(loglik, dtype=float)[:n_draws, : len(table)]


def _systematic_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``len(weights)`` draws by systematic resampling (one uniform, evenly spaced)."""
    n = len(weights)
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(weights), positions), n - 1)


@dataclass(frozen=True)
class ImportanceUpdate:
    """A fitted posterior and the summed log-likelihood of the runs that ended since, per draw.

    Start with :meth:`start`, fold runs in with :meth:`with_runs`, and read the updated posterior
    with :meth:`posterior` (module doc). A draw under which a run's likelihood is not finite gets
    weight 0; if every draw does, :attr:`needs_refit` is true.
    """

    fit: Posterior | StackedPosterior
    log_weights: np.ndarray  # (S,): sum over the new runs of log p(run | theta_s)
    draws: list[DrawSet] = field(repr=False)  # the fit's draws as the likelihood reads them, computed once
    runs: int = 0
    min_relative_ess: float = 0.3
    max_pareto_k: float = 0.7

    @classmethod
    def start(cls, fit: Posterior | StackedPosterior, **thresholds) -> ImportanceUpdate:
        """No run yet: the fit's own posterior."""
        draws = fit.draw_sets()
        return cls(fit, np.zeros(sum(len(p["sigma_eps"]) for p, _ in draws)), draws, 0, **thresholds)

    def with_runs(self, table: RunTable) -> ImportanceUpdate:
        """These weights with the runs of ``table`` folded in: their curves, and their final scores
        where they have one (a run stopped early adds the likelihood of the curve it ran)."""
        added = _loglik_sets(self.draws, table).sum(axis=1)
        added = np.where(np.isfinite(added), added, -np.inf)  # a NaN draw must not weigh anything
        return replace(self, log_weights=self.log_weights + added, runs=self.runs + len(table))

    @cached_property
    def _smoothed(self) -> tuple[np.ndarray, float]:
        """The normalized PSIS weights and their Pareto k, computed once per state."""
        if self.runs == 0:
            return np.full(len(self.log_weights), 1.0 / len(self.log_weights)), -np.inf
        if not np.isfinite(self.log_weights).any():
            return np.full(len(self.log_weights), np.nan), np.inf
        log_w, k_hat = az.psislw(xr.DataArray(self.log_weights - self.log_weights.max(), dims=("__sample__",)))
        w = np.exp(np.asarray(log_w, dtype=float))
        return w / w.sum(), float(k_hat)

    @property
    def relative_ess(self) -> float:
        """Kish's effective sample size of the smoothed weights over the number of draws."""
        w, _ = self._smoothed
        return float(1.0 / (len(w) * np.sum(w**2)))

    @property
    def pareto_k(self) -> float:
        """PSIS's :math:`\\hat k` of the weights (-inf before any run)."""
        return self._smoothed[1]

    @property
    def needs_refit(self) -> bool:
        """Whether the fit's draws can no longer stand for the updated posterior."""
        ess = self.relative_ess
        return not ess >= self.min_relative_ess or self.pareto_k > self.max_pareto_k

    def posterior(self, seed: int = 0) -> Posterior | StackedPosterior:
        """The updated posterior: the fit's draws resampled by their smoothed weights, as one chain
        (for a stacked fit, one chain per variant that keeps draws, weighted by its share)."""
        if self.runs == 0:
            return self.fit
        weights, k_hat = self._smoothed
        index = _systematic_resample(weights, np.random.default_rng(seed))
        record = {"runs": self.runs, "relative_ess": self.relative_ess, "pareto_k": k_hat}
        if isinstance(self.fit, Posterior):
            return _resampled(self.fit, index, record)
        members, shares, start = {}, {}, 0
        for name, own in self.fit.draw_indices().items():  # the order of the draw sets
            mine = index[(index >= start) & (index < start + own.size)] - start
            start += own.size
            if mine.size:
                members[name] = _resampled(self.fit.members[name], own[mine], record)
                shares[name] = mine.size / index.size
        extra = {**self.fit.diagnostics.extra, "importance_update": record}
        return StackedPosterior.from_members(members, shares, extra)


def _resampled(fit: Posterior, index: np.ndarray, record: dict) -> Posterior:
    """The draws ``index`` (chains flattened) of ``fit`` as one chain, with the update's ``record``."""
    post = fit.idata.posterior
    total = fit.num_draws
    data_vars = {
        name: (("chain", "draw", *var.dims[2:]), var.values.reshape((total, *var.shape[2:]))[index][None])
        for name, var in post.data_vars.items()
    }
    coords = {k: v for k, v in post.coords.items() if k not in ("chain", "draw")}
    dataset = xr.Dataset(data_vars, coords={**coords, "chain": [0], "draw": np.arange(index.size)}, attrs=post.attrs)
    diagnostics = replace(
        fit.diagnostics,
        num_chains=1,
        num_draws=index.size,
        extra={**fit.diagnostics.extra, "importance_update": record},
    )
    return Posterior(az.InferenceData(posterior=dataset), fit.design, diagnostics)
