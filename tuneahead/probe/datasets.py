"""Instruction datasets that exist offline: procedural tasks, labelled kaomoji, users' JSONL.

A dataset variant is a mapping (from config) with a ``source`` and that source's knobs; it loads
as an :class:`InstructionDataset`, a training split and a held-out split of
:class:`~tuneahead.probe.tasks.Example`. The held-out split is what full runs are scored on.

Sources
-------
``procedural``
    ``task`` (arithmetic | string | recall | classify), ``size``, ``label_noise``,
    ``duplication``, ``length``, ``difficulty``, ``heldout`` (examples) and ``seed``. The held-out
    split is drawn with another seed and without noise or duplication: it measures the clean task.
``kaomoji``
    The labelled kaomoji of the ``kaomoji-dataset`` wheel (core tier): the prompt shows a kaomoji,
    the response is its emotion category. ``n_classes`` keeps the most frequent categories,
    ``size``, ``heldout``, ``label_noise`` and ``seed`` as above.
``jsonl``
    A user's file with one JSON object a line: ``prompt`` and ``response`` (strings), optional
    ``answer``. ``heldout_fraction`` of the lines, chosen with ``seed``, are held out.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .tasks import Example, make_task

__all__ = ["InstructionDataset", "DatasetError", "load_dataset", "read_jsonl", "kaomoji_examples"]


class DatasetError(ValueError):
    """A dataset cannot be read; the message names the file, line and field."""


@dataclass(frozen=True)
class InstructionDataset:
    """A named dataset variant: its training examples and its held-out examples."""

    name: str
    train: list[Example]
    heldout: list[Example]
    spec: Mapping[str, Any]


def read_jsonl(path: str | Path) -> list[Example]:
    """Read ``prompt``/``response``/optional ``answer`` lines; a bad line is a :class:`DatasetError`."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such dataset file")
    out = []
    with open(path, encoding="utf-8") as fh:
        for no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise DatasetError(f"{path}:{no}: not valid JSON ({err.msg}); write one JSON object per line") from None
            if not isinstance(obj, dict):
                raise DatasetError(f"{path}:{no}: expected a JSON object with 'prompt' and 'response'")
            for field in ("prompt", "response"):
                if field not in obj:
                    raise DatasetError(
                        f"{path}:{no}: field {field!r} is missing; every line needs 'prompt' and 'response'"
                    )
                if not isinstance(obj[field], str) or not obj[field]:
                    raise DatasetError(f"{path}:{no}: field {field!r} must be a non-empty string, got {obj[field]!r}")
            answer = obj.get("answer")
            if answer is not None and not isinstance(answer, str):
                raise DatasetError(f"{path}:{no}: field 'answer' must be a string or absent, got {answer!r}")
            out.append(Example(obj["prompt"], obj["response"], answer))
    if not out:
        raise DatasetError(f"{path}: the file holds no examples")
    return out


def _kaomoji_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("kaomoji_dataset")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("the kaomoji dataset needs its wheel: pip install kaomoji-dataset")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "kaomoji.jsonl.gz"


# Catch-all categories that name no feeling, so a label of them cannot be read off the face.
_NOT_FEELINGS = {None, "", "uncategorized", "special"}


def kaomoji_examples(n_classes: int = 4) -> list[Example]:
    """Every core-tier kaomoji of the ``n_classes`` most frequent feeling categories, as examples."""
    rows = []
    with gzip.open(_kaomoji_file(), "rt", encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            if obj.get("tier") == "core" and obj.get("category") not in _NOT_FEELINGS and obj.get("text"):
                rows.append((obj["text"], obj["category"]))
    top = [c for c, _ in Counter(c for _, c in rows).most_common(n_classes)]
    keep = set(top)
    prompt = "Which feeling does this kaomoji show ({})? {}"
    labels = ", ".join(sorted(top))
    return [Example(prompt.format(labels, t), c, c) for t, c in rows if c in keep]


def _noisy(examples: list[Example], p: float, rng: random.Random) -> list[Example]:
    labels = sorted({e.response for e in examples})
    out = []
    for e in examples:
        if p > 0 and rng.random() < p and len(labels) > 1:
            r = rng.choice([lab for lab in labels if lab != e.response])
            out.append(Example(e.prompt, r, r))
        else:
            out.append(e)
    return out


def load_dataset(name: str, spec: Mapping[str, Any]) -> InstructionDataset:
    """Load the dataset variant ``name`` described by ``spec`` (see the module doc)."""
    original = dict(spec)
    spec = dict(spec)
    source = spec.pop("source", None)
    try:
        if source == "procedural":
            task = spec.pop("task")
            size, heldout = int(spec.pop("size", 256)), int(spec.pop("heldout", 64))
            seed = int(spec.pop("seed", 0))
            train = make_task(task, size, seed=seed, **spec)
            clean = {k: v for k, v in spec.items() if k in ("length", "difficulty")}
            test = make_task(task, heldout, seed=seed + 10_000, **clean)
        elif source == "kaomoji":
            size, heldout = int(spec.pop("size", 256)), int(spec.pop("heldout", 64))
            seed, noise = int(spec.pop("seed", 0)), float(spec.pop("label_noise", 0.0))
            pool = kaomoji_examples(int(spec.pop("n_classes", 4)))
            _no_extra(spec, name)
            rng = random.Random(seed)
            rng.shuffle(pool)
            if size + heldout > len(pool):
                raise DatasetError(f"dataset {name!r}: size+heldout={size + heldout} exceeds the {len(pool)} kaomoji")
            test, train = pool[:heldout], _noisy(pool[heldout : heldout + size], noise, rng)
        elif source == "jsonl":
            examples = read_jsonl(spec.pop("path"))
            frac, seed = float(spec.pop("heldout_fraction", 0.2)), int(spec.pop("seed", 0))
            _no_extra(spec, name)
            order = list(range(len(examples)))
            random.Random(seed).shuffle(order)
            k = max(1, int(round(frac * len(examples))))
            if k >= len(examples):
                raise DatasetError(f"dataset {name!r}: {len(examples)} lines leave no training examples")
            test = [examples[i] for i in sorted(order[:k])]
            train = [examples[i] for i in sorted(order[k:])]
        else:
            raise DatasetError(f"dataset {name!r}: source={source!r}; use procedural, kaomoji or jsonl")
    except TypeError as err:
        raise DatasetError(f"dataset {name!r}: {err}; see tuneahead.probe.datasets for each source's knobs") from None
    except KeyError as err:
        raise DatasetError(f"dataset {name!r}: knob {err} is required for source {source!r}") from None
    return InstructionDataset(name, train, test, original)


def _no_extra(spec: Mapping[str, Any], name: str) -> None:
    if spec:
        raise DatasetError(f"dataset {name!r}: unknown knob(s) {sorted(spec)}")
