r"""Model choice on the training runs: PSIS-LOO, with K-fold where LOO is unreliable.

Each variant of the model (a set of :class:`~tuneahead.model.design.ModelSpec` changes: static
basis, shape, variance and divergence features, a spread per group, the wandering trajectory,
persistent curve offsets, the gate's basis) is fitted to the training runs, and scored by its expected log
predictive density for a new run. The default target is the question the package answers, the
final score of a run given its probe up to the budget :math:`c`:

.. math::

    \widehat{\mathrm{elpd}}_c = \sum_i \log p(R_i \mid y_{i, \le c}, D_{-i}),

so a variant wins by predicting final scores from short probes, intervals included: an
overconfident predictive pays for every final score outside its narrow interval. The package
reports its predictive at every budget of the risk curve, not at :math:`c` alone (L(c), V_opt(c),
c*); with ``budgets`` listed, the target is the sum over them,
:math:`\sum_b \widehat{\mathrm{elpd}}_{c_b}`, each run's terms summed before the paired
standard errors are taken (a run's terms at different budgets are not independent). With
``target: run`` the observation is the whole run instead, :math:`\log p(y_i, R_i \mid D_{-i})`
(:func:`tuneahead.model.likelihood.run_loglik`, latents and gate integrated out).

- **PSIS-LOO** (Vehtari, Gelman and Gabry 2017, through :func:`arviz.psislw`): leaving run
  :math:`i` out reweights the draws of the one fit by
  :math:`w_{is} \propto 1 / p(y_i, R_i \mid \theta_s)`, Pareto-smoothed, and
  :math:`p(R_i \mid y_{i,\le c}, D_{-i}) \approx \sum_s w_{is}\, p(R_i \mid y_{i,\le c}, \theta_s)`.
- **Exact refits, or K-fold, where PSIS-LOO is unreliable**, that is for runs whose Pareto
  :math:`\hat k` exceeds ``pareto_k`` (0.7, Vehtari et al.'s threshold) under any variant. If
  there are at most ``max_refits`` such runs, every variant is refitted without each of them and
  their terms are computed exactly (arviz's ``reloo``). Otherwise every variant is refitted
  ``folds`` times and each held-out run is scored by
  :math:`\log \frac1S \sum_s p(R_i \mid y_{i,\le c}, \theta_s^{(-f)})` (or the whole run's
  density). Folds are drawn within groups, and a group too small to lose a run and keep two is
  never held out, so every fold's fit sees every group; all variants are scored alike.
- **Folds like the split, where the split holds out whole groups.** When the runs to be predicted
  are unseen values of a feature (a ``group`` split, :meth:`tuneahead.data.splits.Split.choice_folds`),
  leaving one run out asks an easier question than the split does. The choice then always uses
  K-fold, each fold holding out whole values of the training runs, so the variants are scored
  on prediction for values they have not seen.

The chosen variant has the largest elpd; a variant listed earlier (simpler) is kept unless a
later one beats it by more than ``se_rule`` standard errors of their paired difference. The table
also gives each variant's stacking weight (:func:`mixture_weights`: among the variants whose chains
agree, zero for the others, the weights the stack uses), and
the choice keeps each run's term under every variant: where the weight is shared, no variant
predicts every run best. With ``combine: stack`` the fit is then the variants' mixture by those
weights (:class:`~tuneahead.model.stacked.StackedPosterior`) instead of the chosen variant. A
variant whose chains disagree (r_hat above ``max_r_hat``) is reported but neither chosen nor
stacked: its LOO estimate describes no single posterior. Nothing here reads held-out (test) runs:
the caller passes training runs only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from .data.runtable import RunTable
from .data.splits import Split, within_group_folds
from .inference import InferenceConfig, fit, pointwise_loglik
from .model.design import CURVE_OPTIONS, ModelSpec
from .model.posterior import Posterior
from .model.stacked import StackedPosterior, stacking_weights
from .predict import components_from_draws

__all__ = [
    "DEFAULT_VARIANTS",
    "ModelChoiceConfig",
    "ModelChoice",
    "final_logdensity",
    "psis_loo",
    "choose_model",
    "mixture_weights",
    "refit_folds",
]

log = logging.getLogger(__name__)

CRITERIA = ("loo", "kfold")

#: The variants of ``model=auto`` when none are listed: the default model, then one change each.
DEFAULT_VARIANTS = {
    "base": {},
    "shape": {"shape_features": True},
    "quadratic": {"static_basis": "quadratic"},
    "relu": {"static_basis": "relu"},
    "variance": {"variance_features": True},
    "group_spread": {"group_spread": True},
    "offsets": {"curve_offsets": True},
    "walk": {"random_walk": True},
    "transient": {"transient": True},
    "gate_linear": {"gate_basis": "linear"},
    "divergence": {"divergence_features": True},
}
TARGETS = ("final_given_probe", "run")
COMBINE = ("choose", "stack")


@dataclass(frozen=True)
class ModelChoiceConfig:
    """How ``model=auto`` chooses (the ``model.auto`` config block).

    ``variants`` maps a name to the :class:`ModelSpec` fields it changes from the base model
    (None: :data:`DEFAULT_VARIANTS`);
    ``criterion`` is ``loo`` (PSIS-LOO, K-fold where Pareto k is high) or ``kfold`` (always);
    ``budgets`` are the probe budgets the ``final_given_probe`` target sums over (None: the probe
    budget alone); ``combine`` is ``stack`` (mix the converged variants by their stacking weights,
    :mod:`tuneahead.model.stacked`) or ``choose`` (keep the chosen variant).
    """

    variants: dict | None = None
    criterion: str = "loo"
    target: str = "final_given_probe"
    folds: int = 5
    pareto_k: float = 0.7
    max_refits: int = 2
    max_r_hat: float = 1.05
    se_rule: float = 1.0
    seed: int = 0
    budgets: list | None = None
    combine: str = "stack"

    def __post_init__(self) -> None:
        if self.variants is None:
            object.__setattr__(self, "variants", dict(DEFAULT_VARIANTS))
        if self.criterion not in CRITERIA:
            raise ValueError(f"model.auto.criterion={self.criterion!r}; use one of {list(CRITERIA)}")
        if self.combine not in COMBINE:
            raise ValueError(f"model.auto.combine={self.combine!r}; use one of {list(COMBINE)}")
        if self.target not in TARGETS:
            raise ValueError(f"model.auto.target={self.target!r}; use one of {list(TARGETS)}")
        if not self.variants:
            raise ValueError("model.auto.variants is empty; list at least one variant, e.g. {base: {}}")
        if self.folds < 2:
            raise ValueError(f"model.auto.folds={self.folds}; use at least 2")
        if self.budgets is not None:
            budgets = list(self.budgets)
            bad = [b for b in budgets if not isinstance(b, (int, float)) or not np.isfinite(b) or b < 0]
            if not budgets or bad:
                raise ValueError(
                    f"model.auto.budgets={budgets}: list probe budgets >= 0 (e.g. ${{risk.budgets}}), or null"
                    " for the probe budget alone"
                )
            object.__setattr__(self, "budgets", sorted({float(b) for b in budgets}))
        known = set(ModelSpec.__dataclass_fields__)
        for name, changes in self.variants.items():
            unknown = sorted(set(changes or {}) - known)
            if unknown:
                raise ValueError(
                    f"model.auto.variants.{name}: unknown model key(s) {unknown}; known keys are {sorted(known)}"
                )

    def specs(self, base: ModelSpec) -> dict[str, ModelSpec]:
        """Each variant's spec, checked; variants that only change the failure gate's parts are dropped
        where the base has no gate, and those that act on curves where it has no metrics."""
        gate_only = {"gate_basis", "divergence_features"}
        curves = {*CURVE_OPTIONS, "divergence_features"}
        out = {}
        for name, changes in self.variants.items():
            changes = dict(changes or {})
            if not base.failure_gate and changes and set(changes) <= gate_only:
                continue
            if not base.metrics and set(changes) & curves:
                continue
            try:
                out[name] = replace(base, **changes)
            except ValueError as err:
                raise ValueError(f"model.auto.variants.{name}: {err}") from None
        if not out:
            raise ValueError("model.auto.variants: no variant applies to this model; list at least {base: {}}")
        return out


@dataclass(frozen=True)
class ModelChoice:
    """The comparison table (one row a variant), the chosen variant and its spec, every variant's
    posterior on all training runs, and each training run's elpd term under every variant
    (``pointwise``: ``run_id``, then one column a variant; NaN for a run never held out)."""

    table: pd.DataFrame
    chosen: str
    spec: ModelSpec
    posteriors: dict[str, Posterior]
    pointwise: pd.DataFrame

    @property
    def posterior(self) -> Posterior:
        """The chosen variant's posterior."""
        return self.posteriors[self.chosen]

    def stacked(self, extra: dict | None = None) -> StackedPosterior:
        """The converged variants mixed by stacking weights computed among them alone (a variant whose
        chains disagree describes no posterior; if none converged, the chosen one stands alone);
        ``extra`` goes into its diagnostics."""
        converged = dict(zip(self.table.variant, self.table.converged))
        weights = mixture_weights(list(converged), self.pointwise, converged, self.chosen)
        return StackedPosterior.from_members(self.posteriors, weights, extra)


