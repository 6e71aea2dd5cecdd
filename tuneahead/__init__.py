"""tuneahead: predict how a fine-tuning run will end before paying for it, and how far to trust it.

The public API is the list below. Nothing here imports torch: the probe runner lives in
``tuneahead.probe`` and is imported only by those who run probes.
"""

from .data import (
    Curve,
    Population,
    PopulationDesign,
    PopulationParams,
    RunStore,
    RunTable,
    RunTableError,
    load_opda,
    load_runstore,
    read_runtable,
    sample_population,
    write_runtable,
)
from .data.simulator import (
    PRESETS,
    BruteForceRisk,
    ProbeInformation,
    SimulatedPopulation,
    SimulatorSpec,
    brute_force_risk,
    probe_information_risk,
    simulate_population,
)
from .explain import Attribution, explain_gradient_boosted, explain_posterior_mean
from .metrics import (
    crps_ensemble,
    crps_gaussian_mixture,
    heldout_metrics,
    point_metrics,
    r_squared,
    spearman,
)
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
from .screen import (
    best_saving_at_recall,
    replay_outcome,
    screening_outcome,
    threshold_rows,
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
    "RunStore",
    "load_runstore",
    "Population",
    "PopulationDesign",
    "PopulationParams",
    "sample_population",
    "SimulatorSpec",
    "PRESETS",
    "SimulatedPopulation",
    "simulate_population",
    "BruteForceRisk",
    "brute_force_risk",
    "ProbeInformation",
    "probe_information_risk",
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
    "point_metrics",
    "r_squared",
    "spearman",
    "crps_gaussian_mixture",
    "crps_ensemble",
    "screening_outcome",
    "threshold_rows",
    "best_saving_at_recall",
    "replay_outcome",
    "Attribution",
    "explain_posterior_mean",
    "explain_gradient_boosted",
]
