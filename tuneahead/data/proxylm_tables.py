"""Loader for ProxyLM's released experiment tables (Anugraha et al., NAACL Findings 2025, arXiv:2406.09334).

ProxyLM predicts a fine-tuned *target* model's score on a (source language, target language[,
dataset]) experiment from the scores of small *proxy* models run on the same experiment plus
dataset and URIEL language features. Its four released CSV tables (``../shared/data/proxylm/``,
from ``src/proxy_regressor/csv_datasets/`` of davidanugraha/proxylm) come in two layouts:

- **classification** (``intent_experiments.csv``, ``slot_experiments.csv``): target models ``aya``
  and ``llama3``, proxies ``smollm_135m``, ``smollm_360m`` and ``bloomz_560m``; the score column of
  model ``m`` is ``{m}_{score}`` (``accuracy`` for intent, ``f1`` for slot, both in points);
- **translation** (``mt560_experiments.csv``, ``nusa_experiments.csv``): target models ``m2m100``
  and ``nllb`` fine-tuned (``{m}_ft_{score}_mean``), proxies ``trfm`` (a small transformer trained
  from scratch), ``small100_ft``, ``small100_noft`` and the target's own zero-shot ``{m}_noft``, the
  proxy sets of ProxyLM's code; scores ``spBLEU``, ``chrF2++``, ``BLEU``, ``chrF2`` and ``comet``
  (nusa calls it ``comet_score``; both names are accepted). ``TER`` is refused: it is an error rate
  (lower is better) and tuneahead's scores are higher-is-better.

The RunTable has one run per experiment row:

- ``final``: the target model's score in points (COMET, a fraction, times 100);
- static features, in this order: the proxy scores, named ``proxy_<model>`` (:data:`PROXY_PREFIX`;
  the ``proxylm`` baseline reads the features with this prefix as the proxy scores and refuses a
  table without any), then the chosen features: ``"dataset"`` (every numeric column that is neither
  a model score nor a run key: vocabulary sizes, sentence lengths, overlaps, TTR, JSD, TF-IDF and
  sentence-embedding similarity, ``direction_indicator``, ``dataset_size``, ``eng_target``, ...),
  ``"language"`` (the URIEL distances :data:`URIEL_FEATURES`), ``"all"`` (both, ProxyLM's default),
  ``"none"``, or a list of column names. A feature column constant over the loaded rows is dropped,
  as ProxyLM's loader drops it (nusa has ten); proxy columns are never dropped. The standard errors
  and the other models' scores are not read, as in ProxyLM;
- ``group``: the value of ``group_by`` (default the target language, so that a grouped split holds
  out target languages; ``source_lang``, or a dataset column of the translation layout, work too);
- ``run_id``: ``<table>/<source>-><target>``, plus ``/<train_dataset>/<dataset_size>/<test_dataset>``
  in the translation layout (``<table>`` is the file name without ``_experiments.csv``);
- ``budget`` 1.0 for every run (the tables have no step counts; a RunTable needs a positive budget),
  no curves (``metrics=()``), and ``diverged`` unknown (NaN): the tables do not say.

Missing values, per column read (other columns are never read, so a gap there does not matter):
the run key columns, the target score, the chosen proxies and the chosen features must all hold
numbers (the key columns, text); an empty cell in one of them is **refused** with an error naming
the file, the CSV line, the run and the column, unless ``dropna=True``, which **drops** such rows,
as ProxyLM's own loader does with ``DataFrame.dropna``. A cell that is text where a number belongs is
refused either way. Every error is a :class:`RunTableError` that says how to fix it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .runtable import RunTable, RunTableError

__all__ = ["load_proxylm_table", "PROXY_PREFIX", "URIEL_FEATURES"]

PROXY_PREFIX = "proxy_"
URIEL_FEATURES = ("genetic", "geographic", "syntactic", "inventory", "phonological", "featural")
FEATURE_SETS = ("all", "dataset", "language", "none")
_FRACTION_SCORES = ("comet", "comet_score")  # scores in [0, 1], read in points
_REFUSED_SCORES = {"TER": "an error rate (lower is better); tuneahead's scores are higher-is-better"}
_TEXT_KEYS = ("source_lang", "target_lang", "train_dataset", "test_dataset")  # never features
_DATA_HINT = "point data.path at ../shared/data/proxylm/intent_experiments.csv (or slot, mt560, nusa)"


@dataclass(frozen=True)
class _Layout:
    """How one family of ProxyLM tables names its columns."""

    name: str
    targets: tuple[str, ...]
    proxies: tuple[str, ...]  # "{target}" stands for the target model
    key: tuple[str, ...]  # the columns that identify an experiment
    target_tag: str  # the target's score-column prefix
    suffix: str  # after "{model}_{score}"
    models: tuple[str, ...]  # every column starting with one of these and "_" is a score

    def column(self, model: str, score: str) -> str:
        return f"{model}_{score}{self.suffix}"

    def proxy_names(self, target: str) -> tuple[str, ...]:
        return tuple(p.format(target=target) for p in self.proxies)

    def is_score(self, column: str) -> bool:
        return any(column.startswith(f"{m}_") for m in self.models)


_CLASSIFICATION = _Layout(
    name="classification (intent, slot)",
    targets=("aya", "llama3"),
    proxies=("smollm_135m", "smollm_360m", "bloomz_560m"),
    key=("source_lang", "target_lang"),
    target_tag="{target}",
    suffix="",
    models=("aya", "llama3", "smollm_135m", "smollm_360m", "bloomz_560m"),
)
_TRANSLATION = _Layout(
    name="translation (mt560, nusa)",
    targets=("m2m100", "nllb"),
    proxies=("trfm", "small100_ft", "small100_noft", "{target}_noft"),
    key=("source_lang", "target_lang", "train_dataset", "dataset_size", "test_dataset"),
    target_tag="{target}_ft",
    suffix="_mean",
    models=("m2m100", "nllb", "small100", "trfm"),
)


def load_proxylm_table(
    path: str | os.PathLike,
    target_model: str,
    score: str | None = None,
    proxies: str | list[str] = "all",
    features: str | list[str] = "all",
    group_by: str = "target_lang",
    dropna: bool = False,
) -> RunTable:
    """Read one of ProxyLM's experiment tables into a RunTable (layouts and rules in the module doc).

    Parameters
    ----------
    path
        The CSV file, such as ``../shared/data/proxylm/intent_experiments.csv``.
    target_model
        The fine-tuned model whose score is ``final``: ``aya`` or ``llama3`` (intent, slot),
        ``m2m100`` or ``nllb`` (mt560, nusa).
    score
        The score read for the target and the proxies; None: the table's first (``accuracy``,
        ``f1``, ``spBLEU``).
    proxies
        ``"all"`` (ProxyLM's default), a list of proxy model names, or ``[]`` (no proxy scores).
    features
        ``"all"``, ``"dataset"``, ``"language"``, ``"none"`` or a list of column names.
    group_by
        The key column whose value is each run's group.
    dropna
        Drop rows with an empty cell in a column read, instead of refusing the file.
    """
    path = Path(path)
    frame = _read(path)
    layout = _layout(path, frame)
    if target_model not in layout.targets:
        raise RunTableError(
            f"{path}: unknown target model {target_model!r}; this {layout.name} table has target models "
            f"{list(layout.targets)}: fix data.target_model"
        )
    target_column, score = _score_column(path, frame, layout, target_model, score)
    proxy_columns = _proxy_columns(path, frame, layout, target_model, score, proxies)
    feature_columns = _feature_columns(path, frame, layout, features)
    keys = [k for k in layout.key if k in _TEXT_KEYS]
    if group_by not in keys:
        raise RunTableError(f"group_by={group_by!r} is not a run key of this {layout.name} table; use one of {keys}")
    frame = _checked_cells(path, frame, [*layout.key, target_column, *proxy_columns.values(), *feature_columns], dropna)
    feature_columns = [c for c in feature_columns if frame[c].nunique() > 1 or len(frame) < 2]
    scale = 100.0 if score in _FRACTION_SCORES else 1.0
    records = _records(
        frame, _run_ids(path, frame, layout), target_column, proxy_columns, feature_columns, group_by, scale
    )
    names = [PROXY_PREFIX + name for name in proxy_columns] + feature_columns
    return RunTable.from_records(records, static_names=names)


def _records(frame, run_ids, target_column, proxy_columns, feature_columns, group_by, scale) -> list[dict]:
    """One RunTable record per row: scores (the target's and the proxies') times ``scale``."""
    records = []
    for rid, (_, row) in zip(run_ids, frame.iterrows()):
        static = {PROXY_PREFIX + name: scale * float(row[col]) for name, col in proxy_columns.items()}
        static.update({col: float(row[col]) for col in feature_columns})
        final = scale * float(row[target_column])
        records.append(
            {"run_id": rid, "group": str(row[group_by]), "budget": 1.0, "final": final, "static": static, "curves": {}}
        )
    return records


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise RunTableError(f"{path}: no such file; {_DATA_HINT}")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise RunTableError(f"{path}: not a readable CSV table ({err}); {_DATA_HINT}") from None
    if frame.empty:
        raise RunTableError(f"{path}: the table holds no experiment rows; {_DATA_HINT}")
    frame.index = pd.RangeIndex(2, len(frame) + 2)  # the CSV line of each row (line 1 is the header)
    return frame


def _layout(path: Path, frame: pd.DataFrame) -> _Layout:
    for layout in (_TRANSLATION, _CLASSIFICATION):
        tags = [layout.target_tag.format(target=t) + "_" for t in layout.targets]
        if any(str(c).startswith(tuple(tags)) for c in frame.columns):
            return layout
    raise RunTableError(
        f"{path}: no ProxyLM layout: no target-model score column such as 'aya_accuracy' (intent, slot) or "
        f"'m2m100_ft_spBLEU_mean' (mt560, nusa); the columns are {list(frame.columns)[:8]}...; {_DATA_HINT}"
    )


def _scores(frame: pd.DataFrame, layout: _Layout, target: str) -> list[str]:
    """The score names of ``target``'s columns, in file order."""
    head = layout.target_tag.format(target=target) + "_"
    return [
        c[len(head) : len(c) - len(layout.suffix)]
        for c in frame.columns
        if c.startswith(head) and c.endswith(layout.suffix) and len(c) > len(head) + len(layout.suffix)
    ]


def _score_column(path: Path, frame: pd.DataFrame, layout: _Layout, target: str, score: str | None) -> tuple[str, str]:
    """The target's score column and the score's name in the file."""
    known = _scores(frame, layout, target)
    if not known:
        raise RunTableError(
            f"{path}: missing column(s) for target model {target!r}: no column "
            f"{layout.column(layout.target_tag.format(target=target), '<score>')!r}; add them or pick another target"
        )
    if score is None:
        score = known[0]
    if score in _REFUSED_SCORES:
        raise RunTableError(f"score={score!r} is {_REFUSED_SCORES[score]}; use one of {_usable(known)}")
    if score == "comet" and "comet" not in known and "comet_score" in known:
        score = "comet_score"  # nusa's name
    if score not in known:
        raise RunTableError(f"{path}: unknown score {score!r} for target model {target!r}; it has {_usable(known)}")
    return layout.column(layout.target_tag.format(target=target), score), score


def _usable(scores: list[str]) -> list[str]:
    return [s for s in scores if s not in _REFUSED_SCORES]


def _proxy_columns(path, frame, layout: _Layout, target: str, score: str, proxies) -> dict[str, str]:
    """Proxy name -> its score column, every column present."""
    known = layout.proxy_names(target)
    if proxies == "all":
        proxies = list(known)
    if isinstance(proxies, str) or not all(isinstance(p, str) for p in proxies):
        raise RunTableError(f"proxies={proxies!r}; give 'all' or a list of proxy models out of {list(known)}")
    unknown = [p for p in proxies if p not in known]
    if unknown:
        raise RunTableError(
            f"unknown proxy model(s) {unknown} for target {target!r}; "
            f"this {layout.name} table's proxies are {list(known)}"
        )
    columns = {p: layout.column(p, score) for p in dict.fromkeys(proxies)}
    _require(path, frame, list(columns.values()), "the proxy scores")
    return columns


def _feature_columns(path, frame, layout: _Layout, features) -> list[str]:
    if isinstance(features, str):
        if features not in FEATURE_SETS:
            raise RunTableError(f"features={features!r}; use one of {list(FEATURE_SETS)} or a list of column names")
        language = list(URIEL_FEATURES) if features in ("all", "language") else []
        _require(path, frame, language, "the URIEL language features")
        others = [c for c in frame.columns if c not in (*_TEXT_KEYS, *URIEL_FEATURES) and not layout.is_score(c)]
        return [*(others if features in ("all", "dataset") else []), *language]
    columns = list(dict.fromkeys(features))
    reserved = [c for c in columns if c in _TEXT_KEYS or layout.is_score(c)]
    if reserved:
        raise RunTableError(
            f"features {reserved} are run keys or model scores; proxy scores are chosen with proxies=, not features="
        )
    _require(path, frame, columns, "the chosen features")
    return columns


def _require(path: Path, frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RunTableError(f"{path}: missing column(s) {missing} ({what}); add them or choose other columns")


def _checked_cells(path: Path, frame: pd.DataFrame, columns: list[str], dropna: bool) -> pd.DataFrame:
    """``frame`` with every read column checked: text keys, numbers elsewhere, no empty cell (or dropped)."""
    _require(path, frame, list(columns), "the run keys")
    columns = list(dict.fromkeys(columns))
    empty = frame[columns].isna()
    if empty.any(axis=None):
        if not dropna:
            line = int(empty.any(axis=1).idxmax())
            column = next(c for c in columns if empty.at[line, c])
            raise RunTableError(
                f"{path}: line {line}{_run_hint(frame, line)}: column {column!r} is empty (NaN); every experiment "
                "row needs it: fill it, drop the row, or pass dropna=True to drop such rows as ProxyLM's loader does"
            )
        frame = frame[~empty.any(axis=1)]
        if frame.empty:
            raise RunTableError(f"{path}: dropna=True dropped every row; the columns read are {columns}")
    for column in columns:
        if column in _TEXT_KEYS:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            line = int(bad.idxmax())
            raise RunTableError(
                f"{path}: line {line}{_run_hint(frame, line)}: column {column!r} holds {frame.at[line, column]!r}, "
                "not a finite number; correct the cell or drop the row (or leave a feature out with features=[...])"
            )
        frame = frame.assign(**{column: values.astype(float)})
    return frame


def _run_hint(frame: pd.DataFrame, line: int) -> str:
    source, target = frame.at[line, "source_lang"], frame.at[line, "target_lang"]
    return f" ({source}->{target})" if pd.notna(source) and pd.notna(target) else ""


def _run_ids(path: Path, frame: pd.DataFrame, layout: _Layout) -> list[str]:
    stem = path.name.removesuffix(".csv").removesuffix("_experiments")
    ids, first = [], {}
    for line, row in frame.iterrows():
        rid = f"{stem}/{row['source_lang']}->{row['target_lang']}"
        if layout is _TRANSLATION:
            rid += f"/{row['train_dataset']}/{int(row['dataset_size'])}/{row['test_dataset']}"
        if rid in first:
            raise RunTableError(
                f"{path}: line {line} repeats the experiment of line {first[rid]} ({rid}); "
                f"every row needs its own {list(layout.key)}: drop one of them"
            )
        first[rid] = line
        ids.append(rid)
    return ids
