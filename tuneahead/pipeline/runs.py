"""The pipeline's shared steps: load the configured runs, hold some out, fit the model."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from ..artifacts import atomic_path
from ..data.errors import RunTableError
from ..data.runtable import RunTable, as_runtable
from ..data.splits import Split
from ..inference import fit
from ..model.posterior import Posterior
from ..model.stacked import StackedPosterior
from ..selection import choose_model
from .settings import JobSettings

__all__ = ["load_runs", "check_metrics", "scored_partition", "fit_posterior", "write_model_choice"]

log = logging.getLogger("tuneahead.pipeline")


def load_runs(data: DictConfig) -> tuple[object, RunTable]:
    """The configured source (``data._target_``) and its RunTable; a source that carries its own
    truth (a sampled or simulated population) is returned whole beside its table."""
    origin = data.get("_target_")
    log.info("loading runs from %s", origin)
    try:
        source = instantiate(data, _convert_="all")
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, RunTableError):  # the loader's own message, without Hydra's wrapping
            raise RunTableError(f"data ({origin}): {cause}; check data.path and the other data.* keys") from None
        raise
    return source, as_runtable(source, origin)


def check_metrics(table: RunTable, metrics, key: str) -> None:
    """Refuse a configured probe metric (config key ``key``) that the runs do not have."""
    missing = [m for m in metrics if m not in table.metrics]
    if missing:
        raise RunTableError(
            f"{key}: the runs have no metric {missing[0]!r}; they have {list(table.metrics)}; name some of those"
        )


def scored_partition(table: RunTable, split: Split) -> list[tuple[RunTable, RunTable]]:
    """The split's (train, test) pairs, each test side cut to the runs with a final score."""
    out = []
    for train, test in split.partition(table):
        if not test.has_final.any():
            raise RunTableError(f"{split.name}: a test side has no scored runs; hold out runs with a final score")
        out.append((train, test.select(test.has_final)))
    return out


def fit_posterior(
    train: RunTable, settings: JobSettings, split: Split | None = None
) -> tuple[Posterior | StackedPosterior, float]:
    """The posterior of the training runs and the seconds its fit took.

    With ``model=auto`` every variant is fitted to the training runs and the one chosen on them
    (:func:`tuneahead.selection.choose_model`) is returned, or with ``model.auto.combine=stack``
    the variants' stacked mixture; its diagnostics carry the comparison table as
    ``extra["model_choice"]`` and each training run's terms as ``extra["model_choice_pointwise"]``,
    so both travel with the saved posterior. ``split`` is the split whose test runs it will
    predict; the choice's folds mirror it.
    """
    t0 = time.perf_counter()
    if settings.choice is None:
        posterior = fit(train, settings.spec, settings.inference)
    else:
        choice = choose_model(train, settings.spec, settings.inference, settings.choice, settings.probe_budget, split)
        tables = {
            "model_choice": choice.table.to_dict(orient="records"),
            "model_choice_pointwise": choice.pointwise.to_dict(orient="list"),
        }
        if settings.choice.combine == "stack":
            posterior = choice.stacked(tables)
            log.info(
                "model choice: the variants stacked, weights %s", {n: round(w, 3) for n, w in posterior.weights.items()}
            )
        else:
            posterior = choice.posterior
            posterior.diagnostics = replace(posterior.diagnostics, extra={**posterior.diagnostics.extra, **tables})
            log.info("model choice: %r (%s)", choice.chosen, choice.table.loc[choice.table.chosen, "changes"].iloc[0])
    return posterior, time.perf_counter() - t0


def write_model_choice(posterior: Posterior | StackedPosterior, path: Path) -> Path | None:
    """The model choice's comparison table as CSV, if the posterior was chosen (``model=auto``), and
    beside it (``<name>_pointwise.csv``) each training run's elpd term under every variant."""
    rows = posterior.diagnostics.extra.get("model_choice")
    if not rows:
        return None
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    terms = posterior.diagnostics.extra.get("model_choice_pointwise")
    if terms:
        with atomic_path(path.with_name(f"{path.stem}_pointwise.csv")) as tmp:
            pd.DataFrame(terms).to_csv(tmp, index=False)
    return path
