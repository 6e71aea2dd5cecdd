r"""A probe scheduler: for each candidate, probe more (and how far), stop it, or promote it to a full run.

Freeze-thaw on the posterior, priced by the risk theory. A candidate :math:`i` probed to
:math:`c_i` has a predictive for its final score with mean :math:`m_i` and sd :math:`s_i`, and its
own :math:`V_{opt,i}(c)` (:mod:`tuneahead.risk.candidates`): what probing on to :math:`c` would
remove from its variance. Probing to :math:`c` reveals a new predictive mean :math:`m_i'`, which,
seen from now, is normal around :math:`m_i` with variance
:math:`\sigma_i^2(c) = V_{opt,i}(c_i) - V_{opt,i}(c)` (the variance the probe removes).

The decision is to promote the candidate (run it to its end) when its final score beats the
incumbent :math:`\tau` (the best promoted run so far; at first ``start_threshold``), with a payoff
linear in the margin. Its expected value of sample information is the classic one,

.. math::

    \mathrm{EVSI}_i(c) = \sigma_i(c)\,\bigl[\varphi(z) - |z|\,\Phi(-|z|)\bigr],
    \qquad z = \frac{m_i - \tau}{\sigma_i(c)},

in score points, against a cost of :math:`\gamma \lambda (c - c_i)` (as in the budget-optimal
probe). Each round, every active candidate takes its best :math:`c`; where
:math:`\max_c \mathrm{EVSI}_i(c) - \gamma\lambda(c - c_i) \le 0` no more probing pays and it is
decided now: promoted when :math:`P(R_i \ge \tau) \ge 1/2`, else stopped. Promotions go in order of
predicted mean, and each one's true final score raises :math:`\tau`. The schedule ends when no
candidate is active or the compute budget is spent (the candidates left are stopped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from .data.runtable import Curve, RunTable
from .model.posterior import Posterior
from .model.stacked import StackedPosterior
from .predict import components_from_draws
from .risk.candidates import candidate_risk

__all__ = ["Schedule", "evsi", "schedule_replay"]


def evsi(mean: np.ndarray, threshold: float, sigma: np.ndarray) -> np.ndarray:
    """Expected value of sample information of a promote-or-stop call (module doc), in score points."""
    sigma = np.maximum(np.asarray(sigma, dtype=float), 1e-12)
    z = np.abs(np.asarray(mean, dtype=float) - threshold) / sigma
    return sigma * (norm.pdf(z) - z * norm.sf(z))


@dataclass(frozen=True)
class Schedule:
    """What a replayed schedule did: per candidate its last probe, fate and steps; the compute spent."""

    probed: np.ndarray  # (n,) steps probed when decided
    promoted: np.ndarray  # (n,) bool
    steps: np.ndarray  # (n,) steps spent on each
    rounds: int

    def regret(self, final: np.ndarray) -> float:
        """The best final score minus the best promoted one (all runs' finals known in a replay)."""
        best = float(np.nanmax(final[self.promoted])) if self.promoted.any() else 0.0
        return float(np.nanmax(final) - best)


def schedule_replay(
    posterior: Posterior | StackedPosterior,
    candidates: RunTable,
    start: float,
    start_threshold: float,
    gamma: float = 1.0,
    cost_per_step: float | None = None,
    budget: float = np.inf,
    max_rounds: int = 50,
    max_draws: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> Schedule:
    """Replay the scheduler on recorded runs: each probe reveals the run's own curve up to its new length.

    ``start`` is the first probe length of every candidate; ``budget`` the compute (steps) the
    schedule may spend in all; ``cost_per_step`` is lambda (None: one over the median budget).
    """
    n, horizon = len(candidates), np.asarray(candidates.budget, dtype=float)
    lam = cost_per_step or 1.0 / float(np.median(horizon))
    probed, spent = np.minimum(np.full(n, float(start)), horizon), np.minimum(np.full(n, float(start)), horizon)
    active, promoted = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    threshold, draws, final = float(start_threshold), posterior.draw_sets(max_draws), candidates.final
    rounds = 0
    while active.any() and rounds < max_rounds and spent.sum() < budget:
        rounds += 1
        idx = np.flatnonzero(active)
        seen = _cut(candidates.select(idx), probed[idx])
        comp = components_from_draws(draws, seen)
        mean, _ = comp.moments()
        p_win = 1.0 - comp.cdf(np.full(idx.size, threshold))
        own = candidate_risk(draws, seen, gamma, lam, now=comp)
        removed = np.maximum(own.v_opt[:, :1] - own.v_opt, 0.0)  # (k, F): variance the probe to c removes
        target = np.maximum(own.budgets, probed[idx, None])
        net = evsi(mean[:, None], threshold, np.sqrt(removed)) - gamma * lam * (target - probed[idx, None])
        best = np.argmax(net, axis=1)
        more = (net[np.arange(idx.size), best] > 0) & (target[np.arange(idx.size), best] > probed[idx])
        for j in np.flatnonzero(more):  # probe on
            i = idx[j]
            spent[i] += target[j, best[j]] - probed[i]
            probed[i] = target[j, best[j]]
        for j in np.argsort(-mean):  # decide now, the most promising first
            i = idx[j]
            if more[j] and probed[i] < horizon[i]:
                continue
            active[i] = False
            if p_win[j] >= 0.5 or probed[i] >= horizon[i]:
                promoted[i] = True
                spent[i] = horizon[i]
                threshold = max(threshold, float(final[i]))
        if progress is not None:
            progress(rounds, int(active.sum()))
    return Schedule(probed=probed, promoted=promoted, steps=spent, rounds=rounds)


def _cut(table: RunTable, lengths: np.ndarray) -> RunTable:
    """Each run of ``table`` cut at its own probe length, with what a cut hides hidden (final
    scores, and divergence that its curve does not show yet)."""
    n, cuts = len(table), {float(c): table.truncate(float(c)) for c in np.unique(lengths)}
    diverged, curves = np.full(n, np.nan), {}
    for c, cut in cuts.items():
        diverged[lengths == c] = cut.diverged[lengths == c]
    for m in table.metrics:
        width = max(cut.curve(m).steps.shape[1] for cut in cuts.values())
        steps, values = np.full((n, width), np.nan), np.full((n, width), np.nan)
        for c, cut in cuts.items():
            rows, k = lengths == c, cut.curve(m).steps.shape[1]
            steps[rows, :k], values[rows, :k] = cut.curve(m).steps[rows], cut.curve(m).values[rows]
        curves[m] = Curve(steps, values)
    return RunTable(
        table.run_id, table.group, table.static, table.static_names, table.budget, curves, np.full(n, np.nan), diverged
    )
