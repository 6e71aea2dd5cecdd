"""The one split vocabulary: how runs are held out, for the fit and evaluate apps and for RunTable.

A split is a :class:`Split` of one of four kinds, each with its own keys:

- ``random``: ``test_fraction`` of the runs at random (``seed``);
- ``within_groups``: ``test_fraction`` of each group's runs at random, while every group keeps
  ``min_train`` runs in training (a group needs two to tell its intercept from a run's deviation);
- ``group``: whole groups held out, where a group is a value of ``by``, the group label
  (``by: null``) or a static feature; the held-out values are ``test_values``, or a random
  ``test_fraction`` of the distinct values;
- ``kfold``: ``folds`` folds at random (``seed``), each run held out exactly once.

Model choice refits on folds of the training runs. Where the held-out runs are whole groups,
the folds are too (:meth:`Split.choice_folds`: the training runs' distinct values of ``by`` dealt
into folds), so the choice scores what the split tests, prediction for unseen values. Otherwise
:func:`within_group_folds` draws them within groups, so that every fold keeps every group fitted.

:meth:`Split.partition` gives the (train, test) pairs: one pair, or one per fold. A split that
would leave a side empty, or names a key its kind does not have, is refused with a message that
names the split and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np

from .errors import RunTableError

__all__ = ["SPLIT_KINDS", "SPLIT_KEYS", "Split", "Runs", "within_group_folds"]


class Runs(Protocol):
    """What a split reads of a table of runs (a :class:`~tuneahead.data.runtable.RunTable`)."""

    group: np.ndarray
    groups: tuple[str, ...]
    static: np.ndarray
    static_names: tuple[str, ...]

    def __len__(self) -> int: ...

    def select(self, index) -> Runs: ...


SPLIT_KEYS: dict[str, frozenset[str]] = {
    "random": frozenset({"kind", "test_fraction", "seed"}),
    "within_groups": frozenset({"kind", "test_fraction", "seed", "min_train"}),
    "group": frozenset({"kind", "by", "test_fraction", "seed", "test_values"}),
    "kfold": frozenset({"kind", "folds", "seed"}),
}
SPLIT_KINDS = tuple(SPLIT_KEYS)


@dataclass(frozen=True)
class Split:
    """How runs are held out (see module doc); ``name`` is the config path used in messages."""

    kind: str = "random"
    test_fraction: float = 0.3
    seed: int = 0
    min_train: int = 2
    by: str | None = None
    test_values: Sequence[Any] | None = None
    folds: int = 5
    name: str = "split"

    def __post_init__(self) -> None:
        if self.kind not in SPLIT_KEYS:
            raise ValueError(f"{self.name}.kind={self.kind!r}; use one of {sorted(SPLIT_KEYS)}")

    @classmethod
    def from_config(cls, values: Mapping[str, Any], name: str = "split") -> Split:
        """A split from a config mapping, refusing keys that its kind does not have."""
        values = dict(values)
        kind = values.get("kind", "random")
        if kind not in SPLIT_KEYS:
            raise ValueError(f"{name}.kind={kind!r}; use one of {sorted(SPLIT_KEYS)}")
        unknown = set(values) - SPLIT_KEYS[kind]
        if unknown:
            raise ValueError(
                f"{name}: unknown key(s) {sorted(unknown)} for kind {kind!r}; known keys are {sorted(SPLIT_KEYS[kind])}"
            )
        if values.get("test_values") is not None:
            values["test_values"] = tuple(values["test_values"])
        return cls(**values, name=name)

    def config(self) -> dict[str, Any]:
        """The split's own keys, as :meth:`from_config` reads them."""
        keys = SPLIT_KEYS[self.kind]
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in keys}

    def partition(self, table: Runs) -> list[tuple[Runs, Runs]]:
        """The (train, test) pairs of ``table``: one, or one per fold for ``kfold``."""
        if self.kind == "kfold":
            return self._kfold(table)
        is_test = {"random": self._random, "within_groups": self._within_groups, "group": self._group}[self.kind](table)
        return [(table.select(~is_test), table.select(is_test))]

    def _fraction(self) -> float:
        if not 0 < self.test_fraction < 1:
            raise RunTableError(f"test_fraction must lie strictly between 0 and 1, got {self.test_fraction}")
        return float(self.test_fraction)

    def _random(self, table: Runs) -> np.ndarray:
        fraction = self._fraction()
        perm = np.random.default_rng(self.seed).permutation(len(table))
        n_test = int(round(fraction * len(table)))
        if n_test == 0 or n_test == len(table):
            raise RunTableError(f"a test fraction of {fraction} leaves an empty side for {len(table)} runs")
        is_test = np.zeros(len(table), dtype=bool)
        is_test[perm[:n_test]] = True
        return is_test

    def _within_groups(self, table: Runs) -> np.ndarray:
        fraction = self._fraction()
        rng = np.random.default_rng(self.seed)
        is_test = np.zeros(len(table), dtype=bool)
        for g in table.groups:
            rows = np.flatnonzero(table.group == g)
            k = min(int(round(fraction * len(rows))), len(rows) - self.min_train)
            if k > 0:
                is_test[rng.choice(rows, size=k, replace=False)] = True
        if not is_test.any():
            raise RunTableError(
                f"a test fraction of {fraction} holds out no run when every group keeps {self.min_train} "
                "in training; use more runs per group or a larger fraction"
            )
        return is_test

    def choice_folds(self, train: Runs, folds: int, seed: int = 0) -> np.ndarray | None:
        """Folds of the training runs ``train`` that hold out what this split holds out, or None.

        For a ``group`` split, the training runs' distinct values of ``by`` are dealt at random
        into ``min(folds, values)`` folds, each value's runs in one fold (-1 for none). Other
        kinds hold out runs, not values: None, and the caller draws folds within groups.
        """
        if self.kind != "group":
            return None
        labels = self._labels(train)
        values = list(dict.fromkeys(labels.tolist()))
        if len(values) < 2:
            raise RunTableError(
                f"{self.name}: the training runs hold one value of {self.by or 'the group'} ({values}), so "
                "model choice cannot hold out whole values; hold out fewer values or use model.auto.criterion=loo "
                "on a random split"
            )
        k = min(int(folds), len(values))
        order = np.random.default_rng(seed).permutation(len(values))
        of_value = {values[j]: i % k for i, j in enumerate(order)}
        return np.array([of_value[v] for v in labels.tolist()])

    def _labels(self, table: Runs) -> np.ndarray:
        if self.by is None:
            return np.asarray(table.group)
        if self.by in table.static_names:
            return table.static[:, table.static_names.index(self.by)]
        raise RunTableError(
            f"{self.name}.by={self.by!r} is not a static feature; the table has "
            f"{list(table.static_names)} (or use by: null for the group labels)"
        )

    def _group(self, table: Runs) -> np.ndarray:
        labels = self._labels(table)
        values = list(dict.fromkeys(labels.tolist()))
        what = "groups" if self.by is None else f"values of {self.by}"
        if self.test_values is not None:
            held = list(self.test_values)
            unknown = [v for v in held if v not in values]
            if unknown:
                raise RunTableError(f"{self.name}: unknown test {what} {sorted(unknown)}; known: {values}")
        else:
            fraction = self._fraction()
            k = int(round(fraction * len(values)))
            if not 0 < k < len(values):
                raise RunTableError(
                    f"{self.name}: {len(values)} distinct {what} cannot be split with test_fraction={fraction}, "
                    "which leaves an empty side; use a random split or more groups"
                )
            rng = np.random.default_rng(self.seed)
            held = [values[j] for j in sorted(rng.choice(len(values), size=k, replace=False))]
        is_test = np.isin(labels, held)
        if is_test.all() or not is_test.any():
            raise RunTableError(f"{self.name}: held-out {what} {held} leave an empty side")
        return is_test

    def _kfold(self, table: Runs) -> list[tuple[Runs, Runs]]:
        n, k = len(table), int(self.folds)
        if not 2 <= k <= n:
            raise RunTableError(f"{self.name}.folds={k}; use between 2 and the number of runs ({n})")
        fold = np.empty(n, dtype=int)
        fold[np.random.default_rng(self.seed).permutation(n)] = np.arange(n) % k
        return [(table.select(fold != j), table.select(fold == j)) for j in range(k)]


def within_group_folds(groups, folds: int, seed: int = 0, min_train: int = 2) -> np.ndarray:
    """Fold of each run (-1: never held out), drawn within groups so that every fold leaves at least
    ``min_train`` runs of every group in training; a group too small for that is never held out."""
    groups = np.asarray(groups)
    fold = np.full(len(groups), -1)
    rng = np.random.default_rng(seed)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if len(idx) - int(np.ceil(len(idx) / folds)) < min_train:
            continue
        fold[rng.permutation(idx)] = (rng.integers(folds) + np.arange(len(idx))) % folds
    if (fold < 0).all():
        raise RunTableError(
            f"no group has enough runs for {folds} folds that each keep {min_train} of its runs in training; "
            "use fewer folds or model.auto.criterion=loo"
        )
    return fold
