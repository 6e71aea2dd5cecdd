"""SHAP explanations of ours and of the TuneAhead baseline on the first held-out candidates (:mod:`tuneahead.explain`).

Ours is explained by permutation SHAP of its predictive mean, the TuneAhead LightGBM by its
TreeExplainer, both on the first ``explain.candidates`` runs of the first split's first fold,
probed to ``explain.budget``. The attributions are computed and written (``explanations.csv``)
apart from their figures (``shap_ours.png``, ``shap_tuneahead.png``), so the numbers can be saved
before the figures are drawn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import atomic_path
from ..data.runtable import RunTable
from ..explain import Attribution, explain_gradient_boosted, explain_posterior_mean, plot_summary
from ..model.posterior import Posterior

__all__ = ["ExplainInputs", "explain_methods", "explanation_summary", "write_explanations", "plot_explanations"]

log = logging.getLogger("tuneahead.evaluate")

# method -> the title of its summary figure, given the probe budget
_TITLES = {
    "ours": "ours: predictive mean, probe {budget:g} steps",
    "tuneahead": "TuneAhead LightGBM, probe {budget:g} steps",
}


@dataclass
class ExplainInputs:
    """What the explanations read: ours fitted on ``train``, its ``test`` runs, and the fitted TuneAhead baseline."""

    posterior: Posterior
    train: RunTable
    test: RunTable
    tuneahead: object | None = None


def explain_methods(inputs: ExplainInputs, ex: dict, budget: float, seed: int) -> dict[str, Attribution]:
    """The attributions of ours and, when fitted, of the TuneAhead baseline, by method."""
    test = inputs.test
    candidates = test.select(np.arange(min(int(ex["candidates"]), len(test))))
    log.info(
        "explaining %d candidates at budget %g (ours: permutation SHAP; TuneAhead: TreeExplainer)",
        len(candidates),
        budget,
    )
    out = {
        "ours": explain_posterior_mean(
            inputs.posterior,
            candidates,
            inputs.train,
            budget,
            max_draws=int(ex["max_draws"]),
            background_size=int(ex["background"]),
            permutations=int(ex["permutations"]),
            seed=seed,
        )
    }
    if inputs.tuneahead is not None:
        out["tuneahead"] = explain_gradient_boosted(inputs.tuneahead, candidates)
    return out


def explanation_summary(attributions: dict[str, Attribution]) -> dict:
    """Per method: the features' mean absolute attribution and the largest additivity error."""
    return {
        method: {
            "importance": a.importance().to_dict(),
            "max_additivity_error": float(np.max(np.abs(a.values.sum(1) + a.base_value - a.prediction))),
        }
        for method, a in attributions.items()
    }


def write_explanations(out_dir: Path, attributions: dict[str, Attribution]) -> None:
    """``explanations.csv``: every attribution, with its method."""
    frames = [a.to_frame().assign(method=method) for method, a in attributions.items()]
    with atomic_path(out_dir / "explanations.csv") as tmp:
        pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)


def plot_explanations(out_dir: Path, attributions: dict[str, Attribution], budget: float) -> None:
    """``shap_<method>.png``: each method's SHAP summary; one that fails is logged and skipped, since
    the numbers are written already."""
    for method, a in attributions.items():
        try:
            plot_summary(a, out_dir / f"shap_{method}.png", title=_TITLES[method].format(budget=budget))
        except Exception:  # a figure never costs the evaluation: its numbers are on disk
            log.exception("the SHAP figure of %s could not be drawn; the numbers are in %s", method, out_dir)
