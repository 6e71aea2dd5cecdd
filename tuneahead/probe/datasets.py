"""Instruction datasets that exist offline: procedural tasks, labelled kaomoji, users' JSONL.

A dataset variant is a mapping (from config) with a ``source`` and that source's knobs; it loads
as an :class:`InstructionDataset` of three disjoint splits of
:class:`~tuneahead.probe.tasks.Example`:

- ``heldout``: the test examples that full runs are scored on (exact match);
- ``validation``: the examples the probe evaluates on (its eval loss and flatness batch), so that
  no probe feature has seen a test example;
- ``train``: the rest.

The splits are separate by prompt: no prompt of one split occurs in another, and the held-out and
validation prompts are distinct within their split (a prompt space too small to fill them is an
error that says which knob to change). Deduplication takes prompts away from training, never
from the held-out split, so the test measures unseen prompts.

Sources
-------
``procedural``
    ``task`` (arithmetic | string | recall | classify), ``size``, ``label_noise``,
    ``duplication``, ``length``, ``difficulty``, ``heldout`` and ``validation`` (examples) and
    ``seed``. The held-out and validation splits are drawn with another seed and without noise or
    duplication: they measure the clean task. Training examples whose prompt is held out are
    replaced by further draws.
``kaomoji``
    The labelled kaomoji of the ``kaomoji-dataset`` wheel (core tier): the prompt shows a kaomoji,
    the response is its emotion category. ``n_classes`` keeps the most frequent categories,
    ``size``, ``heldout``, ``validation``, ``label_noise`` and ``seed`` as above.
``jsonl``
    A user's file with one JSON object a line: ``prompt`` and ``response`` (strings), optional
    ``answer``. ``heldout_fraction`` and ``validation_fraction`` of the distinct prompts, chosen
    with ``seed``, are held out; lines whose prompt is held out are not trained on.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tasks import Example, corrupt, make_task

__all__ = [
    "InstructionDataset",
    "DatasetError",
    "SPLITS_VERSION",
    "load_dataset",
    "read_jsonl",
    "kaomoji_examples",
]

# Part of every run key: runs made before the validation split and deduplication are not reused.
SPLITS_VERSION = 2


class DatasetError(ValueError):
    """A dataset cannot be read; the message names the file, line and field."""


@dataclass(frozen=True)
class InstructionDataset:
    """A named dataset variant: its training, held-out (test) and validation (probe) examples."""

    name: str
    train: list[Example]
    heldout: list[Example]
    spec: Mapping[str, Any]
    validation: list[Example] = field(default_factory=list)


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


def _distinct(examples, n: int, taken: set[str], name: str, what: str, fix: str) -> list[Example]:
    """The first ``n`` examples of ``examples`` whose prompts are new (not in ``taken``, not repeated);
    their prompts are added to ``taken``."""
    out = []
    for e in examples:
        if e.prompt not in taken:
            taken.add(e.prompt)
            out.append(e)
            if len(out) == n:
                return out
    raise DatasetError(f"dataset {name!r}: only {len(out)} distinct prompts are left for {n} {what} examples; {fix}")


def _procedural(name: str, spec: dict) -> tuple[list[Example], list[Example], list[Example]]:
    task = spec.pop("task")
    size, heldout = int(spec.pop("size", 256)), int(spec.pop("heldout", 64))
    n_val, seed = int(spec.pop("validation", 32)), int(spec.pop("seed", 0))
    clean = {k: v for k, v in spec.items() if k in ("length", "difficulty")}
    fix = "lower heldout, validation or size, or raise difficulty or length for more distinct prompts"
    pool = make_task(task, 20 * (heldout + n_val) + 200, seed=seed + 10_000, **clean)
    taken: set[str] = set()
    test = _distinct(pool, heldout, taken, name, "held-out", fix)
    val = _distinct(pool, n_val, taken, name, "validation", fix)
    noise, duplication = float(spec.pop("label_noise", 0.0)), float(spec.pop("duplication", 0.0))
    for n in (size, 4 * size, 32 * size):
        train = [e for e in make_task(task, n, seed=seed, **spec) if e.prompt not in taken][:size]
        if len(train) == size:  # noise and duplication act on the kept examples, at their asked rates
            return corrupt(train, random.Random(f"{task}-{seed}-train"), noise, duplication), test, val
    raise DatasetError(f"dataset {name!r}: too few training prompts are left once held-out ones are removed; {fix}")


def _kaomoji(name: str, spec: dict) -> tuple[list[Example], list[Example], list[Example]]:
    size, heldout = int(spec.pop("size", 256)), int(spec.pop("heldout", 64))
    n_val, seed = int(spec.pop("validation", 32)), int(spec.pop("seed", 0))
    noise, n_classes = float(spec.pop("label_noise", 0.0)), int(spec.pop("n_classes", 4))
    _no_extra(spec, name)
    first: dict[str, Example] = {}
    for e in kaomoji_examples(n_classes):
        first.setdefault(e.prompt, e)
    pool = list(first.values())
    rng = random.Random(seed)
    rng.shuffle(pool)
    if size + heldout + n_val > len(pool):
        raise DatasetError(
            f"dataset {name!r}: size+heldout+validation={size + heldout + n_val} exceeds the {len(pool)} distinct "
            "kaomoji; lower them"
        )
    test, val = pool[:heldout], pool[heldout : heldout + n_val]
    return _noisy(pool[heldout + n_val : heldout + n_val + size], noise, rng), test, val


def _jsonl(name: str, spec: dict) -> tuple[list[Example], list[Example], list[Example]]:
    examples = read_jsonl(spec.pop("path"))
    frac, seed = float(spec.pop("heldout_fraction", 0.2)), int(spec.pop("seed", 0))
    val_frac = float(spec.pop("validation_fraction", 0.1))
    _no_extra(spec, name)
    prompts = list(dict.fromkeys(e.prompt for e in examples))
    random.Random(seed).shuffle(prompts)
    k, v = max(1, int(round(frac * len(prompts)))), max(1, int(round(val_frac * len(prompts))))
    if k + v >= len(prompts):
        raise DatasetError(f"dataset {name!r}: {len(prompts)} distinct prompts leave no training examples")
    test_p, val_p = set(prompts[:k]), set(prompts[k : k + v])
    first: dict[str, Example] = {}
    for e in examples:
        first.setdefault(e.prompt, e)
    test = [e for p, e in first.items() if p in test_p]
    val = [e for p, e in first.items() if p in val_p]
    return [e for e in examples if e.prompt not in test_p | val_p], test, val


_SOURCES = {"procedural": _procedural, "kaomoji": _kaomoji, "jsonl": _jsonl}


def load_dataset(name: str, spec: Mapping[str, Any]) -> InstructionDataset:
    """Load the dataset variant ``name`` described by ``spec`` (see the module doc)."""
    original, spec = dict(spec), dict(spec)
    source = spec.pop("source", None)
    if source not in _SOURCES:
        raise DatasetError(f"dataset {name!r}: source={source!r}; use {', '.join(_SOURCES)}")
    for knob in ("size", "heldout", "validation"):
        if knob in spec and not (isinstance(spec[knob], int) and spec[knob] >= 1):
            raise DatasetError(f"dataset {name!r}: {knob}={spec[knob]!r}; give a whole number >= 1")
    try:
        train, test, val = _SOURCES[source](name, spec)
    except TypeError as err:
        raise DatasetError(f"dataset {name!r}: {err}; see tuneahead.probe.datasets for each source's knobs") from None
    except KeyError as err:
        raise DatasetError(f"dataset {name!r}: knob {err} is required for source {source!r}") from None
    return InstructionDataset(name, train, test, original, val)


def _no_extra(spec: Mapping[str, Any], name: str) -> None:
    if spec:
        raise DatasetError(f"dataset {name!r}: unknown knob(s) {sorted(spec)}")
