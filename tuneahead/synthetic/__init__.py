"""Synthetic sources of runs whose truth is known.

- :mod:`.mechanics`: a mechanistic simulator of fine-tuning, a pretrained random-feature network
  fine-tuned on target tasks by vmapped minibatch SGD; it can rerun and branch any run.
- :mod:`.population`: tasks x configs x seeds drawn from a regime preset, as a RunTable.
- :mod:`.sampler`: populations drawn from the hierarchical model itself, every generating value known.

What their truth says about a posterior is in :mod:`tuneahead.validation`.
"""

from .mechanics import SimulatorSpec
from .population import (
    PRESETS,
    Preset,
    SimulatedPopulation,
    simulate_population,
    simulated_population,
)
from .sampler import (
    Population,
    PopulationDesign,
    PopulationParams,
    sample_population,
    synthetic_population,
)

__all__ = [
    "SimulatorSpec",
    "Preset",
    "PRESETS",
    "SimulatedPopulation",
    "simulate_population",
    "simulated_population",
    "Population",
    "PopulationDesign",
    "PopulationParams",
    "sample_population",
    "synthetic_population",
]
