"""The generic run file layout, read from and written to CSV, Parquet or JSONL.

The layout is *long*: one row per curve point, with the run-level columns repeated on each row.

=============  ========  ==========================================================
column         required  meaning
=============  ========  ==========================================================
``run_id``     yes       unique id of the run
``group``      yes       group label (for example ``"qwen2.5-7b/math"``)
``budget``     yes       total step budget T of the run
``final``      no        final score R; empty for candidates
``diverged``   no        1 diverged, 0 healthy, empty unknown
``metric``     yes       probe metric of the point (``"eval_score"``, ``"train_loss"``)
``step``       yes       step of the point (0 <= step <= budget)
``value``      yes       metric value at that step (empty only for a diverged run)
``static.*``   no        static features, one column each, for example ``static.log_lr``
=============  ========  ==========================================================

A run with no probe points yet has a single row with ``metric``, ``step`` and ``value`` empty.
A table without curves (TuneAhead's released format: one row per run, descriptors and probe
summaries as ``static.*`` columns, and the final score) leaves out all three columns; each run then
has exactly one row, and the model reads it with ``model.metrics=[]``.
A sweep log in pandas exports to it in a few lines (see the README).

:func:`read_runtable` reads a file strictly; anything else is a :class:`RunTableError` that names
the file, the run, the column, the line (Parquet: the row) and the fix:

- ``run_id``, ``group`` and ``metric`` are text, kept as written (``"007"``, ``"NA"``, ``"None"``
  stay text); every other column is a number (see :mod:`.file_formats` for what each format
  accepts). Nothing is coerced: a number written as text in JSONL, a boolean, a list, a date is
  refused.
- Every row has a ``run_id``. The rows of a run are contiguous: a ``run_id`` that comes back after
  another run is refused as two runs sharing an id (sort the rows by ``run_id`` if one run's rows
  were interleaved with others on purpose).
- A run-level column (``group``, ``budget``, ``final``, ``diverged``, ``static.*``) may be empty on
  some rows of a run, but its non-empty values agree; ``group``, ``budget`` and each static feature
  have a value in every run.
- A point row has ``metric`` and a finite ``step``; its ``value`` may be empty or non-finite only in
  a run marked diverged. A (``metric``, ``step``) pair appears once per run; points of a metric may
  come in any step order. The one row of a run without points has ``metric``, ``step`` and
  ``value`` all empty; a row with only some of them empty is refused.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import atomic_path
from .errors import RunTableError
from .file_formats import SUFFIXES, Cells, number_column, read_cells, text_column
from .runtable import RunTable

__all__ = ["read_runtable", "write_runtable", "runtable_to_frame", "STATIC_PREFIX"]

STATIC_PREFIX = "static."
_TEXT = ("run_id", "group", "metric")
_RUN_COLUMNS = ("group", "budget", "final", "diverged")
_POINT_COLUMNS = ("metric", "step", "value")
_REQUIRED = ("run_id", "group", "budget", *_POINT_COLUMNS)


def read_runtable(path: str | os.PathLike) -> RunTable:
    """Read a run file in the generic long layout into a RunTable (the rules are in the module doc)."""
    path = Path(path)
    if not path.exists():
        raise RunTableError(f"{path}: no such run file")
    cells = read_cells(path)
    static_cols = _checked_columns(cells)
    cols = _typed_columns(cells)
    records = [_record(cells, cols, run_id, rows, static_cols) for run_id, rows in _run_rows(cells, cols["run_id"])]
    try:
        return RunTable.from_records(records, static_names=[c[len(STATIC_PREFIX) :] for c in static_cols])
    except RunTableError as err:
        raise RunTableError(f"{path}: {err}") from None


def _checked_columns(cells: Cells) -> list[str]:
    """The static feature columns; a missing required column or an unknown one is an error."""
    path, columns = cells.path, cells.columns
    required = _REQUIRED if any(c in columns for c in _POINT_COLUMNS) else _REQUIRED[:3]
    missing = [c for c in required if c not in columns]
    if missing:
        raise RunTableError(
            f"{path}: missing column(s) {missing}; the layout needs {list(_REQUIRED)} "
            f"plus optional 'final', 'diverged' and '{STATIC_PREFIX}<name>' columns "
            f"(a table without curves leaves out all of {list(_POINT_COLUMNS)})"
        )
    static_cols = [c for c in columns if c.startswith(STATIC_PREFIX)]
    unknown = [c for c in columns if c not in _REQUIRED and c not in _RUN_COLUMNS and c not in static_cols]
    if unknown:
        raise RunTableError(f"{path}: unknown column(s) {unknown}; static features need the prefix '{STATIC_PREFIX}'")
    if STATIC_PREFIX in static_cols:
        raise RunTableError(f"{path}: column {STATIC_PREFIX!r} names no feature; write '{STATIC_PREFIX}<name>'")
    return static_cols


def _typed_columns(cells: Cells) -> dict:
    """Text columns as lists of ``str``/``None``, the others as float64 arrays; every row has a run_id."""
    run_ids = text_column(cells, "run_id", None)
    for i, run_id in enumerate(run_ids):
        if run_id is None:
            raise cells.error(i, "run_id", None, "is empty", "give every row the id of its run")
    cols: dict = {"run_id": run_ids}
    for name in cells.columns:
        if name != "run_id":
            convert = text_column if name in _TEXT else number_column
            cols[name] = convert(cells, name, run_ids)
    return cols


def _run_rows(cells: Cells, run_ids: list[str]) -> list[tuple[str, range]]:
    """The runs in file order with their rows; a run whose rows are not contiguous is an error."""
    runs: list[tuple[str, int]] = []
    first: dict[str, int] = {}
    for i, run_id in enumerate(run_ids):
        if runs and runs[-1][0] == run_id:
            continue
        if run_id in first:
            raise cells.error(
                i,
                "run_id",
                run_ids,
                f"comes back after other runs (its rows began on {cells.unit} {cells.lines[first[run_id]]})",
                "two runs share this id: give each run its own id (if the rows of one run are interleaved "
                "with other runs, sort the rows by run_id, keeping their order within a run)",
            )
        first[run_id] = i
        runs.append((run_id, i))
    ends = [start for _, start in runs[1:]] + [len(run_ids)]
    return [(run_id, range(start, end)) for (run_id, start), end in zip(runs, ends)]


def _record(cells: Cells, cols: dict, run_id: str, rows: range, static_cols: list[str]) -> dict:
    """The RunTable record of one run from its rows."""
    rec: dict = {"run_id": run_id, "static": {}}
    for col in (*_RUN_COLUMNS, *static_cols):
        if col not in cols:
            continue
        value = _run_value(cells, cols, col, run_id, rows)
        if value is None and (col in ("group", "budget") or col in static_cols):
            what = f"static feature {col!r}" if col in static_cols else f"column {col!r}"
            raise RunTableError(
                f"{cells.path}: run {run_id!r}: {what} is empty on every row of the run; give its value"
            )
        if col in static_cols:
            rec["static"][col[len(STATIC_PREFIX) :]] = value
        else:
            rec[col] = value
    if "metric" in cols:
        rec["curves"] = _curves(cells, cols, run_id, rows)
    elif len(rows) > 1:
        raise cells.error(
            rows.start + 1,
            "run_id",
            cols["run_id"],
            f"repeats the run of {cells.unit} {cells.lines[rows.start]}",
            "a table without curves has one row per run: give each run its own id",
        )
    else:
        rec["curves"] = {}
    return rec


def _run_value(cells: Cells, cols: dict, col: str, run_id: str, rows: range):
    """The one value of a run-level column over the run's rows (empty cells aside), or None."""
    values = cols[col][rows.start : rows.stop]
    if isinstance(values, np.ndarray):
        filled = values[~np.isnan(values)]
        distinct = list(dict.fromkeys(filled.tolist())) if (filled != filled[:1]).any() else filled[:1].tolist()
    else:
        distinct = list(dict.fromkeys(v for v in values if v is not None))
    if len(distinct) > 1:
        raise RunTableError(
            f"{cells.path}: run {run_id!r}: column {col!r} takes several values {distinct[:3]} "
            f"({cells.unit}s {cells.lines[rows.start]}-{cells.lines[rows.stop - 1]}); run-level columns must repeat "
            "the same value on every row of a run (or two runs share this id: give each its own)"
        )
    return distinct[0] if distinct else None


