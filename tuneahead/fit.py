"""``python -m tuneahead.fit +experiment=NAME``: fit, predict held-out runs, split the risk.

The job itself is :func:`tuneahead.pipeline.run_fit`; its outputs are listed there. A multirun
over ``probe.budget=a,b,c`` (``-m``) writes one output folder per budget.
"""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .inference import use_host_devices
from .pipeline import run_fit

__all__ = ["main"]


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: one CPU device per chain, then the fit job into the run folder."""
    use_host_devices(cfg.inference.get("num_chains", 1))
    run_fit(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
