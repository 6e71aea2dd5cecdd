"""The one pipeline both apps call: load the runs, split them, fit, and write the results.

- :mod:`.settings`: every config group as a checked object, built before any fit starts;
- :mod:`.runs`: load the configured source, hold runs out, fit the posterior;
- :mod:`.fit_job`: the fit app's job (predict, split the risk, validate against a synthetic truth);
- :mod:`.evaluate_job`: the evaluate app's job (ours beside the peers on the same runs);
- :mod:`.predict_job`: the predict app's job (a saved posterior's calls on new candidates).
"""

from .evaluate_job import run_evaluation
from .fit_job import run_fit
from .predict_job import run_predict
from .runs import fit_posterior, load_runs, scored_partition
from .settings import JobSettings, PredictConfig, config_object, job_settings

__all__ = [
    "run_fit",
    "run_evaluation",
    "run_predict",
    "load_runs",
    "scored_partition",
    "fit_posterior",
    "JobSettings",
    "PredictConfig",
    "config_object",
    "job_settings",
]