def _curves(cells: Cells, cols: dict, run_id: str, rows: range) -> dict[str, list[tuple[float, float]]]:
    """The run's points by metric, sorted by step; partial or repeated points are errors."""
    metric, step, value = cols["metric"], cols["step"], cols["value"]
    curves: dict[str, list[tuple[float, float]]] = {}
    seen: dict[tuple[str, float], int] = {}
    empty = [i for i in rows if metric[i] is None and np.isnan(step[i]) and np.isnan(value[i])]
    skip = set(empty)
    for i in rows:
        if i in skip:
            continue
        if metric[i] is None:
            raise cells.error(i, "metric", cols["run_id"], "is empty but the row has a step or a value", _EMPTY_FIX)
        if not np.isfinite(step[i]):
            problem = "is empty" if np.isnan(step[i]) else f"is {step[i]}, not a finite step"
            raise cells.error(i, "step", cols["run_id"], problem, "give the finite step of the point")
        key = (metric[i], float(step[i]))
        if key in seen:
            raise cells.error(
                i,
                "step",
                cols["run_id"],
                f"repeats step {step[i]:g} of metric {metric[i]!r} (first on {cells.unit} {cells.lines[seen[key]]})",
                "give each step of a metric once per run (or two runs share this id: give each its own)",
            )
        seen[key] = i
        curves.setdefault(metric[i], []).append((float(step[i]), float(value[i])))
    if empty and (seen or len(empty) > 1):
        problem = "is empty on a second row with no point" if not seen else "is empty on a row of a run with points"
        raise cells.error(empty[-1] if not seen else empty[0], "metric", cols["run_id"], problem, _EMPTY_FIX)
    return {m: sorted(points, key=lambda p: p[0]) for m, points in curves.items()}


