"""The RunTable: the single in-memory form of fine-tuning runs.

Every source (the model-based sampler, the opda JSONL files, the generic file layout, and later
the simulator and the torch probe store) is turned into a :class:`RunTable`, and every consumer
reads one. A table holds, for each run ``i``:

- ``run_id[i]`` (unique) and ``group[i]`` (for example ``"base-model/dataset-family"``);
- ``static[i, :]``, named numeric features known before training (``static_names``);
- ``budget[i]``, the run's total step budget ``T_i``;
- ``curves[metric]``, probe curves as (step, value) points, padded with NaN steps to a common
  width; a point is present where its step is finite;
- ``final[i]``, the final score ``R_i`` (NaN for candidates);
- ``diverged[i]``: 1.0 diverged, 0.0 healthy, NaN not known.

The constructor validates everything and raises :class:`RunTableError`, whose message names the
run and the field and says how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .errors import RunTableError
from .splits import Split

__all__ = ["Curve", "RunTable", "RunTableError"]


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Curve:
    """One named probe metric for all runs of a table, as padded (step, value) arrays.

    ``steps`` and ``values`` have shape ``(n_runs, width)``; a point is present where its step is
    finite. Present steps come first in each row and strictly increase.
    """

    steps: np.ndarray
    values: np.ndarray

    @property
    def present(self) -> np.ndarray:
        """Boolean mask of the points that exist."""
        return np.isfinite(self.steps)

    @property
    def counts(self) -> np.ndarray:
        """Number of points of each run."""
        return self.present.sum(axis=1)

    def points(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The (steps, values) of run ``i``."""
        keep = self.present[i]
        return self.steps[i, keep], self.values[i, keep]


