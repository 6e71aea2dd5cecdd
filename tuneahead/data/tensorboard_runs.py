"""TensorBoard event files, read as a RunTable through tbparse's ``SummaryReader``.

A log folder holds one run per sub-folder (``logs/lr1e-3/events.out.tfevents...``); event files
deeper down belong to the run of their top sub-folder. A folder that holds event files itself is
one run, with all its sub-folders. Within a run:

- curves: every scalar tag, points at their ``global_step``; a step written twice keeps its last
  value (by wall time). Where sub-folders of one run write the same tag (``train/`` and
  ``validation/``), the tag of a sub-folder is prefixed by it (``validation/epoch_loss``);
- static features and groups: the hyperparameters written with ``SummaryWriter.add_hparams`` (or
  the HParams plugin). By default every hyperparameter that is numeric in all runs is a static
  feature, constant ones dropped; booleans are 0/1; a string named in ``static`` is an error (use
  it as ``group_by``);
- ``add_hparams`` writes its metric values in a sub-folder of their own, at step 0: those scalars
  are the run's summary, usable as ``final_metric`` but curves only when named in ``curves``;
- budget ``T``: a number, a hyperparameter name, or by default the largest step of the run's
  curves; with a given budget, a run whose curves stop short of it is a candidate;
- final score: the last value of ``final_metric`` of a finished run;
- diverged: a NaN or infinite loss value.

Run ids are the run folders' names; the group is the log folder's name unless ``group`` or
``group_by`` says otherwise. The rest of the mapping is that of
:mod:`tuneahead.data.logged_runs`. tbparse is imported only when a log folder is read
(``pip install tuneahead[loaders]``); torch is never needed.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .errors import RunTableError
from .logged_runs import LoggedRun, TableSpec, build_table, missing_extra
from .runtable import RunTable

__all__ = ["load_tensorboard_runs"]


def _read(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scalars (step, tag, value, wall_time, dir_name) and hparams (tag, value, dir_name)."""
    try:
        from tbparse import SummaryReader
    except ImportError:
        raise missing_extra("tbparse", "TensorBoard event files") from None
    if not path.is_dir():
        raise RunTableError(f"{path}: no such log folder; point path at the folder SummaryWriter wrote runs into")
    reader = SummaryReader(str(path), extra_columns={"dir_name", "wall_time"}, event_types={"scalars", "hparams"})
    with warnings.catch_warnings():  # tbparse's own use of deprecated pandas calls
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="tbparse")
        scalars = reader.scalars
        hparams = reader.hparams
    if scalars.empty and hparams.empty:
        raise RunTableError(f"{path}: no runs found: no event file under it holds scalars or hyperparameters")
    if scalars.empty:
        scalars = pd.DataFrame(columns=["step", "tag", "value", "wall_time", "dir_name"])
    if hparams.empty:
        hparams = pd.DataFrame(columns=["tag", "value", "dir_name"])
    return scalars, hparams


def _run_of(dir_name: str, single: bool) -> str:
    return "" if single else dir_name.split("/", 1)[0]


def _sub_path(dir_name: str, run: str) -> str:
    """The folder of an event file relative to its run's folder ("" for the run folder itself)."""
    if not run:
        return dir_name
    return dir_name[len(run) + 1 :] if dir_name.startswith(run + "/") else ""


def _metrics(scalars: pd.DataFrame, run: str, summary_dirs: set[str]) -> tuple[dict, set[str]]:
    """The run's points per metric key, and the keys that are summaries (not curves by default)."""
    scalars = scalars.sort_values(["step", "wall_time"], kind="stable")
    writers = scalars.groupby("tag")["dir_name"].nunique()
    metrics: dict[str, list[tuple[float, float]]] = {}
    hidden: set[str] = set()
    for (dir_name, tag), rows in scalars.groupby(["dir_name", "tag"], sort=True):
        sub = _sub_path(dir_name, run)
        key = tag if not sub or writers[tag] == 1 else f"{sub}/{tag}"
        metrics[key] = list(zip(rows["step"].astype(float), rows["value"].astype(float)))
        if dir_name in summary_dirs:
            hidden.add(key)
    return metrics, hidden


def _logged_run(run: str, where: Path, group: str, scalars: pd.DataFrame, hparams: pd.DataFrame) -> LoggedRun:
    summary_dirs = {d for d in hparams["dir_name"].unique() if _sub_path(d, run)}
    metrics, hidden = _metrics(scalars, run, summary_dirs)
    config = {str(tag): value for tag, value in zip(hparams["tag"], hparams["value"])}
    steps = [s for key, pts in metrics.items() if key not in hidden for s, _ in pts]
    return LoggedRun(
        run_id=where.name,
        where=str(where),
        group=group,
        config=config,
        metrics=metrics,
        reached=max(steps, default=0.0),
        hidden=hidden,
    )


def load_tensorboard_runs(
    path: str | os.PathLike,
    final_metric: str,
    curves: Sequence[str] | None = None,
    static: Sequence[str] | None = None,
    log10: Sequence[str] = ("learning_rate", "lr"),
    group: str | None = None,
    group_by: str | Sequence[str] | None = None,
    budget: float | str | None = None,
    diverged_metrics: Sequence[str] | None = None,
    diverged_score: float | None = None,
    drop_constant: bool = True,
) -> RunTable:
    """Read a TensorBoard log folder, one run per sub-folder, into a RunTable (see the module doc).

    Parameters
    ----------
    path
        The log folder (the ``log_dir`` the runs' ``SummaryWriter`` folders are in), or one run's
        folder.
    final_metric
        The scalar tag whose last value in a finished run is its final score.

    The other options are the fields of :class:`~tuneahead.data.logged_runs.TableSpec`.
    """
    spec = TableSpec(
        final_metric, curves, static, log10, group, group_by, budget, diverged_metrics, diverged_score, drop_constant
    )
    path = Path(path)
    scalars, hparams = _read(path)
    single = "" in set(scalars["dir_name"]) | set(hparams["dir_name"])
    scalars = scalars.assign(run=[_run_of(d, single) for d in scalars["dir_name"]])
    hparams = hparams.assign(run=[_run_of(d, single) for d in hparams["dir_name"]])
    group_label = path.resolve().parent.name if single else path.resolve().name
    runs = []
    for run in sorted(set(scalars["run"]) | set(hparams["run"])):
        where = (path / run) if run else path.resolve()
        runs.append(
            _logged_run(run, where, group_label, scalars[scalars["run"] == run], hparams[hparams["run"] == run])
        )
    return build_table(runs, spec, default_static=None)
