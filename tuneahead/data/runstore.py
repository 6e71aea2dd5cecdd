"""The probe runner's run store: an append-only folder of finished runs, read as a RunTable.

Layout of a store folder::

    runs/<key>.json     one record per finished run, written atomically (temp file + os.replace)
    events.jsonl        "start"/"finish" lines, one per attempt, appended and fsynced

A run's ``key`` is a hash of its dataset variant and its config (:func:`run_key`), so a sweep
that is started again skips every key already in ``runs/`` and redoes only the run that was
in flight when it stopped. A reader never sees a half-written record: a record file either
exists whole or not at all, and leftover ``.tmp`` files are ignored. ``events.jsonl`` is a log
for accounting (how many runs each attempt executed); its last line may be torn by a kill, and
the reader skips such a line.

A record is a JSON object::

    {"key", "run_id", "group", "dataset": {name, spec}, "config": {...}, "budget": T,
     "static": {"config": {...}, "dataset": {...}, "probe": {...}},
     "curves": {"train_loss": [[step, value], ...], "grad_norm": [...], "eval_loss": [...]},
     "final": score in points, "diverged": bool, "timing": {...}, "device": "cpu"}

Non-finite values are written as ``null`` and read back as NaN. No torch here.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import write_json
from .runtable import RunTable, RunTableError

__all__ = ["RunStore", "run_key", "load_runstore", "FEATURE_SETS"]

FEATURE_SETS = ("config", "dataset", "probe")


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_key(dataset: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """A 16-hex-digit key of a (dataset variant, config) pair: the SHA-256 of their canonical JSON."""
    return hashlib.sha256(_canonical({"dataset": dataset, "config": config}).encode()).hexdigest()[:16]


class RunStore:
    """An append-only store of finished runs in the folder ``root`` (see the module doc)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.runs = self.root / "runs"

    def path(self, key: str) -> Path:
        """The record file of ``key``."""
        return self.runs / f"{key}.json"

    def has(self, key: str) -> bool:
        """Whether the run ``key`` is finished."""
        return self.path(key).exists()

    def keys(self) -> set[str]:
        """Keys of every finished run."""
        if not self.runs.exists():
            return set()
        return {p.stem for p in self.runs.glob("*.json")}

    def write(self, record: Mapping[str, Any]) -> Path:
        """Write one finished run atomically; a key already written is an error (the store is append-only)."""
        key = record["key"]
        if self.has(key):
            raise RunTableError(
                f"run store {self.root}: run {key!r} is already recorded; the store never rewrites a run"
            )
        return write_json(dict(record), self.path(key))

    def log(self, event: str, key: str, **extra: Any) -> None:
        """Append one event line to ``events.jsonl`` and fsync it."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"event": event, "key": key, "pid": os.getpid(), **extra}) + "\n"
        with open(self.root / "events.jsonl", "a") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def events(self) -> list[dict]:
        """The event log; a torn last line is skipped."""
        path = self.root / "events.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def records(self) -> list[dict]:
        """Every finished run's record, in key order."""
        out = []
        for key in sorted(self.keys()):
            try:
                out.append(json.loads(self.path(key).read_text()))
            except json.JSONDecodeError as err:
                raise RunTableError(f"run store {self.root}: record {key}.json is not valid JSON ({err.msg})") from None
        return out


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


def load_runstore(
    path: str | os.PathLike,
    features: Sequence[str] = ("config", "dataset"),
    drop_constant: bool = True,
    min_group_size: int = 1,
) -> RunTable:
    """Read a run store folder as a RunTable.

    Parameters
    ----------
    path
        The store folder (the one holding ``runs/``).
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

    Notes
    -----
    A feature that is not finite in some run (a probe that diverged before its end has no
    ``flatness``) is replaced by the median of its finite values over the store, so the table's
    static part stays finite; the run's ``diverged`` flag and curve still show the failure.
    """
    store = RunStore(path)
    if not store.runs.exists():
        raise RunTableError(f"{path}: not a run store (no runs/ folder); run `python -m tuneahead.probe` to fill one")
    records = store.records()
    if not records:
        raise RunTableError(f"{path}: the run store holds no finished runs yet")
    counts: dict[str, int] = {}
    for r in records:
        counts[r["group"]] = counts.get(r["group"], 0) + 1
    records = [r for r in records if counts[r["group"]] >= min_group_size]
    pairs = _select_features(records, features)
    matrix = _imputed_static(records, pairs, path)
    keep = [j for j in range(len(pairs)) if not (drop_constant and np.ptp(matrix[:, j]) == 0)]
    names = [pairs[j][1] for j in keep]
    out = []
    for i, r in enumerate(records):
        curves = {m: [(float(s), _number(v)) for s, v in pts] for m, pts in r.get("curves", {}).items()}
        out.append(
            {
                "run_id": r["run_id"],
                "group": r["group"],
                "budget": r["budget"],
                "static": dict(zip(names, matrix[i, keep])),
                "curves": curves,
                "final": _number(r.get("final")),
                "diverged": 1.0 if r.get("diverged") else 0.0,
            }
        )
    return RunTable.from_records(out, static_names=names)
