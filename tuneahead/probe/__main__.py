"""``python -m tuneahead.probe +sweep=NAME``: run a sweep of LoRA probes (and full runs).

``python -m tuneahead.probe status STORE`` prints the store's done, running, failed and stale
runs (``--json`` for the raw record) and starts nothing. A multirun splits a sweep into jobs,
one per shard, on any Hydra launcher::

    python -m tuneahead.probe -m +sweep=NAME 'shard=range(4)' shards=4 hydra/launcher=joblib

The main config is ``conf/sweep.yaml``; the sweeps are the group ``conf/sweep/NAME.yaml``, each
holding only what it changes. ``base_model`` names the base LLM and ``probe_run`` the probe of
each candidate. The job loads the base model offline, then runs every (dataset variant, config)
pair that the run store at ``store`` does not hold yet, with a progress bar per run, on CUDA when
present and on the CPU otherwise. Unknown config keys are errors: the configs are struct, and the
train, probe run and dataset sections are checked against their dataclasses.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from ..data.runstore import RunStore
from .models import load_base_model
from .runner import ProbeConfig
from .sweep import build_config, check_shard, expand_grid, run_sweep

log = logging.getLogger("tuneahead.probe")
ENCODERS = ("minilm", "tiny", "none", None)


def resolve_device(name: str) -> str:
    """``auto`` picks CUDA when present, else the CPU."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def descriptor_encoder(name: str | None, base, device: str):
    """The sentence encoder of the static descriptors: ``minilm``, ``tiny`` (tests) or none."""
    if name == "minilm":
        from .embeddings import load_minilm

        return load_minilm(device)
    if name == "tiny":
        from .embeddings import tiny_encoder

        return tiny_encoder(base.tokenizer)
    if name not in ENCODERS:
        raise ValueError(f"descriptors.encoder={name!r}; use minilm, tiny or none")
    return None


def run_probe_sweep(cfg: DictConfig) -> dict:
    """Run the sweep described by ``cfg`` (the composed ``conf/sweep.yaml`` config)."""
    shard = check_shard(cfg.shard, cfg.shards)
    if cfg.descriptors.encoder not in ENCODERS:
        raise ValueError(f"descriptors.encoder={cfg.descriptors.encoder!r}; use minilm, tiny or none")
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    device = resolve_device(cfg.device)
    container = OmegaConf.to_container(cfg, resolve=True)
    probe = build_config(ProbeConfig, container["probe_run"], "probe_run")
    configs = expand_grid(container["train"], container["grid"] or {})
    datasets = container["datasets"]
    if not datasets:
        raise ValueError("the sweep names no dataset variants; add some under `datasets:`")
    base = load_base_model(cfg.base_model.name, **(container["base_model"].get("kwargs") or {}))
    base.model.to(device)
    encoder = descriptor_encoder(cfg.descriptors.encoder, base, device)
    store = RunStore(cfg.store)
    log.info(
        "sweep: %d datasets x %d configs (shard %d of %d) into %s on %s (%s)",
        len(datasets),
        len(configs),
        shard[0],
        shard[1],
        store.root,
        device,
        base.name,
    )

    def progress(desc, total):
        return tqdm(total=total, desc=desc, unit="step", leave=False, disable=not cfg.progress)

    counts = run_sweep(
        base,
        datasets,
        configs,
        probe,
        store,
        full=cfg.full_run,
        encoder=encoder,
        device=device,
        descriptor_examples=cfg.descriptors.max_examples,
        max_runs=cfg.max_runs,
        progress=progress,
        retry_failed=cfg.retry_failed,
        shard=shard,
    )
    log.info(
        "executed %d runs, %d failed (errors in %s), skipped %d (done, failed or claimed elsewhere); %d in this shard",
        counts["executed"],
        counts["failed"],
        store.failures,
        counts["skipped"],
        counts["total"],
    )
    return counts


def store_status(path: str) -> str:
    """The status of the run store at ``path`` as text: counts, then the running, stale and failed runs."""
    status, now = RunStore(path, clean=False).status(), time.time()
    lines = ["  ".join(f"{name} {n}" for name, n in status["counts"].items())]
    for state in ("running", "stale"):
        for c in status[state]:
            age = now - float(c.get("started", now))
            lines.append(f"{state:8s} {c['key']}  pid {c.get('pid')} on {c.get('host')}, claimed {age:.0f} s ago")
    for f in status["failed"]:
        error = str(f.get("error", "")).splitlines()[0][:160] if f.get("error") else ""
        lines.append(f"failed   {f['key']}  {f.get('run_id', '')} after {f.get('attempts')} attempt(s): {error}")
    return "\n".join(lines)


def status_main(argv: list[str]) -> int:
    """``status STORE [--json]``."""
    args = [a for a in argv if a != "--json"]
    if len(args) != 1:
        print("usage: python -m tuneahead.probe status STORE [--json]", file=sys.stderr)
        return 2
    if not Path(args[0]).is_dir():
        print(f"{args[0]}: no such run store folder; give the `store` of a sweep", file=sys.stderr)
        return 2
    if "--json" in argv:
        print(json.dumps(RunStore(args[0], clean=False).status(), indent=2, default=str))
    else:
        print(store_status(args[0]))
    return 0


@hydra.main(config_path="../../conf", config_name="sweep", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Hydra entry point."""
    run_probe_sweep(cfg)


if __name__ == "__main__":
    if sys.argv[1:2] == ["status"]:
        sys.exit(status_main(sys.argv[2:]))
    main()
