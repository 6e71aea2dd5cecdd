"""Real probes in torch: offline base models, datasets, descriptors, the LoRA probe and sweeps.

This package is the only place torch is imported. ``python -m tuneahead.probe +sweep=NAME`` runs
the sweep ``conf/sweep/NAME.yaml`` (:mod:`tuneahead.probe.__main__`); the finished runs land in a
run store that :func:`tuneahead.data.runstore_table.load_runstore` reads as a RunTable without importing
torch.
"""

from .datasets import DatasetError, InstructionDataset, load_dataset, read_jsonl
from .descriptors import dataset_descriptors
from .embeddings import SentenceEncoder, load_minilm, tiny_encoder
from .features import PROBE_FEATURES
from .models import BaseModel, ModelNotAvailable, load_base_model, load_smollm2, tiny_causal_lm
from .runner import ProbeConfig, RunResult, TrainConfig, run_candidate, train_run
from .sweep import expand_grid, run_sweep
from .tasks import TASK_KINDS, Example, make_task

__all__ = [
    "BaseModel",
    "ModelNotAvailable",
    "load_base_model",
    "load_smollm2",
    "tiny_causal_lm",
    "Example",
    "TASK_KINDS",
    "make_task",
    "InstructionDataset",
    "DatasetError",
    "load_dataset",
    "read_jsonl",
    "SentenceEncoder",
    "load_minilm",
    "tiny_encoder",
    "dataset_descriptors",
    "PROBE_FEATURES",
    "TrainConfig",
    "ProbeConfig",
    "RunResult",
    "train_run",
    "run_candidate",
    "expand_grid",
    "run_sweep",
]
