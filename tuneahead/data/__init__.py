"""Sources of runs, each turned into a :class:`RunTable`."""

from .errors import RunTableError
from .files import read_runtable, runtable_to_frame, write_runtable
from .mlflow_runs import load_mlflow_runs
from .opda import load_opda
from .opda_alexnet import load_opda_alexnet
from .proxylm_sizes import load_size_curves
from .proxylm_tables import load_proxylm_table
from .runstore import RunStore, run_key
from .runstore_table import load_runstore
from .runtable import Curve, RunTable, as_runtable
from .splits import SPLIT_KINDS, Split
from .tensorboard_runs import load_tensorboard_runs
from .trainer_logs import load_trainer_runs

__all__ = [
    "Curve",
    "RunTable",
    "RunTableError",
    "as_runtable",
    "Split",
    "SPLIT_KINDS",
    "read_runtable",
    "write_runtable",
    "runtable_to_frame",
    "load_opda",
    "load_opda_alexnet",
    "load_proxylm_table",
    "load_size_curves",
    "load_trainer_runs",
    "load_mlflow_runs",
    "load_tensorboard_runs",
    "RunStore",
    "load_runstore",
    "run_key",
]
