"""``python -m tuneahead.predict posterior=PATH data.path=CANDIDATES``: predictions for new
candidates from a saved posterior, with no refit.

The job itself is :func:`tuneahead.pipeline.predict_job.run_predict`; its outputs are listed there.
"""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..pipeline.predict_job import run_predict

__all__ = ["main"]


@hydra.main(config_path="../../conf", config_name="predict", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: the predict job into the run folder."""
    run_predict(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
