r"""An Optuna pruner driven by the posterior: stop a trial once it will not make it.

At each report of a trial, :class:`PosteriorPruner` reads the trial's intermediate values as the
probe curve of metric ``metric`` (step -> value), its parameters as static features, and asks
the posterior for the probability of success,

.. math::

    p_i = P(R_i \ge \tau \mid \text{its curve so far}) \quad (\le \tau \text{ when the study minimizes}),

with :math:`\tau` the study's best value so far, or a fixed ``threshold``. It prunes when
:math:`p_i < p`, and writes why into the trial's user attribute ``tuneahead`` (the probability,
the threshold, the step, and the predictive mean and sd).

The posterior learns from the study itself: each time ``refit_every`` more trials have completed
(``min_trials`` at least), it is fitted again (SVI by default) to the completed trials, their
intermediate values as curves and their values as final scores, after any ``history`` of earlier
runs. Before the first fit, and while no threshold is known, nothing is pruned. A posterior from
``python -m tuneahead.fit`` may be given instead, or as the start. Pruned trials have no final
score, so the refit sees the completed trials only: a population that pruning has already
selected, which makes later calls somewhat optimistic. Refits are serialized by a lock, so
``study.optimize(n_jobs > 1)`` is safe; a trial whose features the posterior cannot read (a
conditional parameter it was not fitted with) is never pruned, with a warning.

Static features: by default every numeric parameter of the trial, as ``log10_<name>`` where its
distribution is log-scaled (a learning rate searched on a log scale) and as itself otherwise;
categorical parameters are left out. Give ``static`` (trial parameters -> features) to choose.
Optuna, not torch, is imported here.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

from ..data.runtable import RunTable, RunTableError
from ..inference import InferenceConfig, fit
from ..model.design import ModelSpec
from ..model.posterior import Posterior
from ..predict import predictive_components

__all__ = ["PosteriorPruner", "trial_features"]

log = logging.getLogger("tuneahead.integrations")


def trial_features(trial: FrozenTrial) -> dict[str, float]:
    """Every numeric parameter of ``trial``: ``log10_<name>`` on a log-scaled distribution, else itself."""
    out = {}
    for name, value in trial.params.items():
        dist = trial.distributions.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        log_scale = isinstance(dist, (FloatDistribution, IntDistribution)) and dist.log and value > 0
        out[f"log10_{name}" if log_scale else name] = math.log10(value) if log_scale else float(value)
    return out


class PosteriorPruner(BasePruner):
    """Prune a trial when its probability of reaching the study's best (or ``threshold``) is below ``p``.

    Parameters
    ----------
    metric, budget
        The name of the curve the trial's intermediate values form, and the step budget T of a trial.
    p
        The probability of success under which a trial is pruned.
    threshold
        A fixed success threshold on the final value; None: the study's best value so far.
    posterior
        A posterior to start from (its static features must be those of ``static``).
    spec, refit
        The model and the inference of each refit; ``refit=None`` never refits.
    min_trials, refit_every
        Completed trials before the first fit, and between fits.
    history
        Earlier runs put before the completed trials in each fit.
    static
        Trial -> static features (default :func:`trial_features`).
    min_steps
        Reports a trial makes before it may be pruned.
    max_draws
        Posterior draws per prediction.
    """

    def __init__(
        self,
        metric: str,
        budget: float,
        p: float = 0.05,
        threshold: float | None = None,
        posterior: Posterior | None = None,
        spec: ModelSpec | None = None,
        refit: InferenceConfig | None = InferenceConfig(method="svi", svi_steps=1500, svi_draws=200, progress=False),
        min_trials: int = 8,
        refit_every: int = 1,
        history: RunTable | None = None,
        static: Callable[[FrozenTrial], Mapping[str, float]] = trial_features,
        min_steps: int = 1,
        max_draws: int = 200,
    ):
        if not 0 < p < 1:
            raise ValueError(f"p={p}: the probability under which a trial is pruned lies in (0, 1)")
        if not budget > 0 or min_trials < 2 or refit_every < 1 or min_steps < 1:
            raise ValueError("budget must be positive, min_trials >= 2, refit_every >= 1 and min_steps >= 1")
        self.metric, self.budget, self.p, self.threshold = metric, float(budget), p, threshold
        self.posterior, self.spec = posterior, spec or ModelSpec(metrics=(metric,))
        self.refit, self.min_trials, self.refit_every = refit, min_trials, refit_every
        self.history, self.static, self.min_steps, self.max_draws = history, static, min_steps, max_draws
        self.fitted_on = 0  # completed trials the posterior has seen
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the posterior
    def _record(self, trial: FrozenTrial, group: str, final: float | None) -> dict[str, Any]:
        points = sorted((float(s), float(v)) for s, v in trial.intermediate_values.items())
        diverged = not all(math.isfinite(v) for _, v in points)
        return {
            "run_id": f"trial-{trial.number}",
            "group": group,
            "budget": self.budget,
            "static": dict(self.static(trial)),
            "curves": {self.metric: [(s, v) for s, v in points if s <= self.budget]},
            "final": final,
            "diverged": 1.0 if diverged else (0.0 if final is not None else None),
        }

    def _update(self, study: optuna.Study) -> None:
        """Refit on the completed trials when ``refit_every`` more have completed since the last fit."""
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
        if self.refit is None or len(done) < self.min_trials or len(done) - self.fitted_on < self.refit_every:
            return
        records = [self._record(t, study.study_name, float(t.value)) for t in done]
        names = sorted(set.intersection(*(set(r["static"]) for r in records)))  # those every trial has
        table = RunTable.from_records(records, static_names=names)
        if self.history is not None:
            table = _stacked(self.history, table)
        self.posterior = fit(table, self.spec, self.refit)
        self.fitted_on = len(done)
        log.info("posterior refitted on %d completed trials", len(done))

    # ------------------------------------------------------------------ the decision
    def _target(self, study: optuna.Study) -> float | None:
        if self.threshold is not None:
            return float(self.threshold)
        try:
            return float(study.best_value)
        except ValueError:  # no completed trial yet
            return None

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        """Whether to stop ``trial`` now (Optuna calls this from ``trial.should_prune()``)."""
        if len(trial.intermediate_values) < self.min_steps:
            return False
        with self._lock:
            self._update(study)
            posterior = self.posterior
        target = self._target(study)
        if posterior is None or target is None:
            return False
        try:
            run = RunTable.from_records(
                [self._record(trial, study.study_name, None)], static_names=posterior.design.static_names
            )
        except RunTableError as err:
            log.warning("trial %d is not pruned: the posterior cannot read it (%s)", trial.number, err)
            return False
        comp = predictive_components(posterior, run, self.max_draws)
        below = float(comp.cdf(np.array([target]))[0])
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        p_success = 1.0 - below if maximize else below
        if p_success >= self.p:
            return False
        mean, var = comp.moments()
        step = max(trial.intermediate_values)
        reason = {
            "pruned_at_step": step,
            "p_success": p_success,
            "threshold": target,
            "below_p": self.p,
            "predicted_final": float(mean[0]),
            "predicted_sd": float(math.sqrt(var[0])),
            "fitted_on_trials": self.fitted_on,
        }
        study._storage.set_trial_user_attr(trial._trial_id, "tuneahead", reason)
        return True


def _stacked(first: RunTable, second: RunTable) -> RunTable:
    """Two run tables with the same static features, one after the other."""
    records = []
    for table in (first, second):
        for i in range(len(table)):
            curves = {m: list(zip(*table.curve(m).points(i))) for m in table.metrics}
            static = dict(zip(table.static_names, table.static[i]))
            final = None if np.isnan(table.final[i]) else float(table.final[i])
            diverged = None if np.isnan(table.diverged[i]) else float(table.diverged[i])
            records.append(
                {
                    "run_id": table.run_id[i],
                    "group": table.group[i],
                    "budget": table.budget[i],
                    "static": static,
                    "curves": curves,
                    "final": final,
                    "diverged": diverged,
                }
            )
    return RunTable.from_records(records, static_names=list(first.static_names))
