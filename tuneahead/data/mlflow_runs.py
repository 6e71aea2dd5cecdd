"""MLflow tracking stores, read as a RunTable through ``mlflow.MlflowClient``.

One run of the tracking store is one row of the table:

- curves: the full history of each logged metric (``client.get_metric_history``), points at the
  steps given to ``log_metric``; a metric logged twice at one step keeps its last value;
- final score: the last value of ``final_metric`` of a run whose status is ``FINISHED``; runs
  still running, failed or killed are candidates without a final score;
- budget ``T``: a number, a param name (such as ``max_steps``), or by default the largest step the
  run logged (give one of the first two while runs are still running);
- diverged: a NaN or infinite loss value. The SQL stores keep an infinite value as the largest
  float (``1.8e308``); it is read back as infinite;
- static features: params, which MLflow keeps as strings, parsed as numbers (``"True"`` and
  ``"False"`` as 1 and 0). By default every param that is numeric in all runs is one, constant
  ones dropped; a non-numeric param named in ``static`` is an error (use it as ``group_by``);
- run ids: run names (suffixed with the start of the MLflow run id where names repeat); the
  group is the experiment name unless ``group`` or ``group_by`` says otherwise.

Runs that logged no metric at all (the parent run of a sweep, a run that failed at once) are left
out. The rest of the mapping is that of :mod:`tuneahead.data.logged_runs`. mlflow is imported
only when a store is read (``pip install tuneahead[loaders]``).

MLflow 3 refuses the file store (``./mlruns`` folders) unless ``MLFLOW_ALLOW_FILE_STORE=true`` is
set; such a folder can also be moved to SQLite with ``mlflow migrate-filestore``.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import RunTableError
from .logged_runs import LoggedRun, TableSpec, build_table, missing_extra
from .runtable import RunTable

__all__ = ["load_mlflow_runs", "tracking_uri"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def tracking_uri(path: str | os.PathLike) -> str:
    """The tracking URI of ``path``: a URI as given (an existing file for ``sqlite:///``), a
    ``.db`` file as SQLite, a folder as a file store."""
    text = os.fspath(path)
    if _SCHEME.match(text):
        if text.startswith("sqlite:///") and not Path(text[len("sqlite:///") :]).is_file():
            raise RunTableError(f"{text}: no such SQLite file; check the tracking URI (sqlite:///<path to .db>)")
        return text
    local = Path(text)
    if local.is_file():
        return f"sqlite:///{local.resolve()}"
    if local.is_dir():
        return local.resolve().as_uri()
    raise RunTableError(f"{local}: no such MLflow store; give a tracking URI, a .db file or an mlruns folder")


def _store_error(uri: str, err: Exception) -> RunTableError:
    message = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
    hint = ""
    if "MLFLOW_ALLOW_FILE_STORE" in str(err):
        hint = "; set MLFLOW_ALLOW_FILE_STORE=true to read it, or move it to SQLite with `mlflow migrate-filestore`"
    return RunTableError(f"{uri}: MLflow could not read the store ({message}){hint}")


def _client(uri: str):
    try:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise missing_extra("mlflow", "an MLflow tracking store") from None
    try:
        return MlflowClient(tracking_uri=uri), MlflowException
    except MlflowException as err:
        raise _store_error(uri, err) from None


def _experiments(client, uri: str, experiment: str | Sequence[str] | None) -> dict[str, str]:
    """Experiment id -> name of the experiments to read (``None``: all of them)."""
    known = {e.experiment_id: e.name for e in client.search_experiments()}
    if experiment is None:
        return known
    wanted = [experiment] if isinstance(experiment, str) else list(experiment)
    missing = [name for name in wanted if name not in known.values()]
    if missing:
        raise RunTableError(f"{uri}: unknown experiment(s) {missing}; the store has {sorted(known.values())}")
    return {i: name for i, name in known.items() if name in wanted}


def _search(client, experiments: dict[str, str], filter_string: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs(list(experiments), filter_string=filter_string, max_results=1000, page_token=token)
        runs += list(page)
        token = page.token
        if not token:
            return runs


def _value(v: float) -> float:
    """A stored metric value, the SQL stores' stand-in for infinity read back as infinite."""
    return math.copysign(math.inf, v) if abs(v) == sys.float_info.max else float(v)


def _logged_run(client, run, run_id: str, experiment: str) -> LoggedRun:
    metrics = {}
    for key in run.data.metrics:
        history = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: (m.step, m.timestamp))
        metrics[key] = [(float(m.step), _value(m.value)) for m in history]
    steps = [s for pts in metrics.values() for s, _ in pts]
    return LoggedRun(
        run_id=run_id,
        where=f"mlflow run {run.info.run_id}",
        group=experiment,
        config=dict(run.data.params),
        metrics=metrics,
        reached=max(steps, default=0.0),
        done=run.info.status == "FINISHED",
    )


def _run_ids(runs: list) -> list[str]:
    names = [r.info.run_name or r.info.run_id for r in runs]
    return [n if names.count(n) == 1 else f"{n}-{r.info.run_id[:8]}" for n, r in zip(names, runs)]


def load_mlflow_runs(
    path: str | os.PathLike,
    final_metric: str,
    experiment: str | Sequence[str] | None = None,
    filter_string: str = "",
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
    """Read the runs of an MLflow tracking store into a RunTable (see the module doc).

    Parameters
    ----------
    path
        A tracking URI (``sqlite:///runs/mlflow.db``, ``http://host:5000``), a SQLite ``.db``
        file, or a file-store folder (``mlruns``).
    final_metric
        The metric whose last value in a finished run is its final score.
    experiment
        Experiment name(s) to read; ``None`` reads every experiment.
    filter_string
        An MLflow search filter (``"params.model = 'bert'"``, ``"tags.mlflow.parentRunId != ''"``).

    The other options are the fields of :class:`~tuneahead.data.logged_runs.TableSpec`.
    """
    spec = TableSpec(
        final_metric, curves, static, log10, group, group_by, budget, diverged_metrics, diverged_score, drop_constant
    )
    uri = tracking_uri(path)
    client, mlflow_error = _client(uri)
    try:
        experiments = _experiments(client, uri, experiment)
        found = [r for r in _search(client, experiments, filter_string) if r.data.metrics]
        if not found:
            raise RunTableError(
                f"{uri}: no runs found with logged metrics in experiment(s) {sorted(experiments.values())}"
                + (f" matching {filter_string!r}" if filter_string else "")
                + "; check the experiment name and the filter"
            )
        runs = [_logged_run(client, r, i, experiments[r.info.experiment_id]) for r, i in zip(found, _run_ids(found))]
    except mlflow_error as err:
        raise _store_error(uri, err) from None
    return build_table(runs, spec, default_static=None)
