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
A sweep log in pandas exports to it in a few lines (see the README).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import atomic_path
from .runtable import RunTable, RunTableError

__all__ = ["read_runtable", "write_runtable", "runtable_to_frame", "STATIC_PREFIX"]

STATIC_PREFIX = "static."
_RUN_COLUMNS = ("group", "budget", "final", "diverged")
_REQUIRED = ("run_id", "group", "budget", "metric", "step", "value")


def _read_frame(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    text = {"run_id": str, "group": str, "metric": str}  # ids like "007" must stay text
    if suffix == ".csv":
        return pd.read_csv(path, dtype=text)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".jsonl", ".json"):
        return pd.read_json(path, lines=True, dtype=text)
    raise RunTableError(f"{path}: unknown file type {suffix!r}; use .csv, .parquet or .jsonl")


def read_runtable(path: str | os.PathLike) -> RunTable:
    """Read a run file in the generic long layout (see the module doc) into a RunTable."""
    path = Path(path)
    if not path.exists():
        raise RunTableError(f"{path}: no such run file")
    frame = _read_frame(path)
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise RunTableError(
            f"{path}: missing column(s) {missing}; the layout needs {list(_REQUIRED)} "
            f"plus optional 'final', 'diverged' and '{STATIC_PREFIX}<name>' columns"
        )
    static_cols = [c for c in frame.columns if c.startswith(STATIC_PREFIX)]
    unknown = [c for c in frame.columns if c not in _REQUIRED and c not in _RUN_COLUMNS and c not in static_cols]
    if unknown:
        raise RunTableError(f"{path}: unknown column(s) {unknown}; static features need the prefix '{STATIC_PREFIX}'")
    frame = frame.assign(run_id=frame["run_id"].astype(str))
    records = []
    for run_id, rows in frame.groupby("run_id", sort=False):
        rec: dict = {"run_id": run_id}
        for col in ("group", "budget", "final", "diverged", *static_cols):
            if col not in rows.columns:
                continue
            vals = rows[col].dropna().unique()
            if len(vals) > 1:
                raise RunTableError(
                    f"{path}: run {run_id!r}: column {col!r} takes several values {list(vals)[:3]}; "
                    "run-level columns must repeat the same value on every row of a run"
                )
            value = vals[0] if len(vals) else None
            if col.startswith(STATIC_PREFIX):
                if value is None:
                    raise RunTableError(f"{path}: run {run_id!r}: static feature {col!r} is empty")
                rec.setdefault("static", {})[col[len(STATIC_PREFIX) :]] = float(value)
            else:
                rec[col] = value
        points = rows.dropna(subset=["metric", "step"])
        curves: dict[str, list] = {}
        for metric, pts in points.groupby("metric", sort=False):
            curves[str(metric)] = sorted(zip(pts["step"].astype(float), pts["value"].astype(float)))
        rec["curves"] = curves
        rec.setdefault("static", {})
        records.append(rec)
    names = [c[len(STATIC_PREFIX) :] for c in static_cols]
    return RunTable.from_records(records, static_names=names)


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
    """Write the table atomically in the generic layout; the suffix picks CSV, Parquet or JSONL."""
    path = Path(path)
    frame = runtable_to_frame(table)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq", ".jsonl", ".json"):
        raise RunTableError(f"{path}: unknown file type {suffix!r}; use .csv, .parquet or .jsonl")
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        elif suffix in (".parquet", ".pq"):
            frame.to_parquet(tmp, index=False)
        else:
            with open(tmp, "w") as fh:
                for rec in frame.to_dict(orient="records"):
                    clean = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()}
                    fh.write(json.dumps(clean) + "\n")
    return path
