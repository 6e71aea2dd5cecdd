"""Optuna pruners replayed on recorded curves: keep/stop calls, for screening only.

A pruner sees a trial's intermediate values as they are reported and may stop it at any step.
Replaying a sweep through it:

1. the training runs enter an in-memory study as finished trials (``optuna.trial.create_trial``)
   with their full curves as intermediate values and their final scores as values; for
   successive halving, each also carries the rung values (``completed_rung_k``) it would have
   recorded on its way to the end, since it ran to the end;
2. each test run, in a seeded order, is asked for as a new trial; its curve points are reported
   in step order and ``should_prune`` is asked after each; a pruned run stops there and costs the
   steps up to that point, a kept run costs its whole budget and its final score is told to the
   study, as a live study would.

The pruners make no score estimate, so they appear only in the go/no-go table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.runtable import RunTable

__all__ = ["PrunerReplay", "replay_pruner", "make_pruner"]


@dataclass(frozen=True)
class PrunerReplay:
    """Per test run: ``kept`` (ran to the end) and ``steps`` spent; ``order`` is the replay order."""

    kept: np.ndarray
    steps: np.ndarray
    order: np.ndarray


def make_pruner(kind: str, budget: float, percentile: float = 50.0, reduction_factor: int = 3):
    """A MedianPruner/PercentilePruner or SuccessiveHalvingPruner acting from ``budget`` steps on.

    ``kind="median"`` keeps, at each step from ``budget`` on, only runs whose value is in the top
    ``percentile`` percent of earlier trials at that step (Optuna's PercentilePruner for a maximized
    score; 50 is its MedianPruner);
    ``kind="successive_halving"`` has its first rung at ``budget`` steps and promotes the top
    ``1/reduction_factor`` at each rung.
    """
    import optuna

    if kind == "median":
        if percentile == 50.0:
            return optuna.pruners.MedianPruner(n_startup_trials=0, n_warmup_steps=int(budget))
        return optuna.pruners.PercentilePruner(percentile, n_startup_trials=0, n_warmup_steps=int(budget))
    if kind == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=int(budget), reduction_factor=int(reduction_factor), min_early_stopping_rate=0
        )
    raise ValueError(f"pruner kind={kind!r}; use 'median' or 'successive_halving'")


def _points(table: RunTable, metric: str, i: int) -> tuple[np.ndarray, np.ndarray]:
    steps, values = table.curve(metric).points(i)
    values = np.where(np.isfinite(values), values, -np.inf)  # a non-finite score is the worst
    return steps.astype(int), values


def _rung_values(steps, values, pruner) -> dict:
    import optuna

    if not isinstance(pruner, optuna.pruners.SuccessiveHalvingPruner):
        return {}
    attrs, rung = {}, 0
    min_resource, eta, rate = pruner._min_resource, pruner._reduction_factor, pruner._min_early_stopping_rate
    while True:
        promotion = min_resource * eta ** (rate + rung)
        later = np.flatnonzero(steps >= promotion)
        if later.size == 0:
            return attrs
        attrs[f"completed_rung_{rung}"] = float(values[later[0]])
        rung += 1


def replay_pruner(pruner, train: RunTable, test: RunTable, metric: str, seed: int = 0) -> PrunerReplay:
    """Replay ``test`` through ``pruner`` after ``train`` (module doc); the score is maximized."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=pruner, storage=optuna.storages.InMemoryStorage())
    for i in np.flatnonzero(train.has_final):
        steps, values = _points(train, metric, i)
        study.add_trial(
            optuna.trial.create_trial(
                value=float(train.final[i]),
                intermediate_values={int(s): float(v) for s, v in zip(steps, values)},
                system_attrs=_rung_values(steps, values, pruner),
                params={},
                distributions={},
            )
        )
    order = np.random.default_rng(seed).permutation(len(test))
    kept = np.zeros(len(test), dtype=bool)
    spent = np.asarray(test.budget, dtype=float).copy()
    for i in order:
        trial = study.ask()
        steps, values = _points(test, metric, i)
        pruned = False
        for s, v in zip(steps, values):
            trial.report(float(v), int(s))
            if trial.should_prune():
                pruned = True
                spent[i] = float(s)
                break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            kept[i] = True
            final = float(test.final[i]) if np.isfinite(test.final[i]) else float(values[-1]) if values.size else 0.0
            study.tell(trial, final)
    return PrunerReplay(kept=kept, steps=spent, order=order)
