"""The run store: atomic append-only records, stable keys, claims and states, and its reading as a RunTable."""

import json
import warnings

import numpy as np
import pytest

from tuneahead.data.runstore import RunStore, RunStoreWarning, run_key
from tuneahead.data.runstore_table import load_runstore
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
    assert store.write(_record("k1"))
    assert store.has("k1") and store.keys() == {"k1"}
    # a second writer of a recorded run changes nothing and does not fail
    assert store.write(_record("k1", final=99.0)) is False
    assert store.records()[0]["final"] == 50.0
    # a write killed before its move leaves only a hidden temporary, which no reader sees
    (store.runs / ".k2.json.abc.tmp").write_text('{"key": "k2", "run_')
    assert store.keys() == {"k1"} and len(store.records()) == 1


def test_claims_fail_records_and_status(tmp_path):
    store, other = RunStore(tmp_path), RunStore(tmp_path)
    running = store.claim("k1")
    assert running is not None
    assert other.claim("k1", wait=0) is None, "a claim held by one writer keeps others out"
    # a claim file whose lock is free was left by a dead writer: stale, and the next writer takes it over
    store.claims.mkdir(exist_ok=True)
    (store.claims / "k2.json").write_text(json.dumps({"key": "k2", "pid": 1, "host": "h", "started": 0.0}))
    assert store.fail("k3", RuntimeError("boom"), run_id="run-k3")
    store.write(_record("k4"))
    st = other.status()
    assert st["counts"] == {"done": 1, "running": 1, "failed": 1, "stale": 1}
    assert st["done"] == ["k4"] and st["running"][0]["key"] == "k1" and st["stale"][0]["key"] == "k2"
    assert st["failed"][0]["error"] == "RuntimeError: boom" and st["failed"][0]["run_id"] == "run-k3"
    assert other.claim("k4") is None, "a done run is never claimed"
    with other.claim("k2") as retaken:
        assert retaken is not None and [r["key"] for r in other.status()["running"]] == ["k1", "k2"]
    # a failed run is retried only on request; its attempts add up, and a success clears the failure
    with store.claim("k3"):
        assert store.fail("k3", "ValueError: again")
        assert store.failed("k3")["attempts"] == 2
        assert store.write(_record("k3"))
    assert store.failed("k3") is None and store.fail("k3", "late") is False
    running.release()
    assert not (store.claims / "k3.lock").exists(), "a done run's lock file goes with its claim"
    assert other.status()["counts"] == {"done": 2, "running": 0, "failed": 0, "stale": 0}


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
    with pytest.raises(RunTableError, match="no usable finished runs"), pytest.warns(RunStoreWarning):
        (tmp_path / "runs" / "a.json").write_text("{")
        load_runstore(tmp_path)


def test_one_bad_record_never_refuses_the_store(tmp_path):
    store = RunStore(tmp_path)
    store.write(_record("a", lr=1e-3, final=40.0))
    store.write(_record("b", lr=1e-2, final=60.0))
    # written by an older runner: NaN after the last update, flagged healthy
    old = _record("c", lr=1e-1)
    old["curves"]["eval_loss"] = [[3, None]]
    store.write(old)
    (store.runs / "d.json").write_text('{"key": "d", "run_')  # unreadable
    missing = _record("e")
    del missing["budget"]
    store.write(missing)
    store.write({**_record("f"), "budget": -3})  # fails the RunTable's own checks
    with pytest.warns(RunStoreWarning) as caught:
        t = load_runstore(tmp_path)
    messages = "\n".join(str(w.message) for w in caught)
    assert "run 'run-c'" in messages and "read as diverged" in messages
    assert "runs/d.json" in messages and "runs/e.json skipped: field 'budget' is missing" in messages
    assert "runs/f.json skipped" in messages and "'budget'" in messages and "resume the sweep" in messages
    assert list(t.run_id) == ["run-a", "run-b", "run-c"] and list(t.diverged) == [0.0, 0.0, 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (store.runs / "d.json").unlink()
        for key in "cef":
            store.path(key).unlink()
        assert len(load_runstore(tmp_path)) == 2


def test_runstore_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, tuneahead.data.runstore; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_export_reads_back_as_the_store_does(tmp_path):
    store = RunStore(tmp_path / "store")
    for i, (lr, diverged) in enumerate([(1e-3, False), (1e-2, False), (1e-1, True)]):
        store.write(_record(f"k{i}", lr=lr, final=40.0 + i, diverged=diverged))
    out = store.export(tmp_path / "runs.jsonl")
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["key"] == f"k{i}" for i, line in enumerate(lines))
    assert "NaN" not in out.read_text() and ": " not in lines[0], "compact JSON, non-finite values as null"
    folder = load_runstore(tmp_path / "store", features=["config", "probe"])
    released = load_runstore(out, features=["config", "probe"])
    assert list(released.run_id) == list(folder.run_id) and released.static_names == folder.static_names
    assert np.array_equal(released.static, folder.static) and np.array_equal(released.final, folder.final)
    assert np.array_equal(released.diverged, folder.diverged)
    with open(out, "a") as fh:
        fh.write('{"key": "torn", "run_\n')
    with pytest.warns(RunStoreWarning, match="skipped line 4"):
        assert len(load_runstore(out)) == 3
    with pytest.raises(RunTableError, match="nor its .jsonl export"):
        load_runstore(tmp_path / "nowhere")


def test_a_group_size_no_group_reaches_is_named(tmp_path):
    store = RunStore(tmp_path)
    store.write(_record("k1"))
    store.write(_record("k2", group="m/other"))
    with pytest.raises(RunTableError, match=r"no group has min_group_size=3 runs \(the largest has 1\)"):
        load_runstore(tmp_path, min_group_size=3)
