"""Optuna pruners replayed on recorded curves: keep/stop calls, for screening only.

A pruner sees a trial's intermediate values as they are reported and may stop it at any step.
Replaying a sweep through it:

1. the training runs enter an in-memory study as finished trials (``optuna.trial.create_trial``)
   with their full curves as intermediate values and their final scores as values; for
   successive halving, each also carries the rung values (``completed_rung_k``) it would have
   recorded on its way to the end, since it ran to the end; for Hyperband, those of the bracket
   its trial number falls in (Optuna assigns brackets by a hash of the study name and number);
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


def make_pruner(
    kind: str, budget: float, percentile: float = 50.0, reduction_factor: int = 3, max_resource: float | None = None
):
    """A MedianPruner/PercentilePruner, SuccessiveHalvingPruner or HyperbandPruner acting from ``budget`` steps on.

    ``kind="median"`` keeps, at each step from ``budget`` on, only runs whose value is in the top
    ``percentile`` percent of earlier trials at that step (Optuna's PercentilePruner for a maximized
    score; 50 is its MedianPruner);
    ``kind="successive_halving"`` has its first rung at ``budget`` steps and promotes the top
    ``1/reduction_factor`` at each rung;
    ``kind="hyperband"`` runs successive halving in brackets whose first rungs start at ``budget``
    steps and later, up to ``max_resource`` steps (the runs' full length).
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
    if kind == "hyperband":
        if max_resource is None:
            raise ValueError("kind='hyperband' needs max_resource, the runs' full length in steps")
        return optuna.pruners.HyperbandPruner(
            min_resource=int(budget), max_resource=int(max_resource), reduction_factor=int(reduction_factor)
        )
    raise ValueError(f"pruner kind={kind!r}; use 'median', 'successive_halving' or 'hyperband'")


def _points(table: RunTable, metric: str, i: int) -> tuple[np.ndarray, np.ndarray]:
    steps, values = table.curve(metric).points(i)
    values = np.where(np.isfinite(values), values, -np.inf)  # a non-finite score is the worst
    return steps.astype(int), values


def _rung_values(steps, values, pruner, study, number: int) -> dict:
    """The ``completed_rung_k`` values a finished trial ``number`` would have recorded."""
    import optuna

    if isinstance(pruner, optuna.pruners.HyperbandPruner):
        if not pruner._pruners:  # its brackets, from max_resource (never "auto" here), once, as prune() does
            pruner._try_initialization(study)
        pruner = pruner._pruners[pruner._get_bracket_id(study, _Numbered(number))]
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


@dataclass(frozen=True)
class _Numbered:
    """What Hyperband reads of a trial to pick its bracket: its number."""

    number: int


def replay_pruner(pruner, train: RunTable, test: RunTable, metric: str, seed: int = 0) -> PrunerReplay:
    """Replay ``test`` through ``pruner`` after ``train`` (module doc); the score is maximized."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # a fixed name: Hyperband assigns brackets by a hash of the study name and the trial number
    study = optuna.create_study(
        study_name="replay", direction="maximize", pruner=pruner, storage=optuna.storages.InMemoryStorage()
    )
    for number, i in enumerate(np.flatnonzero(train.has_final)):
        steps, values = _points(train, metric, i)
        study.add_trial(
            optuna.trial.create_trial(
                value=float(train.final[i]),
                intermediate_values={int(s): float(v) for s, v in zip(steps, values)},
                system_attrs=_rung_values(steps, values, pruner, study, number),
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
