"""``python -m tuneahead.evaluate +experiment=NAME``: tuneahead beside its peers on the same runs.

The job itself is :func:`tuneahead.pipeline.run_evaluation`; its outputs are listed there, and its
steps (methods, scoring, calibration, screening, report, explanations) are :mod:`tuneahead.evaluation`'s.
"""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .inference import use_host_devices
from .pipeline import run_evaluation

__all__ = ["main"]


@hydra.main(config_path="../conf", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: one CPU device per chain, then the evaluate job into the run folder."""
    use_host_devices(cfg.inference.get("num_chains", 1))
    run_evaluation(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
