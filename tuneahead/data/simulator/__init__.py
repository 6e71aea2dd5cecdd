"""A mechanistic simulator of fine-tuning populations, with brute-force true risk.

- :mod:`.mechanics`: the pretrained random-feature network, target tasks and vmapped SGD runs.
- :mod:`.population`: tasks x configs x seeds drawn from a regime preset, as a RunTable.
- :mod:`.brute_force`: true L_int and V_opt(c) by rerunning and branching runs.
- :mod:`.probe_information`: what the probe's curves alone can reveal, from many seeds per config.
"""

from .brute_force import BruteForceRisk, brute_force_risk
from .mechanics import SimulatorSpec
from .population import (
    PRESETS,
    Preset,
    SimulatedPopulation,
    simulate_population,
    simulated_population,
)
from .probe_information import ProbeInformation, probe_information_risk

__all__ = [
    "SimulatorSpec",
    "Preset",
    "PRESETS",
    "SimulatedPopulation",
    "simulate_population",
    "simulated_population",
    "BruteForceRisk",
    "brute_force_risk",
    "ProbeInformation",
    "probe_information_risk",
]
