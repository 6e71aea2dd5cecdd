"""The run store: atomic append-only records, stable keys, and its reading as a RunTable."""

import numpy as np
import pytest

from tuneahead.data.runstore import RunStore, load_runstore, run_key
from tuneahead.data.runtable import RunTableError


def _record(key, group="m/arith", lr=1e-3, final=50.0, diverged=False, flat=0.1):
    losses = [[1, 2.0], [2, 1.5], [3, None if diverged else 1.2]]
    return {
        "key": key,
        "run_id": f"run-{key}",
        "group": group,
        "budget": 3,
        "static": {
            "config": {"log10_learning_rate": float(np.log10(lr)), "log2_batch_size": 2.0},
            "dataset": {"size": 64.0},
            "probe": {"flatness": None if diverged else flat, "initial_loss": 2.0},
        },
        "curves": {"train_loss": losses, "eval_loss": [[3, 1.1]]},
        "final": 0.0 if diverged else final,
        "diverged": diverged,
    }


def test_run_key_is_stable_and_order_free():
    a = run_key({"name": "x", "size": 3}, {"lr": 1e-3, "rank": 4})
    assert a == run_key({"size": 3, "name": "x"}, {"rank": 4, "lr": 1e-3})
    assert a != run_key({"name": "x", "size": 3}, {"lr": 1e-3, "rank": 8})
    assert len(a) == 16 and int(a, 16) >= 0


def test_store_is_append_only_and_ignores_temporaries(tmp_path):
    store = RunStore(tmp_path)
    store.write(_record("k1"))
    assert store.has("k1") and store.keys() == {"k1"}
    with pytest.raises(RunTableError, match="'k1' is already recorded"):
        store.write(_record("k1"))
    # a write killed before os.replace leaves only a hidden temporary, which no reader sees
    (store.runs / ".k2.json.abc.tmp").write_text('{"key": "k2", "run_')
    assert store.keys() == {"k1"} and len(store.records()) == 1


def test_events_survive_a_torn_last_line(tmp_path):
    store = RunStore(tmp_path)
    store.log("start", "k1")
    store.log("finish", "k1")
    with open(tmp_path / "events.jsonl", "a") as fh:
        fh.write('{"event": "sta')
    assert [e["event"] for e in store.events()] == ["start", "finish"]


def test_load_runstore_as_runtable(tmp_path):
    store = RunStore(tmp_path)
    store.write(_record("a", lr=1e-3, final=40.0))
    store.write(_record("b", lr=1e-2, final=60.0, flat=0.3))
    store.write(_record("c", lr=1e-1, diverged=True))
    t = load_runstore(tmp_path)
    # log2_batch_size and size are constant over the store and dropped; probe features are not asked for
    assert t.static_names == ("log10_learning_rate",)
    assert list(t.run_id) == ["run-a", "run-b", "run-c"]
    assert np.allclose(t.static[:, 0], [-3, -2, -1])
    assert list(t.final) == [40.0, 60.0, 0.0] and list(t.diverged) == [0.0, 0.0, 1.0]
    s, v = t.curve("train_loss").points(2)
    assert list(s) == [1, 2, 3] and np.isnan(v[2])
    full = load_runstore(tmp_path, features=["config", "flatness"], drop_constant=False)
    assert full.static_names == ("log10_learning_rate", "log2_batch_size", "flatness")
    # the diverged run's missing flatness is the median of the finite ones
    assert np.allclose(full.static[:, 2], [0.1, 0.3, 0.2])


def test_load_runstore_errors(tmp_path):
    with pytest.raises(RunTableError, match="not a run store"):
        load_runstore(tmp_path / "none")
    RunStore(tmp_path).write(_record("a"))
    with pytest.raises(RunTableError, match="unknown static feature 'colour'"):
        load_runstore(tmp_path, features=["colour"])
    (tmp_path / "runs" / "bad.json").write_text("{")
    with pytest.raises(RunTableError, match="bad.json is not valid JSON"):
        load_runstore(tmp_path)


def test_runstore_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, tuneahead.data.runstore; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
