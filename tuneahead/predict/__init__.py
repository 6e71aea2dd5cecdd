"""Predictions for candidates: the predictive distribution of each final score
(:mod:`tuneahead.predict.predictive`), and ``python -m tuneahead.predict``, which writes them for the
candidates of a run file from a saved posterior (:mod:`tuneahead.predict.__main__`)."""

from .predictive import (
    Prediction,
    PredictiveComponents,
    components_from_draws,
    components_from_params,
    gate_prior_probability,
    predict,
    predictive_components,
    summarize,
)

__all__ = [
    "PredictiveComponents",
    "Prediction",
    "components_from_params",
    "components_from_draws",
    "gate_prior_probability",
    "predictive_components",
    "predict",
    "summarize",
]
