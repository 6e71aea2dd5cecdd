"""Sources of runs, each turned into a :class:`RunTable`."""

from .files import read_runtable, runtable_to_frame, write_runtable
from .opda import load_opda
from .runstore import RunStore, load_runstore, run_key
from .runtable import Curve, RunTable, RunTableError
from .sampler import (
    Population,
    PopulationDesign,
    PopulationParams,
    sample_population,
    synthetic_population,
)

__all__ = [
    "Curve",
    "RunTable",
    "RunTableError",
    "read_runtable",
    "write_runtable",
    "runtable_to_frame",
    "load_opda",
    "RunStore",
    "load_runstore",
    "run_key",
    "Population",
    "PopulationDesign",
    "PopulationParams",
    "sample_population",
    "synthetic_population",
]
