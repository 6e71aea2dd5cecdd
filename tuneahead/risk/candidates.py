r"""Each candidate's own :math:`V_{opt}(c)` and the probe length worth its cost.

A candidate probed to :math:`c_0` (its last curve point) would, probed further, add points at its
own cadence (per metric, the median spacing of its points; where it has fewer than two, that of
the training runs). Under each posterior draw :math:`s` the healthy branch is linear-Gaussian
in the curve values, so its variance :math:`v^{ok}_{is}(c)` depends on which points are observed
and not on their values: appending the future points, with placeholder values, gives it exactly.
Over the budgets :math:`c = c_0 + f\,(T_i - c_0)`, :math:`f \in` ``FRACTIONS``,

.. math::

    V_{opt,i}(c) = \frac1S \sum_s (1 - q_{is})\,\bigl(v^{ok}_{is}(c) - v^{ok}_{is}(T_i)\bigr),

with :math:`q_{is}` the probability of divergence given the probe so far. It is zero at the
horizon :math:`T_i`, as in the horizon-aware law :math:`K(c^{-\alpha} - T^{-\alpha})`. What more
probing would reveal about divergence itself (the gate) is left out, so :math:`V_{opt,i}` is a
lower bound on what the next steps can remove.

The probe length worth its cost minimizes :math:`V_{opt,i}(c) + \gamma \lambda (c - c_0)` over
those budgets (:math:`\gamma` the points² of risk worth one unit of compute, :math:`\lambda` the
cost of a step, as in :class:`~tuneahead.risk.curve.RiskConfig`); it is :math:`c_0` when no more
probing pays. A model without curves has :math:`V_{opt,i} = 0`: no probe changes its prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.runtable import Curve, RunTable
from ..model.posterior import DrawSet
from ..predict import PredictiveComponents, components_from_draws

__all__ = ["FRACTIONS", "CandidateRisk", "probed_steps", "extended", "candidate_risk"]

FRACTIONS = (0.0, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)


@dataclass(frozen=True)
class CandidateRisk:
    """Per candidate: its probe so far, the budgets ``(n, F)``, :math:`V_{opt,i}` there and the length worth probing."""

    probed: np.ndarray  # (n,) c_0
    budgets: np.ndarray  # (n, F)
    v_opt: np.ndarray  # (n, F)
    worth: np.ndarray  # (n,) the probe length worth its cost (>= probed)


def probed_steps(table: RunTable) -> np.ndarray:
    """Each run's last observed step over all metrics (0 for a run with no points)."""
    last = np.zeros(len(table))
    for curve in table.curves.values():
        steps = np.where(curve.present, curve.steps, -np.inf)
        last = np.maximum(last, steps.max(axis=1, initial=-np.inf))
    return last


def _cadence(curve: Curve, trained: float = float("nan")) -> np.ndarray:
    """Each run's spacing of points: its own median; else ``trained`` (the training runs' median
    spacing); else the median over these runs; else its one step."""
    n = curve.steps.shape[0]
    gaps = np.full(n, np.nan)
    for i in range(n):
        steps, _ = curve.points(i)
        if steps.size >= 2:
            gaps[i] = np.median(np.diff(steps))
    shared = trained if np.isfinite(trained) else (np.nanmedian(gaps) if np.isfinite(gaps).any() else np.nan)
    firsts = np.where(curve.counts > 0, curve.steps[:, 0], np.nan) if curve.steps.shape[1] else np.full(n, np.nan)
    return np.where(np.isfinite(gaps), gaps, np.where(np.isfinite(shared), shared, firsts))


def extended(table: RunTable, targets: np.ndarray, cadence: dict[str, float] | None = None) -> RunTable:
    """``table`` with every curve carried on to step ``targets[i]`` at its run's cadence.

    The added points repeat the run's last value (a placeholder: only which points exist matters
    to the healthy branch's variance); a run with no point of a metric starts at step 0 with the
    spacing ``cadence[metric]`` (the training runs'), else that of the other runs.
    """
    curves = {}
    for name, curve in table.curves.items():
        gaps, rows = _cadence(curve, (cadence or {}).get(name, float("nan"))), []
        for i in range(len(table)):
            steps, values = curve.points(i)
            if np.isfinite(gaps[i]) and gaps[i] > 0:
                start, fill = (steps[-1], values[-1]) if steps.size else (0.0, 0.0)
                more = np.arange(start + gaps[i], targets[i] + 1e-9 * gaps[i], gaps[i])
                more = more[more <= table.budget[i]]
                steps, values = np.concatenate([steps, more]), np.concatenate([values, np.full(more.size, fill)])
            rows.append((steps, values))
        width = max((s.size for s, _ in rows), default=0)
        padded = np.full((len(table), width), np.nan), np.full((len(table), width), np.nan)
        for i, (steps, values) in enumerate(rows):
            padded[0][i, : steps.size], padded[1][i, : values.size] = steps, values
        curves[name] = Curve(*padded)
    return RunTable(
        table.run_id, table.group, table.static, table.static_names, table.budget, curves, table.final, table.diverged
    )


def candidate_risk(
    draws: list[DrawSet],
    candidates: RunTable,
    gamma: float,
    cost_per_step: float,
    fractions=FRACTIONS,
    now: PredictiveComponents | None = None,
) -> CandidateRisk:
    """:math:`V_{opt,i}(c)` of every candidate and the probe length worth its cost (module doc).

    ``draws`` are the posterior's draw sets (:meth:`~tuneahead.model.Posterior.draw_sets`); ``now``
    the candidates' predictive branches under them as they stand, when the caller has them already.
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions[0] != 0 or fractions[-1] != 1 or np.any(np.diff(fractions) <= 0):
        raise ValueError(f"fractions={fractions.tolist()} must rise from 0 to 1")
    design = draws[0].design  # the variants of a stack share their metrics and cadence
    cadence = dict(zip(design.spec.metrics, design.cadence))
    c0, horizon = probed_steps(candidates), np.asarray(candidates.budget, dtype=float)
    budgets = c0[:, None] + fractions[None, :] * (horizon - c0)[:, None]
    if not design.spec.metrics:
        v_opt = np.zeros_like(budgets)
    else:
        now = now if now is not None else components_from_draws(draws, candidates)
        var = np.stack(
            [
                components_from_draws(draws, extended(candidates, budgets[:, k], cadence)).var_ok
                for k in range(1, len(fractions))
            ],
            axis=-1,
        )
        var = np.concatenate([now.var_ok[..., None], var], axis=-1)  # (S, n, F)
        v_opt = np.mean((1 - now.p_fail)[..., None] * (var - var[..., -1:]), axis=0)
    objective = v_opt + gamma * cost_per_step * (budgets - c0[:, None])
    worth = budgets[np.arange(len(c0)), np.argmin(objective, axis=1)]
    return CandidateRisk(probed=c0, budgets=budgets, v_opt=np.maximum(v_opt, 0.0), worth=worth)
