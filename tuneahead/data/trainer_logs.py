"""Hugging Face ``Trainer`` output folders, read as a RunTable.

A run is an ``output_dir`` of ``transformers.Trainer``. What the loader reads from it:

- ``trainer_state.json`` (``trainer.save_state()`` writes it at the end; every checkpoint holds
  one too). Its ``log_history`` gives the curves: each entry's numeric keys (``loss``,
  ``grad_norm``, ``learning_rate``, ``eval_loss``, ``eval_<metric>``, ...) become points at the
  entry's ``step``. ``epoch`` and ``step`` are not curves; timings, throughputs, ``total_flos``
  and the end-of-training summary entry (``train_loss``, ``train_runtime``, ...) are curves only
  when named. ``max_steps`` is the budget ``T`` and ``global_step`` the step reached. A run whose
  log holds the end-of-training summary has returned from ``train()``, so it is finished even when
  a callback stopped it early (early stopping); without the summary, a run with
  ``global_step < max_steps`` is a candidate. A folder without its own
  ``trainer_state.json`` but with ``checkpoint-<N>`` folders is a run still in progress: its
  newest checkpoint is read.
- the training arguments, for static features and groups: ``training_args.json`` (for example
  ``TrainingArguments.to_json_string()``) if present, else ``training_args.bin``; the scalar
  fields of ``trainer_state.json`` (``max_steps``, ``train_batch_size``, ``num_train_epochs``,
  ...) take precedence, being what the run really used, and ``trial_params`` of a hyperparameter
  search are added.
- ``config.json``, the model config: its keys are read as ``model.<key>`` (``model.model_type``,
  ``model.hidden_size``), and also by their plain name where no training argument has it.

Security: ``training_args.bin`` is a pickle (``torch.save`` of ``TrainingArguments``), and
unpickling it with ``torch.load(weights_only=False)`` can run any code the file's author chose.
This loader never does that, nor imports torch or transformers: a restricted unpickler rebuilds
every object in the file as an inert record of its arguments and state, so no class or function
named in the file is ever looked up or called. Keys ending in ``_token`` (the hub token) are
dropped.

The mapping from runs to the table (final score, divergence, static features, groups) is that of
:mod:`tuneahead.data.logged_runs`. By default the static features are
``log10_learning_rate`` and the other :data:`TRAINER_STATIC_FEATURES` that every run has, the
constant ones dropped; the group is the name of the folder holding the run folders.
"""

from __future__ import annotations

import glob
import io
import json
import os
import pickle
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import RunTableError
from .logged_runs import LoggedRun, TableSpec, as_number, build_table
from .runtable import RunTable

__all__ = ["load_trainer_runs", "read_trainer_run", "read_training_args", "TRAINER_STATIC_FEATURES"]

TRAINER_STATIC_FEATURES = (
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "weight_decay",
    "warmup_steps",
    "max_grad_norm",
)
STATE_FILE = "trainer_state.json"
_NOT_CURVES = {"step", "epoch"}
_BOOKKEEPING = re.compile(r"(_runtime|_per_second|^total_flos|^num_input_tokens_seen)$")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def load_trainer_runs(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    final_metric: str = "eval_loss",
    curves: Sequence[str] | None = None,
    static: Sequence[str] | None = None,
    log10: Sequence[str] = ("learning_rate",),
    group: str | None = None,
    group_by: str | Sequence[str] | None = None,
    budget: float | str | None = None,
    diverged_metrics: Sequence[str] | None = None,
    diverged_score: float | None = None,
    drop_constant: bool = True,
) -> RunTable:
    """Read Hugging Face Trainer output folders into a RunTable.

    Parameters
    ----------
    path
        A folder holding one run folder per run, a single run folder, a glob pattern of run
        folders (``"sweeps/*/lr*"``), or a list of any of these.
    final_metric
        The logged key whose last value in a finished run is its final score (``eval_accuracy``).
    static
        Config keys kept as static features (``model.<key>`` reads the model config); ``None``:
        those of :data:`TRAINER_STATIC_FEATURES` that every run has.

    The other options are the fields of :class:`~tuneahead.data.logged_runs.TableSpec`; run ids
    are the run folders' paths relative to their common parent.
    """
    spec = TableSpec(
        final_metric, curves, static, log10, group, group_by, budget, diverged_metrics, diverged_score, drop_constant
    )
    folders = _run_folders(path)
    common = Path(os.path.commonpath([str(f.resolve()) for f in folders]))
    runs = []
    for folder in folders:
        rel = folder.resolve().relative_to(common.parent if len(folders) == 1 else common)
        runs.append(read_trainer_run(folder, rel.as_posix()))
    return build_table(runs, spec, default_static=TRAINER_STATIC_FEATURES)


