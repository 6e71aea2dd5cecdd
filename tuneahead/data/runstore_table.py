"""A run store read as a RunTable (:func:`load_runstore`): the done runs, their static feature
sets and curves, with one bad record skipped rather than refusing the store. No torch here."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .runstore import FEATURE_SETS, RunStore, RunStoreWarning
from .runtable import RunTable, RunTableError

__all__ = ["load_runstore"]


def _number(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _select_features(records: Sequence[dict], features: Iterable[str]) -> list[tuple[str, str]]:
    """(set, name) pairs of the requested features; a set name expands to all its features."""
    pairs: list[tuple[str, str]] = []
    for want in features:
        if want in FEATURE_SETS:
            names = sorted(set().union(*(r.get("static", {}).get(want, {}).keys() for r in records)))
            pairs += [(want, n) for n in names if (want, n) not in pairs]
            continue
        owner = [s for s in FEATURE_SETS if any(want in r.get("static", {}).get(s, {}) for r in records)]
        if not owner:
            known = {s: sorted(records[0].get("static", {}).get(s, {})) for s in FEATURE_SETS}
            raise RunTableError(f"run store: unknown static feature {want!r}; known: {known}")
        pairs.append((owner[0], want))
    return pairs


def _imputed_static(records: list[dict], pairs: list[tuple[str, str]], path) -> np.ndarray:
    """The (set, name) features of every record, a feature's missing values at its median."""
    matrix = np.array(
        [[_number(r.get("static", {}).get(s, {}).get(n)) for s, n in pairs] for r in records], dtype=float
    ).reshape(len(records), len(pairs))
    for j in range(matrix.shape[1]):
        col = matrix[:, j]
        ok = np.isfinite(col)
        if not ok.any():
            raise RunTableError(f"{path}: static feature {pairs[j][1]!r} is missing in every run")
        col[~ok] = np.median(col[ok])
    return matrix


def _row(r: dict) -> dict:
    """The RunTable record of store record ``r`` without its static part; raises on a malformed field."""
    for name in FEATURE_SETS:
        for feature, v in r.get("static", {}).get(name, {}).items():
            if v is not None and not isinstance(v, (int, float)):
                raise ValueError(f"static feature {feature!r} is {v!r}, not a number")
    curves = {m: [(float(s), _number(v)) for s, v in pts] for m, pts in r["curves"].items()}
    row = {"run_id": r["run_id"], "group": r["group"], "budget": r["budget"], "curves": curves}
    return {**row, "final": _number(r.get("final")), "diverged": 1.0 if r.get("diverged") else 0.0}


def _checked_rows(records: list[dict], path) -> list[tuple[dict, dict]]:
    """(record, row) pairs of the usable records, each checked on its own (see :func:`load_runstore`)."""
    out, seen = [], set()
    for r in records:
        where = f"run store {path}: runs/{r.get('key')}.json"
        try:
            row = _row(r)
            if row["diverged"] == 0 and not all(np.isfinite(v) for pts in row["curves"].values() for _, v in pts):
                warnings.warn(
                    f"{where} (run {row['run_id']!r}): a curve has a non-finite value but 'diverged' is false; "
                    "read as diverged (the runner now flags such runs)",
                    RunStoreWarning,
                    stacklevel=3,
                )
                row["diverged"] = 1.0
            RunTable.from_records([row], static_names=[])
        except KeyError as err:
            problem = f"field {err} is missing"
        except (TypeError, ValueError, AttributeError, RunTableError) as err:
            problem = str(err)
        else:
            problem = f"run_id {row['run_id']!r} is taken by another record" if row["run_id"] in seen else None
        if problem is not None:
            fix = "delete it and resume the sweep to redo the run"
            warnings.warn(f"{where} skipped: {problem}; {fix}", RunStoreWarning, stacklevel=3)
            continue
        seen.add(row["run_id"])
        out.append((r, row))
    return out


def _probed_at(record: dict, length: int, path) -> dict:
    """``record`` with its ``probe`` features taken at probe length ``length``."""
    probes = record.get("probes") or {}
    if str(length) not in probes:
        raise RunTableError(
            f"run store {path}: run {record.get('run_id')!r} has no probe features at {length} steps "
            f"(it has {sorted(probes, key=int) or 'only its main probe'}); set data.probe_at to one of those, "
            "or run the sweep with probe_run.also_at listing it"
        )
    static = record.get("static", {})
    return {**record, "static": {**static, "probe": probes[str(length)]}}