_EMPTY_FIX = (
    "a point row names its metric, step and value; only the single row of a run without points leaves all three empty"
)


def runtable_to_frame(table: RunTable) -> pd.DataFrame:
    """The table in the generic long layout."""
    rows = []
    for i in range(len(table)):
        base = {
            "run_id": table.run_id[i],
            "group": table.group[i],
            "budget": table.budget[i],
            "final": table.final[i],
            "diverged": table.diverged[i],
        }
        base.update({STATIC_PREFIX + n: table.static[i, j] for j, n in enumerate(table.static_names)})
        wrote = False
        for metric, curve in table.curves.items():
            steps, values = curve.points(i)
            for s, v in zip(steps, values):
                rows.append({**base, "metric": metric, "step": s, "value": v})
                wrote = True
        if not wrote:
            rows.append({**base, "metric": None, "step": np.nan, "value": np.nan})
    return pd.DataFrame(rows)


def write_runtable(table: RunTable, path: str | os.PathLike) -> Path:
    """Write the table atomically in the generic layout; the suffix picks CSV, Parquet or JSONL.

    :func:`read_runtable` reads the file back to the same table, every float exactly; the long
    layout keeps no metric without any point, and lists metrics in order of first appearance.
    """
    path = Path(path)
    frame = runtable_to_frame(table)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise RunTableError(f"{path}: unknown file type {suffix!r}; use .csv, .parquet or .jsonl")
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            # the csv module leaves a lone carriage return unquoted, and a reader then splits the line there
            texts = [*frame.columns, *table.run_id, *table.group, *table.metrics]
            frame.to_csv(tmp, index=False, quoting=csv.QUOTE_ALL if any("\r" in t for t in texts) else None)
        elif suffix in (".parquet", ".pq"):
            frame.to_parquet(tmp, index=False)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for rec in frame.to_dict(orient="records"):
                    clean = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()}
                    fh.write(json.dumps(clean) + "\n")
    return path
