"""Tuneahead beside its peers on the same held-out runs: the evaluation's steps, one a module.

The evaluate app's job (:func:`tuneahead.pipeline.run_evaluation`) loads the runs and fits the
posteriors; this package holds the steps it chains, none of which reads a config file or loads data:

- :mod:`.config`: the methods, their labels and the known keys; :func:`check_evaluation_config`
  refuses an unknown key, method or split kind (the splits are :class:`~tuneahead.data.splits.Split`);
- :mod:`.methods`: a baseline built from the config, and ours predicted from its posterior, with the
  CRPS of its two-branch predictive;
- :mod:`.scoring`: a split's held-out runs pooled over its folds (:class:`HeldOut`), each method's
  predictions at a budget accumulated fold by fold (:class:`MethodResults`), and their scores;
- :mod:`.calibration`: the coverage of central intervals at the levels :data:`CALIBRATION_LEVELS`;
- :mod:`.calibration_check`: a pass/fail check of a posterior's coverage and PIT on held-out runs,
  with tolerances from their number;
- :mod:`.screening`: the go/no-go Table 4 rows, the headline and the replayed Optuna pruners;
- :mod:`.report`: ``table.md/csv``, ``screening.md/csv`` and ``predictions.csv``;
- :mod:`.explanations`: SHAP attributions of ours and of the TuneAhead baseline, and their figures;
- :mod:`.metrics`: the held-out metrics (RMSE, coverage, CRPS, ...) every step reads.
"""

from .calibration import CALIBRATION_LEVELS, calibration_row, conformal_coverage, coverage_from_pit
from .calibration_check import CalibrationCheck, calibration_check
from .config import KNOWN_KEYS, METHOD_LABELS, METHODS, check_evaluation_config, evaluation_splits
from .explanations import ExplainInputs, explain_methods, explanation_summary, plot_explanations, write_explanations
from .methods import baseline_coverage, baseline_crps, build_baseline, predict_ours
from .report import prediction_frame, write_predictions, write_screening, write_tables
from .scoring import HeldOut, MethodResults, level_tag, score_predictions, table_row
from .screening import SCREENED_METHODS, method_screening, pruner_label, pruner_row, success_thresholds

__all__ = [
    "CalibrationCheck",
    "calibration_check",
    # config
    "METHODS",
    "METHOD_LABELS",
    "KNOWN_KEYS",
    "check_evaluation_config",
    "evaluation_splits",
    # methods
    "build_baseline",
    "predict_ours",
    "baseline_crps",
    "baseline_coverage",
    # scoring
    "HeldOut",
    "MethodResults",
    "level_tag",
    "score_predictions",
    "table_row",
    # calibration
    "CALIBRATION_LEVELS",
    "coverage_from_pit",
    "conformal_coverage",
    "calibration_row",
    # screening
    "SCREENED_METHODS",
    "success_thresholds",
    "method_screening",
    "pruner_label",
    "pruner_row",
    # report
    "prediction_frame",
    "write_tables",
    "write_screening",
    "write_predictions",
    # explanations
    "ExplainInputs",
    "explain_methods",
    "explanation_summary",
    "write_explanations",
    "plot_explanations",
]
