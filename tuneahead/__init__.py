"""tuneahead: predict how a fine-tuning run will end before paying for it, and how far to trust it.

The public API is the list below, each name with its home module. A name is imported on first use
(PEP 562), so ``import tuneahead.probe`` in a probe worker pays for torch only, and ``import
tuneahead`` alone pays for nothing. Nothing here imports torch: the probe runner lives in
``tuneahead.probe`` and is imported only by those who run probes.
"""

import importlib
import sys
import types

__version__ = "0.1.0"

_HOMES: dict[str, tuple[str, ...]] = {
    # core: runs, the model, its fit, predictions and the risk split
    "data": (
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
    ),
    "model": ("ModelSpec", "Posterior", "StackedPosterior", "load_posterior"),
    "inference": ("InferenceConfig", "fit", "ImportanceUpdate"),
    "predict": ("Prediction", "PredictiveComponents", "predict", "predictive_components"),
    "risk": (
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
    ),
    "selection": ("ModelChoiceConfig", "ModelChoice", "choose_model"),
    "explain": ("Attribution", "explain_posterior_mean", "explain_gradient_boosted"),
    # simulation: synthetic sources whose truth is known
    "synthetic": (
        "Population",
        "PopulationDesign",
        "PopulationParams",
        "sample_population",
        "SimulatorSpec",
        "PRESETS",
        "SimulatedPopulation",
        "simulate_population",
    ),
    # validation: a posterior against that truth
    "validation": (
        "BruteForceRisk",
        "brute_force_risk",
        "ProbeInformation",
        "probe_information_risk",
        "true_components",
        "true_risk",
    ),
    # evaluation
    "evaluation.metrics": (
        "heldout_metrics",
        "point_metrics",
        "r_squared",
        "spearman",
        "crps_gaussian_mixture",
        "crps_ensemble",
    ),
    "evaluation.calibration_check": ("CalibrationCheck", "calibration_check"),
    "screen": ("screening_outcome", "threshold_rows", "best_saving_at_recall", "replay_outcome"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}

__all__ = list(_HOME)


def __getattr__(name: str):
    """Import a public name from its home on first use, then keep it here."""
    if name not in _HOME:
        raise AttributeError(f"module 'tuneahead' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


class _PublicNames(types.ModuleType):
    """The package module. ``fit`` and ``predict`` name both a public function and a submodule
    (the fit app, the predict package); importing such a submodule would bind its name here to the
    module, so the function keeps the name (the submodule stays in ``sys.modules``)."""

    def __setattr__(self, name, value):
        if name in _HOME and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _PublicNames
