"""The hierarchical numpyro model, its design encoding, inference and posterior."""

from .design import ModelData, ModelDesign, ModelSpec
from .gaussian import LatentPosterior, condition_latent
from .hierarchical import (
    hierarchical_model,
    outcome_components,
    reparameterized_model,
    run_loglik,
)
from .inference import InferenceConfig, fit
from .posterior import Diagnostics, Posterior

__all__ = [
    "ModelSpec",
    "ModelDesign",
    "ModelData",
    "LatentPosterior",
    "condition_latent",
    "hierarchical_model",
    "reparameterized_model",
    "outcome_components",
    "run_loglik",
    "InferenceConfig",
    "fit",
    "Diagnostics",
    "Posterior",
]