def _source_records(path) -> list[dict]:
    """The records of a store folder, or of its export (a ``.jsonl`` file of one record a line)."""
    source = Path(path)
    if source.is_file() and source.suffix == ".jsonl":
        records = []
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                rec = json.loads(line) if line.strip() else None
            except ValueError:
                rec = "unreadable"
            if isinstance(rec, dict):
                records.append(rec)
            elif rec is not None:
                warnings.warn(
                    f"{path}: skipped line {number}, which is not a JSON object", RunStoreWarning, stacklevel=3
                )
        return records
    store = RunStore(path, clean=False)
    if not store.runs.exists():
        raise RunTableError(
            f"{path}: not a run store (no runs/ folder) nor its .jsonl export; "
            "run `python -m tuneahead.probe` to fill one"
        )
    return store.records()


def _in_large_groups(checked: list, min_group_size: int, path) -> list:
    """The (record, row) pairs of groups with at least ``min_group_size`` runs; none is an error."""
    counts: dict[str, int] = {}
    for _, row in checked:
        counts[row["group"]] = counts.get(row["group"], 0) + 1
    checked = [(r, row) for r, row in checked if counts[row["group"]] >= min_group_size]
    if not checked:
        raise RunTableError(
            f"{path}: no group has min_group_size={min_group_size} runs (the largest has {max(counts.values())}); "
            "lower data.min_group_size"
        )
    return checked


def load_runstore(
    path: str | os.PathLike,
    features: Sequence[str] = ("config", "dataset"),
    drop_constant: bool = True,
    min_group_size: int = 1,
    probe_at: int | None = None,
) -> RunTable:
    """Read the done runs of a run store folder as a RunTable.

    Parameters
    ----------
    path
        The store folder (the one holding ``runs/``), or its export (``RunStore.export``: a
        ``.jsonl`` file of one record a line).
    features
        Static features to keep: a feature-set name (``config``, ``dataset``, ``probe``) takes all
        of that set, any other string names one feature. The default keeps what is known before
        training; add ``probe`` to hand the probe's dynamic features to the static part too (then
        the probe's information enters at budget 0).
    drop_constant
        Drop features that take a single value over the store (they carry no information and make
        standardization divide by zero).
    min_group_size
        Runs of groups with fewer runs than this are left out.
    probe_at
        The probe length whose features the ``probe`` set holds, for runs probed at several
        lengths (``probe_run.also_at``; the record's ``probes``). None: the run's main probe.

    Notes
    -----
    One bad record never refuses the store. A record that cannot be read, lacks a field, or fails
    the RunTable's checks on its own is skipped with a :class:`RunStoreWarning` that names the file,
    the field and the fix (delete it and resume the sweep). A record whose curve holds a non-finite
    value but that is not flagged ``diverged`` (written by an older runner) is read as diverged,
    with a warning. The store is refused (:class:`RunTableError`) only where the user must act: no
    ``runs/`` folder, no usable run, or an unknown feature asked for. Failed and running runs are
    not done, so they are not read.

    A feature that is not finite in some run (a probe that diverged before its end has no
    ``flatness``) is replaced by the median of its finite values over the store, so the table's
    static part stays finite; the run's ``diverged`` flag and curve still show the failure.
    """
    checked = _checked_rows(_source_records(path), path)
    if not checked:
        raise RunTableError(f"{path}: the run store holds no usable finished runs yet")
    checked = _in_large_groups(checked, min_group_size, path)
    records = [r for r, _ in checked]
    if probe_at is not None:
        records = [_probed_at(r, probe_at, path) for r in records]
    pairs = _select_features(records, features)
    matrix = _imputed_static(records, pairs, path)
    keep = [j for j in range(len(pairs)) if not (drop_constant and np.ptp(matrix[:, j]) == 0)]
    names = [pairs[j][1] for j in keep]
    rows = [{**row, "static": dict(zip(names, matrix[i, keep]))} for i, (_, row) in enumerate(checked)]
    return RunTable.from_records(rows, static_names=names)