def final_logdensity(posterior: Posterior, table: RunTable, budget: float, max_draws: int | None = None) -> np.ndarray:
    """:math:`\\log p(R_i \\mid y_{i,\\le c}, \\theta_s)`, the predictive density of each run's final
    score given its probe cut at ``budget``, under every draw, ``(S, n)``."""
    return _final_logdensities(posterior, table, [budget], max_draws)[0]


def _final_logdensities(posterior: Posterior, table: RunTable, budgets, max_draws: int | None = None) -> list:
    """:func:`final_logdensity` at each of ``budgets``, the draws' parameters built once."""
    draws, final = posterior.draw_sets(max_draws), np.asarray(table.final, dtype=float)
    return [components_from_draws(draws, table.truncate(b)).draw_logpdf(final) for b in budgets]


def _densities(posterior: Posterior, table: RunTable, target: str, budget) -> list[np.ndarray]:
    """The target's log densities under every draw, one ``(S, n)`` array per budget (one for ``run``)."""
    if target == "run":
        return [pointwise_loglik(posterior, table)]
    return _final_logdensities(posterior, table, np.atleast_1d(np.asarray(budget, dtype=float)))


def psis_loo(
    posterior: Posterior, table: RunTable, target: str = "run", budget: float | list | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """PSIS-LOO of each training run: the pointwise elpd ``(n,)`` and Pareto :math:`\\hat k` ``(n,)``
    (module doc); ``target="final_given_probe"`` scores the final score given the probe cut at ``budget``
    (a list of budgets: the sum of the terms over them)."""
    ll = pointwise_loglik(posterior, table)  # (S, n): the weights leave each whole run out
    log_w, k_hat = az.psislw(xr.DataArray(-ll.T, dims=("run", "__sample__")))
    log_w = np.asarray(log_w)
    elpd = sum(logsumexp(log_w + dens.T, axis=1) for dens in _densities(posterior, table, target, budget))
    return elpd, np.asarray(k_hat, dtype=float)


def _kfold_elpd(
    table: RunTable, spec: ModelSpec, config: InferenceConfig, fold: np.ndarray, target: str, budget
) -> np.ndarray:
    """Pointwise K-fold elpd (NaN for runs never held out)."""
    out = np.full(len(table), np.nan)
    for f in np.unique(fold[fold >= 0]):
        held = fold == f
        out[held] = _held_out_score(
            fit(table.select(~held), spec, config, refit_of=table), table.select(held), target, budget
        )
    return out


def _paired_se(a: np.ndarray, b: np.ndarray) -> float:
    d = a - b
    d = d[np.isfinite(d)]
    return float(np.sqrt(d.size) * d.std(ddof=1)) if d.size > 1 else float("nan")


def mixture_weights(names: list[str], pointwise, converged: dict[str, bool], chosen: str) -> dict[str, float]:
    """The stacking weights of the variants the stack mixes: those whose chains agree, weighed
    among themselves (:func:`~tuneahead.model.stacked.stacking_weights` on their runs' terms); the
    chosen variant alone if none does. A variant left out describes no posterior to mix."""
    mixed = [n for n in names if converged[n]] or [chosen]
    weights = stacking_weights(np.column_stack([np.asarray(pointwise[n], dtype=float) for n in mixed]))
    return dict(zip(mixed, map(float, weights)))


def _converged(posterior: Posterior, max_r_hat: float) -> bool:
    """Whether the chains of a fit agree (r_hat at most ``max_r_hat``; SVI fits always pass)."""
    r_hat = posterior.diagnostics.max_rhat
    return r_hat is None or not np.isfinite(r_hat) or r_hat <= max_r_hat


def _choose(names: list[str], pointwise: dict[str, np.ndarray], se_rule: float, eligible: dict[str, bool]) -> str:
    """The simplest eligible variant that no later eligible variant beats by more than ``se_rule``
    paired SEs (the first variant if none is eligible)."""
    ok = [n for n in names if eligible[n]] or names[:1]
    chosen = ok[0]
    for name in ok[1:]:
        gain = np.nansum(pointwise[name] - pointwise[chosen])
        if gain > se_rule * _paired_se(pointwise[name], pointwise[chosen]):
            chosen = name
    return chosen


def _held_out_score(posterior: Posterior, held: RunTable, target: str, budget) -> np.ndarray:
    """:math:`\\log \\frac1S \\sum_s p(\\cdot \\mid \\theta_s)` of each held-out run, from a fit without it."""
    return sum(logsumexp(ll, axis=0) - np.log(ll.shape[0]) for ll in _densities(posterior, held, target, budget))


def _exact_refits(train, specs, inference, pointwise, runs, target, budget) -> list[int]:
    """Replace the PSIS terms of ``runs`` by exact leave-one-out refits; returns the runs refitted
    (a run whose group would keep a single run cannot be left out, and keeps its PSIS term)."""
    groups, done = np.asarray(train.group), []
    for i in runs:
        if (groups == groups[i]).sum() < 3:
            continue
        keep = np.arange(len(train)) != i
        for name, spec in specs.items():
            refit = fit(train.select(keep), spec, inference, refit_of=train)
            pointwise[name][i] = _held_out_score(refit, train.select(~keep), target, budget)[0]
        done.append(int(i))
    return done


def refit_folds(
    train: RunTable, n_variants: int, n_unreliable: int, choice: ModelChoiceConfig, split: Split | None
) -> tuple[np.ndarray | None, str]:
    """The folds of the K-fold refits and the criterion's name, or (None, "psis-loo") where PSIS-LOO
    serves: one variant, or few runs with high Pareto k under a split that holds out runs."""
    if n_variants == 1:
        return None, "psis-loo"
    by_value = None if split is None else split.choice_folds(train, choice.folds, choice.seed)
    if by_value is not None:
        return by_value, f"{len(np.unique(by_value))}-fold over values of {split.by or 'the group'}"
    if choice.criterion == "kfold" or n_unreliable > choice.max_refits:
        return within_group_folds(train.group, choice.folds, choice.seed), f"{choice.folds}-fold"
    return None, "psis-loo"


def _score(train, specs, inference, choice: ModelChoiceConfig, budget, split) -> tuple[dict, dict, str, dict]:
    """Each variant's posterior, pointwise elpd, how the elpd was computed, and the Pareto k."""
    posteriors, pointwise, k_hat = {}, {}, {}
    for name, spec in specs.items():
        log.info("model choice: fitting variant %r", name)
        posteriors[name] = fit(train, spec, inference)
        pointwise[name], k_hat[name] = psis_loo(posteriors[name], train, choice.target, budget)
    unreliable = np.flatnonzero(
        np.any([k_hat[n] > choice.pareto_k for n in specs if _converged(posteriors[n], choice.max_r_hat)], axis=0)
    )
    fold, method = refit_folds(train, len(specs), len(unreliable), choice, split)
    if fold is not None:
        log.info("model choice: %d runs with Pareto k > %g; %s refits", len(unreliable), choice.pareto_k, method)
        scores = {
            name: _kfold_elpd(train, spec, inference, fold, choice.target, budget) for name, spec in specs.items()
        }
        return posteriors, scores, method, k_hat
    if len(specs) > 1 and len(unreliable):
        done = _exact_refits(train, specs, inference, pointwise, unreliable, choice.target, budget)
        method = f"psis-loo, {len(done)} of {len(unreliable)} runs with Pareto k > {choice.pareto_k:g} refitted exactly"
    return posteriors, pointwise, method, k_hat


def _target_label(budgets) -> str:
    budgets = np.atleast_1d(np.asarray(budgets, dtype=float))
    if budgets.size == 1:
        return f"final score given probe to {budgets[0]:g}"
    return "final score given probe, summed over budgets " + ", ".join(f"{b:g}" for b in budgets)


def choose_model(
    train: RunTable,
    base: ModelSpec,
    inference: InferenceConfig,
    choice: ModelChoiceConfig,
    budget: float | None = None,
    split: Split | None = None,
) -> ModelChoice:
    """Fit every variant to ``train`` and keep the one the criterion prefers (module doc);
    ``budget`` is the probe budget of the default target (``choice.budgets``, where listed, replaces
    it), and ``split`` the split whose test runs
    the chosen model will predict (a ``group`` split makes the folds hold out whole values)."""
    if choice.target == "final_given_probe" and budget is None and choice.budgets is None:
        raise ValueError("model.auto.target=final_given_probe needs the probe budget; pass budget=")
    specs = choice.specs(base)
    names = list(specs)
    budgets = budget if choice.budgets is None else choice.budgets
    posteriors, pointwise, method, k_hat = _score(train, specs, inference, choice, budgets, split)
    converged = {n: _converged(posteriors[n], choice.max_r_hat) for n in names}
    chosen = _choose(names, pointwise, choice.se_rule, converged)
    best = max(names, key=lambda n: np.nansum(pointwise[n]))
    target = choice.target if choice.target == "run" else _target_label(budgets)
    weights = mixture_weights(names, pointwise, converged, chosen)
    rows = []
    for name in names:
        rows.append(
            {
                "variant": name,
                "changes": str(dict(choice.variants[name] or {})),
                "criterion": method,
                "target": target,
                "elpd": float(np.nansum(pointwise[name])),
                "elpd_se": float(np.sqrt(np.isfinite(pointwise[name]).sum()) * np.nanstd(pointwise[name], ddof=1)),
                "d_elpd_to_best": float(np.nansum(pointwise[best] - pointwise[name])),
                "d_elpd_se": 0.0 if name == best else _paired_se(pointwise[best], pointwise[name]),
                "stacking_weight": weights.get(name, 0.0),
                "pareto_k_max": float(k_hat[name].max()),
                "pareto_k_high": int((k_hat[name] > choice.pareto_k).sum()),
                "max_r_hat": posteriors[name].diagnostics.max_rhat,
                "converged": converged[name],
                "chosen": name == chosen,
            }
        )
    table = pd.DataFrame(rows)
    log.info("model choice on %d training runs:\n%s", len(train), table.to_string(index=False))
    terms = pd.DataFrame({"run_id": np.asarray(train.run_id), **{name: pointwise[name] for name in names}})
    return ModelChoice(table, chosen, specs[chosen], posteriors, terms)
