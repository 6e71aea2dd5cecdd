"""How to fit: the ``inference`` config group as a checked dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

__all__ = ["InferenceConfig"]


@dataclass(frozen=True)
class InferenceConfig:
    """How to fit (set from ``conf/inference``)."""

    method: str = "nuts"
    num_warmup: int = 500
    num_samples: int = 500
    num_chains: int = 2
    chain_method: str = "parallel"
    target_accept: float = 0.85
    max_tree_depth: int = 8
    dense_mass: bool = True
    centered_groups: bool | str = "auto"
    svi_steps: int = 3000
    svi_learning_rate: float = 0.01
    svi_guide: str = "normal"
    svi_draws: int = 1000
    progress: bool = True
    seed: int = 0
    compilation_cache: str | None = None

    def __post_init__(self) -> None:
        if self.method not in ("nuts", "svi"):
            raise ValueError(f"inference.method={self.method!r}; use 'nuts' or 'svi'")
        if self.centered_groups not in ("auto", True, False):
            raise ValueError(f"inference.centered_groups={self.centered_groups!r}; use auto, true or false")
        if self.chain_method not in ("parallel", "sequential", "vectorized"):
            raise ValueError(f"inference.chain_method={self.chain_method!r}; use parallel, sequential or vectorized")
        if self.svi_guide not in ("normal", "mvn"):
            raise ValueError(f"inference.svi_guide={self.svi_guide!r}; use 'normal' or 'mvn'")
        for key, least in (
            ("num_warmup", 0),
            ("num_samples", 1),
            ("num_chains", 1),
            ("svi_steps", 1),
            ("svi_draws", 1),
        ):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < least:
                raise ValueError(f"inference.{key}={value!r}; use a whole number of at least {least}")
        if not self.svi_learning_rate > 0:
            raise ValueError(f"inference.svi_learning_rate={self.svi_learning_rate!r}; use a positive step size")