@dataclass(frozen=True)
class RunTable:
    """Fine-tuning runs with static features, probe curves and final scores (see module doc)."""

    run_id: np.ndarray
    group: np.ndarray
    static: np.ndarray
    static_names: tuple[str, ...]
    budget: np.ndarray
    curves: Mapping[str, Curve]
    final: np.ndarray
    diverged: np.ndarray = field(default=None)  # type: ignore[assignment]

    # ------------------------------------------------------------------ construction
    def __post_init__(self) -> None:
        run_id = _checked_ids(self.run_id)
        n = len(run_id)
        group = _checked_groups(self.group, run_id)
        names, static = _checked_static(self.static, self.static_names, run_id)
        budget, final, diverged = _checked_run_fields(self.budget, self.final, self.diverged, run_id)
        curves = {}
        for metric, curve in dict(self.curves).items():
            if str(metric) == "":
                raise RunTableError("a curve has an empty metric name; give every metric a name")
            curves[str(metric)] = _check_curve(str(metric), curve, run_id, budget, diverged, n)

        checked = dict(run_id=run_id, group=group, static=static, static_names=names, budget=budget, curves=curves)
        for name, value in {**checked, "final": final, "diverged": diverged}.items():
            if isinstance(value, np.ndarray):
                value = _readonly(value)
            object.__setattr__(self, name, value)

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping],
        static_names: Sequence[str] | None = None,
    ) -> RunTable:
        """Build a table from one mapping per run.

        Each record has ``run_id``, ``group``, ``budget``, ``static`` (a mapping of feature to
        value), ``curves`` (a mapping of metric to a sequence of ``(step, value)`` pairs), and
        optionally ``final`` and ``diverged``.
        """
        records = list(records)
        if not records:
            raise RunTableError("the run table is empty: no records were given")
        if static_names is None:
            static_names = list(records[0].get("static", {}).keys())
        metrics: list[str] = []
        for rec in records:
            for m in rec.get("curves", {}):
                if m not in metrics:
                    metrics.append(m)
        static = _records_static(records, static_names)
        curves = {m: _records_curve(records, m) for m in metrics}

        def col(key, default):
            values = [np.nan if rec.get(key, default) is None else rec.get(key, default) for rec in records]
            return _floats(values, f"field {key!r}", [rec.get("run_id") for rec in records])

        return cls(
            run_id=np.array([rec.get("run_id") for rec in records], dtype=object),
            group=np.array([rec.get("group") for rec in records], dtype=object),
            static=static,
            static_names=tuple(static_names),
            budget=col("budget", np.nan),
            curves=curves,
            final=col("final", np.nan),
            diverged=col("diverged", np.nan),
        )

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return int(self.run_id.shape[0])

    @property
    def metrics(self) -> tuple[str, ...]:
        """Names of the probe metrics."""
        return tuple(self.curves)

    @property
    def groups(self) -> tuple[str, ...]:
        """Distinct group labels, in order of first appearance."""
        _, first = np.unique(self.group, return_index=True)
        return tuple(self.group[np.sort(first)])

    @property
    def has_final(self) -> np.ndarray:
        """Runs whose final score is known (the others are candidates)."""
        return np.isfinite(self.final)

    @property
    def fate(self) -> np.ndarray:
        """Each run's known fate, ``int32``: 1 diverged, 0 healthy, -1 unknown."""
        return np.where(np.isnan(self.diverged), -1, self.diverged).astype(np.int32)

    def curve(self, metric: str) -> Curve:
        """The curve of ``metric``, with an error listing the known metrics if it is absent."""
        if metric not in self.curves:
            raise RunTableError(
                f"unknown metric {metric!r}; this table has metrics {list(self.metrics)}: "
                "fix the metric name in the config"
            )
        return self.curves[metric]

    def select(self, index) -> RunTable:
        """The runs at ``index`` (an integer array or a boolean mask), in that order."""
        idx = np.arange(len(self))[index]
        return RunTable(
            run_id=self.run_id[idx],
            group=self.group[idx],
            static=self.static[idx],
            static_names=self.static_names,
            budget=self.budget[idx],
            curves={m: Curve(c.steps[idx], c.values[idx]) for m, c in self.curves.items()},
            final=self.final[idx],
            diverged=self.diverged[idx],
        )

    def rows_of(self, table: RunTable, owner: str = "this table") -> np.ndarray:
        """Row in this table of each of ``table``'s runs; a run it lacks is an error naming it."""
        index = {r: i for i, r in enumerate(self.run_id)}
        try:
            return np.array([index[r] for r in table.run_id], dtype=int)
        except KeyError as err:
            raise RunTableError(f"run '{err.args[0]}' is not part of {owner}") from None

    def truncate(self, c: float) -> RunTable:
        """The runs as seen after a probe of ``c`` steps.

        Curve points with step > c are dropped. A diverged flag is kept only where the cut curve
        itself shows the divergence (a non-finite value); otherwise it becomes unknown, because a
        flag derived from the rest of the run is not available at budget ``c``. The final score is
        kept for evaluation; the predictors never read it.
        """
        if not np.isfinite(c) or c < 0:
            raise RunTableError(f"probe budget must be a non-negative number of steps, got {c}")
        curves = {}
        evident = np.zeros(len(self), dtype=bool)
        for m, cur in self.curves.items():
            keep = cur.present & (cur.steps <= c)
            steps = np.where(keep, cur.steps, np.nan)
            values = np.where(keep, cur.values, np.nan)
            evident |= (keep & ~np.isfinite(cur.values)).any(axis=1)
            curves[m] = Curve(steps, values)
        return replace(self, curves=curves, diverged=np.where(evident, 1.0, np.nan))

    def split(self, kind: str = "random", **options) -> tuple[RunTable, RunTable]:
        """Hold out runs as a :class:`~tuneahead.data.splits.Split` of ``kind`` with ``options``
        (``test_fraction``, ``seed``, ...) says; returns (train, test). K folds:
        ``Split(kind="kfold", folds=k).partition(table)``."""
        if kind == "kfold":
            raise RunTableError("a kfold split has several (train, test) pairs; use Split(kind='kfold').partition")
        ((train, test),) = Split.from_config({"kind": kind, **options}).partition(self)
        return train, test

    def __repr__(self) -> str:
        n_cand = int((~self.has_final).sum())
        return (
            f"RunTable({len(self)} runs, {len(self.groups)} groups, {len(self.static_names)} static "
            f"features, metrics={list(self.metrics)}, {n_cand} candidates)"
        )


