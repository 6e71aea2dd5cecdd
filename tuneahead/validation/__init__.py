"""A posterior against the truth of its synthetic source.

- :mod:`.exact`: the Bayes predictor of a population drawn from the model, at its generating values.
- :mod:`.brute_force`: the simulator's true L_int and V_opt(c), by rerunning and branching runs.
- :mod:`.probe_information`: what the probe's curves alone can reveal, from many seeds per config.
- :mod:`.report`: the posterior beside those truths, as plain values.
"""

from .brute_force import BruteForceRisk, brute_force_risk
from .exact import true_components, true_risk
from .probe_information import ProbeInformation, probe_information_risk
from .report import TruthConfig, brute_force_truth, compare_to_brute_force, exact_truth

__all__ = [
    "true_components",
    "true_risk",
    "BruteForceRisk",
    "brute_force_risk",
    "ProbeInformation",
    "probe_information_risk",
    "TruthConfig",
    "exact_truth",
    "brute_force_truth",
    "compare_to_brute_force",
]
