"""Loader for opda's AlexNet tuning results (Lourie, Cho and He, 2023): ImageNet from scratch, in epochs.

Each JSONL line is one run of a random search, with the validation accuracy and the training loss
after every epoch (``epoch`` counts from 0; ``time`` is ignored):

.. code-block:: json

    {"iteration": 1, "nan_train_loss": false, "epochs": 23, "batch_size": 512, "lr": 0.1217,
     "lr_peak_epoch": 6, "momentum": 0.717, "weight_decay": 2.39e-06, "label_smoothing": 0.456,
     "learning_curve": [{"time": 311.0, "epoch": 0, "top_1": 0.0011, "top_5": 0.005,
                         "train_loss": 6.905}, ...]}

The RunTable it gives counts time in epochs (the point of epoch ``e`` is at step ``e + 1``) and
scores in top-1 accuracy points (0-100):

- ``budget``: ``epochs``;
- ``final``: the top-1 accuracy after the last epoch. A run whose training loss became NaN
  (``nan_train_loss``) stopped there, so its score is chance, ``chance`` points (0.1: one class in
  1,000), and its curve ends where it broke (it may have no point at all);
- curves ``top_1`` and ``top_5`` (points) and ``train_loss``, without the last epoch's point, which
  *is* the final score and would otherwise be observed twice;
- ``diverged`` = 1 for a NaN run, and for a finished run whose final top-1 is below
  ``diverged_below`` points: a run that never leaves chance has failed as surely as one whose loss
  broke (in the released file 176 of the 365 finished runs end at 0.1);
- static features from the configuration: ``epochs``, ``log2_batch_size``,
  ``log10_learning_rate``, ``lr_peak_fraction`` (``lr_peak_epoch / epochs``), ``momentum``,
  ``log10_weight_decay`` and ``label_smoothing``.

Rules (the shared ones of :mod:`tuneahead.data.json_lines` for lines and numbers): the keys of
:data:`_CONFIG_RULES`, ``nan_train_loss`` (a JSON boolean) and ``learning_curve`` are required.
``iteration`` is unique; ``epochs`` and ``batch_size`` are whole numbers > 0, ``lr`` and
``weight_decay`` are > 0, ``lr_peak_epoch`` is a whole number in [0, ``epochs``), ``momentum`` and
``label_smoothing`` lie in [0, 1). ``learning_curve`` is a list of objects whose ``epoch`` strictly
increases below ``epochs``, with ``top_1`` and ``top_5`` fractions in [0, 1] and a finite
``train_loss`` >= 0. A finished run's curve ends at epoch ``epochs - 1``.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

from .json_lines import Rule, Where, label, non_negative, number, positive, read_runs, show
from .runtable import RunTable, RunTableError

__all__ = ["load_opda_alexnet", "ALEXNET_STATIC_FEATURES"]

ALEXNET_STATIC_FEATURES = (
    "epochs",
    "log2_batch_size",
    "log10_learning_rate",
    "lr_peak_fraction",
    "momentum",
    "log10_weight_decay",
    "label_smoothing",
)
_DATA_HINT = "point data.path at ../shared/data/opda-alexnet/alexnet_tuning.results.jsonl"
_FRACTION = Rule(False, lambda x: 0 <= x < 1, "a number in [0, 1)")
_CONFIG_RULES = {
    "iteration": Rule(True, non_negative, "a whole number >= 0 (the run's index in the search)"),
    "epochs": Rule(True, positive, "a whole number of epochs > 0"),
    "batch_size": Rule(True, positive, "a whole number > 0"),
    "lr": Rule(False, positive, "a learning rate > 0"),
    "lr_peak_epoch": Rule(True, non_negative, "a whole epoch >= 0, before the last"),
    "momentum": _FRACTION,
    "weight_decay": Rule(False, positive, "a weight decay > 0"),
    "label_smoothing": _FRACTION,
}
_REQUIRED = (*_CONFIG_RULES, "nan_train_loss", "learning_curve")
_POINT_RULES = {
    "epoch": Rule(True, non_negative, "a whole epoch >= 0"),
    "top_1": Rule(False, lambda x: 0 <= x <= 1, "an accuracy in [0, 1] (a fraction: divide a percentage by 100)"),
    "top_5": Rule(False, lambda x: 0 <= x <= 1, "an accuracy in [0, 1] (a fraction: divide a percentage by 100)"),
    "train_loss": Rule(False, non_negative, "a finite loss >= 0 (a run whose loss broke ends before that epoch)"),
}
_METRICS = ("top_1", "top_5", "train_loss")


def load_opda_alexnet(
    path: str | os.PathLike,
    model_name: str = "alexnet",
    group_by: str | None = None,
    diverged_below: float = 1.0,
    chance: float = 0.1,
) -> RunTable:
    """Read opda's AlexNet tuning-results JSONL file into a RunTable (rules in the module doc).

    Parameters
    ----------
    path
        The ``alexnet_tuning.results.jsonl`` file.
    model_name
        Prefix of run ids and groups.
    group_by
        ``None`` puts all runs in one group; a configuration key (for example ``"batch_size"``)
        makes one group per value of it.
    diverged_below
        Final top-1, in points, under which a finished run counts as diverged.
    chance
        The score, in points, of a run whose training loss became NaN.
    """
    path = Path(path)
    if group_by is not None and group_by not in _CONFIG_RULES:
        raise RunTableError(
            f"group_by={group_by!r} is not a configuration key of an AlexNet run; "
            f"use None or one of {list(_CONFIG_RULES)}"
        )
    for name, value in (("diverged_below", diverged_below), ("chance", chance)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise RunTableError(f"{name}={value!r} must be a finite number of accuracy points, such as 1.0")
    records = read_runs(
        path,
        "opda AlexNet results file",
        _DATA_HINT,
        lambda row, where: _record(row, where, model_name, group_by, diverged_below, chance),
    )
    return RunTable.from_records(records, static_names=ALEXNET_STATIC_FEATURES)


def _record(row: dict, where: Where, model_name, group_by, diverged_below, chance) -> dict:
    """The RunTable record of one run's object."""
    if "iteration" in row:
        iteration = number(where, "iteration", row["iteration"], _CONFIG_RULES["iteration"])
        where = replace(where, run=f"{model_name}/{label(iteration)}")
    missing = [k for k in _REQUIRED if k not in row]
    if missing:
        raise where.error(f"missing field(s) {missing}; every run of the AlexNet layout has {list(_REQUIRED)}")
    config = {key: number(where, key, row[key], rule) for key, rule in _CONFIG_RULES.items()}
    epochs = config["epochs"]
    if config["lr_peak_epoch"] >= epochs:
        raise where.error(
            f"field 'lr_peak_epoch' ({label(config['lr_peak_epoch'])}) is not before the last of {label(epochs)} "
            "epochs: correct it or drop the line"
        )
    broke = row["nan_train_loss"]
    if not isinstance(broke, bool):
        raise where.error(f"field 'nan_train_loss' is {show(broke)}; write true or false")
    points = _points(where, row["learning_curve"], epochs)
    if broke:
        final = float(chance)
    elif not points or points[-1]["epoch"] != epochs - 1:
        raise where.error(
            f"the run finished (nan_train_loss is false) but its curve does not reach epoch {label(epochs - 1)}, "
            "so its final score is undefined: add the last epoch, or set nan_train_loss if its loss broke"
        )
    else:
        final, points = 100.0 * points[-1]["top_1"], points[:-1]
    group = f"{model_name}/imagenet" if group_by is None else f"{model_name}/{group_by}={label(config[group_by])}"
    scale = {"top_1": 100.0, "top_5": 100.0, "train_loss": 1.0}
    return {
        "run_id": where.run,
        "group": group,
        "budget": epochs,
        "final": final,
        "diverged": float(broke or final < diverged_below),
        "static": {
            "epochs": epochs,
            "log2_batch_size": math.log2(config["batch_size"]),
            "log10_learning_rate": math.log10(config["lr"]),
            "lr_peak_fraction": config["lr_peak_epoch"] / epochs,
            "momentum": config["momentum"],
            "log10_weight_decay": math.log10(config["weight_decay"]),
            "label_smoothing": config["label_smoothing"],
        },
        "curves": {m: [(p["epoch"] + 1, scale[m] * p[m]) for p in points] for m in _METRICS},
    }


def _points(where: Where, raw, epochs: float) -> list[dict]:
    """The checked points of one run's ``learning_curve``, epochs strictly increasing below ``epochs``."""
    if not isinstance(raw, list):
        raise where.error(f"field 'learning_curve' is {show(raw)}; it must be a list of per-epoch objects")
    points, last = [], -1.0
    for k, point in enumerate(raw):
        field = f"learning_curve[{k}]"
        if not isinstance(point, dict):
            raise where.error(f"field {field!r} is {show(point)}, not an object of epoch, top_1, top_5, train_loss")
        missing = [m for m in _POINT_RULES if m not in point]
        if missing:
            raise where.error(f"field {field!r} lacks {missing}: add them or drop the point")
        p = {m: number(where, f"{field}.{m}", point[m], rule) for m, rule in _POINT_RULES.items()}
        if not last < p["epoch"] < epochs:
            raise where.error(
                f"field {field!r} is at epoch {label(p['epoch'])}, after epoch {label(last)} and before "
                f"{label(epochs)} epochs end, or it should be: sort the points and drop repeats or strays"
            )
        points.append(p)
        last = p["epoch"]
    return points