def _is_run(folder: Path) -> bool:
    return (folder / STATE_FILE).exists() or _latest_checkpoint(folder) is not None


def _latest_checkpoint(folder: Path) -> Path | None:
    found = []
    for child in folder.iterdir() if folder.is_dir() else []:
        match = _CHECKPOINT.match(child.name)
        if match and (child / STATE_FILE).exists():
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def _expand(item: str | os.PathLike) -> list[Path]:
    """The run folders that one ``path`` item names."""
    text = os.fspath(item)
    if glob.has_magic(text):
        matches = [Path(p) for p in sorted(glob.glob(text)) if Path(p).is_dir()]
        if not matches:
            raise RunTableError(f"{text}: the pattern matches no folder; check the path")
        for folder in matches:
            if not _is_run(folder):
                raise RunTableError(
                    f"{folder}: no {STATE_FILE} and no checkpoint-<N>/{STATE_FILE}; call trainer.save_state() "
                    "after trainer.train(), or narrow the pattern to run folders"
                )
        return matches
    folder = Path(text)
    if not folder.is_dir():
        raise RunTableError(f"{folder}: no such folder; point path at a Trainer output_dir or a folder of them")
    if _is_run(folder):
        return [folder]
    children = sorted(c for c in folder.iterdir() if c.is_dir() and not c.name.startswith("."))
    if not children:
        raise RunTableError(
            f"{folder}: no runs found: it has neither {STATE_FILE} nor run folders; point path at Trainer output_dirs"
        )
    strays = [c.name for c in children if not _is_run(c)]
    if strays:
        raise RunTableError(
            f"{folder}: sub-folder(s) {strays} hold no {STATE_FILE} (nor a checkpoint with one); call "
            "trainer.save_state() at the end of each run, or pass a glob or a list of the run folders"
        )
    return children


def _run_folders(path) -> list[Path]:
    items = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not items:
        raise RunTableError("no runs found: path is an empty list; give Trainer output folders")
    folders: list[Path] = []
    for item in items:
        folders += [f for f in _expand(item) if f.resolve() not in {g.resolve() for g in folders}]
    return folders


