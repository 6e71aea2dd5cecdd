"""A resumable sweep of (dataset variant, config) runs into a run store.

The grid is the product of the dataset variants and of every list in ``grid`` (for example
``learning_rate: [1e-4, 1e-3]``, ``lora_rank: [4, 16]``) laid over the base ``train`` config.
Runs go dataset by dataset; each dataset's static descriptors are computed once. A run whose
key (:func:`~tuneahead.data.runstore.run_key`) is in the store already is skipped, so a sweep
that was killed and started again executes only what is missing. Several sweeps may fill one
store at once: each run is computed under the store's claim on it, and a run that another
process has claimed or recorded is skipped (see :mod:`tuneahead.data.runstore`).

A sweep splits into jobs with shards: shard ``i`` of ``n`` runs every ``n``-th (dataset, config)
pair from the ``i``-th (:func:`run_sweep`), so a Hydra multirun over ``shard=0..n-1`` on any
launcher (joblib, submitit's Slurm or local executor, Ray) fills one store with the whole grid.

A run that raises (a learning rate too large for the optimizer's float arithmetic, say) is
recorded as failed with its error, and the sweep goes on. A failed run is not done: a later sweep
skips it unless asked to retry failures (``retry_failed``), and the store's status lists it.
"""

from __future__ import annotations

import itertools
import logging
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from ..data.runstore import RunStore, run_key
from .datasets import SPLITS_VERSION, InstructionDataset, load_dataset
from .descriptors import dataset_descriptors
from .runner import ProbeConfig, RunResult, TrainConfig, run_candidate

__all__ = [
    "expand_grid",
    "config_features",
    "run_sweep",
    "build_config",
    "DatasetVariant",
    "pending_runs",
    "run_record",
]

log = logging.getLogger("tuneahead.probe")


