"""tuneahead: predict how a fine-tuning run will end before paying for it, and how far to trust it.

The public API is the list below. Nothing here imports torch: the probe runner lives in
``tuneahead.probe`` and is imported only by those who run probes.
"""

# core: runs, the model, its fit, predictions and the risk split
from .data import (
    Curve,
    RunStore,
    RunTable,
    RunTableError,
    Split,
    load_mlflow_runs,
    load_opda,
    load_opda_alexnet,
    load_proxylm_table,
    load_runstore,
    load_size_curves,
    load_tensorboard_runs,
    load_trainer_runs,
    read_runtable,
    write_runtable,
)
from .evaluation.calibration_check import CalibrationCheck, calibration_check
from .evaluation.metrics import (
    crps_ensemble,
    crps_gaussian_mixture,
    heldout_metrics,
    point_metrics,
    r_squared,
    spearman,
)
from .explain import Attribution, explain_gradient_boosted, explain_posterior_mean
from .inference import ImportanceUpdate, InferenceConfig, fit
from .model import ModelSpec, Posterior, StackedPosterior, load_posterior
from .predict import Prediction, PredictiveComponents, predict, predictive_components
from .risk import (
    REGIMES,
    PowerLaw,
    RegimeCall,
    RiskCurve,
    call_regime,
    classify_regime,
    fit_horizon_power_law,
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
from .selection import ModelChoice, ModelChoiceConfig, choose_model

# simulation: synthetic sources whose truth is known
from .synthetic import (
    PRESETS,
    Population,
    PopulationDesign,
    PopulationParams,
    SimulatedPopulation,
    SimulatorSpec,
    sample_population,
    simulate_population,
)

# validation: a posterior against that truth
from .validation import (
    BruteForceRisk,
    ProbeInformation,
    brute_force_risk,
    probe_information_risk,
    true_components,
    true_risk,
)

__version__ = "0.1.0"

__all__ = [
    # core
    "Curve",
    "RunTable",
    "RunTableError",
    "Split",
    "read_runtable",
    "write_runtable",
    "load_opda",
    "load_opda_alexnet",
    "load_proxylm_table",
    "load_size_curves",
    "load_trainer_runs",
    "load_mlflow_runs",
    "load_tensorboard_runs",
    "RunStore",
    "load_runstore",
    "ModelSpec",
    "InferenceConfig",
    "fit",
    "ImportanceUpdate",
    "Posterior",
    "StackedPosterior",
    "load_posterior",
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
    "fit_horizon_power_law",
    "optimal_budget",
    "classify_regime",
    "call_regime",
    "ModelChoiceConfig",
    "ModelChoice",
    "choose_model",
    "Attribution",
    "explain_posterior_mean",
    "explain_gradient_boosted",
    # simulation
    "Population",
    "PopulationDesign",
    "PopulationParams",
    "sample_population",
    "SimulatorSpec",
    "PRESETS",
    "SimulatedPopulation",
    "simulate_population",
    # validation
    "BruteForceRisk",
    "brute_force_risk",
    "ProbeInformation",
    "probe_information_risk",
    "true_components",
    "true_risk",
    # evaluation
    "heldout_metrics",
    "point_metrics",
    "r_squared",
    "spearman",
    "crps_gaussian_mixture",
    "crps_ensemble",
    "CalibrationCheck",
    "calibration_check",
    "screening_outcome",
    "threshold_rows",
    "best_saving_at_recall",
    "replay_outcome",
]