def _read_json(path: Path, run_id: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RunTableError(f"run {run_id!r}: {path} is not valid JSON ({err.msg}); the file is damaged") from None
    if not isinstance(data, dict):
        raise RunTableError(f"run {run_id!r}: {path} holds a {type(data).__name__}, not a JSON object")
    return data


def read_trainer_run(folder: str | os.PathLike, run_id: str | None = None) -> LoggedRun:
    """One Trainer output folder as a :class:`LoggedRun` (see the module doc)."""
    folder = Path(folder)
    run_id = run_id or folder.name
    source = folder if (folder / STATE_FILE).exists() else _latest_checkpoint(folder)
    if source is None:
        raise RunTableError(
            f"run {run_id!r} ({folder}): {STATE_FILE} is missing (and no checkpoint-<N> holds one); "
            "call trainer.save_state() after trainer.train()"
        )
    state = _read_json(source / STATE_FILE, run_id)
    for key in ("log_history", "global_step", "max_steps"):
        if key not in state:
            raise RunTableError(
                f"run {run_id!r} ({source / STATE_FILE}): field {key!r} is missing; not a Trainer state"
            )
    metrics, hidden = _log_curves(state["log_history"])
    # the end-of-training summary (train_runtime) says that train() returned: a run stopped early by
    # a callback (early stopping) is finished too, with its last evaluation as its final score
    ended = source == folder and any("train_runtime" in entry for entry in state["log_history"])
    return LoggedRun(
        run_id=run_id,
        where=str(folder),
        group=folder.resolve().parent.name,
        config=_run_config(folder, source, state, run_id),
        metrics=metrics,
        reached=float(state["global_step"]),
        budget=float(state["max_steps"]),
        hidden=hidden,
        done=True if ended else None,
    )


def _log_curves(log_history: Sequence[Mapping[str, Any]]) -> tuple[dict, set[str]]:
    """Points of every numeric key of the log history, and the keys that are no curves by default."""
    metrics: dict[str, list[tuple[float, float]]] = {}
    hidden: set[str] = set()
    for entry in log_history:
        step = as_number(entry.get("step"))
        if step is None:
            continue
        summary = "train_runtime" in entry
        for key, value in entry.items():
            if key in _NOT_CURVES or isinstance(value, bool | str) or as_number(value) is None:
                continue
            metrics.setdefault(key, []).append((step, float(value)))
            if summary or _BOOKKEEPING.search(key):
                hidden.add(key)
    return metrics, hidden


def _run_config(folder: Path, source: Path, state: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The run's flat config: model config < training arguments < trial params < state scalars."""
    model = {}
    for where in dict.fromkeys([folder, source]):
        if (where / "config.json").exists():
            model = _read_json(where / "config.json", run_id)
            break
    args: dict[str, Any] = {}
    for where in dict.fromkeys([folder, source]):
        if (where / "training_args.json").exists():
            args = _read_json(where / "training_args.json", run_id)
            break
        if (where / "training_args.bin").exists():
            args = read_training_args(where / "training_args.bin")
            break
    scalars = {k: v for k, v in state.items() if isinstance(v, int | float | str) and not isinstance(v, bool)}
    config = {k: v for k, v in model.items() if not isinstance(v, dict | list)}
    config.update(args)
    config.update(state.get("trial_params") or {})
    config.update(scalars)
    config.update({f"model.{k}": v for k, v in model.items()})
    return {k: v for k, v in config.items() if not k.endswith("_token")}


class _Inert:
    """An object of a pickle, rebuilt without running any of its code: its arguments and state."""

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self.__dict__["_args"] = args
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.__dict__["_state"] = state


class _InertUnpickler(pickle.Unpickler):
    """Unpickles every class and function named in the data as a fresh :class:`_Inert` type."""

    def find_class(self, module: str, name: str) -> type:
        return type(name, (_Inert,), {"_qualname": f"{module}.{name}"})

    def persistent_load(self, pid):
        return None


def _plain(obj: Any) -> Any:
    """An unpickled value as plain data: an object with a state dict becomes that dict, an object
    of one argument (an enum, a device) that argument."""
    if isinstance(obj, _Inert):
        state = obj.__dict__.get("_state")
        if isinstance(state, tuple) and len(state) == 2:
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            return {str(k): _plain(v) for k, v in state.items()}
        args = obj.__dict__.get("_args", ())
        return _plain(args[0]) if state is None and len(args) == 1 else None
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def read_training_args(path: str | os.PathLike) -> dict[str, Any]:
    """The fields of a ``training_args.bin`` as plain data, without executing the pickle.

    Every object is rebuilt inert (see the module doc): enums become their values, nested
    dataclasses dicts, anything else ``None``. A file that does not hold an object with fields is
    an error.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("data.pkl")]
            if not names:
                raise RunTableError(f"{path}: no data.pkl inside; not a torch.save file")
            data = archive.read(names[0])
    except zipfile.BadZipFile:
        raise RunTableError(
            f"{path}: not a zip-format torch.save file; save the arguments as JSON next to it with "
            "open('training_args.json', 'w').write(args.to_json_string())"
        ) from None
    try:
        fields = _plain(_InertUnpickler(io.BytesIO(data)).load())
    except Exception as err:  # a damaged pickle can fail in many ways
        raise RunTableError(f"{path}: the pickle could not be read ({err}); write training_args.json instead") from None
    if not isinstance(fields, dict):
        raise RunTableError(f"{path}: does not hold TrainingArguments (no fields); write training_args.json instead")
    return fields