def as_runtable(source, origin: str) -> RunTable:
    """The RunTable of a data source: the source itself, or the ``.table`` of a population that
    carries its own truth (sampled or simulated); anything else is an error naming ``origin``."""
    table = getattr(source, "table", source)
    if not isinstance(table, RunTable):
        raise RunTableError(f"data source {origin} returned {type(source).__name__}, not a RunTable")
    return table


# ---------------------------------------------------------------------- helpers
def _floats(values, what: str, run_id: Sequence | None = None) -> np.ndarray:
    """``values`` as a float array; a value that is not a number is an error naming the run and ``what``."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        rows = list(values) if isinstance(values, Iterable) and not isinstance(values, str | bytes) else [values]
    for i, row in enumerate(rows):
        try:
            np.asarray(row, dtype=float)
        except (TypeError, ValueError):
            run = f"run {run_id[i]!r}: " if run_id is not None and i < len(run_id) else ""
            raise RunTableError(f"{run}{what} holds {row!r}, not a number; give numbers (NaN where unknown)") from None
    raise RunTableError(f"{what} holds rows of unequal lengths; give one row of numbers per run")


def _checked_ids(values) -> np.ndarray:
    run_id = np.asarray(values, dtype=object)
    if run_id.ndim != 1:
        raise RunTableError("run_id must be a 1-d sequence of run identifiers")
    if run_id.shape[0] == 0:
        raise RunTableError("the run table is empty: no runs were given; check the source path and filters")
    seen: dict[str, int] = {}
    for i, rid in enumerate(run_id):
        if rid is None or str(rid) == "":
            raise RunTableError(f"run_id of row {i} is {rid!r}; give every run a non-empty id")
        if (key := str(rid)) in seen:
            raise RunTableError(f"duplicate run_id {key!r} at rows {seen[key]} and {i}; every run needs a unique id")
        seen[key] = i
    return np.array([str(r) for r in run_id], dtype=object)


def _checked_groups(values, run_id: np.ndarray) -> np.ndarray:
    n = len(run_id)
    group = np.asarray(values, dtype=object)
    if group.shape != (n,):
        raise RunTableError(f"group has shape {group.shape}, expected ({n},): one per run")
    group = np.array([str(g) for g in group], dtype=object)
    for rid, g in zip(run_id, group):
        if g in ("", "nan", "None"):
            raise RunTableError(f"run {rid!r}: field 'group' is empty; give every run a group label")
    return group


def _checked_static(values, static_names, run_id: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    names = tuple(str(s) for s in static_names)
    if len(set(names)) != len(names):
        raise RunTableError(f"static feature names repeat: {names}")
    static = _floats(values, "static", run_id)
    if static.size != len(run_id) * len(names):
        raise RunTableError(f"static has {static.size} values, expected {len(run_id)} runs x {len(names)} features")
    static = static.reshape(len(run_id), len(names))
    bad = ~np.isfinite(static)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise RunTableError(
            f"run {run_id[i]!r}: static feature {names[j]!r} is {static[i, j]}; "
            "static features must be finite: impute or drop the feature"
        )
    return names, static


def _checked_run_fields(budget, final, diverged, run_id: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(run_id)
    budget = _floats(budget, "field 'budget'", run_id)
    if budget.shape != (n,):
        raise RunTableError(f"budget has shape {budget.shape}, expected ({n},)")
    for i in np.flatnonzero(~(np.isfinite(budget) & (budget > 0))):
        raise RunTableError(
            f"run {run_id[i]!r}: field 'budget' is {budget[i]}; the total step budget T must be positive"
        )
    final = _floats(final, "field 'final'", run_id)
    if final.shape != (n,):
        raise RunTableError(f"final has shape {final.shape}, expected ({n},)")
    for i in np.flatnonzero(np.isinf(final)):
        raise RunTableError(f"run {run_id[i]!r}: field 'final' is infinite; use NaN for a candidate without a score")
    diverged = np.full(n, np.nan) if diverged is None else _floats(diverged, "field 'diverged'", run_id)
    if diverged.shape != (n,):
        raise RunTableError(f"diverged has shape {diverged.shape}, expected ({n},)")
    for i in np.flatnonzero(~(np.isnan(diverged) | (diverged == 0) | (diverged == 1))):
        raise RunTableError(
            f"run {run_id[i]!r}: field 'diverged' is {diverged[i]}; use 1 (diverged), 0 (healthy) or empty (unknown)"
        )
    return budget, final, diverged


def _records_static(records: list[Mapping], static_names: Sequence[str]) -> np.ndarray:
    static = np.zeros((len(records), len(static_names)))
    for i, rec in enumerate(records):
        feats = rec.get("static", {})
        for j, name in enumerate(static_names):
            if name not in feats:
                raise RunTableError(
                    f"run {rec.get('run_id')!r}: static feature {name!r} is missing; "
                    "every run needs the same static features"
                )
            static[i, j] = _floats([feats[name]], f"static feature {name!r}", [rec.get("run_id")])[0]
    return static


def _records_curve(records: list[Mapping], metric: str) -> Curve:
    pts = [list(rec.get("curves", {}).get(metric, [])) for rec in records]
    width = max((len(p) for p in pts), default=0)
    steps = np.full((len(records), width), np.nan)
    values = np.full((len(records), width), np.nan)
    for i, p in enumerate(pts):
        if p:
            arr = _floats(p, f"curve {metric!r}", [records[i].get("run_id")] * len(p))
            if arr.shape != (len(p), 2):
                rid = records[i].get("run_id")
                raise RunTableError(f"run {rid!r}: curve {metric!r} points must be (step, value) pairs, got {p[:2]!r}")
            steps[i, : len(p)] = arr[:, 0]
            values[i, : len(p)] = arr[:, 1]
    return Curve(steps, values)


def _trim(curve: Curve) -> Curve:
    """Drop padding columns that no run uses."""
    width = int(curve.counts.max()) if curve.steps.size else 0
    order = np.argsort(~curve.present, axis=1, kind="stable")
    steps = np.take_along_axis(curve.steps, order, axis=1)[:, :width]
    values = np.take_along_axis(curve.values, order, axis=1)[:, :width]
    return Curve(steps, values)


def _check_curve(
    metric: str, curve: Curve, run_id: np.ndarray, budget: np.ndarray, diverged: np.ndarray, n: int
) -> Curve:
    steps = _floats(curve.steps, f"curve {metric!r} steps", run_id)
    values = _floats(curve.values, f"curve {metric!r} values", run_id)
    if steps.ndim != 2 or steps.shape[0] != n or values.shape != steps.shape:
        raise RunTableError(
            f"curve {metric!r}: steps {steps.shape} and values {values.shape} must both be (n_runs={n}, width)"
        )
    present = np.isfinite(steps)
    for i in range(n):
        s = steps[i, present[i]]
        v = values[i, present[i]]
        if s.size == 0:
            continue
        if (s < 0).any():
            raise RunTableError(f"run {run_id[i]!r}: curve {metric!r} has a negative step {s[s < 0][0]}")
        d = np.diff(s)
        if (d <= 0).any():
            k = int(np.argmax(d <= 0))
            raise RunTableError(
                f"run {run_id[i]!r}: curve {metric!r} steps are not strictly increasing "
                f"(step {s[k + 1]:g} follows {s[k]:g}); sort the points and drop repeats"
            )
        if s[-1] > budget[i]:
            raise RunTableError(
                f"run {run_id[i]!r}: curve {metric!r} reaches step {s[-1]:g}, beyond the run's budget "
                f"T={budget[i]:g}; fix the budget or drop the extra points"
            )
        bad = ~np.isfinite(v)
        if bad.any() and diverged[i] != 1:
            raise RunTableError(
                f"run {run_id[i]!r}: curve {metric!r} has a non-finite value at step {s[bad][0]:g} "
                "but the run is not marked diverged; set diverged=1 for it or drop the point"
            )
    return _trim(Curve(_readonly(steps), _readonly(values)))
