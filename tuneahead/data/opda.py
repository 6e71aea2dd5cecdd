"""Loader for opda-style hyperparameter tuning results (Lourie, Cho and He, 2023).

Each JSONL line is one fine-tuning run of a random search, with its configuration and the
validation accuracy on MultiNLI's matched and mismatched sets every 1,000 steps and at the end:

.. code-block:: json

    {"iteration": 1, "num_train_epochs": 1, "train_batch_size": 56, "total_model_steps": 7012,
     "learning_rate": 6.68e-06, "warmup_steps": 105, "cls_drop_out": 0.067,
     "learning_curves": {"matched": [[1000, 0.849], ...], "mismatched": [[1000, 0.845], ...]}}

The RunTable it gives has scores in accuracy points (0-100):

- ``final``: the score metric's accuracy at the last step (``total_model_steps``);
- curves ``matched`` and ``mismatched``, without the point at the last step, which *is* the final
  score and would otherwise be observed twice;
- static features from the configuration: ``num_train_epochs``, ``train_batch_size``,
  ``log10_learning_rate``, ``warmup_fraction`` (warmup steps over the steps of one epoch) and
  ``cls_drop_out``;
- ``diverged`` = 1 where the final accuracy is below ``diverged_below`` (chance on the three NLI
  classes is about 33 points). The flag describes a finished run; ``RunTable.truncate`` forgets it
  for candidates.

Rules: the loader reads every line or refuses the file with a :class:`RunTableError` that names the
file, the line, the run (``model_name/iteration``, once the iteration is known) and the field, and
says how to fix it. It never guesses.

- The file is UTF-8 (a byte-order mark on the first line is allowed). Lines holding only spaces,
  tabs or line ends are skipped; line numbers count them. Every other line is one JSON object with
  no repeated key at any level; a number, string, list, boolean or ``null`` on a line is refused.
- The keys ``iteration``, ``num_train_epochs``, ``train_batch_size``, ``total_model_steps``,
  ``learning_rate``, ``warmup_steps``, ``cls_drop_out`` and ``learning_curves`` are required;
  other keys are ignored.
- Every number is a finite JSON number: ``null``, text (``"32"``), a boolean (``true`` is no
  number, although Python counts it as 1), ``NaN`` and ``Infinity`` are refused.
- ``iteration`` is a whole number >= 0, unique in the file (``3`` and ``3.0`` are the same run).
  ``train_batch_size`` and ``total_model_steps`` are whole numbers > 0, ``warmup_steps`` a whole
  number >= 0, ``num_train_epochs`` and ``learning_rate`` are > 0, ``cls_drop_out`` lies in
  [0, 1), and ``total_model_steps`` leaves at least one step per epoch.
- ``learning_curves`` maps each metric to a non-empty list of ``[step, accuracy]`` pairs. Steps
  are whole numbers >= 0 that strictly increase and never pass ``total_model_steps``; the score
  metric's curve ends exactly there. Accuracies are fractions in [0, 1]: opda records a diverged
  run at about chance (0.33), never as NaN, so a NaN, infinite or percent accuracy is a defect of
  the file and refused, never read as a healthy or a diverged run.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

from .json_lines import Rule, Where, label, non_negative, number, positive, read_runs, show
from .runtable import RunTable, RunTableError

__all__ = ["load_opda", "OPDA_STATIC_FEATURES"]

OPDA_STATIC_FEATURES = (
    "num_train_epochs",
    "train_batch_size",
    "log10_learning_rate",
    "warmup_fraction",
    "cls_drop_out",
)
_DATA_HINT = "point data.path at ../shared/data/opda-deberta-base/deberta-base_tuning.results.jsonl"


_CONFIG_RULES = {
    "iteration": Rule(True, non_negative, "a whole number >= 0 (the run's index in the search)"),
    "num_train_epochs": Rule(False, positive, "a number of epochs > 0"),
    "train_batch_size": Rule(True, positive, "a whole number > 0"),
    "total_model_steps": Rule(True, positive, "a whole number of steps > 0"),
    "learning_rate": Rule(False, positive, "a learning rate > 0"),
    "warmup_steps": Rule(True, non_negative, "a whole number of steps >= 0"),
    "cls_drop_out": Rule(False, lambda x: 0 <= x < 1, "a dropout probability in [0, 1)"),
}
_REQUIRED = (*_CONFIG_RULES, "learning_curves")
_STEP = Rule(True, non_negative, "a whole number of steps >= 0")
_ACCURACY = Rule(False, lambda x: 0 <= x <= 1, "an accuracy in [0, 1] (a fraction: divide a percentage by 100)")


def load_opda(
    path: str | os.PathLike,
    score_metric: str = "matched",
    model_name: str = "deberta-base",
    group_by: str | None = None,
    diverged_below: float = 40.0,
) -> RunTable:
    """Read an opda tuning-results JSONL file into a RunTable (rules in the module doc).

    Parameters
    ----------
    path
        The ``*.results.jsonl`` file.
    score_metric
        The curve whose last value is the final score (``"matched"`` or ``"mismatched"``).
    model_name
        Prefix of run ids and groups.
    group_by
        ``None`` puts all runs in one group; a configuration key (for example
        ``"num_train_epochs"``) makes one group per value of it.
    diverged_below
        Final accuracy, in points, under which a run counts as diverged.
    """
    path = Path(path)
    _check_arguments(score_metric, group_by, diverged_below)
    records = read_runs(
        path,
        "opda results file",
        _DATA_HINT,
        lambda row, where: _record(row, where, score_metric, model_name, group_by, diverged_below),
    )
    return RunTable.from_records(records, static_names=OPDA_STATIC_FEATURES)


def _check_arguments(score_metric, group_by, diverged_below) -> None:
    """Refuse arguments that no file could satisfy, before reading any line."""
    if not isinstance(score_metric, str):
        raise RunTableError(f"score_metric={score_metric!r} must be a metric name such as 'matched'")
    keys = list(_CONFIG_RULES)
    if group_by is not None and group_by not in keys:
        raise RunTableError(
            f"group_by={group_by!r} is not a configuration key of an opda run; use None or one of {keys}"
        )
    if isinstance(diverged_below, bool) or not isinstance(diverged_below, int | float) or math.isnan(diverged_below):
        raise RunTableError(f"diverged_below={diverged_below!r} must be a number of accuracy points, such as 40.0")


def _record(row: dict, where: Where, score_metric, model_name, group_by, diverged_below) -> dict:
    """The RunTable record of one run's object."""
    if "iteration" in row:
        iteration = number(where, "iteration", row["iteration"], _CONFIG_RULES["iteration"])
        where = replace(where, run=f"{model_name}/{label(iteration)}")
    missing = [k for k in _REQUIRED if k not in row]
    if missing:
        raise where.error(
            f"missing field(s) {missing}; load_opda reads the opda DeBERTa layout, where every run has "
            f"{list(_REQUIRED)}"
        )
    config = {key: number(where, key, row[key], rule) for key, rule in _CONFIG_RULES.items()}
    total, epochs = config["total_model_steps"], config["num_train_epochs"]
    steps_per_epoch = total / epochs
    if steps_per_epoch < 1:
        raise where.error(
            f"fields 'total_model_steps' ({label(total)}) and 'num_train_epochs' ({label(epochs)}) leave less "
            "than one step per epoch; one of them is wrong: correct it or drop the line"
        )
    final, curves = _curves(where, row["learning_curves"], total, score_metric)
    group = f"{model_name}/mnli" if group_by is None else f"{model_name}/{group_by}={label(config[group_by])}"
    return {
        "run_id": where.run,
        "group": group,
        "budget": total,
        "final": final,
        "diverged": float(final < diverged_below),
        "static": {
            "num_train_epochs": epochs,
            "train_batch_size": config["train_batch_size"],
            "log10_learning_rate": math.log10(config["learning_rate"]),
            "warmup_fraction": config["warmup_steps"] / steps_per_epoch,
            "cls_drop_out": config["cls_drop_out"],
        },
        "curves": curves,
    }


