"""The probe runner's run store: a folder of run records that many processes fill at once, read as a RunTable.

Layout of a store folder::

    runs/<key>.json      the record of a finished run ("done"); written once, never rewritten
    failed/<key>.json    the last error of a run whose attempt raised ("failed"), with its attempt count
    claims/<key>.lock    the run's lock: an OS file lock (flock) held by the process computing the run
    claims/<key>.json    the claim: who holds or last held the lock (pid, host, start time)
    events.jsonl         "start"/"finish"/"fail" lines, one per attempt, appended and fsynced

A run's ``key`` is a hash of its dataset variant and its config (:func:`run_key`).

Claims. A writer computes a run only while it holds the run's claim (:meth:`RunStore.claim`): it
takes the lock without blocking (waiting at most ``CLAIM_WAIT`` seconds), checks again that the run
is not recorded (another writer may have finished it meanwhile), writes its claim file, computes the
run, records it with :meth:`RunStore.write` or :meth:`RunStore.fail`, then releases: it deletes its
claim file (and a done run's lock file) and unlocks. A writer that cannot take a claim, or finds the
run recorded, skips the run. The OS unlocks the lock of a process that dies, so a claim file whose
lock is held is a *running* run and one whose lock is free was left by a dead writer (*stale*): the
next writer takes the lock over like any free one. A run's state is the first of: done (a record
in ``runs/``), running, failed (a record in ``failed/``), stale, else pending. A done run is never
recomputed; a failed one only when a sweep asks to retry failures (its record then gives way to the
new outcome).

Atomicity (:mod:`tuneahead.data.storefiles`). Every file is written to a hidden temporary
``.<key>.<host>.<pid>.<random>.tmp`` beside its target, fsynced, and moved into place in one step,
then the folder is fsynced: a done record with ``os.link`` (an existing record is never replaced,
so of two writers the first one wins), a failure or claim file with ``os.replace``. Readers list
only ``<key>.json`` names, so they see a whole record or none. A writer killed mid-write leaves its
temporary behind; opening a store deletes the temporaries whose writer (on this host) is dead or
that are older than ``storefiles.TMP_MAX_AGE`` seconds. ``events.jsonl`` is for accounting; a
line torn by a kill is skipped.

A record is a JSON object::

    {"key", "run_id", "group", "dataset": {name, spec}, "config": {...}, "budget": T,
     "static": {"config": {...}, "dataset": {...}, "probe": {...}},
     "curves": {"train_loss": [[step, value], ...], "grad_norm": [...], "eval_loss": [...]},
     "final": score in points, "diverged": bool, "timing": {...}, "device": "cpu"}

Non-finite values are written as ``null`` and read back as NaN. No torch here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from .runtable import RunTable, RunTableError
from .storefiles import HOST, orphaned, publish_json, read_json_object

__all__ = ["RunStore", "RunClaim", "RunStoreWarning", "run_key", "load_runstore", "FEATURE_SETS"]

FEATURE_SETS = ("config", "dataset", "probe")
CLAIM_WAIT = 0.2  # seconds a writer waits for a run's lock (a status probe holds it for microseconds)


class RunStoreWarning(UserWarning):
    """A record of a run store that is skipped or read with a correction."""


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_key(dataset: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """A 16-hex-digit key of a (dataset variant, config) pair: the SHA-256 of their canonical JSON."""
    return hashlib.sha256(_canonical({"dataset": dataset, "config": config}).encode()).hexdigest()[:16]


class RunClaim:
    """A held claim on one run (see the module doc); release it, or use it as a context manager."""

    def __init__(self, store: RunStore, key: str, lock: FileLock):
        self.store, self.key, self._lock = store, key, lock

    def release(self) -> None:
        """Delete the claim file (and a done run's lock file), then unlock; a second call does nothing."""
        if self._lock is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.store._claim_path(self.key).unlink()
        if self.store.has(self.key):  # a later taker of the lock sees the record and skips
            with contextlib.suppress(FileNotFoundError):
                self.store._lock_path(self.key).unlink()
        self._lock.release()
        self._lock = None

    def __enter__(self) -> RunClaim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class RunStore:
    """A run store in the folder ``root`` that many processes may write at once (see the module doc).

    Opening a store runs :meth:`clean` (``clean=False`` does not).
    """

    def __init__(self, root: str | os.PathLike, clean: bool = True):
        self.root = Path(root)
        self.runs = self.root / "runs"
        self.failures = self.root / "failed"
        self.claims = self.root / "claims"
        if clean:
            self.clean()

    def path(self, key: str) -> Path:
        """The record file of ``key``."""
        return self.runs / f"{key}.json"

    def _claim_path(self, key: str) -> Path:
        return self.claims / f"{key}.json"

    def _lock_path(self, key: str) -> Path:
        return self.claims / f"{key}.lock"

    def clean(self) -> list[Path]:
        """Delete the temporaries that no live writer owns, and the claim files of done runs; return them."""
        now, done = time.time(), self.keys()
        junk = [t for f in (self.runs, self.failures, self.claims) if f.is_dir() for t in f.glob(".*.tmp")]
        junk = [t for t in junk if orphaned(t, now)]
        if self.claims.is_dir():
            junk += [p for p in self.claims.glob("*.*") if p.suffix in (".json", ".lock") and p.stem in done]
        gone = []
        for path in junk:
            with contextlib.suppress(OSError):
                path.unlink()
                gone.append(path)
        return gone

    def has(self, key: str) -> bool:
        """Whether the run ``key`` is done."""
        return self.path(key).exists()

    @staticmethod
    def _keys(folder: Path) -> set[str]:
        return {p.stem for p in folder.glob("*.json") if not p.name.startswith(".")} if folder.is_dir() else set()

    def keys(self) -> set[str]:
        """Keys of every done run."""
        return self._keys(self.runs)

    def failed(self, key: str) -> dict | None:
        """The failure record of ``key`` (error, traceback, attempts), or None when it has none."""
        return read_json_object(self.failures / f"{key}.json")

    def claim(self, key: str, wait: float = CLAIM_WAIT) -> RunClaim | None:
        """Claim the run ``key`` for this process; None when it is done or another process holds it."""
        if self.has(key):
            return None
        self.claims.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self._lock_path(key)), timeout=wait)
        try:
            lock.acquire()
        except Timeout:
            return None
        if self.has(key):  # finished by the writer that held the lock before
            lock.release()
            return None
        info = {"key": key, "pid": os.getpid(), "host": HOST, "started": time.time()}
        publish_json(info, self._claim_path(key), replace=True)
        return RunClaim(self, key, lock)

    def write(self, record: Mapping[str, Any]) -> bool:
        """Record a done run atomically; False (and no change) when the run is recorded already.

        A failure record of the run is deleted once its done record is in place.
        """
        key = record["key"]
        if not publish_json(dict(record), self.path(key), replace=False):
            return False
        with contextlib.suppress(FileNotFoundError):
            (self.failures / f"{key}.json").unlink()
        return True

    def fail(self, key: str, error: BaseException | str, **extra: Any) -> bool:
        """Record that an attempt of run ``key`` raised ``error``; False when the run is done already.

        ``extra`` (such as ``run_id`` or ``traceback``) is kept in the record; ``attempts`` counts
        the failed attempts.
        """
        if self.has(key):
            return False
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        attempts = (self.failed(key) or {}).get("attempts", 0) + 1
        info = {**extra, "key": key, "error": message, "attempts": attempts}
        publish_json(
            {**info, "pid": os.getpid(), "host": HOST, "time": time.time()}, self.failures / f"{key}.json", True
        )
        return True

    def status(self) -> dict[str, Any]:
        """The store's runs by state: ``done`` keys; ``running``, ``failed`` and ``stale`` records; ``counts``."""
        done = sorted(self.keys())
        running, stale, taken = [], [], set(done)
        for key in sorted(self._keys(self.claims) - taken):
            info = read_json_object(self._claim_path(key))
            if info is None:  # released meanwhile
                continue
            lock = FileLock(str(self._lock_path(key)), timeout=0)
            try:
                lock.acquire()
            except Timeout:
                running.append(info)
                taken.add(key)
                continue
            lock.release()
            stale.append(info)
        failed = [r for k in sorted(self._keys(self.failures) - taken) if (r := self.failed(k)) is not None]
        stale = [s for s in stale if s["key"] not in {f["key"] for f in failed}]
        states = {"done": done, "running": running, "failed": failed, "stale": stale}
        return {**states, "counts": {name: len(v) for name, v in states.items()}}

    def log(self, event: str, key: str, **extra: Any) -> None:
        """Append one event line to ``events.jsonl`` in a single write and fsync it."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"event": event, "key": key, "pid": os.getpid(), **extra}) + "\n"
        fd = os.open(self.root / "events.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def events(self) -> list[dict]:
        """The event log; a torn line is skipped."""
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
        """Every done run's record, in key order; an unreadable record is skipped with a warning."""
        out = []
        for key in sorted(self.keys()):
            rec = read_json_object(self.path(key))
            if rec is None:
                warnings.warn(
                    f"run store {self.root}: skipped runs/{key}.json, which is not a JSON object; "
                    "delete it and resume the sweep to redo the run",
                    RunStoreWarning,
                    stacklevel=2,
                )
                continue
            out.append(rec)
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
    store = RunStore(path, clean=False)
    if not store.runs.exists():
        raise RunTableError(f"{path}: not a run store (no runs/ folder); run `python -m tuneahead.probe` to fill one")
    checked = _checked_rows(store.records(), path)
    if not checked:
        raise RunTableError(f"{path}: the run store holds no usable finished runs yet")
    counts: dict[str, int] = {}
    for _, row in checked:
        counts[row["group"]] = counts.get(row["group"], 0) + 1
    checked = [(r, row) for r, row in checked if counts[row["group"]] >= min_group_size]
    records = [r for r, _ in checked]
    if probe_at is not None:
        records = [_probed_at(r, probe_at, path) for r in records]
    pairs = _select_features(records, features)
    matrix = _imputed_static(records, pairs, path)
    keep = [j for j in range(len(pairs)) if not (drop_constant and np.ptp(matrix[:, j]) == 0)]
    names = [pairs[j][1] for j in keep]
    rows = [{**row, "static": dict(zip(names, matrix[i, keep]))} for i, (_, row) in enumerate(checked)]
    return RunTable.from_records(rows, static_names=names)
