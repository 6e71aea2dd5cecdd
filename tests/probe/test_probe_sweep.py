"""Sweeps into the run store on the tiny model: a probe writes a run, divergence is data, kill and resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tuneahead.data.runstore import RunStore  # noqa: E402
from tuneahead.data.runstore_table import load_runstore  # noqa: E402
from tuneahead.probe.features import PROBE_FEATURES  # noqa: E402
from tuneahead.probe.runner import ProbeConfig, TrainConfig  # noqa: E402
from tuneahead.probe.sweep import expand_grid, run_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARITH = {"source": "procedural", "task": "arithmetic", "size": 32, "heldout": 8}


@pytest.fixture(scope="module")
def tiny_base():
    from tuneahead.probe.models import tiny_causal_lm

    torch.set_num_threads(1)
    return tiny_causal_lm("llama")


def test_a_few_step_probe_writes_a_run(tmp_path, tiny_base):
    store = RunStore(tmp_path)
    probe = ProbeConfig(steps=4, eval_every=2, eval_examples=8)
    counts = run_sweep(tiny_base, {"arith": ARITH}, [TrainConfig(steps=4)], probe, store, full=False)
    assert counts == {"executed": 1, "failed": 0, "skipped": 0, "total": 1}
    (rec,) = store.records()
    assert rec["budget"] == 4 and rec["final"] is None and rec["diverged"] is False
    assert set(rec["static"]["probe"]) == set(PROBE_FEATURES)
    assert [s for s, _ in rec["curves"]["train_loss"]] == [1, 2, 3, 4]
    assert [s for s, _ in rec["curves"]["eval_loss"]] == [2, 4]
    assert rec["static"]["dataset"]["size"] == 32
    again = run_sweep(tiny_base, {"arith": ARITH}, [TrainConfig(steps=4)], probe, store, full=False)
    assert again == {"executed": 0, "failed": 0, "skipped": 1, "total": 1}
    table = load_runstore(tmp_path, features=["config", "dataset", "probe"], drop_constant=False)
    assert len(table) == 1 and "flatness" in table.static_names and np.isnan(table.final[0])


def test_diverged_runs_are_recorded_and_the_sweep_goes_on(tmp_path, tiny_base):
    store = RunStore(tmp_path)
    # lr 1e5 drives the weights to non-finite values (a NaN gradient at step 6 on this seed);
    # the explode rule is checked on its own with a factor that a healthy run's first rise crosses.
    configs = expand_grid(
        {"steps": 8, "lora_targets": ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"]},
        {"learning_rate": [1e-3, 1e5]},
    )
    probe = ProbeConfig(steps=4, eval_every=4, eval_examples=8)
    counts = run_sweep(tiny_base, {"arith": ARITH}, configs, probe, store)
    assert counts["executed"] == 2
    recs = {r["config"]["learning_rate"]: r for r in store.records()}
    assert recs[1e-3]["diverged"] is False and recs[1e-3]["steps_done"] == 8
    bad = recs[1e5]
    assert bad["diverged"] is True and bad["final"] == 0.0 and bad["steps_done"] < 8
    table = load_runstore(tmp_path)
    assert list(table.diverged[np.argsort(table.static[:, 0])]) == [0.0, 1.0]

    # the explode rule on its own: a factor just under a healthy run's largest loss rise (the same
    # seed gives the same losses until the rule stops the run at that step)
    from tuneahead.probe.datasets import load_dataset
    from tuneahead.probe.runner import run_candidate

    cfg, data = TrainConfig(steps=8, learning_rate=1e-3), load_dataset("a", ARITH)
    healthy = [v for _, v in run_candidate(tiny_base, data, cfg, probe, full=False).curves["train_loss"]]
    rise = max(healthy[1:]) / healthy[0]
    explode = ProbeConfig(steps=4, eval_every=4, eval_examples=8, explode_factor=rise * (1 - 1e-6))
    run = run_candidate(tiny_base, data, cfg, explode, full=False)
    losses = [v for _, v in run.curves["train_loss"]]
    limit = explode.explode_factor * losses[0]
    assert run.diverged and len(losses) >= 2 and losses[-1] > limit and all(v <= limit for v in losses[:-1])


def test_a_run_that_raises_is_recorded_failed_and_the_sweep_goes_on(tmp_path, tiny_base):
    store = RunStore(tmp_path)
    # lr 1e39 overflows AdamW's float step at the first update: the run raises, it does not diverge
    configs = expand_grid({"steps": 2}, {"learning_rate": [1e39, 1e-3]})
    probe = ProbeConfig(steps=2, eval_every=2, eval_examples=8)
    counts = run_sweep(tiny_base, {"arith": ARITH}, configs, probe, store, full=False)
    assert counts == {"executed": 1, "failed": 1, "skipped": 0, "total": 2}
    (done,) = store.records()
    assert done["config"]["learning_rate"] == 1e-3
    st = store.status()
    assert st["counts"] == {"done": 1, "running": 0, "failed": 1, "stale": 0}
    (failure,) = st["failed"]
    assert "overflow" in failure["error"] and failure["attempts"] == 1 and failure["config"]["learning_rate"] == 1e39
    assert "Traceback" in failure["traceback"] and not store.has(failure["key"]), "a failed run is not done"
    assert [e["event"] for e in store.events()].count("fail") == 1
    again = run_sweep(tiny_base, {"arith": ARITH}, configs, probe, store, full=False)
    assert again == {"executed": 0, "failed": 0, "skipped": 2, "total": 2}, "failures are retried only on request"
    retry = run_sweep(tiny_base, {"arith": ARITH}, configs, probe, store, full=False, retry_failed=True)
    assert retry == {"executed": 0, "failed": 1, "skipped": 1, "total": 2}
    assert store.failed(failure["key"])["attempts"] == 2
    assert len(load_runstore(tmp_path)) == 1


def test_a_nan_after_the_last_update_flags_the_run_diverged(tmp_path, tiny_base, monkeypatch):
    steps = 4

    class NanAtLastUpdate(torch.optim.AdamW):
        updates = 0

        def step(self, closure=None):
            out = super().step(closure)
            self.updates += 1
            if self.updates == steps:
                with torch.no_grad():
                    self.param_groups[0]["params"][0].fill_(float("nan"))
            return out

    monkeypatch.setattr(torch.optim, "AdamW", NanAtLastUpdate)
    store = RunStore(tmp_path)
    probe = ProbeConfig(steps=2, eval_every=2, eval_examples=8)
    run_sweep(tiny_base, {"arith": ARITH}, [TrainConfig(steps=steps)], probe, store)
    (rec,) = store.records()
    assert rec["diverged"] is True and rec["steps_done"] == steps and rec["final"] == 0.0
    assert all(np.isfinite(v) for _, v in rec["curves"]["train_loss"]), "the losses before the update were fine"
    table = load_runstore(tmp_path)
    assert list(table.diverged) == [1.0]


def test_standard_probe_mode_uses_the_fixed_probe_config(tiny_base):
    from tuneahead.probe.datasets import load_dataset
    from tuneahead.probe.runner import run_candidate

    data = load_dataset("a", ARITH)
    probe = ProbeConfig(steps=3, mode="standard", eval_every=3, eval_examples=8, learning_rate=1e-3)
    a = run_candidate(tiny_base, data, TrainConfig(steps=5, learning_rate=1e-2), probe)
    b = run_candidate(tiny_base, data, TrainConfig(steps=5, learning_rate=3e-2), probe)
    # the same standardized probe for both candidates, different full runs
    assert a.probe == b.probe
    assert a.curves["train_loss"][-1] != b.curves["train_loss"][-1]


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "conf" / "sweep").glob("*.yaml")))
def test_every_sweep_preset_composes(compose_app, name):
    from omegaconf import OmegaConf

    from tuneahead.probe.sweep import build_config

    cfg = compose_app("sweep", [f"+sweep={name}"])
    c = OmegaConf.to_container(cfg, resolve=False)
    assert c["datasets"], "a sweep must name its dataset variants"
    assert expand_grid(c["train"], c["grid"])
    build_config(ProbeConfig, c["probe_run"], "probe_run")


def test_unknown_config_keys_are_errors(compose_app):
    from hydra.errors import ConfigCompositionException as HydraCompose

    with pytest.raises(HydraCompose):
        compose_app("sweep", ["+sweep=tiny", "train.learning_rat=0.1"])
    with pytest.raises(ValueError, match=r"train/grid: unknown key\(s\) \['learning_rat'\]"):
        expand_grid({"learning_rat": 0.1}, {})
    with pytest.raises(ValueError, match="grid.lora_rank must be a non-empty list"):
        expand_grid({}, {"lora_rank": 4})


def _sweep_cmd(store, hydra_dir):
    return [
        sys.executable,
        "-m",
        "tuneahead.probe",
        "+sweep=tiny",
        f"store={store}",
        "progress=false",
        "train.steps=120",
        "probe_run.eval_every=60",
        f"hydra.run.dir={hydra_dir}",
    ]


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_losing_or_repeating_runs(tmp_path):
    store_dir = tmp_path / "store"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        _sweep_cmd(store_dir, tmp_path / "h1"), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    store = RunStore(store_dir)
    deadline = time.time() + 240
    while len(store.keys()) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_at_kill = store.keys()
    assert 1 <= len(done_at_kill) < 4, "the kill must land part-way through the four runs"

    subprocess.run(
        _sweep_cmd(store_dir, tmp_path / "h2"),
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert len(store.keys()) == 4 and done_at_kill <= store.keys()
    events = store.events()
    finished = [e["key"] for e in events if e["event"] == "finish"]
    assert len(finished) == len(set(finished)) and set(finished) <= store.keys(), "no run finished twice"
    # the kill may fall between a record and its finish line: that run is done, its line is lost
    assert len(store.keys() - set(finished)) <= 1 and store.keys() - set(finished) <= done_at_kill
    assert len({e["pid"] for e in events}) == 2
    second = events[-1]["pid"]  # the resumed process wrote the last event
    executed_second = [e["key"] for e in events if e["event"] == "finish" and e["pid"] == second]
    assert sorted(executed_second) == sorted(store.keys() - done_at_kill)
    started_twice = [
        k for k in set(e["key"] for e in events) if sum(x["key"] == k and x["event"] == "start" for x in events) > 1
    ]
    assert len(started_twice) <= 1 and not set(started_twice) & done_at_kill, "only the run in flight is redone"
    for rec in store.records():
        assert json.loads(json.dumps(rec))["budget"] == 120


def test_the_fit_config_reads_a_probe_store(tmp_path, tiny_base, compose_app):
    """The fit app's smollm2 experiment, pointed at a tiny store, loads it and encodes it for the model.

    (Running the NUTS fit itself is the fit app's own test; here the store
    and the experiment's model and probe budget must fit it.)
    """
    from hydra.utils import instantiate

    from tuneahead.data.splits import Split
    from tuneahead.model.design import ModelDesign
    from tuneahead.pipeline import job_settings

    store = RunStore(tmp_path / "store")
    # classification, so that the tiny model's exact match differs between runs (0 or 62.5 here)
    cls = {"source": "procedural", "task": "classify", "size": 32, "heldout": 8}
    datasets = {"cls": cls, "cls_noisy": {**cls, "seed": 1, "label_noise": 0.2}}
    five = ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"]
    configs = expand_grid({"steps": 8, "lora_targets": five}, {"learning_rate": [1e-3, 3e-3, 1e-2, 3e-2]})
    run_sweep(tiny_base, datasets, configs, ProbeConfig(steps=4, eval_every=4, eval_examples=8), store)
    overrides = [
        "+experiment=smollm2",
        f"data.path={store.root}",
        "data.features=[log10_learning_rate,ref_perplexity_mean]",
    ]
    cfg = compose_app("config", overrides)
    table = instantiate(cfg.data, _convert_="all")
    assert len(table) == 8 and table.static_names == ("log10_learning_rate", "ref_perplexity_mean")
    assert len(set(table.final)) > 1 and set(table.metrics) == {"train_loss", "grad_norm", "eval_loss"}
    ((train, test),) = Split.from_config(cfg.split).partition(table)
    settings = job_settings(cfg)  # the experiment chooses its model on the training runs (model=auto)
    assert settings.choice is not None and "base" in settings.choice.variants
    design = ModelDesign.fit(train, settings.spec)
    data = design.encode(test.truncate(cfg.probe.budget))
    assert np.asarray(data.mask).sum() > 0, "the probe budget must leave curve points to condition on"
