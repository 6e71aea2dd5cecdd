"""The hierarchical numpyro model, its design encoding, inference and posterior."""

from .design import ModelData, ModelDesign, ModelSpec
from .gaussian import LatentPosterior, condition_latent
from .hierarchical import (
    hierarchical_model,
    known_branch_loglik,
    outcome_components,
    reparameterized_model,
    run_loglik,
)
from .inference import InferenceConfig, fit, use_host_devices
from .posterior import Diagnostics, Posterior
from .prefix import prefix_loglik

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
    "known_branch_loglik",
    "prefix_loglik",
    "InferenceConfig",
    "fit",
    "use_host_devices",
    "Diagnostics",
    "Posterior",
]
