"""Go/no-go screening of a split's held-out runs, from the accumulated predictions (:mod:`tuneahead.screen`).

Per budget: TuneAhead's Table 4 rows (one per success threshold ``tau``) for ours, which sends a
run on if ``P(R >= tau) >= p``, and the TuneAhead baseline, which sends it on if its prediction
reaches ``tau``; the headline, the compute saved while keeping a target share of the runs in the
top quantile of held-out scores; and the replayed Optuna pruners, each one fixed setting.
"""

from __future__ import annotations

import numpy as np

from ..baselines import make_pruner, replay_pruner
from ..screen import best_saving_at_recall, replay_outcome, threshold_rows
from .config import METHOD_LABELS
from .scoring import HeldOut, MethodResults

__all__ = ["SCREENED_METHODS", "success_thresholds", "method_screening", "pruner_label", "pruner_row"]

# the methods screened by their predictions, in row order
SCREENED_METHODS = ("ours", "tuneahead")


def success_thresholds(held_out: HeldOut, sc: dict) -> tuple[list[float], float]:
    """The Table 4 thresholds (``screen.taus``, or quantiles of the training scores) and the top cut.

    The top cut is the ``screen.top_quantile`` quantile of the held-out scores.
    """
    taus = sc["taus"]
    if taus is None:
        scored = held_out.training_scores()
        taus = [float(np.quantile(scored, q)) for q in sc["tau_quantiles"]]
    return taus, float(np.quantile(held_out.final, sc["top_quantile"]))


def method_screening(
    results: MethodResults, held_out: HeldOut, taus: list[float], top_tau: float, sc: dict
) -> tuple[list[dict], dict]:
    """One screened method's Table 4 rows and its headline row at the results' budget."""
    truth, total, b = held_out.final, held_out.total_steps, results.budget
    mean = results.mean()
    if results.method == "ours":
        prob = {tau: results.probability(tau) for tau in [*taus, top_tau]}
        table4 = threshold_rows(
            lambda tau: prob[tau],
            truth,
            taus,
            total,
            b,
            cutoff=sc["p"],
            resume_from_probe=sc["resume_from_probe"],
        )
        score = prob[top_tau]
    else:
        table4 = threshold_rows(lambda tau: mean, truth, taus, total, b, resume_from_probe=sc["resume_from_probe"])
        score = mean
    label = METHOD_LABELS[results.method]
    rows = [{"split": held_out.split, "budget": b, "method": label, **r} for r in table4]
    success = truth >= top_tau
    best = best_saving_at_recall(score, success, total, b, sc["recall"], sc["resume_from_probe"])
    return rows, {"split": held_out.split, "budget": b, "method": label, "tau_top": top_tau, **best}


def pruner_label(pr: dict) -> str:
    """The table name of a configured pruner."""
    if pr["kind"] == "median" and pr.get("percentile", 50) == 50:
        name = "MedianPruner"
    elif pr["kind"] == "median":
        name = f"PercentilePruner(keep top {pr.get('percentile'):g}%)"
    else:
        name = f"SuccessiveHalving(eta={pr.get('reduction_factor', 3)})"
    return "Optuna " + name


def pruner_row(pr: dict, held_out: HeldOut, budget: float, top_tau: float, metric: str, seed: int) -> dict:
    """The pruner ``pr`` replayed on every fold (fold ``f`` seeded ``seed + f``), scored like the headline."""
    kept, steps = [], []
    for f, (train, test) in enumerate(held_out.folds):
        replay = replay_pruner(make_pruner(budget=budget, **pr), train, test, metric, seed=seed + f)
        kept.append(replay.kept)
        steps.append(replay.steps)
    success = held_out.final >= top_tau
    out = replay_outcome(np.concatenate(kept), np.concatenate(steps), success, held_out.total_steps)
    return {"split": held_out.split, "budget": budget, "method": pruner_label(pr), "tau_top": top_tau, **out}
