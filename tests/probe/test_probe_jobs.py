"""A sweep as many jobs on one store: Hydra multiruns on the joblib and submitit launchers, two
sweeps at once, a SIGKILL, and the store's status command."""

import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
pytest.importorskip("hydra_plugins.hydra_submitit_launcher")

from tuneahead.data.runstore import RunStore  # noqa: E402
from tuneahead.data.runstore_table import load_runstore  # noqa: E402
from tuneahead.probe.__main__ import status_main, store_status  # noqa: E402
from tuneahead.probe.sweep import check_shard  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _multirun(store: Path, hydra_dir: Path, launcher: str, *extra: str) -> list[str]:
    """The tiny sweep (2 datasets x 2 learning rates) as two shard jobs on ``launcher``."""
    return [
        sys.executable,
        "-m",
        "tuneahead.probe",
        "-m",
        "+sweep=tiny",
        f"store={store}",
        "progress=false",
        "train.steps=120",
        "probe_run.eval_every=60",
        "shard=0,1",
        "shards=2",
        f"hydra/launcher={launcher}",
        f"hydra.sweep.dir={hydra_dir}",
        *extra,
    ]


@pytest.mark.slow
def test_concurrent_multiruns_and_a_kill_leave_each_run_done_once(tmp_path):
    store_dir = tmp_path / "store"
    store, rng = RunStore(store_dir, clean=False), random.Random(0)
    joblib = ["hydra.launcher.n_jobs=1"]  # its shards one after the other in the sweep's own process
    procs = [
        subprocess.Popen(
            _multirun(store_dir, tmp_path / f"h{i}", "joblib", *joblib),
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: the kill takes its joblib workers too
        )
        for i in range(2)
    ]
    deadline = time.time() + 240
    while not store.keys() and time.time() < deadline and procs[0].poll() is None:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.5))
    os.killpg(procs[0].pid, signal.SIGKILL)
    procs[0].wait()
    _, err = procs[1].communicate(timeout=300)
    assert procs[1].returncode == 0, err.decode()[-2000:]
    done_before = set(store.keys())
    assert done_before, "the sweeps must have recorded runs before the resume"

    # resume on the other launcher: submitit's local executor runs the shards as separate jobs
    subprocess.run(
        _multirun(store_dir, tmp_path / "h2", "submitit_local"), cwd=ROOT, env=ENV, check=True, capture_output=True
    )
    reopened = RunStore(store_dir)  # opening cleans the killed writers' temporaries
    assert len(reopened.keys()) == 4 and done_before <= reopened.keys()
    assert not list(store_dir.glob("*/.*.tmp"))
    assert reopened.status()["counts"] == {"done": 4, "running": 0, "failed": 0, "stale": 0}
    finished = [e["key"] for e in reopened.events() if e["event"] == "finish"]
    assert sorted(finished) == sorted(reopened.keys()), "every run is recorded exactly once"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torn or skipped record
        assert len(load_runstore(store_dir)) == 4
    assert "done 4  running 0  failed 0  stale 0" in store_status(str(store_dir))


def test_shards_cover_the_grid_once_and_bad_shards_are_named():
    assert check_shard(1, 3) == (1, 3)
    for index, count in [(2, 2), (-1, 2), (0, 0), ("0", 2)]:
        with pytest.raises(ValueError, match=r"shard=.*shards=.*shard=range\(N\)"):
            check_shard(index, count)


def test_status_names_running_failed_and_stale_runs(tmp_path, capsys):
    store = RunStore(tmp_path)
    record = {"key": "a" * 16, "run_id": "x/1", "group": "g", "budget": 10, "curves": {}, "final": 1.0}
    store.write({**record, "diverged": False})
    store.fail("b" * 16, OverflowError("value cannot be converted to type float without overflow"), run_id="x/2")
    claim = store.claim("c" * 16)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (store.claims / f"{'d' * 16}.json").write_text(json.dumps({"key": "d" * 16, "pid": dead.pid, "started": 0}))
    try:
        text = store_status(str(tmp_path))
    finally:
        claim.release()
    assert text.splitlines()[0] == "done 1  running 1  failed 1  stale 1"
    assert f"running  {'c' * 16}  pid {os.getpid()}" in text and f"stale    {'d' * 16}" in text
    assert f"failed   {'b' * 16}  x/2 after 1 attempt(s): OverflowError: value cannot be converted" in text
    assert status_main([str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["done"] == 1
    assert status_main([str(tmp_path / "nowhere")]) == 2
    assert "no such run store folder" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_tasks_fill_one_store_and_a_second_pass_does_nothing(tmp_path):
    pytest.importorskip("ray")
    argv = [
        "--cpus=1",
        "+sweep=tiny",
        f"store={tmp_path / 'store'}",
        "progress=false",
        "train.steps=120",
        "probe_run.eval_every=60",
        "shards=2",
    ]
    # both passes in one driver, as a user re-running in one session would: one Ray start, not two
    script = f"import sys; from tuneahead.probe.ray_jobs import main; a = {argv!r}; sys.exit(main(a) or main(a))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first = done.stderr.index("2 shards: 4 runs executed, 0 shards failed")
    assert "2 shards: 0 runs executed" in done.stderr[first:], done.stderr[-3000:]
    assert RunStore(tmp_path / "store").status()["counts"] == {"done": 4, "running": 0, "failed": 0, "stale": 0}


def test_ray_shards_are_composed_from_the_sweep_and_a_shard_override_is_refused(tmp_path):
    from tuneahead.probe.ray_jobs import shard_configs

    configs = shard_configs(["+sweep=tiny", "shards=3", "store=relative/store"])
    assert [c["shard"] for c in configs] == [0, 1, 2] and all(c["shards"] == 3 for c in configs)
    assert all(Path(c["store"]).is_absolute() and c["store"].endswith("relative/store") for c in configs)
    assert shard_configs(["+sweep=tiny"])[0]["store"].endswith("runs/tiny")
    with pytest.raises(ValueError, match="give shards=N only"):
        shard_configs(["+sweep=tiny", "shard=1"])
    with pytest.raises(ValueError, match="shards=0"):
        shard_configs(["+sweep=tiny", "shards=0"])
