"""The real sweeps the pruner and scheduler replays run on: DeBERTa-base (MultiNLI) and AlexNet (ImageNet).

Both come from opda (Lourie, Cho and He, 2023) and are read in place from ``../shared/data`` (or
``$TUNEAHEAD_SHARED_DATA``). Each replay fits the same recipe to either set: the DeBERTa
experiment's quadratic static basis with shape and divergence features, 16 points of the score's
curve; it was not tuned on AlexNet. On AlexNet a top-1 point at or below 1 point (the loader's
``diverged_below``) is censored at chance (``ModelSpec.chance_floor``).

Compute is charged up to where a run really ended: an AlexNet run whose training loss became NaN
stopped in the epoch after its last point, whatever its planned budget, so no pruner or scheduler
pays for epochs it never ran (:meth:`ReplaySet.stopped`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuneahead.data.opda import load_opda
from tuneahead.data.opda_alexnet import load_opda_alexnet
from tuneahead.data.runtable import RunTable
from tuneahead.model.design import ModelSpec

SHARED = Path(os.environ.get("TUNEAHEAD_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@dataclass(frozen=True)
class ReplaySet:
    """One real sweep: its name, the score's curve and how to read it."""

    name: str
    metric: str
    load: Callable[[], RunTable]
    breaks: bool  # a diverged run stops where it broke (NaN loss) instead of running to its budget
    chance_floor: float | None = None  # the score's value at or below which a point is at chance

    def spec(self) -> ModelSpec:
        return ModelSpec(
            metrics=(self.metric,),
            max_points=16,
            static_basis="quadratic",
            shape_features=True,
            divergence_features=True,
            chance_floor={} if self.chance_floor is None else {self.metric: self.chance_floor},
        )

    def stopped(self, table: RunTable) -> np.ndarray:
        """The step where each run really ended: its budget, or one epoch past its last point if it broke."""
        budget = np.asarray(table.budget, dtype=float)
        if not self.breaks:
            return budget
        steps = table.curve(self.metric).steps
        last = np.where(
            np.isfinite(steps).any(axis=1), np.nanmax(np.where(np.isfinite(steps), steps, -np.inf), axis=1), 0.0
        )
        return np.minimum(budget, last + 1.0)


SETS = {
    "deberta": ReplaySet(
        "deberta-base",
        "matched",
        lambda: load_opda(SHARED / "opda-deberta-base" / "deberta-base_tuning.results.jsonl"),
        breaks=False,
    ),
    "alexnet": ReplaySet(
        "alexnet",
        "top_1",
        lambda: load_opda_alexnet(SHARED / "opda-alexnet" / "alexnet_tuning.results.jsonl"),
        breaks=True,
        chance_floor=1.0,
    ),
}
