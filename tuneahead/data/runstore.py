"""The probe runner's run store: a folder of run records that many processes fill at once.

It is read as a RunTable by :func:`tuneahead.data.runstore_table.load_runstore`.

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
line torn by a kill is skipped, and a kill between a run's record and its "finish" line leaves the
run done without the line (the record, not the log, says what is done).

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..artifacts import _plain, atomic_path
from .storefiles import HOST, orphaned, publish_json, read_json_object

__all__ = ["RunStore", "RunClaim", "RunStoreWarning", "run_key", "FEATURE_SETS"]

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

    def export(self, path: str | os.PathLike) -> Path:
        """Write every done run's record as one compact JSON line, in key order, to ``path`` (atomically).

        The file is the store's release form; :func:`~tuneahead.data.runstore_table.load_runstore`
        reads it as it reads the folder.
        """
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for rec in self.records():
                fh.write(json.dumps(_plain(rec), separators=(",", ":"), allow_nan=False) + "\n")
        return Path(path)

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
