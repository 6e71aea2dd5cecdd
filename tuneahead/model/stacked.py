r"""A stacked posterior: the variants of the model mixed by their stacking weights.

Where no single variant predicts every run best, the mixture of the variants' predictives with the
Bayesian stacking weights :math:`w_k` (Yao, Vehtari, Simpson and Gelman 2018,
:func:`stacking_weights`) predicts better than any one of them:

.. math::

    p(R_i \mid I_c) = \sum_k w_k\, p_k(R_i \mid I_c), \qquad
    p_k(R_i \mid I_c) = \frac1{S_k} \sum_{s \le S_k} p(R_i \mid I_c, \theta^{(k)}_s).

A stacked posterior stands for that mixture by its draws: of ``S`` draws, variant :math:`k`
gives :math:`S_k \approx w_k S` (largest remainders), so that every draw weighs :math:`1/S` as in
one posterior, and each draw is read with its own variant's design (:meth:`draw_sets`). Everything
computed from draws is then the mixture's: the predictive, L(c) and its split, c* and the regime.
In the split, the spread of the variants' predictions is between-draw variance, part of
:math:`V_{epi}(c)`: which variant is right is learned from more training runs, not from a longer
probe.

It is saved as one NetCDF file: the stacking weights in the root group's attributes and each
variant's posterior, with its design and diagnostics, in the group ``stack/<name>``.
:func:`load_posterior` reads either kind of file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5netcdf
import numpy as np
import xarray as xr
from scipy.optimize import minimize
from scipy.special import logsumexp

from ..artifacts import atomic_path
from .posterior import _DIAG_ATTR, Diagnostics, DrawSet, Posterior

__all__ = ["StackedPosterior", "load_posterior", "allocate_draws", "stacking_weights"]

STACK_ATTR = "tuneahead_stack"
MIN_WEIGHT = 1e-3  # a variant weighing less is left out of the stack (under half a draw in 400)


def stacking_weights(pointwise: np.ndarray) -> np.ndarray:
    r"""Bayesian stacking weights of the variants (Yao, Vehtari, Simpson and Gelman 2018): the
    :math:`w` on the simplex that maximizes :math:`\sum_i \log \sum_k w_k\, e^{\ell_{ik}}`,
    where :math:`\ell_{ik}` is run :math:`i`'s held-out log density under variant :math:`k`
    (``pointwise``, ``(n, K)``; runs with a missing term are left out). Unlike the elpd ranking, it
    says how much each variant adds to the others: variants that predict different runs well
    share the weight, and a variant that another predicts as well as it does gets none. With a
    target summed over budgets, :math:`\ell_{ik}` is the run's summed term, the log of its joint
    density over the budgets, so the mixture is one of whole runs' predictions.
    """
    ell = np.asarray(pointwise, dtype=float)
    ell = ell[np.all(np.isfinite(ell), axis=1)]
    k = ell.shape[1]
    if k == 1 or not len(ell):
        return np.full(k, 1.0 / k)
    ell = ell - ell.max(axis=1, keepdims=True)  # each run's scale drops out of the argmax

    def objective(z):
        log_w = z - logsumexp(z)
        mix = logsumexp(ell + log_w, axis=1)  # (n,)
        share = np.exp(ell + log_w - mix[:, None])  # each variant's share of each run's density
        grad = share.sum(axis=0) - len(ell) * np.exp(log_w)
        return -mix.sum(), -grad

    z = minimize(objective, np.zeros(k), jac=True, method="L-BFGS-B").x
    return np.exp(z - logsumexp(z))


def allocate_draws(weights: np.ndarray, total: int) -> np.ndarray:
    """``total`` draws shared in proportion to ``weights`` by largest remainders."""
    weights = np.asarray(weights, dtype=float)
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(int)
    short = total - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return counts


@dataclass(frozen=True, eq=False)
class StackedPosterior:
    """The variants' posteriors (``members``, by name) and their stacking weights (module doc)."""

    members: dict[str, Posterior]
    weights: dict[str, float]
    diagnostics: Diagnostics

    @classmethod
    def from_members(cls, members: dict[str, Posterior], weights: dict[str, float], extra: dict | None = None):
        """Stack ``members`` by ``weights``; variants weighing under :data:`MIN_WEIGHT` are left out
        and the rest renormalized. The members must read the same runs: the same static features and
        metrics (variants of one model fitted to one table do)."""
        kept = {n: float(w) for n, w in weights.items() if w >= MIN_WEIGHT}
        if not kept or set(kept) - set(members):
            raise ValueError(f"stacking weights {weights} name no fitted variant of {sorted(members)} above 0")
        total = sum(kept.values())
        kept = {n: w / total for n, w in kept.items()}
        first = members[next(iter(kept))].design
        for name in kept:
            design = members[name].design
            if (design.static_names, design.spec.metrics) != (first.static_names, first.spec.metrics):
                raise ValueError(
                    f"variant {name!r} reads static features {list(design.static_names)} and metrics "
                    f"{list(design.spec.metrics)}, variant {next(iter(kept))!r} {list(first.static_names)} and "
                    f"{list(first.spec.metrics)}; only variants that read the same runs can be stacked"
                )
        return cls({n: members[n] for n in kept}, kept, _stacked_diagnostics(members, kept, extra or {}))

    @property
    def design(self):
        """The design of the heaviest variant: the encoding all variants share (static features,
        metrics, scales); each variant's own model terms are read through :meth:`draw_sets`."""
        return self.members[max(self.weights, key=self.weights.get)].design

    @property
    def num_draws(self) -> int:
        return sum(m.num_draws for m in self.members.values())

    def draw_indices(self, max_draws: int | None = None) -> dict[str, np.ndarray]:
        """Which of each variant's draws (chains flattened) make up ``max_draws`` draws of the stack
        (None: as many as the largest variant has), shared by the weights and spread evenly over
        each variant's draws (as :meth:`Posterior.draws` thins); a variant asked for more draws
        than it has repeats them. Variants with no draw are left out."""
        total = max_draws if max_draws is not None else max(m.num_draws for m in self.members.values())
        counts = allocate_draws(np.array(list(self.weights.values())), total)
        return {
            name: np.linspace(0, member.num_draws - 1, count).round().astype(int)
            for (name, member), count in zip(self.members.items(), counts)
            if count > 0
        }

    def draw_sets(self, max_draws: int | None = None) -> list[DrawSet]:
        """The draws of :meth:`draw_indices`, one set per variant, each with its own design."""
        out = []
        for name, index in self.draw_indices(max_draws).items():
            member = self.members[name]
            out.append(DrawSet(member.params_at(index), member.design))
        return out

    def natural(self, max_draws: int | None = None) -> dict[str, np.ndarray]:
        """The natural-scale parameters that every stacked variant has (with one shape), their draws
        pooled as in :meth:`draw_indices`: the mixture's posterior of what the variants share."""
        indices = self.draw_indices(max_draws)
        parts = [self.members[name].natural() for name in indices]
        first = parts[0]
        shared = [k for k in first if all(k in p and np.shape(p[k])[1:] == np.shape(first[k])[1:] for p in parts)]
        return {k: np.concatenate([np.asarray(p[k])[i] for p, i in zip(parts, indices.values())]) for k in shared}

    # ------------------------------------------------------------------ storage
    def save(self, path: str | os.PathLike) -> Path:
        """Write the weights and every variant's posterior to one NetCDF file, atomically (module doc)."""
        path = Path(path)
        root = {STACK_ATTR: json.dumps(self.weights), _DIAG_ATTR: json.dumps(self.diagnostics.to_dict())}
        with atomic_path(path) as tmp:
            xr.Dataset(attrs=root).to_netcdf(str(tmp), engine="h5netcdf")
            for name, member in self.members.items():
                member.tagged_draws().to_netcdf(str(tmp), group=f"stack/{name}", mode="a", engine="h5netcdf")
        return path


