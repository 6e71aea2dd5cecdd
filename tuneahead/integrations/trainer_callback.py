r"""A ``transformers.TrainerCallback`` that predicts, at each evaluation, how the run will end.

At each log that holds the evaluation metric ``metric`` (``eval_accuracy``, say), the callback
reads the run's curve of that metric so far from the Trainer's log history, its static features
from the training arguments, and asks the posterior for the final score's predictive. It adds to
that log, and so to ``state.log_history``, as evaluation values (TensorBoard shows them under
``eval/``):

- ``eval_tuneahead_final``, ``eval_tuneahead_lower`` and ``eval_tuneahead_upper`` (the central
  ``level`` interval), ``eval_tuneahead_p_diverge``;
- ``eval_tuneahead_p_success``, the probability that the final score reaches ``threshold`` (at most
  it, with ``greater_is_better=False``), when a threshold is given.

When :math:`p_{success} < p` it sets ``control.should_training_stop``. The values are taken back
out of the metrics that ``Trainer.evaluate`` returns, so an objective computed from them is not
changed; the posterior's metric count and the static features are checked when training begins. Attach the callback with
:meth:`TuneAheadCallback.attach`, which puts it first, so that the reporting callbacks the Trainer
runs after it (TensorBoard, MLflow, W&B: ``report_to``) log these values too.

Static features: by default ``log10_learning_rate`` and the other numeric training arguments
named in the posterior's design (``per_device_train_batch_size``, ``weight_decay``, ...), with
``log10_<name>`` taken as the base-10 logarithm of ``<name>``; give ``static`` (training
arguments -> features) to choose. Importing this module imports ``transformers`` (and so the
torch that the Trainer runs on); the predictions themselves are JAX.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from transformers import TrainerCallback

from ..data.runtable import RunTable
from ..model.posterior import Posterior
from ..model.stacked import StackedPosterior
from ..predict import predictive_components

__all__ = ["TuneAheadCallback", "argument_features"]


def argument_features(args: Any, names: tuple[str, ...]) -> dict[str, float]:
    """The features ``names`` from the training arguments ``args``: ``log10_<a>`` is log10 of ``args.<a>``."""
    out = {}
    for name in names:
        attr = name[len("log10_") :] if name.startswith("log10_") else name
        if not hasattr(args, attr):
            raise ValueError(
                f"the posterior's static feature {name!r} is not a training argument; "
                "give TuneAheadCallback(static=...) that maps the arguments to the posterior's features"
            )
        value = float(getattr(args, attr))
        out[name] = math.log10(value) if name.startswith("log10_") else value
    return out


class TuneAheadCallback(TrainerCallback):
    """Predict the final score at each evaluation; stop the run when it will not reach ``threshold``.

    Parameters
    ----------
    posterior
        A fitted posterior whose curve metric is the logged ``metric``.
    metric
        The logged evaluation key read as the curve (``eval_accuracy``); the posterior's metric
        name is ``posterior_metric`` (default: the posterior's first metric).
    budget
        The run's step budget T (default: the Trainer's ``max_steps``).
    threshold, p, greater_is_better
        Stop when P(final reaches ``threshold``) < ``p``; no threshold, no stopping.
    scale
        Multiplies the logged metric and divides the prediction back (100 when the posterior
        speaks in points and the Trainer logs fractions).
    static
        Training arguments -> static features (default :func:`argument_features`).
    """

    def __init__(
        self,
        posterior: Posterior | StackedPosterior,
        metric: str,
        budget: float | None = None,
        threshold: float | None = None,
        p: float = 0.05,
        greater_is_better: bool = True,
        level: float = 0.9,
        scale: float = 1.0,
        group: str = "trainer",
        posterior_metric: str | None = None,
        static: Callable[[Any], Mapping[str, float]] | None = None,
        max_draws: int = 200,
    ):
        if not 0 < p < 1 or not 0 < level < 1:
            raise ValueError(f"p={p} and level={level} must lie in (0, 1)")
        self.posterior, self.metric, self.budget = posterior, metric, budget
        self.threshold, self.p, self.greater_is_better, self.level = threshold, p, greater_is_better, level
        self.scale, self.group, self.max_draws = scale, group, max_draws
        metrics = posterior.design.spec.metrics
        self.posterior_metric = posterior_metric or (metrics[0] if metrics else None)
        self.static = static or (lambda args: argument_features(args, posterior.design.static_names))

    def attach(self, trainer) -> TuneAheadCallback:
        """Put the callback first in ``trainer``'s callbacks, before the reporting ones; returns it."""
        trainer.callback_handler.callbacks.insert(0, self)
        return self

    def _run(self, args, state) -> RunTable:
        points = [
            (float(log["step"]), self.scale * float(log[self.metric]))
            for log in state.log_history
            if self.metric in log and "step" in log
        ]
        points = sorted(dict(points).items())
        budget = float(self.budget or state.max_steps)
        record = {
            "run_id": "trainer-run",
            "group": self.group,
            "budget": budget,
            "static": dict(self.static(args)),
            "curves": {self.posterior_metric: points} if self.posterior_metric else {},
            "diverged": 1.0 if not all(math.isfinite(v) for _, v in points) else None,
        }
        return RunTable.from_records([record], static_names=self.posterior.design.static_names)

    def on_log(self, args, state, control, logs=None, **kwargs):
        """After an evaluation's log: add the prediction to it, and stop the run when it will not make it."""
        if not logs or self.metric not in logs:
            return control
        comp = predictive_components(self.posterior, self._run(args, state), self.max_draws)
        mean, _ = comp.moments()
        tail = (1 - self.level) / 2
        found = {
            "eval_tuneahead_final": float(mean[0]) / self.scale,
            "eval_tuneahead_lower": float(comp.quantile(tail)[0]) / self.scale,
            "eval_tuneahead_upper": float(comp.quantile(1 - tail)[0]) / self.scale,
            "eval_tuneahead_p_diverge": float(comp.p_fail.mean()),
        }
        if self.threshold is not None:
            below = float(comp.cdf(np.array([self.scale * self.threshold]))[0])
            found["eval_tuneahead_p_success"] = 1.0 - below if self.greater_is_better else below
            control.should_training_stop = control.should_training_stop or found["eval_tuneahead_p_success"] < self.p
        logs.update(found)  # the reporting callbacks after this one see the same dict
        if state.log_history and self.metric in state.log_history[-1]:
            state.log_history[-1].update(found)
        return control

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        """Take the predictions back out of the metrics ``Trainer.evaluate`` returns (they were logged):
        an objective computed from those metrics (``hyperparameter_search``) stays the user's own."""
        for key in [k for k in (metrics or {}) if k.startswith("eval_tuneahead_")]:
            metrics.pop(key)
        return control

    def on_train_begin(self, args, state, control, **kwargs):
        """Check, before the first step, that the posterior can read this run: one metric, its features."""
        if len(self.posterior.design.spec.metrics) > 1:
            raise ValueError(
                f"the posterior reads {len(self.posterior.design.spec.metrics)} metrics; the callback feeds it one "
                f"({self.metric!r}): fit the posterior with model.metrics=[{self.posterior_metric}]"
            )
        self._run(args, state)  # the static features: a missing one is named here
        return control
