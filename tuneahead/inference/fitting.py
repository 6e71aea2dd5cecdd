"""The fit: training runs in, a :class:`~tuneahead.model.posterior.Posterior` out, by NUTS or SVI."""

from __future__ import annotations

import logging
import time
import warnings

import jax
import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

from ..data.runtable import RunTable, RunTableError
from ..model.design import ModelData, ModelDesign, ModelSpec
from ..model.hierarchical import hierarchical_model, reparameterized_model
from ..model.parameters import POPULATION_SITES, site_dims
from ..model.posterior import Posterior
from .arguments import run_rows
from .config import InferenceConfig
from .devices import use_compilation_cache
from .diagnostics import diagnose
from .nuts import run_nuts
from .start import link_start
from .svi import compile_svi, run_svi

__all__ = [
    "CENTERED_MIN_RUNS",
    "check_gate_identified",
    "check_training_runs",
    "compile_fit",
    "fit",
    "model_arguments",
    "parameterization",
    "refit_arguments",
]

log = logging.getLogger(__name__)

CENTERED_MIN_RUNS = 10


def check_training_runs(table: RunTable, spec: ModelSpec | None = None) -> None:
    """Training runs need final scores, and every group more than one run; with ``spec``, the
    failure gate must be identified (:func:`check_gate_identified`)."""
    missing = table.run_id[~table.has_final]
    if missing.size:
        raise RunTableError(
            f"run {missing[0]!r}: training runs need a final score, but 'final' is empty "
            f"({missing.size} such runs); predict them as candidates instead"
        )
    labels, counts = np.unique(table.group, return_counts=True)
    single = labels[counts < 2]
    if single.size:
        raise RunTableError(
            f"group {single[0]!r} has a single training run, so its intercept cannot be told apart "
            "from the run's own deviation; merge it into a related group or relabel the run"
        )
    if spec is not None:
        check_gate_identified(table, spec)


def check_gate_identified(table: RunTable, spec: ModelSpec) -> None:
    """Refuse the failure gate where nothing identifies it: no curves, and no run's fate recorded.

    The gate then is a free two-component mixture over the final scores: a poor run and a diverged
    one look alike, and the chains wander between labellings.
    """
    if spec.failure_gate and not spec.metrics and np.isnan(table.diverged).all():
        raise RunTableError(
            "model.failure_gate=true, but the table has no curves (model.metrics=[]) and no training run says "
            "whether it diverged ('diverged' is empty), so nothing tells a diverged run from a poor one; "
            "set model.failure_gate=false, or record 'diverged' for the runs"
        )


def model_arguments(spec: ModelSpec, design: ModelDesign, data: ModelData) -> dict:
    """The keyword arguments of :func:`~tuneahead.model.hierarchical.hierarchical_model` for ``data``;
    with the failure gate, runs of known fate are scored on their own branch alone."""
    kwargs = dict(
        data=data,
        n_groups=len(design.groups),
        n_metrics=len(spec.metrics),
        failure_gate=spec.failure_gate,
        amplitude_features=spec.amplitude_features,
        shape_features=spec.shape_features,
        variance_features=spec.variance_features,
        group_spread=spec.group_spread,
        random_walk=spec.random_walk,
        transient=spec.transient,
        divergence_features=spec.divergence_features,
        curve_offsets=spec.curve_offsets,
    )
    if spec.failure_gate:
        kwargs["data"], kwargs["healthy"], kwargs["diverged"] = data.by_fate()
    return kwargs


def refit_arguments(model_kwargs: dict, whole: RunTable) -> dict:
    """``model_kwargs`` of a fit of part of ``whole``, each part of the runs (of unknown, healthy and
    diverged fate) padded to the size class of the same part of ``whole``
    (:func:`~tuneahead.inference.arguments.run_rows`; the padding is marked absent, and the
    likelihood leaves it out). The programs take the runs as arguments, so a refit on a fold or
    with a run left out runs those compiled for ``whole``. A part that is empty here stays empty."""
    fate = whole.fate
    if "healthy" in model_kwargs:
        sizes = {"data": (fate == -1).sum(), "healthy": (fate == 0).sum(), "diverged": (fate == 1).sum()}
    else:
        sizes = {"data": len(whole)}
    out = dict(model_kwargs)
    for key, size in sizes.items():
        n = model_kwargs[key].y.shape[0]
        if 0 < n < size:
            out[key] = model_kwargs[key].padded_runs(run_rows(int(size)))
    return out


