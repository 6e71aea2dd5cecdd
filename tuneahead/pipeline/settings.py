"""The apps' config, as checked objects built before any fit starts.

Every config group that a job reads becomes a frozen dataclass here (the model spec, the inference
config, the split, the risk and truth settings, the predictive's level): an unknown key, a bad
value or an impossible split kind is an error that names the group and the known keys, raised
before any data is loaded or any model is fitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ..data.splits import Split
from ..inference.config import InferenceConfig
from ..model.design import ModelSpec
from ..risk import RiskConfig
from ..selection import ModelChoiceConfig
from ..validation.report import TruthConfig

__all__ = [
    "PredictConfig",
    "JobSettings",
    "config_object",
    "config_budget",
    "job_settings",
    "fit_split",
    "fit_risk",
    "fit_truth",
    "plain",
]


@dataclass(frozen=True)
class PredictConfig:
    """The predictive's central interval ``level`` and the posterior draws per prediction."""

    level: float = 0.9
    max_draws: int = 400

    def __post_init__(self) -> None:
        if not 0 < self.level < 1:
            raise ValueError(f"predict.level must lie in (0, 1), got {self.level}")
        if self.max_draws < 1:
            raise ValueError(f"predict.max_draws must be positive, got {self.max_draws}")


def plain(cfg: DictConfig | Mapping | None) -> dict:
    """A config node as plain Python values (an empty dict for None)."""
    if cfg is None:
        return {}
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)
    return dict(cfg)


def config_object(cls, cfg: DictConfig | Mapping | None, group: str):
    """``cls(**cfg)``, or an error that names the config ``group`` and its known keys."""
    values = plain(cfg)
    known = sorted(f.name for f in fields(cls))
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"config group '{group}': unknown key(s) {unknown}; known keys are {known}")
    try:
        return cls(**values)
    except TypeError as err:
        raise ValueError(f"config group '{group}': {err}; known keys are {known}") from None


def config_budget(value, key: str) -> float:
    """A probe budget from the config key ``key``: a finite number of steps, at least 0."""
    try:
        budget = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}={value!r} is not a number of probe steps; give a number >= 0") from None
    if not np.isfinite(budget) or budget < 0:
        raise ValueError(f"{key}={value!r} is not a number of probe steps; give a finite number >= 0")
    return budget


@dataclass(frozen=True)
class JobSettings:
    """What both apps read from the config: the model, its fit, the predictive and the probe budget."""

    spec: ModelSpec
    inference: InferenceConfig
    predict: PredictConfig
    probe_budget: float
    seed: int
    choice: ModelChoiceConfig | None = None  # model=auto: the variants chosen among on the training runs


def job_settings(cfg: DictConfig) -> JobSettings:
    """The settings both apps share, checked; ``model.auto`` (``model=auto``) is the model choice."""
    model = plain(cfg.model)
    auto = model.pop("auto", None)
    budget = config_budget(cfg.probe.budget, "probe.budget")
    settings = JobSettings(
        spec=config_object(ModelSpec, model, "model"),
        inference=config_object(InferenceConfig, cfg.inference, "inference"),
        predict=config_object(PredictConfig, cfg.predict, "predict"),
        probe_budget=budget,
        seed=int(cfg.seed),
        choice=None if auto is None else config_object(ModelChoiceConfig, auto, "model.auto"),
    )
    if settings.choice is not None:
        settings.choice.specs(settings.spec)  # every variant's spec checked before any fit
    return settings


def fit_split(cfg: DictConfig) -> Split:
    """The fit app's one held-out split (``split``), checked."""
    split = Split.from_config(plain(cfg.split), "split")
    if split.kind == "kfold":
        raise ValueError("split.kind=kfold: the fit app holds out one side; use python -m tuneahead.evaluate for folds")
    return split


def fit_risk(cfg: DictConfig) -> RiskConfig:
    """The risk settings (``risk``), checked."""
    return config_object(RiskConfig, cfg.risk, "risk")


def fit_truth(cfg: DictConfig) -> TruthConfig:
    """The brute-force truth settings (``truth``), checked."""
    return config_object(TruthConfig, cfg.truth, "truth")
