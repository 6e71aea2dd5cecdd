r"""An Optuna pruner driven by the posterior: stop a trial once it will not make it.

At each report of a trial, :class:`PosteriorPruner` reads the trial's intermediate values as the
probe curve of metric ``metric`` (step -> value), its parameters as static features, and asks
the posterior for the probability of success,

.. math::

    p_i = P(R_i \ge \tau \mid \text{its curve so far}) \quad (\le \tau \text{ when the study minimizes}),

with :math:`\tau` the study's best value so far, or a fixed ``threshold``. It prunes when
:math:`p_i < p`, and writes why into the trial's user attribute ``tuneahead`` (the probability,
the threshold, the step, and the predictive mean and sd).

The posterior learns from the study itself, in two ways:

- **Updates.** Each trial is folded in as it ends, by importance resampling of the posterior's
  draws (:class:`tuneahead.inference.ImportanceUpdate`): no refit, milliseconds once compiled. A
  completed trial brings its curve and its value; a pruned one the curve it ran, which keeps the
  completed trials from standing alone as a sample that pruning has already selected.
  Weights accumulate from the last fit, and the update says when they have become too
  uneven (relative ESS or Pareto k) for the fit's draws to stand for the updated posterior.
- **Refits.** When that happens, or once ``refit_every`` more trials have completed (``min_trials``
  at least), the posterior is fitted again (SVI by default) to the completed trials, their
  intermediate values as curves and their values as final scores, after any ``history`` of
  earlier runs. Where the next refit will have taken the table into the next size class of the
  fit's programs (:func:`class_ahead`), those are compiled in a thread while the trials run, so
  that refit need not compile.

Before the first fit, and while no threshold is known, nothing is pruned. A posterior from
``python -m tuneahead.fit`` may be given instead, or as the start. A refit reads the completed
trials only (a fit needs final scores), a population that pruning has already selected, which
makes the calls after it somewhat optimistic; the trials pruned until then stay out of the
posterior, and those pruned later enter through updates. Refits are serialized by a lock, so
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
from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

from ..data.runtable import RunTable, RunTableError
from ..inference import ImportanceUpdate, InferenceConfig, compile_fit, fit
from ..inference.arguments import run_rows
from ..model.design import ModelSpec
from ..model.posterior import Posterior
from ..model.stacked import StackedPosterior
from ..predict import predictive_components

__all__ = ["PosteriorPruner", "class_ahead", "trial_features"]

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
        A posterior to start from, single or stacked (``tuneahead.model.load_posterior`` reads
        either from a fit's ``posterior.nc``); its static features must be those of ``static``.
        A refit fits ``spec`` alone.
    spec, refit
        The model and the inference of each refit; ``refit=None`` never refits.
    min_trials, refit_every
        Completed trials before the first fit, and at most between fits.
    update
        Fold each trial into the posterior as it ends (importance resampling), and refit early when
        the update says its draws no longer suffice; without a refit config, updates then stop
        (and this attribute turns False).
    fitted_trials
        Numbers of the trials a given ``posterior`` was fitted on, which an update must not count twice.
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
        posterior: Posterior | StackedPosterior | None = None,
        spec: ModelSpec | None = None,
        refit: InferenceConfig | None = InferenceConfig(method="svi", svi_steps=1500, svi_draws=200, progress=False),
        min_trials: int = 8,
        refit_every: int = 20,
        update: bool = True,
        fitted_trials: Collection[int] = (),
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
        self.update = update
        self.fitted_on = 0  # completed trials of the last fit
        self.updated_with = 0  # trials (completed or pruned) folded in since
        self._seen = set(fitted_trials)  # trial numbers the posterior has seen
        self._weights: ImportanceUpdate | None = None
        self._lock = threading.Lock()
        self._ahead: threading.Thread | None = None  # compiling the next refit's programs
        self.compiled_ahead: list[int] = []  # runs of each table whose refit programs were compiled ahead

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
        """Fold newly ended trials in; refit when due or when the folded weights no longer suffice."""
        ended = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        done = [t for t in ended if t.state == TrialState.COMPLETE and t.value is not None]
        new = [t for t in ended if t.number not in self._seen and (t.state == TrialState.PRUNED or t.value is not None)]
        if not new:
            return
        folded = self._fold(study, new) if self.update and self.posterior is not None else None
        stale = folded is not None and folded.needs_refit
        due = self.posterior is None or len(done) - self.fitted_on >= self.refit_every or stale
        if self.refit is not None and len(done) >= self.min_trials and due:
            self._refit(study, done, ended)
        elif folded is not None and not stale:
            self._weights, self.posterior = folded, folded.posterior()
            self.updated_with = folded.runs
            self._seen.update(t.number for t in new)
        elif stale and self.refit is None:
            # folding in only the trials that keep the weights even would keep the unsurprising ones:
            # the posterior stays as it was for the rest of the study
            log.warning(
                "updates stop at trials %s: the posterior's draws no longer suffice (relative ESS %.2f, "
                "Pareto k %.2f) and refit=None; give a refit config to keep learning",
                [t.number for t in new],
                folded.relative_ess,
                folded.pareto_k,
            )
            self.update = False
            self._seen.update(t.number for t in new)

    def _fold(self, study: optuna.Study, new: list[FrozenTrial]) -> ImportanceUpdate | None:
        """The importance weights with the trials ``new`` folded in (None: they cannot be read)."""
        weights = self._weights or ImportanceUpdate.start(self.posterior)
        records = [self._record(t, study.study_name, _final(t)) for t in new]
        try:
            table = RunTable.from_records(records, static_names=self.posterior.design.static_names)
            return weights.with_runs(table)
        except RunTableError as err:
            log.warning("trials %s not folded in: the posterior cannot read them (%s)", [t.number for t in new], err)
            self._seen.update(t.number for t in new)
            return None

    def _refit(self, study: optuna.Study, done: list[FrozenTrial], ended: list[FrozenTrial]) -> None:
        records = [self._record(t, study.study_name, float(t.value)) for t in done]
        names = sorted(set.intersection(*(set(r["static"]) for r in records)))  # those every trial has
        if self._ahead is not None:
            self._ahead.join()  # the programs this refit may need are being compiled
        table = self._with_history(RunTable.from_records(records, static_names=names))
        self.posterior = fit(table, self.spec, self.refit)
        self.fitted_on, self.updated_with, self._weights = len(done), 0, None
        self._seen.update(t.number for t in ended)  # the pruned ones too: they are not weighed in again
        log.info("posterior refitted on %d completed trials", len(done))
        self._compile_next_refit(table, records, names)

    def _with_history(self, table: RunTable) -> RunTable:
        return table if self.history is None else _stacked(self.history, table)

    def _compile_next_refit(self, table: RunTable, records: list[dict], names: list[str]) -> None:
        """Compile the next refit's SVI programs in a thread while trials run, where the part of the
        table that grows (its healthy runs, or all of them without a failure gate) will be in a
        size class of its own by then (:func:`class_ahead`), so that the refit need not compile
        (:func:`tuneahead.inference.compile_fit`). The next refit waits for it."""
        if self.refit is None or self.refit.method != "svi":
            return
        healthy = [r for r in records if r["diverged"] == 0.0]
        part = int(np.sum(table.diverged == 0)) if self.spec.failure_gate else len(table)
        if not healthy or class_ahead(part, self.refit_every) is None:
            return
        more = [{**healthy[i % len(healthy)], "run_id": f"next-refit-{i}"} for i in range(self.refit_every)]
        ahead = self._with_history(RunTable.from_records(records + more, static_names=names))
        self._ahead = threading.Thread(target=self._compile, args=(ahead,), name="tuneahead-next-refit")
        self._ahead.start()

    def _compile(self, table: RunTable) -> None:
        try:
            compile_fit(table, self.spec, self.refit)
        except Exception as err:  # the refit that crosses the class then compiles, nothing more is lost
            log.warning("the next refit's programs were not compiled ahead (%s)", err)
            return
        self.compiled_ahead.append(len(table))

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
            "updated_with_trials": self.updated_with,
        }
        study._storage.set_trial_user_attr(trial._trial_id, "tuneahead", reason)
        return True


def class_ahead(part: int, refit_every: int) -> int | None:
    """The size class (:func:`tuneahead.inference.arguments.run_rows`) that a part of ``part`` runs
    will be in at the next refit, ``1`` to ``refit_every`` runs later, where that is one class and
    not the present one; None where the next refit stays in the present class, or may land in
    either of two new ones (small tables, whose classes are narrow beside ``refit_every``)."""
    now = run_rows(part)
    reached = {run_rows(part + k) for k in range(1, refit_every + 1)} - {now}
    return reached.pop() if len(reached) == 1 else None


def _final(trial: FrozenTrial) -> float | None:
    """A completed trial's value; None for a pruned one."""
    return float(trial.value) if trial.state == TrialState.COMPLETE else None


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
