"""The evaluation config (``conf/evaluation/default.yaml``): the methods, their labels and the known keys.

Every key of the ``evaluation`` group is checked, and so is every split, through
:meth:`tuneahead.data.splits.Split.from_config`: the split kinds and their keys are the data
layer's, the same for the fit app, the evaluate app and :class:`~tuneahead.data.runtable.RunTable`.
"""

from __future__ import annotations

from ..baselines import LIGHTGBM_INTERVALS, PROXYLM_REGRESSORS
from ..data.splits import Split

__all__ = [
    "METHODS",
    "CURVE_METHODS",
    "METHOD_LABELS",
    "KNOWN_KEYS",
    "check_evaluation_config",
    "check_curve_methods",
    "evaluation_splits",
]

METHODS = (
    "ours",
    "last_value",
    "extrapolation",
    "loss_decay",
    "static_only",
    "dynamic_only",
    "tuneahead",
    "proxylm",
    "config_ridge",
    "lcpfn",
    "rectified",
)
# the methods that need a probe curve (a table without curves has none for them); config_ridge reads
# the probe's last value when there is a curve, and proxylm with probe_last=true (checked where built)
CURVE_METHODS = ("last_value", "extrapolation", "loss_decay", "dynamic_only", "lcpfn", "rectified")
# the name of each method in the tables
METHOD_LABELS = {
    "ours": "ours (hierarchical)",
    "last_value": "last value",
    "extrapolation": "early-stop extrapolation",
    "loss_decay": "loss-decay regression",
    "static_only": "static-only LightGBM",
    "dynamic_only": "dynamic-only LightGBM",
    "tuneahead": "TuneAhead (LightGBM)",
    "proxylm": "ProxyLM (XGBoost on proxy scores)",
    "config_ridge": "config ridge",
    "lcpfn": "LC-PFN",
    "rectified": "rectified scaling law",
}
# config path -> the keys it may hold (the splits are checked by Split.from_config)
KNOWN_KEYS = {
    "evaluation": {"budgets", "metric", "methods", "splits", "posterior_cache", "baselines", "screen", "explain"},
    "evaluation.baselines": {"lightgbm", "extrapolation", "proxylm", "config_ridge", "lcpfn", "rectified"},
    "evaluation.baselines.lightgbm": {"folds", "early_stopping", "interval"},
    "evaluation.baselines.extrapolation": {"min_points"},
    "evaluation.baselines.rectified": {"min_points"},
    "evaluation.baselines.proxylm": {"regressor", "folds", "search_folds", "grid", "params", "probe_last"},
    "evaluation.baselines.config_ridge": {"alpha"},
    "evaluation.baselines.lcpfn": {"size", "weights", "n_samples", "increasing", "margin", "linear_map", "batch_size"},
    "evaluation.screen": {"taus", "tau_quantiles", "p", "top_quantile", "recall", "resume_from_probe", "pruners"},
    "evaluation.explain": {"enabled", "budget", "candidates", "background", "permutations", "max_draws"},
}


def evaluation_splits(ev: dict) -> dict[str, Split]:
    """Every configured split by name, each checked as ``evaluation.splits.<name>``."""
    return {
        name: Split.from_config(split, f"evaluation.splits.{name}") for name, split in (ev.get("splits") or {}).items()
    }


def check_evaluation_config(ev: dict) -> None:
    """Refuse unknown keys, methods and split kinds with a message that lists the known ones."""
    for path, known in KNOWN_KEYS.items():
        node = ev
        for part in path.split(".")[1:]:
            node = node.get(part) or {}
        unknown = set(node) - known
        if unknown:
            raise ValueError(f"config {path}: unknown key(s) {sorted(unknown)}; known keys are {sorted(known)}")
    _check_lightgbm((ev.get("baselines") or {}).get("lightgbm") or {})
    _check_proxylm((ev.get("baselines") or {}).get("proxylm") or {})
    bad = [m for m in ev["methods"] if m not in METHODS]
    if bad:
        raise ValueError(f"evaluation.methods: unknown method(s) {bad}; known methods are {list(METHODS)}")
    evaluation_splits(ev)
    if not ev.get("splits"):
        raise ValueError("evaluation.splits is empty; give at least one split")


def _check_lightgbm(lgbm: dict) -> None:
    """Refuse a LightGBM interval kind, fold count or early-stopping patience that cannot work."""
    path = "evaluation.baselines.lightgbm"
    interval = lgbm.get("interval", "cv_plus")
    if interval not in LIGHTGBM_INTERVALS:
        raise ValueError(f"{path}.interval={interval!r}; use one of {list(LIGHTGBM_INTERVALS)}")
    for key, least in (("folds", 2), ("early_stopping", 1)):
        value = lgbm.get(key, least)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{path}.{key}={value!r}; give an integer of at least {least}")


def _check_proxylm(proxylm: dict) -> None:
    """Refuse a ProxyLM regressor, fold count or grid that cannot work."""
    path = "evaluation.baselines.proxylm"
    regressor = proxylm.get("regressor", "xgboost")
    if regressor not in PROXYLM_REGRESSORS:
        raise ValueError(f"{path}.regressor={regressor!r}; use one of {list(PROXYLM_REGRESSORS)}")
    for key in ("folds", "search_folds"):
        value = proxylm.get(key, 2)
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ValueError(f"{path}.{key}={value!r}; give an integer of at least 2")
    for key in ("grid", "params"):
        if not isinstance(proxylm.get(key) or {}, dict):
            raise ValueError(f"{path}.{key}={proxylm[key]!r}; give a mapping (null: ProxyLM's released {key})")
    bad = [k for k, v in (proxylm.get("grid") or {}).items() if not isinstance(v, list) or not v]
    if bad:
        raise ValueError(f"{path}.grid: {bad} must each be a non-empty list of values")


def check_curve_methods(methods: list[str], metric: str | None) -> None:
    """Refuse methods that read a probe curve when there is none to read (``metric`` None: a table
    without curves, ``model.metrics=[]`` and ``evaluation.metric`` null)."""
    if metric is not None:
        return
    reading = [m for m in methods if m in CURVE_METHODS]
    if reading:
        keep = [m for m in methods if m not in CURVE_METHODS]
        raise ValueError(
            f"evaluation.methods: {reading} read a probe curve, but model.metrics is empty and evaluation.metric "
            f"is null (a table without curves); set evaluation.methods=[{','.join(keep)}] or name a metric"
        )