def build_config(cls, values: Mapping[str, Any], where: str):
    """``cls(**values)`` with an error naming the unknown keys and the known ones."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known keys are {sorted(known)}")
    return cls(**dict(values))


def expand_grid(train: Mapping[str, Any], grid: Mapping[str, list]) -> list[TrainConfig]:
    """Every combination of the ``grid`` lists over the base ``train`` values, in row-major order."""
    names = list(grid)
    for n in names:
        if not isinstance(grid[n], (list, tuple)) or not grid[n]:
            raise ValueError(f"sweep grid.{n} must be a non-empty list, got {grid[n]!r}")
    combos = itertools.product(*(grid[n] for n in names)) if names else [()]
    return [build_config(TrainConfig, {**dict(train), **dict(zip(names, c))}, "train/grid") for c in combos]


def config_features(cfg: TrainConfig) -> dict[str, float]:
    """The numeric static features of a config."""
    alpha = cfg.lora_alpha if cfg.lora_alpha is not None else 2 * cfg.lora_rank
    return {
        "log10_learning_rate": float(np.log10(cfg.learning_rate)),
        "log2_batch_size": float(np.log2(cfg.batch_size)),
        "log2_lora_rank": float(np.log2(cfg.lora_rank)),
        "lora_scale": float(alpha / cfg.lora_rank),
        "n_lora_targets": float(len(cfg.lora_targets)),
        "weight_decay": float(cfg.weight_decay),
        "warmup_fraction": float(cfg.warmup_steps / cfg.steps),
        "log2_steps": float(np.log2(cfg.steps)),
    }


@dataclass
class DatasetVariant:
    """One loaded dataset variant of a sweep: its name and spec, its splits and its static descriptors."""

    name: str
    spec: dict[str, Any]
    data: InstructionDataset
    descriptors: dict[str, float]


def pending_runs(
    store: RunStore,
    model_name: str,
    name: str,
    spec: Mapping[str, Any],
    configs: list[TrainConfig],
    probe_dict: dict,
    full: bool,
    retry_failed: bool = False,
) -> list[tuple[str, TrainConfig]]:
    """The (run key, config) pairs of dataset variant ``name`` that ``store`` does not hold yet.

    A run recorded as failed counts as held unless ``retry_failed``.
    """
    pending = []
    for cfg in configs:
        dataset = {"name": name, **spec, "model": model_name, "splits": SPLITS_VERSION}
        key = run_key(dataset, {**asdict(cfg), "probe": probe_dict, "full": full})
        if not store.has(key) and (retry_failed or store.failed(key) is None):
            pending.append((key, cfg))
    return pending


def load_variant(
    name: str, spec: dict[str, Any], base, encoder, descriptor_examples: int, max_length: int, device: str
) -> DatasetVariant:
    """Load dataset variant ``name`` and compute its static descriptors (once per sweep)."""
    data = load_dataset(name, spec)
    t0 = time.perf_counter()
    descriptors = dataset_descriptors(data.train, base, encoder, descriptor_examples, max_length, device)
    log.info(
        "dataset %s: %d train / %d validation / %d held-out, descriptors in %.1f s",
        name,
        len(data.train),
        len(data.validation),
        len(data.heldout),
        time.perf_counter() - t0,
    )
    return DatasetVariant(name, spec, data, descriptors)


def run_record(
    key: str,
    variant: DatasetVariant,
    cfg: TrainConfig,
    probe: ProbeConfig,
    budget: int,
    result: RunResult,
    model_name: str,
    device: str,
) -> dict[str, Any]:
    """The run store record of one finished run."""
    spec = variant.spec
    return {
        "key": key,
        "run_id": f"{variant.name}/{key[:8]}",
        "group": f"{model_name}/{spec.get('task', spec.get('source'))}",
        "dataset": {"name": variant.name, "spec": spec},
        "config": asdict(cfg),
        "probe_config": asdict(probe),
        "budget": budget,
        "static": {"config": config_features(cfg), "dataset": variant.descriptors, "probe": result.probe},
        "probes": {str(n): features for n, features in result.probes.items()},
        "curves": result.curves,
        "final": result.final,
        "diverged": result.diverged,
        "steps_done": result.steps_done,
        "timing": result.timing,
        "device": device,
        "model": model_name,
    }


def execute_run(
    base,
    variant: DatasetVariant,
    key: str,
    cfg: TrainConfig,
    probe: ProbeConfig,
    store: RunStore,
    full: bool,
    device: str,
    progress: Callable | None,
) -> str:
    """Claim, run and record one candidate (with a progress bar when ``progress`` is given).

    Returns ``"done"``, ``"failed"`` (the run raised; its error is recorded and the sweep goes on)
    or ``"skipped"`` (another process holds or recorded the run).
    """
    claim = store.claim(key)
    if claim is None:
        return "skipped"
    with claim:
        store.log("start", key)
        budget = cfg.steps if full else max([probe.steps, *probe.also_at])  # a probe-only run ends at its longest probe
        desc = f"{variant.name} lr={cfg.learning_rate:g} r={cfg.lora_rank} bs={cfg.batch_size}"
        bar = progress(desc, budget) if progress else None
        on_step = (lambda s: bar.update(1)) if bar else None
        try:
            result = run_candidate(base, variant.data, cfg, probe, full=full, device=device, on_step=on_step)
        except Exception as err:
            run_id = f"{variant.name}/{key[:8]}"
            store.fail(key, err, run_id=run_id, config=asdict(cfg), traceback=traceback.format_exc())
            store.log("fail", key, error=f"{type(err).__name__}: {err}")
            log.error("run %s failed: %s: %s", run_id, type(err).__name__, err)
            return "failed"
        finally:
            if bar:
                bar.close()
        store.write(run_record(key, variant, cfg, probe, budget, result, base.name, device))
        store.log("finish", key)
    log.info(
        "run %s %s: final %s, diverged %s, %.2f steps/s",
        variant.name,
        key[:8],
        result.final,
        result.diverged,
        result.timing["steps_per_second"],
    )
    return "done"


def check_shard(index, count) -> tuple[int, int]:
    """``(index, count)`` of a shard, checked: whole numbers with ``0 <= index < count``."""
    if not (isinstance(count, int) and isinstance(index, int) and 0 <= index < count):
        raise ValueError(
            f"shard={index!r}, shards={count!r}: the shard must be a whole number in [0, shards); "
            "run shards=N with shard=0..N-1, one job each (hydra: -m 'shard=range(N)' shards=N)"
        )
    return index, count


def run_sweep(
    base,
    datasets: Mapping[str, Mapping[str, Any]],
    configs: list[TrainConfig],
    probe: ProbeConfig,
    store: RunStore,
    full: bool = True,
    encoder=None,
    device: str = "cpu",
    descriptor_examples: int = 64,
    max_runs: int | None = None,
    progress: Callable | None = None,
    retry_failed: bool = False,
    shard: tuple[int, int] = (0, 1),
) -> dict[str, int]:
    """Run every missing (dataset, config) pair of the shard ``shard`` into ``store``.

    The pairs are numbered dataset by dataset, config by config; shard ``(i, n)`` holds the pairs
    whose number is ``i`` modulo ``n``, so ``n`` jobs with ``i = 0 .. n-1`` cover the grid once.
    Returns counts: ``executed`` (runs this sweep recorded as done), ``failed`` (runs it recorded
    as failed), ``skipped`` (runs done, failed before, or claimed by another process) and ``total``
    (pairs in the shard). ``max_runs`` caps the runs attempted (executed and failed);
    ``retry_failed`` runs failed runs again.
    """
    index, count = check_shard(*shard)
    counts = {"executed": 0, "failed": 0, "skipped": 0, "total": 0}
    probe_dict = asdict(probe)
    for d, (name, spec) in enumerate(datasets.items()):
        spec = dict(spec)
        mine = [cfg for c, cfg in enumerate(configs) if (d * len(configs) + c) % count == index]
        counts["total"] += len(mine)
        pending = pending_runs(store, base.name, name, spec, mine, probe_dict, full, retry_failed)
        counts["skipped"] += len(mine) - len(pending)
        if not pending:
            continue
        variant = load_variant(name, spec, base, encoder, descriptor_examples, configs[0].max_length, device)
        for key, cfg in pending:
            if max_runs is not None and counts["executed"] + counts["failed"] >= max_runs:
                return counts
            outcome = execute_run(base, variant, key, cfg, probe, store, full, device, progress)
            counts[{"done": "executed", "failed": "failed", "skipped": "skipped"}[outcome]] += 1
    return counts
