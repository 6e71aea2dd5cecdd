"""Loader for opda-style hyperparameter tuning results (Lourie, Cho and He, 2023).

Each JSONL line is one fine-tuning run of a random search, with its configuration and the
validation accuracy on MultiNLI's matched and mismatched sets every 1,000 steps and at the end:

.. code-block:: json

    {"iteration": 1, "num_train_epochs": 1, "train_batch_size": 56, "total_model_steps": 7012,
     "learning_rate": 6.68e-06, "warmup_steps": 105, "cls_drop_out": 0.067,
     "learning_curves": {"matched": [[1000, 0.849], ...], "mismatched": [[1000, 0.845], ...]}}

The RunTable it gives has scores in accuracy points (0-100):

- ``final``: matched accuracy at the last step (``total_model_steps``);
- curves ``matched`` and ``mismatched``, without the point at the last step, which *is* the final
  score and would otherwise be observed twice;
- static features from the configuration: ``num_train_epochs``, ``train_batch_size``,
  ``log10_learning_rate``, ``warmup_fraction`` (warmup steps over the steps of one epoch) and
  ``cls_drop_out``;
- ``diverged`` = 1 where the final matched accuracy is below ``diverged_below`` (chance on the
  three NLI classes is about 33 points). The flag describes a finished run; ``RunTable.truncate``
  forgets it for candidates.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .runtable import RunTable, RunTableError

__all__ = ["load_opda", "OPDA_STATIC_FEATURES"]

OPDA_STATIC_FEATURES = (
    "num_train_epochs",
    "train_batch_size",
    "log10_learning_rate",
    "warmup_fraction",
    "cls_drop_out",
)
_CONFIG_KEYS = (
    "iteration",
    "num_train_epochs",
    "train_batch_size",
    "total_model_steps",
    "learning_rate",
    "warmup_steps",
    "cls_drop_out",
    "learning_curves",
)


def load_opda(
    path: str | os.PathLike,
    score_metric: str = "matched",
    model_name: str = "deberta-base",
    group_by: str | None = None,
    diverged_below: float = 40.0,
) -> RunTable:
    """Read an opda tuning-results JSONL file into a RunTable.

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
    if not path.exists():
        raise RunTableError(
            f"{path}: no such opda results file; point data.path at "
            "../shared/data/opda-deberta-base/deberta-base_tuning.results.jsonl"
        )
    records = []
    with open(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise RunTableError(f"{path}:{line_no}: not valid JSON ({err.msg})") from None
            records.append(_record(row, path, line_no, score_metric, model_name, group_by, diverged_below))
    return RunTable.from_records(records, static_names=OPDA_STATIC_FEATURES)


def _record(row, path, line_no, score_metric, model_name, group_by, diverged_below) -> dict:
    missing = [k for k in _CONFIG_KEYS if k not in row]
    if missing:
        raise RunTableError(f"{path}:{line_no}: run is missing field(s) {missing}")
    run_id = f"{model_name}/{row['iteration']}"
    curves_raw = row["learning_curves"]
    if score_metric not in curves_raw:
        raise RunTableError(f"run {run_id!r}: unknown metric {score_metric!r}; it has {sorted(curves_raw)}")
    total = float(row["total_model_steps"])
    last_step, last_value = curves_raw[score_metric][-1]
    if float(last_step) != total:
        raise RunTableError(
            f"run {run_id!r}: curve {score_metric!r} ends at step {last_step}, not at "
            f"total_model_steps={row['total_model_steps']}; the final score is undefined"
        )
    final = 100.0 * float(last_value)
    curves = {
        metric: [(float(s), 100.0 * float(v)) for s, v in pts if float(s) < total] for metric, pts in curves_raw.items()
    }
    epochs = float(row["num_train_epochs"])
    steps_per_epoch = total / epochs
    if group_by is None:
        group = f"{model_name}/mnli"
    elif group_by in row and group_by != "learning_curves":
        group = f"{model_name}/{group_by}={row[group_by]}"
    else:
        raise RunTableError(f"group_by={group_by!r} is not a configuration key of run {run_id!r}")
    return {
        "run_id": run_id,
        "group": group,
        "budget": total,
        "final": final,
        "diverged": float(final < diverged_below),
        "static": {
            "num_train_epochs": epochs,
            "train_batch_size": float(row["train_batch_size"]),
            "log10_learning_rate": float(np.log10(row["learning_rate"])),
            "warmup_fraction": float(row["warmup_steps"]) / steps_per_epoch,
            "cls_drop_out": float(row["cls_drop_out"]),
        },
        "curves": curves,
    }
