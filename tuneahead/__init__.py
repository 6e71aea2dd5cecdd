"""tuneahead: predict how a fine-tuning run will end before paying for it, and how far to trust it.

The public API is the list below. Nothing here imports torch: the probe runner lives in
``tuneahead.probe`` and is imported only by those who run probes.
"""

from .data import (
    Curve,
    Population,
    PopulationDesign,
    PopulationParams,
    RunTable,
    RunTableError,
    load_opda,
    read_runtable,
    sample_population,
    write_runtable,
)
from .metrics import heldout_metrics
from .model import InferenceConfig, ModelSpec, Posterior, fit
from .predict import Prediction, PredictiveComponents, predict, predictive_components
from .risk import (
    REGIMES,
    PowerLaw,
    RegimeCall,
    RiskCurve,
    call_regime,
    classify_regime,
    fit_power_law,
    optimal_budget,
    posterior_risk,
)
from .truth import true_components, true_risk

__version__ = "0.1.0"

__all__ = [
    "Curve",
    "RunTable",
    "RunTableError",
    "read_runtable",
    "write_runtable",
    "load_opda",
    "Population",
    "PopulationDesign",
    "PopulationParams",
    "sample_population",
    "ModelSpec",
    "InferenceConfig",
    "fit",
    "Posterior",
    "Prediction",
    "PredictiveComponents",
    "predict",
    "predictive_components",
    "RiskCurve",
    "PowerLaw",
    "RegimeCall",
    "REGIMES",
    "posterior_risk",
    "fit_power_law",
    "optimal_budget",
    "classify_regime",
    "call_regime",
    "true_components",
    "true_risk",
    "heldout_metrics",
]