def _curves(where: Where, raw, total: float, score_metric: str) -> tuple[float, dict]:
    """The final score and the probe curves, in points, of one run's ``learning_curves``."""
    if not isinstance(raw, dict):
        raise where.error(
            f"field 'learning_curves' is {show(raw)}; it must be an object of metric: [[step, accuracy], ...]"
        )
    if score_metric not in raw:
        raise where.error(
            f"unknown metric {score_metric!r}; field 'learning_curves' has {sorted(raw)}: fix score_metric"
        )
    points = {metric: _curve(where, f"learning_curves.{metric}", pts, total) for metric, pts in raw.items()}
    last_step, last_value = points[score_metric][-1]
    if last_step != total:
        raise where.error(
            f"curve {score_metric!r} ends at step {label(last_step)}, not at total_model_steps={label(total)}; "
            "the final score is undefined: add the last evaluation or correct total_model_steps"
        )
    curves = {m: [(s, 100.0 * v) for s, v in pts if s < total] for m, pts in points.items()}
    return 100.0 * last_value, curves


def _curve(where: Where, field: str, raw, total: float) -> list[tuple[float, float]]:
    """The ``(step, accuracy)`` points of one curve: steps strictly increasing up to ``total``."""
    if not isinstance(raw, list) or not raw:
        raise where.error(f"field {field!r} is {show(raw)}; it must be a non-empty list of [step, accuracy] pairs")
    points: list[tuple[float, float]] = []
    last = -1.0
    for k, point in enumerate(raw):
        if _plain_point(point) and last < point[0] <= total:  # the common case, checked without messages
            step, accuracy = float(point[0]), point[1]
        else:
            step, accuracy = _point(where, f"{field}[{k}]", point, last, total)
        points.append((step, accuracy))
        last = step
    return points


def _plain_point(point) -> bool:
    """Whether ``point`` is ``[int step, float accuracy]`` with the step exact as a float and the accuracy in
    [0, 1]; the full check in :func:`_point` gives the same answer with an error naming the field."""
    return (
        type(point) is list
        and len(point) == 2
        and type(point[0]) is int
        and 0 <= point[0] <= 2**53
        and type(point[1]) is float
        and 0.0 <= point[1] <= 1.0
    )


def _point(where: Where, field: str, point, last: float, total: float) -> tuple[float, float]:
    """One ``[step, accuracy]`` point after step ``last``, or an error naming ``field``."""
    if not isinstance(point, list) or len(point) != 2:
        raise where.error(f"field {field!r} is {show(point)}, not a [step, accuracy] pair: correct or drop it")
    step = number(where, f"{field}[0] (step)", point[0], _STEP)
    accuracy = number(where, f"{field}[1] (accuracy)", point[1], _ACCURACY)
    if step <= last:
        raise where.error(
            f"field {field!r} is at step {label(step)}, after step {label(last)}; steps must strictly increase: "
            "sort the points and drop repeats"
        )
    if step > total:
        raise where.error(
            f"field {field!r} is at step {label(step)}, beyond total_model_steps={label(total)}; "
            "correct total_model_steps or drop the point"
        )
    return step, accuracy
