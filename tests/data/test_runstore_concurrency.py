"""Many writers on one run store: claims keep a run to one writer, kills leave no torn or lost runs.

The writers are subprocesses that run this file as a script and record fake runs through the store
API (no probes). A writer loads the store's modules without the package's ``__init__``, which
imports the whole model stack, so that it starts in a fraction of a second.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

if __name__ == "__main__":  # a writer process
    for _name in ("tuneahead", "tuneahead.data"):
        _module = types.ModuleType(_name)
        _module.__path__ = [str(ROOT.joinpath(*_name.split(".")))]
        sys.modules[_name] = _module

from tuneahead.data.runstore import RunStore  # noqa: E402
from tuneahead.data.runstore_table import load_runstore  # noqa: E402
from tuneahead.data.storefiles import HOST  # noqa: E402

KEYS = [f"{i:016x}" for i in range(24)]


def fake_record(key: str, points: int) -> dict:
    """A run whose every value follows from its key, so that a reader can tell a whole record."""
    seed = int(key, 16) + 1
    losses = [[s, 2.0 / (1.0 + 0.01 * s * seed)] for s in range(1, points + 1)]
    return {
        "key": key,
        "run_id": f"run-{key}",
        "group": "m/fake",
        "budget": points,
        "static": {"config": {"seed": float(seed)}},
        "curves": {"train_loss": losses},
        "final": float(seed),
        "diverged": False,
    }


def writer(store_dir: str, keys: list[str], points: int, delay: float, gate: str) -> None:
    """Claim and record each of ``keys`` that no other writer has; print the keys this one recorded."""
    store = RunStore(store_dir)
    Path(f"{gate}.{os.getpid()}.ready").touch()
    while not os.path.exists(gate):
        time.sleep(0.001)
    mine = []
    for key in keys:
        claim = store.claim(key)
        if claim is None:
            continue
        with claim:
            store.log("start", key)
            time.sleep(delay)
            if store.write(fake_record(key, points)):
                mine.append(key)
            store.log("finish", key)
    print(json.dumps(mine), flush=True)


def _spawn(store_dir, keys, points, delay, gate) -> subprocess.Popen:
    args = [store_dir, ",".join(keys), str(points), str(delay), str(gate)]
    return subprocess.Popen([sys.executable, __file__, *map(str, args)], stdout=subprocess.PIPE, text=True)


def _wait_ready(gate: Path, procs, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while any(not Path(f"{gate}.{p.pid}.ready").exists() for p in procs):
        assert time.time() < deadline, "a writer did not start"
        time.sleep(0.005)


def _check_whole(store: RunStore, points: int) -> None:
    """Every record is the whole record its key determines (none torn, none mixed up)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        records = store.records()
    assert [r["key"] for r in records] == sorted(store.keys())
    for rec in records:
        assert rec == fake_record(rec["key"], points)


def test_two_concurrent_writers_record_each_run_once(tmp_path):
    store_dir, gate = tmp_path / "store", tmp_path / "go"
    procs = [_spawn(store_dir, KEYS, 200, 0.01, gate) for _ in range(2)]
    _wait_ready(gate, procs)
    gate.touch()
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "no writer crashes on a run the other recorded"
    a, b = (set(json.loads(out)) for out, _ in outs)
    assert not a & b and a | b == set(KEYS), "each run is recorded by exactly one writer"
    store = RunStore(store_dir)
    _check_whole(store, 200)
    events = store.events()
    for kind in ("start", "finish"):
        assert sorted(e["key"] for e in events if e["event"] == kind) == KEYS, "each run is computed once"
    assert store.status()["counts"] == {"done": len(KEYS), "running": 0, "failed": 0, "stale": 0}
    assert len(load_runstore(store_dir)) == len(KEYS)


def test_writers_killed_at_random_points_leave_no_torn_or_lost_runs(tmp_path):
    store_dir, points, rng, keys = tmp_path / "store", 3000, random.Random(0), [f"{i:016x}" for i in range(40)]
    seen = RunStore(store_dir, clean=False)
    for round_ in range(5):
        gate = tmp_path / f"go{round_}"
        procs = [_spawn(store_dir, keys, points, 0.0, gate) for _ in range(2)]
        _wait_ready(gate, procs)
        target, deadline = len(seen.keys()) + rng.randint(0, 3), time.time() + 30
        gate.touch()
        while len(seen.keys()) < target and time.time() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 0.02))  # somewhere in a claim, a write or a release
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)
            p.communicate()
    done_before = seen.keys()
    assert len(done_before) < len(keys), "the kills must land before the end"
    store = RunStore(store_dir)  # opening cleans the dead writers' temporaries
    assert not list(store_dir.glob("*/.*.tmp"))
    assert not {p.stem for p in store.claims.iterdir()} & store.keys(), "a done run's claim files go too"
    _check_whole(store, points)
    assert store.status()["counts"]["running"] == 0
    resumed = _spawn(store_dir, keys, points, 0.0, tmp_path / "go")
    (tmp_path / "go").touch()
    out, _ = resumed.communicate(timeout=60)
    assert resumed.returncode == 0 and set(json.loads(out)) == set(keys) - done_before
    assert store.keys() == set(keys)
    _check_whole(store, points)
    finished = [e["key"] for e in store.events() if e["event"] == "finish"]
    assert len(finished) == len(set(finished)), "no run is recorded twice"
    assert store.status()["counts"] == {"done": len(keys), "running": 0, "failed": 0, "stale": 0}


def test_opening_a_store_cleans_orphaned_temporaries(tmp_path):
    store = RunStore(tmp_path)
    store.write(fake_record(KEYS[0], 3))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tmps = {
            "dead": store.runs / f".{KEYS[1]}.{HOST}.{dead.pid}.ab12.tmp",
            "live": store.runs / f".{KEYS[2]}.{HOST}.{live.pid}.ab12.tmp",
            "other_host": store.runs / f".{KEYS[3]}.elsewhere.example.{dead.pid}.ab12.tmp",
            "unnamed": store.runs / f".{KEYS[4]}.json.x7k2.tmp",
            "old": store.runs / f".{KEYS[5]}.json.q9z1.tmp",
            "dead_claim": store.claims / f".{KEYS[6]}.{HOST}.{dead.pid}.ab12.tmp",
        }
        store.claims.mkdir()
        for tmp in tmps.values():
            tmp.write_text('{"key": "torn", "cur')
        old = time.time() - 3600
        os.utime(tmps["old"], (old, old))
        assert store.keys() == {KEYS[0]} and len(store.records()) == 1, "readers ignore temporaries"
        RunStore(tmp_path)
        assert {name for name, t in tmps.items() if not t.exists()} == {"dead", "old", "dead_claim"}
    finally:
        live.kill()
        live.wait()


if __name__ == "__main__":
    _store, _keys, _points, _delay, _gate = sys.argv[1:6]
    writer(_store, _keys.split(","), int(_points), float(_delay), _gate)
