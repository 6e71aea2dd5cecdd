"""A sweep's shards as Ray tasks, one store: ``python -m tuneahead.probe.ray_jobs``.

::

    python -m tuneahead.probe.ray_jobs +sweep=NAME shards=8 [--address auto] [--gpus 1] [--cpus 1]

The arguments other than the ``--`` options are the overrides of ``python -m tuneahead.probe``
(``conf/sweep.yaml``). The sweep is composed once on the driver (``shards`` checked as the Hydra
app checks it) and the store path made absolute (workers need not share the driver's working
directory; on a cluster the store must be on a file system every node mounts). Shard ``i`` runs
as one Ray task with ``shard=i``, asking for ``--cpus`` CPUs and ``--gpus`` GPUs; the task calls
the same job as the Hydra app
(:func:`tuneahead.probe.__main__.run_probe_sweep`). ``--address`` joins a running cluster
(``auto``: the one ``ray start`` set up on this node); without it Ray starts a local one.

The run store's claims make the shards safe together and beside any other sweep on the store, so
a shard that fails or a driver that is killed loses no finished run: run the same command again
and only the missing runs are done. A progress bar counts finished shards; a shard's error is
logged with its index, and the command exits 1 if any shard failed.

Ray, not ``hydra-ray-launcher``: that plugin (1.2.2) pins ``cloudpickle<3``, which the joblib
launcher's joblib refuses, so the two launchers cannot share an environment.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict
from tqdm.auto import tqdm

from .sweep import check_shard

__all__ = ["shard_configs", "run_on_ray"]

log = logging.getLogger("tuneahead.probe")
CONF = Path(__file__).resolve().parents[2] / "conf"


def shard_configs(overrides: list[str]) -> list[dict]:
    """The resolved config of every shard of the sweep that ``overrides`` describe."""
    if any(o.split("=")[0].lstrip("+~") == "shard" for o in overrides):
        raise ValueError("give shards=N only: each Ray task is one shard, shard=0..N-1")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3", job_name="probe"):
        cfg = compose("sweep", overrides, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)  # resolves ${hydra:job.name} in the store's default
        _, shards = check_shard(0, cfg.shards)
        with open_dict(cfg):
            del cfg["hydra"]
        base = OmegaConf.to_container(cfg, resolve=True)
    base["store"] = str(Path(base["store"]).resolve())
    return [{**base, "shard": index} for index in range(shards)]


def _run_shard(container: dict) -> dict:
    from .__main__ import run_probe_sweep

    return run_probe_sweep(OmegaConf.create(container))


def run_on_ray(overrides: list[str], address: str | None = None, cpus: float = 1, gpus: float = 0) -> list:
    """Run every shard as a Ray task; the per-shard counts, or the exception of a failed shard."""
    import ray

    configs = shard_configs(overrides)
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(_run_shard)
    pending = {task.remote(c): i for i, c in enumerate(configs)}
    results: list = [None] * len(configs)
    with tqdm(total=len(configs), desc="shards", unit="shard") as bar:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(done[0])
            try:
                results[index] = ray.get(done[0])
            except Exception as error:  # noqa: BLE001 - a failed shard is reported, the others go on
                log.error("shard %d of %d failed: %s", index, len(configs), error)
                results[index] = error
            bar.update()
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuneahead.probe.ray_jobs", description=__doc__.split("\n")[0])
    parser.add_argument("--address", default=None, help="a running Ray cluster (auto: this node's); none: a local one")
    parser.add_argument("--cpus", type=float, default=1.0, help="CPUs per shard task")
    parser.add_argument("--gpus", type=float, default=0.0, help="GPUs per shard task")
    args, overrides = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    results = run_on_ray(overrides, args.address, args.cpus, args.gpus)
    failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    executed = sum(r["executed"] for r in results if isinstance(r, dict))
    log.info("%d shards: %d runs executed, %d shards failed %s", len(results), executed, len(failed), failed or "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
