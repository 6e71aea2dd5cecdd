"""Runs logged by a training tool (HF Trainer folders, MLflow, TensorBoard), turned into a RunTable.

Each loader reads its source into :class:`LoggedRun` objects, one per run: the run's flat config
(name -> value), its logged metrics as (step, value) points, the step it reached and, where the
source knows it, its step budget and whether it finished. :func:`build_table` then applies the
same mapping to every source, set by a :class:`TableSpec`:

- ``budget`` ``T``: a number for every run, a config key, or (``None``) the source's own budget
  (the Trainer's ``max_steps``), else the largest step the run logged;
- finished runs are those the source says finished (MLflow's ``FINISHED`` status) or, where it
  says nothing, those that reached their budget; the others are candidates, with no final score;
- ``final``: the last value of ``final_metric`` of a finished run. That last point is then left
  out of the metric's curve, since it *is* the final score and would otherwise be observed twice;
- ``curves``: the named metrics, or (``None``) every metric the source logged as a curve;
- ``diverged``: 1 where a loss (a metric whose name contains ``loss``, or those named in
  ``diverged_metrics``) has a NaN or infinite value; else 0 for a finished run and unknown (NaN)
  for a candidate, which may still diverge. In a run that is not diverged, non-finite points of
  other metrics (an infinite ``grad_norm`` of a skipped fp16 step) are dropped from its curves;
- ``static``: numeric config values, ``log10_<name>`` for the names in ``log10`` (learning
  rates span decades, so their logarithm is the natural scale). Booleans count as 0/1 and numeric
  strings as numbers; asking for any other value is an error that says to use it as ``group_by``.
  Features that take one value over all runs are dropped with ``drop_constant``;
- ``group``: the constant ``group`` (default: the source's name, such as the sweep folder or the
  MLflow experiment), followed by the values of the ``group_by`` config keys, joined by ``/``.

Repeated points at one step keep the last one logged. No torch here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import RunTableError
from .runtable import RunTable

__all__ = ["LoggedRun", "TableSpec", "build_table", "as_number", "missing_extra"]

Points = list[tuple[float, float]]


@dataclass
class LoggedRun:
    """One run as its source logged it.

    ``where`` names it in error messages (its folder or tracking id); ``hidden`` are metrics that
    are not curves unless asked for by name (run summaries, timings, throughputs); ``done`` is the
    source's own verdict on whether the run finished (``None``: it finished if it reached its
    budget); ``budget`` is the source's own step budget (``None``: the largest step logged).
    """

    run_id: str
    where: str
    group: str
    config: Mapping[str, Any]
    metrics: dict[str, Points]
    reached: float
    budget: float | None = None
    done: bool | None = None
    hidden: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class TableSpec:
    """How logged runs become a RunTable (see the module doc for the mapping).

    final_metric: metric whose last value in a finished run is its final score.
    curves: metrics kept as curves; ``None`` keeps every metric the source logs as a curve.
    static: config keys kept as static features; ``None`` takes the source's default.
    log10: config keys kept as ``log10_<key>`` (their values must be positive).
    group: constant group label; ``None`` takes the source's name.
    group_by: config key(s) whose values are appended to the group label.
    budget: the total steps ``T``: a number, a config key, or ``None`` (see the module doc).
    diverged_metrics: metrics whose non-finite values mean divergence; ``None``: names with "loss".
    diverged_score: final score of a finished diverged run whose final metric is not finite
        (``None``: the run has no final score).
    drop_constant: drop static features that take one value over all runs.
    """

    final_metric: str
    curves: Sequence[str] | None = None
    static: Sequence[str] | None = None
    log10: Sequence[str] = ("learning_rate",)
    group: str | None = None
    group_by: str | Sequence[str] | None = None
    budget: float | str | None = None
    diverged_metrics: Sequence[str] | None = None
    diverged_score: float | None = None
    drop_constant: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "log10", tuple(self.log10 or ()))  # a list from a config, or None


def missing_extra(package: str, source: str) -> RunTableError:
    """The error raised when the optional reader of a source is not installed."""
    return RunTableError(
        f"reading {source} needs the package {package!r}, which is not installed: "
        "install the loaders extra with `pip install tuneahead[loaders]`"
    )


def as_number(value: Any) -> float | None:
    """A config value as a float (booleans 0/1, numeric strings parsed); ``None`` if it is not one."""
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return float(text.lower() == "true")
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _clean(points: Points) -> Points:
    """Points in step order, one per step (the last one logged), without non-finite steps."""
    by_step: dict[float, float] = {}
    for step, value in points:
        step = float(step)
        if math.isfinite(step):
            by_step[step] = float(value)
    return sorted(by_step.items())


def _is_divergence_metric(name: str, spec: TableSpec) -> bool:
    if spec.diverged_metrics is None:
        return "loss" in name.lower()
    return name in spec.diverged_metrics


def _numeric_keys(config: Mapping[str, Any]) -> list[str]:
    return sorted(k for k, v in config.items() if as_number(v) is not None)


def _config_number(run: LoggedRun, key: str, purpose: str) -> float:
    """The numeric config value ``key`` of ``run``, with an error naming the run, key and fix."""
    if key not in run.config:
        known = _numeric_keys(run.config)
        shown = ", ".join(known[:40]) + (", ..." if len(known) > 40 else "")
        raise RunTableError(
            f"run {run.run_id!r} ({run.where}): {purpose} {key!r} is not in its config; numeric keys: [{shown}]"
        )
    value = as_number(run.config[key])
    if value is None or not math.isfinite(value):
        raise RunTableError(
            f"run {run.run_id!r} ({run.where}): {purpose} {key!r} is {run.config[key]!r}, not a finite number; "
            "use a non-numeric key as group_by, or leave it out"
        )
    return value


def _static_names(runs: Sequence[LoggedRun], spec: TableSpec, default: Sequence[str] | None) -> list[str]:
    """The config keys to read: those asked for, else the default ones every run has as numbers
    (``default=None``: every key that is numeric in all runs)."""
    if spec.static is not None:
        return list(spec.static)
    candidates = default if default is not None else sorted(set().union(*(r.config.keys() for r in runs)))
    return [k for k in candidates if all(k in r.config and as_number(r.config[k]) is not None for r in runs)]


def _static(runs: Sequence[LoggedRun], spec: TableSpec, default: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
    """The static feature names and matrix (runs x features), log10 applied, constants dropped."""
    keys = _static_names(runs, spec, default)
    matrix = np.array([[_config_number(r, k, "static feature") for k in keys] for r in runs], dtype=float)
    matrix = matrix.reshape(len(runs), len(keys))
    names = []
    for j, key in enumerate(keys):
        if key in spec.log10:
            bad = np.flatnonzero(matrix[:, j] <= 0)
            if bad.size:
                run = runs[bad[0]]
                raise RunTableError(
                    f"run {run.run_id!r} ({run.where}): static feature {key!r} is {matrix[bad[0], j]:g}; "
                    "its log10 needs a positive value: leave it out of log10"
                )
            matrix[:, j] = np.log10(matrix[:, j])
        names.append(f"log10_{key}" if key in spec.log10 else key)
    keep = [j for j in range(len(keys)) if not (spec.drop_constant and np.ptp(matrix[:, j]) == 0)]
    return [names[j] for j in keep], matrix[:, keep]


def _group(run: LoggedRun, spec: TableSpec) -> str:
    keys = [spec.group_by] if isinstance(spec.group_by, str) else list(spec.group_by or [])
    parts = [spec.group] if spec.group is not None else ([] if keys else [run.group])
    for key in keys:
        if key not in run.config:
            raise RunTableError(
                f"run {run.run_id!r} ({run.where}): group_by key {key!r} is not in its config; "
                f"keys: {sorted(run.config)[:40]}"
            )
        parts.append(str(run.config[key]))
    return "/".join(parts)


def _budget(run: LoggedRun, spec: TableSpec) -> float:
    if isinstance(spec.budget, str):
        return _config_number(run, spec.budget, "budget key")
    if spec.budget is not None:
        return float(spec.budget)
    budget = run.budget if run.budget is not None else run.reached
    if not (math.isfinite(budget) and budget > 0):
        raise RunTableError(
            f"run {run.run_id!r} ({run.where}): no positive step budget (it logged no step beyond 0); "
            "give budget as a number or a config key"
        )
    return float(budget)


def _curve_names(runs: Sequence[LoggedRun], spec: TableSpec) -> list[str]:
    logged = sorted(set().union(*(r.metrics.keys() for r in runs)))
    if spec.curves is None:
        hidden = set().union(*(r.hidden for r in runs))
        return [m for m in logged if m not in hidden]
    unknown = [m for m in spec.curves if m not in logged]
    if unknown:
        raise RunTableError(f"curves {unknown} are logged by no run; the runs log {logged}: fix the curves list")
    return list(spec.curves)


def _check_final_metric(runs: Sequence[LoggedRun], spec: TableSpec) -> None:
    logged = sorted(set().union(*(r.metrics.keys() for r in runs)))
    if spec.final_metric not in logged:
        raise RunTableError(
            f"unknown final_metric {spec.final_metric!r}: no run logs it; the runs log {logged}: "
            "set final_metric to one of them"
        )


def _record(run: LoggedRun, spec: TableSpec, curve_names: Sequence[str]) -> dict:
    """The RunTable record of one run (static features are added by :func:`build_table`)."""
    budget = _budget(run, spec)
    finished = run.done if run.done is not None else run.reached >= budget
    metrics = {m: _clean(pts) for m, pts in run.metrics.items()}
    diverged = any(not math.isfinite(v) for m, pts in metrics.items() if _is_divergence_metric(m, spec) for _, v in pts)
    final = None
    if finished:
        points = metrics.get(spec.final_metric)
        if not points:
            raise RunTableError(
                f"run {run.run_id!r} ({run.where}) finished but never logged the final metric "
                f"{spec.final_metric!r}; it logs {sorted(metrics)}: log it in every run or leave the run out"
            )
        final = points[-1][1]
        metrics[spec.final_metric] = points[:-1]
        if not math.isfinite(final):
            final = spec.diverged_score if diverged else None
    curves = {m: [(s, v) for s, v in metrics.get(m, []) if diverged or math.isfinite(v)] for m in curve_names}
    return {
        "run_id": run.run_id,
        "group": _group(run, spec),
        "budget": budget,
        "final": final,
        "diverged": 1.0 if diverged else (0.0 if finished else None),
        "curves": curves,
    }


def _warn_on_guessed_budgets(runs: Sequence[LoggedRun], spec: TableSpec) -> None:
    """Warn when budgets are each run's own last step but the runs stopped at different steps: a run
    that crashed or is still running then reads as finished."""
    guessed = [r for r in runs if spec.budget is None and r.budget is None and r.done is None]
    reached = sorted({r.reached for r in guessed})
    if len(reached) > 1:
        warnings.warn(
            f"{len(guessed)} runs have no budget of their own, so each is read as finished at its last step, "
            f"but they stopped at different steps ({reached[0]:g} to {reached[-1]:g}); a run that crashed or is "
            "still running is then taken as finished: give budget (a number, or a config key)",
            UserWarning,
            stacklevel=3,
        )


def build_table(runs: Sequence[LoggedRun], spec: TableSpec, default_static: Sequence[str] | None = None) -> RunTable:
    """The RunTable of ``runs`` under ``spec``; ``default_static`` are the static features read
    when ``spec.static`` is ``None`` (``None``: every config key that is numeric in all runs)."""
    runs = sorted(runs, key=lambda r: r.run_id)
    seen: dict[str, str] = {}
    for run in runs:
        if run.run_id in seen:
            raise RunTableError(
                f"runs {seen[run.run_id]} and {run.where} have the same run id {run.run_id!r}; give them distinct names"
            )
        seen[run.run_id] = run.where
    _check_final_metric(runs, spec)
    _warn_on_guessed_budgets(runs, spec)
    curve_names = _curve_names(runs, spec)
    names, matrix = _static(runs, spec, default_static)
    records = []
    for run, row in zip(runs, matrix):
        records.append({**_record(run, spec, curve_names), "static": dict(zip(names, row.tolist()))})
    return RunTable.from_records(records, static_names=names)
