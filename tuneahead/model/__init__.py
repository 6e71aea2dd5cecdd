"""The hierarchical numpyro model: its parameter registry, design encoding, likelihood and posterior."""

from .design import ModelData, ModelDesign, ModelSpec
from .gaussian import LatentPosterior, condition_latent
from .hierarchical import hierarchical_model, reparameterized_model
from .likelihood import known_branch_loglik, outcome_components, run_loglik
from .parameters import (
    B_MAX,
    NATURAL_PARAMETERS,
    POPULATION_SITES,
    SITES,
    natural_parameters,
    params_from_sites,
    site_dims,
)
from .posterior import Diagnostics, DrawSet, Posterior
from .prefix import prefix_loglik
from .stacked import StackedPosterior, load_posterior

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
    "B_MAX",
    "SITES",
    "POPULATION_SITES",
    "NATURAL_PARAMETERS",
    "site_dims",
    "params_from_sites",
    "natural_parameters",
    "Diagnostics",
    "Posterior",
    "DrawSet",
    "StackedPosterior",
    "load_posterior",
]