def _prepared(table: RunTable, spec: ModelSpec, config: InferenceConfig):
    """The checked design, the encoded runs, the model's arguments and the start of a fit."""
    check_training_runs(table, spec)
    design = ModelDesign.fit(table, spec)
    data = design.encode(table, with_outcome=True)
    if config.compilation_cache:
        use_compilation_cache(config.compilation_cache)
    return design, data, model_arguments(spec, design, data), link_start(data, len(spec.metrics))


def fit(table: RunTable, spec: ModelSpec, config: InferenceConfig, refit_of: RunTable | None = None) -> Posterior:
    """Fit the hierarchical model to the training runs in ``table``.

    ``refit_of``: a table these runs are part of (a fold's refit in model choice, a run left out).
    The fit then runs the programs of a fit of ``refit_of`` (:func:`refit_arguments`), and compiles
    nothing that fit did not.
    """
    design, data, model_kwargs, start_values = _prepared(table, spec, config)
    if refit_of is not None:
        model_kwargs = refit_arguments(model_kwargs, refit_of)
    if spec.failure_gate and not (np.asarray(data.gate) != 0).any():
        log.info("no training run diverged; the failure gate is learned from its prior and the healthy runs")
    log.info(
        "fitting %d runs in %d groups with %s (%d curve points)",
        len(table),
        len(design.groups),
        config.method.upper(),
        int(np.asarray(data.mask).sum()),
    )
    start = time.perf_counter()
    rng = jax.random.PRNGKey(config.seed)
    model = parameterization(table if refit_of is None else refit_of, config)
    run = run_nuts if config.method == "nuts" else run_svi
    samples, diagnostics = run(rng, model, model_kwargs, config, start_values)
    seconds = time.perf_counter() - start
    idata = to_inference_data(samples, diagnostics.pop("sample_stats"), design)
    diag = diagnose(idata, config, diagnostics, seconds)
    for message in diag.warnings:
        log.warning(message)
    log.info("fit took %.1f s", seconds)
    return Posterior(idata, design, diag)


def compile_fit(table: RunTable, spec: ModelSpec, config: InferenceConfig) -> None:
    """Compile the programs that ``fit(table, spec, config)`` runs, and take none of its steps.

    A fit's programs take the runs as arguments, padded to size classes
    (:mod:`tuneahead.inference.arguments`), so any later fit of a table in the same classes, with
    the same model and settings, starts at once. A sweep that refits as runs finish can compile the
    class its next refit will reach while the present one is still in use. SVI only: NUTS's
    warm-up adapts as it goes, and is not split from its program's first call.
    """
    if config.method != "svi":
        raise ValueError(f"compile_fit prepares SVI fits only, got inference.method={config.method!r}")
    _, _, model_kwargs, start_values = _prepared(table, spec, config)
    compile_svi(jax.random.PRNGKey(config.seed), parameterization(table, config), model_kwargs, config, start_values)


def to_inference_data(samples: dict, sample_stats: dict | None, design: ModelDesign) -> az.InferenceData:
    """The population sites of ``samples`` as arviz InferenceData, with the registry's dims."""
    spec = design.spec
    coords = {
        "group": list(design.groups),
        "feature": list(design.basis_names),
        "linear_feature": list(design.static_names),
        "metric": list(spec.metrics),
    }
    posterior = {k: v for k, v in samples.items() if k in POPULATION_SITES}
    dims = site_dims(spec.gate_basis)
    return az.from_dict(
        posterior=posterior,
        sample_stats=sample_stats,
        coords=coords,
        dims={k: v for k, v in dims.items() if k in posterior},
    )


def parameterization(table: RunTable, config: InferenceConfig):
    """Centred group intercepts when every group has many runs (the data pin each intercept down,
    and a non-centred form would correlate it with tau_a), non-centred otherwise."""
    centered = config.centered_groups
    if centered == "auto":
        _, counts = np.unique(table.group, return_counts=True)
        centered = counts.min() >= CENTERED_MIN_RUNS
    return hierarchical_model if centered else reparameterized_model
