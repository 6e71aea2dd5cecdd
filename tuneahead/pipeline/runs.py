"""The pipeline's shared steps: load the configured runs, hold some out, fit the model."""

from __future__ import annotations

import logging
import time

from hydra.utils import instantiate
from omegaconf import DictConfig

from ..data.errors import RunTableError
from ..data.runtable import RunTable, as_runtable
from ..data.splits import Split
from ..inference import fit
from ..model.posterior import Posterior
from .settings import JobSettings

__all__ = ["load_runs", "scored_partition", "fit_posterior"]

log = logging.getLogger("tuneahead.pipeline")


def load_runs(data: DictConfig) -> tuple[object, RunTable]:
    """The configured source (``data._target_``) and its RunTable; a source that carries its own
    truth (a sampled or simulated population) is returned whole beside its table."""
    origin = data.get("_target_")
    log.info("loading runs from %s", origin)
    source = instantiate(data, _convert_="all")
    return source, as_runtable(source, origin)


def scored_partition(table: RunTable, split: Split) -> list[tuple[RunTable, RunTable]]:
    """The split's (train, test) pairs, each test side cut to the runs with a final score."""
    out = []
    for train, test in split.partition(table):
        if not test.has_final.any():
            raise RunTableError(f"{split.name}: a test side has no scored runs; hold out runs with a final score")
        out.append((train, test.select(test.has_final)))
    return out


def fit_posterior(train: RunTable, settings: JobSettings) -> tuple[Posterior, float]:
    """The posterior of the training runs and the seconds its fit took."""
    t0 = time.perf_counter()
    posterior = fit(train, settings.spec, settings.inference)
    return posterior, time.perf_counter() - t0