def _stacked_diagnostics(members: dict[str, Posterior], weights: dict[str, float], extra: dict) -> Diagnostics:
    """The worst of the stacked variants' sampler health (the weights live on the stack, not here)."""
    used = [members[n].diagnostics for n in weights]
    rhats = [d.max_rhat for d in used if d.max_rhat is not None]
    ess = [d.min_ess_bulk for d in used if d.min_ess_bulk is not None]
    divergences = [d.divergences for d in used if d.divergences is not None]
    return Diagnostics(
        method="stack of " + ", ".join(f"{n} ({members[n].diagnostics.method})" for n in weights),
        max_rhat=max(rhats) if rhats else None,
        min_ess_bulk=min(ess) if ess else None,
        divergences=sum(divergences) if divergences else None,
        num_draws=sum(d.num_draws for d in used),
        num_chains=max(d.num_chains for d in used),
        per_parameter={n: members[n].diagnostics.per_parameter for n in weights},
        warnings=tuple(f"{n}: {w}" for n in weights for w in members[n].diagnostics.warnings),
        extra=extra,
    )


def load_posterior(path: str | os.PathLike) -> Posterior | StackedPosterior:
    """Read a posterior written by :meth:`Posterior.save` or :meth:`StackedPosterior.save`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no posterior file; run `python -m tuneahead.fit` first")
    with h5netcdf.File(path, "r") as handle:
        attrs = dict(handle.attrs)
    if STACK_ATTR not in attrs:
        return Posterior.load(path)
    weights = json.loads(attrs[STACK_ATTR])
    members = {}
    for name in weights:
        dataset = xr.open_dataset(str(path), group=f"stack/{name}", engine="h5netcdf").load()
        members[name] = Posterior.from_dataset(dataset, f"{path} (variant {name!r})")
    diag = json.loads(attrs.get(_DIAG_ATTR, "{}"))
    extra = {k: v for k, v in diag.items() if k not in Diagnostics.__dataclass_fields__}
    return StackedPosterior.from_members(members, weights, extra)
