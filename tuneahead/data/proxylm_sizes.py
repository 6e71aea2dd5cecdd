r"""Curves over data size from ProxyLM's translation tables: one run per experiment, one point per size.

ProxyLM's NusaX table (``nusa_experiments.csv``) fine-tunes each target model on the same
(source, target language) experiment at several training-set sizes :math:`D` (1,000, 3,000,
6,000 and 6,600 sentence pairs). Read as a learning curve over :math:`D` rather than over steps,
each experiment is a run whose "probe" is the score at the smaller sizes and whose final score is
the score at the largest, the question of the rectified fine-tuning scaling law (Lin et al.,
ICML 2024; :class:`tuneahead.baselines.RectifiedScalingLaw`).

The RunTable has one run per experiment, keyed by the translation layout's columns without
``dataset_size`` (:mod:`tuneahead.data.proxylm_tables` has the layout and the cell rules):

- the curve ``score`` (for example ``spBLEU``): the target model's fine-tuned score at each
  size, in points, at "step" :math:`D`;
- ``final``: the score at the largest size, and ``budget`` that size;
- static features: the chosen ``features`` that are constant within every experiment (they
  describe the experiment, not one size: the URIEL distances; the dataset statistics change with
  the size and are dropped), and with ``zero_shot`` the target model's own score without
  fine-tuning (``{target}_noft``), known before any fine-tuning is paid for. The proxies trained
  at each size are not read: at the largest size they would be a second run on the final data;
- ``group``: the value of ``group_by``; ``diverged`` unknown (NaN).

A table in which no experiment has two sizes (``mt560_experiments.csv``) is refused, as is an
experiment that repeats a size.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .proxylm_tables import (
    _FRACTION_SCORES,
    _TEXT_KEYS,
    _TRANSLATION,
    _checked_cells,
    _feature_columns,
    _layout,
    _read,
    _require,
    _score_column,
)
from .runtable import RunTable, RunTableError

__all__ = ["load_size_curves"]

_SIZE = "dataset_size"


def load_size_curves(
    path: str | os.PathLike,
    target_model: str,
    score: str | None = None,
    features: str | list[str] = "language",
    zero_shot: bool = True,
    group_by: str = "target_lang",
    dropna: bool = False,
) -> RunTable:
    """Read a ProxyLM translation table as curves over data size (module doc).

    Parameters
    ----------
    path
        The CSV file, such as ``../shared/data/proxylm/nusa_experiments.csv``.
    target_model
        ``m2m100`` or ``nllb``: the fine-tuned model whose score is the curve.
    score
        The score read (None: the table's first, ``spBLEU``); ``TER`` is refused.
    features
        ``"language"`` (the URIEL distances), ``"all"``, ``"dataset"``, ``"none"`` or a list of
        columns; only those constant within every experiment are kept.
    zero_shot
        Add the target model's score without fine-tuning as the static feature ``zero_shot``.
    group_by
        ``target_lang``, ``source_lang``, ``train_dataset`` or ``test_dataset``.
    dropna
        Drop rows with an empty cell in a column read, instead of refusing the file.
    """
    path = Path(path)
    frame = _read(path)
    layout = _layout(path, frame)
    if layout is not _TRANSLATION or _SIZE not in frame.columns:
        raise RunTableError(
            f"{path}: curves over data size need a translation table with a {_SIZE!r} column "
            "(nusa_experiments.csv); use data=proxylm for the other tables"
        )
    if target_model not in layout.targets:
        raise RunTableError(f"{path}: unknown target model {target_model!r}; use one of {list(layout.targets)}")
    keys = [k for k in layout.key if k != _SIZE]
    if group_by not in keys:
        raise RunTableError(f"group_by={group_by!r} is not a run key of this table; use one of {keys}")
    column, score = _score_column(path, frame, layout, target_model, score)
    noft = [layout.column(f"{target_model}_noft", score)] if zero_shot else []
    _require(path, frame, noft, "the zero-shot score")
    features = [c for c in _feature_columns(path, frame, layout, features) if c != _SIZE]
    frame = _checked_cells(path, frame, [*layout.key, column, *noft, *features], dropna)
    experiments = frame.groupby(keys, sort=True)
    features = [c for c in features if (experiments[c].nunique() == 1).all() and frame[c].nunique() > 1]
    scale = 100.0 if score in _FRACTION_SCORES else 1.0
    records = [
        _record(path, key, rows, column, score, noft, features, group_by, keys, scale) for key, rows in experiments
    ]
    if all(len(r["curves"][score]) < 2 for r in records):
        raise RunTableError(
            f"{path}: no experiment has two dataset sizes, so there is no curve over data size; "
            "use nusa_experiments.csv, or data=proxylm for one run per row"
        )
    return RunTable.from_records(records, static_names=[*(["zero_shot"] if zero_shot else []), *features])


def _record(path, key, rows, column, score, noft, features, group_by, keys, scale) -> dict:
    """One run: the experiment's scores over its sizes; the final score at the largest."""
    key = dict(zip(keys, key))
    rid = f"{path.name.removesuffix('.csv').removesuffix('_experiments')}/{key['source_lang']}->{key['target_lang']}"
    rid += f"/{key['train_dataset']}/{key['test_dataset']}"
    sizes = rows[_SIZE].to_numpy(dtype=float)
    if len(np.unique(sizes)) < len(sizes):
        raise RunTableError(
            f"{path}: lines {list(rows.index)} ({rid}) repeat a dataset size; keep one row per size of each experiment"
        )
    order = np.argsort(sizes)
    values = scale * rows[column].to_numpy(dtype=float)[order]
    static = {"zero_shot": scale * float(rows[noft[0]].iloc[0])} if noft else {}
    static.update({c: float(rows[c].iloc[0]) for c in features if c not in _TEXT_KEYS})
    return {
        "run_id": rid,
        "group": str(key[group_by]),
        "budget": float(sizes[order][-1]),
        "final": float(values[-1]),
        "static": static,
        "curves": {score: list(zip(sizes[order].tolist(), values.tolist()))},
    }
