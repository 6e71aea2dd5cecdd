"""Fitting the hierarchical model: NUTS for small and medium tables, SVI (optax) for large ones.

Both return a :class:`~tuneahead.model.posterior.Posterior`. Every step that runs the model is
compiled as one program, never run op by op: eager JAX compiles each operation of the likelihood
on its own, which for a thousand runs costs more than compiling the whole program. Each fit compiles
the likelihood's gradient once:

- **set-up**: numpyro finds the sites, their transforms and the starting point by running the model;
  that runs on the priors alone (no runs, so no likelihood), compiled in one small program;
- **NUTS**: each chain is one scan of numpyro's NUTS kernel over warm-up and draws (the kernel
  adapts while the iteration is in the warm-up); with ``chain_method: parallel`` and a CPU device
  per chain (:func:`use_host_devices`) the chains run side by side, one per core;
- **SVI**: the optimization is one scan of the optimizer's update, its ELBO summed in a fixed order
  (:class:`OrderedELBO`).

Nothing in these programs depends on the order of a Python set, so the persistent compilation
cache (``inference.compilation_cache``) serves them to a later fit of the same table in any
process. (The table's arrays are constants in them: a different table compiles anew.)

NUTS diagnostics follow Vehtari et al. (2021): a parameter is flagged when its rank-normalized
split :math:`\\hat R > 1.01` or its bulk ESS is under 100 per chain; any divergent transition is
flagged too. Flags are logged as warnings and kept in the posterior's diagnostics, never dropped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from numpyro.handlers import replay, seed
from numpyro.infer import SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
from numpyro.infer.hmc import hmc
from numpyro.infer.initialization import init_to_mean
from numpyro.infer.util import initialize_model, log_density
from tqdm.auto import tqdm

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

from ..data.runtable import RunTable, RunTableError
from .design import ModelData, ModelDesign, ModelSpec
from .hierarchical import POPULATION_SITES, hierarchical_model, reparameterized_model
from .posterior import Diagnostics, Posterior

__all__ = ["InferenceConfig", "OrderedELBO", "fit", "use_host_devices"]

log = logging.getLogger(__name__)

RHAT_LIMIT = 1.01
CENTERED_MIN_RUNS = 10
ESS_PER_CHAIN = 100


@dataclass(frozen=True)
class InferenceConfig:
    """How to fit (set from ``conf/inference``)."""

    method: str = "nuts"
    num_warmup: int = 500
    num_samples: int = 500
    num_chains: int = 2
    chain_method: str = "parallel"
    target_accept: float = 0.85
    max_tree_depth: int = 8
    dense_mass: bool = True
    centered_groups: bool | str = "auto"
    svi_steps: int = 3000
    svi_learning_rate: float = 0.01
    svi_guide: str = "normal"
    svi_draws: int = 1000
    progress: bool = True
    seed: int = 0
    compilation_cache: str | None = None

    def __post_init__(self) -> None:
        if self.method not in ("nuts", "svi"):
            raise ValueError(f"inference.method={self.method!r}; use 'nuts' or 'svi'")
        if self.centered_groups not in ("auto", True, False):
            raise ValueError(f"inference.centered_groups={self.centered_groups!r}; use auto, true or false")
        if self.chain_method not in ("parallel", "sequential", "vectorized"):
            raise ValueError(f"inference.chain_method={self.chain_method!r}; use parallel, sequential or vectorized")
        if self.svi_guide not in ("normal", "mvn"):
            raise ValueError(f"inference.svi_guide={self.svi_guide!r}; use 'normal' or 'mvn'")


def check_training_runs(table: RunTable) -> None:
    """Training runs need final scores, and every group more than one run."""
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


def fit(table: RunTable, spec: ModelSpec, config: InferenceConfig) -> Posterior:
    """Fit the hierarchical model to the training runs in ``table``."""
    check_training_runs(table)
    design = ModelDesign.fit(table, spec)
    data = design.encode(table, with_outcome=True)
    model_kwargs = dict(
        data=data,
        n_groups=len(design.groups),
        n_metrics=len(spec.metrics),
        failure_gate=spec.failure_gate,
        amplitude_features=spec.amplitude_features,
        shape_features=spec.shape_features,
        variance_features=spec.variance_features,
        random_walk=spec.random_walk,
        divergence_features=spec.divergence_features,
    )
    if spec.failure_gate:  # runs of known fate are scored on their own branch alone
        model_kwargs["data"], model_kwargs["healthy"], model_kwargs["diverged"] = data.by_fate()
    start_values = link_start(data, len(spec.metrics))
    if spec.failure_gate and not (np.asarray(data.gate) != 0).any():
        log.info("no training run diverged; the failure gate is learned from its prior and the healthy runs")
    log.info(
        "fitting %d runs in %d groups with %s (%d curve points)",
        len(table),
        len(design.groups),
        config.method.upper(),
        int(np.asarray(data.mask).sum()),
    )
    if config.compilation_cache:
        use_compilation_cache(config.compilation_cache)
    start = time.perf_counter()
    rng = jax.random.PRNGKey(config.seed)
    model = _parameterization(table, config)
    if config.method == "nuts":
        samples, diagnostics = _run_nuts(rng, model, model_kwargs, config, start_values)
    else:
        samples, diagnostics = _run_svi(rng, model, model_kwargs, config, start_values)
    seconds = time.perf_counter() - start
    coords = {
        "group": list(design.groups),
        "feature": list(design.basis_names),
        "linear_feature": list(design.static_names),
        "metric": list(spec.metrics),
    }
    gate_dim = "linear_feature" if spec.gate_basis == "linear" else "feature"
    dims = {
        "a": ["group"],
        "beta": ["feature"],
        "w": [gate_dim],
        "nu": ["linear_feature"],
        "omega": ["linear_feature"],
        "gamma_B": ["metric", "linear_feature"],
        "kappa": ["metric", "linear_feature"],
    }
    for name in ("lam0", "lam1", "mu_B", "sigma_B", "b_frac", "rate", "sigma_y", "y_fail", "s_yfail"):
        dims[name] = ["metric"]
    posterior = {k: v for k, v in samples.items() if k in POPULATION_SITES}
    idata = az.from_dict(
        posterior=posterior,
        sample_stats=diagnostics.pop("sample_stats"),
        coords=coords,
        dims={k: v for k, v in dims.items() if k in posterior},
    )
    diag = _diagnose(idata, config, diagnostics, seconds)
    for message in diag.warnings:
        log.warning(message)
    log.info("fit took %.1f s", seconds)
    return Posterior(idata, design, diag)


def use_compilation_cache(folder: str) -> None:
    """Keep JAX's compiled programs in ``folder`` (``~`` expanded), so that a later fit of tables of
    the same shapes, in any process, loads them instead of compiling again; only programs that
    took over a second to compile are kept."""
    path = os.path.expanduser(folder)
    if jax.config.jax_compilation_cache_dir != path:
        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def use_host_devices(count: int) -> None:
    """Let JAX see ``count`` CPU devices (at most one per core), so that ``chain_method: parallel``
    runs each chain on its own core.

    JAX reads the setting once, before it first computes anything: call this at the start of a
    program. Later, or where ``JAX_NUM_CPU_DEVICES`` is set already, it changes nothing.
    """
    count = max(1, min(int(count), os.cpu_count() or 1))
    if jax.config.jax_num_cpu_devices == -1:
        try:
            jax.config.update("jax_num_cpu_devices", count)
        except RuntimeError:  # JAX has computed already; its devices stay as they are
            log.debug("JAX has started already: %d CPU device(s)", jax.local_device_count())


def link_start(data: ModelData, n_metrics: int) -> dict[str, np.ndarray]:
    """Starting values of the curve link from the data, by least squares.

    The link :math:`(\\lambda_0, \\lambda_1)` has a poor local mode where the curves are explained
    by the amplitudes alone and the final score by noise, with :math:`\\lambda_1` of the wrong sign.
    Chains started near the regression of each healthy run's last curve value on its final score
    stay clear of it.
    """
    mask = np.asarray(data.mask)
    y, metric = np.asarray(data.y), np.asarray(data.metric)
    r, ok = np.asarray(data.r), np.asarray(data.r_mask) & (np.asarray(data.gate) != 1)
    lam0, lam1 = np.zeros(n_metrics), np.ones(n_metrics)
    for m in range(n_metrics):
        present = mask & (metric == m)
        has = ok & present.any(axis=1)
        if has.sum() < 3 or np.ptp(r[has]) == 0:  # a constant final score leaves no slope to fit
            continue
        last = np.where(present, np.arange(mask.shape[1]), -1).max(axis=1)
        y_last = y[np.arange(len(y)), last][has]
        slope, intercept = np.polyfit(r[has], y_last, 1)
        lam0[m], lam1[m] = intercept, slope
    return {"lam0": lam0, "lam1": lam1}


def _parameterization(table: RunTable, config: InferenceConfig):
    """Centred group intercepts when every group has many runs (the data pin each intercept down,
    and a non-centred form would correlate it with tau_a), non-centred otherwise."""
    centered = config.centered_groups
    if centered == "auto":
        _, counts = np.unique(table.group, return_counts=True)
        centered = counts.min() >= CENTERED_MIN_RUNS
    return hierarchical_model if centered else reparameterized_model


def _start_at(site=None, values=None):
    if site is None:
        return partial(_start_at, values=values)
    if site["type"] == "sample" and not site["is_observed"] and site["name"] in values:
        return values[site["name"]]
    return init_to_mean(site)


def start_strategy(values: dict[str, np.ndarray]):
    """Start ``values`` where given (the link), prior means elsewhere.

    Uniform starts on the unconstrained scale can put a chain at a wide sigma_delta with group
    intercepts far off, where the deltas absorb everything and the intercepts barely move. The
    means are closed-form for every prior of the model, so no prior draws are compiled into the
    set-up (drawing 15 of each, for a median, cost about 10 s of compiling).
    """
    return partial(_start_at, values=values)


def _without_runs(model_kwargs: dict) -> dict:
    """``model_kwargs`` with every :class:`ModelData` emptied of runs (its columns kept).

    The model's sites, their transforms and the guide's draws do not depend on the runs, but
    numpyro finds them by running the model, likelihood included; without runs the likelihood is
    left out, and the compiled set-up holds the priors alone.
    """
    return {k: v.select(np.arange(0)) if isinstance(v, ModelData) else v for k, v in model_kwargs.items()}


def _initialize(rng_key, model, model_kwargs, init_strategy):
    """The starting point on the unconstrained scale, the potential energy function of the data in
    ``model_kwargs`` and the function from unconstrained values to the model's sites.

    numpyro's initialization runs on the priors alone (:func:`_without_runs`), compiled in one
    piece; whether the start is valid on the data is checked where the chains begin.
    """
    found, priors_only = {}, _without_runs(model_kwargs)

    def init(key):
        info = initialize_model(key, model, model_kwargs=priors_only, dynamic_args=True, init_strategy=init_strategy)
        found["potential"], found["sites"] = info.potential_fn, info.postprocess_fn
        return info.param_info.z

    z = jax.jit(init)(rng_key)
    return z, found["potential"](**model_kwargs), found["sites"](**priors_only)


#: Standard deviation, on the unconstrained scale, of the offsets that start the chains apart.
START_SPREAD = 0.3


def chain_method(config: InferenceConfig) -> str:
    """The way chains run: ``parallel`` needs a device per chain (on the CPU, see
    :func:`use_host_devices`) and falls back to ``sequential`` without."""
    method = config.chain_method
    if method == "parallel" and config.num_chains > 1 and jax.local_device_count() < config.num_chains:
        log.info(
            "%d chains but %d device(s): the chains run one after another (one CPU device per "
            "chain: JAX_NUM_CPU_DEVICES=%d)",
            config.num_chains,
            jax.local_device_count(),
            config.num_chains,
        )
        return "sequential"
    return "sequential" if config.num_chains == 1 else method


class _Progress:
    """A progress bar fed from inside a compiled loop of ``total`` iterations (:meth:`tick`)."""

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.bar = total, desc, None  # the bar starts with the loop, after compiling
        self.lock, self.done = threading.Lock(), 0
        self.every = max(1, total // 100)

    def tick(self, i) -> None:
        """Inside the traced loop body: report iteration ``i`` to the host every 1% of the loop."""
        jax.lax.cond(i % self.every == self.every - 1, lambda: jax.debug.callback(self, i), lambda: None)

    def __call__(self, iteration) -> None:
        with self.lock:  # with several chains, the furthest one's iteration
            if self.bar is None:
                self.bar = tqdm(total=self.total, desc=self.desc, unit="it", mininterval=1.0)
            reached = int(np.max(iteration)) + 1
            if reached > self.done:
                self.bar.update(reached - self.done)
                self.done = reached

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def restart(self, desc: str) -> None:
        """Close the bar; the next report starts a new one (the next of chains run one after another)."""
        with self.lock:
            self.close()
            self.desc, self.bar, self.done = desc, None, 0


def _nuts_chain(potential, config: InferenceConfig, progress=None):
    """One NUTS chain, warm-up and draws in one scan of numpyro's own kernel.

    The kernel adapts its step size and mass matrix while the iteration is below ``num_warmup``
    (the same windowed adaptation as :class:`numpyro.infer.NUTS`), so one loop body serves both
    phases and the program holds a single copy of the gradient.
    """
    total = config.num_warmup + config.num_samples

    def run(z, key):
        init_kernel, sample_kernel = hmc(potential_fn=potential, algo="NUTS")
        state = init_kernel(
            z,
            num_warmup=config.num_warmup,
            dense_mass=config.dense_mass,
            target_accept_prob=config.target_accept,
            max_tree_depth=config.max_tree_depth,
            rng_key=key,
        )

        def step(state, i):
            state = sample_kernel(state)
            if progress is not None:
                progress.tick(i)
            return state, (state.z, state.diverging, state.num_steps)

        start_energy = state.potential_energy
        _, (draws, diverging, num_steps) = jax.lax.scan(step, state, jnp.arange(total))
        kept = slice(config.num_warmup, None)
        return jax.tree.map(lambda a: a[kept], draws), diverging[kept], num_steps[kept], start_energy

    return run


def _run_nuts(rng, model, model_kwargs, config: InferenceConfig, start: dict):
    init_key, jitter_key, chain_key = jax.random.split(rng, 3)
    z, potential, to_sites = _initialize(init_key, model, model_kwargs, start_strategy(start))
    chains = config.num_chains
    flat, unravel = ravel_pytree(z)
    offsets = jax.random.normal(jitter_key, (chains, flat.size), flat.dtype) * START_SPREAD
    z = jax.vmap(unravel)(flat + offsets)
    keys = jax.random.split(chain_key, chains)
    method = chain_method(config)
    total = config.num_warmup + config.num_samples
    progress = _Progress(total, f"NUTS ({chains} chains, {method})") if config.progress else None
    run = _nuts_chain(potential, config, progress)
    try:
        if method == "parallel":
            out = jax.pmap(run)(z, keys)
        elif method == "vectorized":
            out = jax.jit(jax.vmap(run))(z, keys)
        else:
            one, per = jax.jit(run), []
            for c in range(chains):
                if progress is not None:
                    progress.restart(f"NUTS (chain {c + 1} of {chains}, {method})")
                per.append(jax.block_until_ready(one(jax.tree.map(lambda a: a[c], z), keys[c])))
            out = jax.tree.map(lambda *a: jnp.stack(a), *per)
        draws, diverging, num_steps, start_energy = jax.block_until_ready(out)
    finally:
        if progress is not None:
            progress.close()
    if not np.all(np.isfinite(np.asarray(start_energy))):
        raise RuntimeError(
            "no valid starting point: the log density is not finite where the chains start; "
            "check the data for extreme values"
        )
    sites = jax.jit(jax.vmap(jax.vmap(to_sites)))(draws)
    samples = {k: np.asarray(v) for k, v in sites.items()}
    stats = {"diverging": np.asarray(diverging), "num_steps": np.asarray(num_steps)}
    return samples, {"sample_stats": stats}


class OrderedELBO(Trace_ELBO):
    """The one-particle ELBO, :math:`\\log p(y, \\theta) - \\log q(\\theta)` at a draw
    :math:`\\theta \\sim q`, its terms summed in the order the guide and the model draw them.

    :class:`numpyro.infer.Trace_ELBO` sums the terms over a set of site names, whose order changes
    from process to process with Python's string hashing: its compiled program is then never the
    same twice (so the persistent compilation cache never serves it), and the last bits of the loss
    differ between processes run with the same seed.
    """

    def loss(self, rng_key, param_map, model, guide, *args, **kwargs):
        model_key, guide_key = jax.random.split(rng_key)
        guide_lp, guide_trace = log_density(seed(guide, guide_key), args, kwargs, param_map)
        model_lp, _ = log_density(replay(seed(model, model_key), guide_trace), args, kwargs, param_map)
        return guide_lp - model_lp


def _run_svi(rng, model, model_kwargs, config: InferenceConfig, start: dict):
    guide_cls = AutoNormal if config.svi_guide == "normal" else AutoMultivariateNormal
    priors_only = _without_runs(model_kwargs)
    progress = _Progress(config.svi_steps, f"SVI ({config.svi_steps} steps)") if config.progress else None

    def run(rng):
        # guide set-up, optimization and draws in one compiled program (see module doc); the
        # guide's sites and the draws of them do not depend on the runs, so only the optimization
        # reads the whole table
        guide = guide_cls(model, init_loc_fn=start_strategy(start))
        svi = SVI(model, guide, optax.adam(config.svi_learning_rate), OrderedELBO())
        fit_rng, draw_rng = jax.random.split(rng)
        state = svi.init(fit_rng, **priors_only)

        def step(state, i):
            state, loss = svi.update(state, **model_kwargs)
            if progress is not None:
                progress.tick(i)
            return state, loss

        state, losses = jax.lax.scan(step, state, jnp.arange(config.svi_steps))
        predictive = Predictive(
            model,
            guide=guide,
            params=svi.get_params(state),
            num_samples=config.svi_draws,
            return_sites=list(POPULATION_SITES),
            parallel=True,
        )
        return losses, predictive(draw_rng, **priors_only)

    try:
        losses, draws = jax.block_until_ready(jax.jit(run)(rng))
    finally:
        if progress is not None:
            progress.close()
    losses = np.asarray(losses)
    if not np.isfinite(losses[-1]):
        raise RuntimeError(
            "SVI diverged: the ELBO loss is not finite; check the data for extreme values "
            "or lower inference.svi_learning_rate"
        )
    samples = {k: np.asarray(v)[None] for k, v in draws.items() if k != "runs"}
    tail = losses[-max(1, len(losses) // 10) :]
    head = losses[-2 * len(tail) : -len(tail)] if len(losses) >= 2 * len(tail) else tail
    extra = {
        "final_elbo_loss": float(tail.mean()),
        "elbo_loss_change_last_10pct": float(head.mean() - tail.mean()),
    }
    return samples, {"sample_stats": None, "extra": extra}


def _diagnose(idata, config: InferenceConfig, run_info: dict, seconds: float) -> Diagnostics:
    post = idata.posterior
    chains, draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    messages: list[str] = []
    extra = dict(run_info.get("extra", {}))
    extra["seconds"] = seconds
    if config.method == "svi":
        if extra["elbo_loss_change_last_10pct"] > 0.01 * abs(extra["final_elbo_loss"]):
            messages.append(
                "SVI has not converged: the ELBO loss still fell by "
                f"{extra['elbo_loss_change_last_10pct']:.3g} over the last 10% of steps; "
                "raise inference.svi_steps"
            )
        return Diagnostics("svi", None, None, None, draws, chains, {}, tuple(messages), extra)

    rhat = az.rhat(idata)
    ess = az.ess(idata, method="bulk")
    per = {}
    for name in post.data_vars:
        r = np.asarray(rhat[name].values, dtype=float).ravel()
        e = np.asarray(ess[name].values, dtype=float).ravel()
        if r.size == 0:
            continue
        # r_hat needs two chains; with one it is NaN everywhere and only the ESS is reported
        per[name] = {
            "max_rhat": float(np.nanmax(r)) if np.isfinite(r).any() else float("nan"),
            "min_ess_bulk": float(np.nanmin(e)) if np.isfinite(e).any() else float("nan"),
        }
    max_rhat = max(v["max_rhat"] for v in per.values())
    min_ess = min(v["min_ess_bulk"] for v in per.values())
    divergences = int(np.asarray(idata.sample_stats["diverging"]).sum())
    worst = max(per, key=lambda k: per[k]["max_rhat"])
    if chains > 1 and max_rhat > RHAT_LIMIT:
        messages.append(
            f"r_hat up to {max_rhat:.3f} (site {worst!r}) exceeds {RHAT_LIMIT}; "
            "run more warmup or samples before trusting the intervals"
        )
    if min_ess < ESS_PER_CHAIN * chains:
        low = min(per, key=lambda k: per[k]["min_ess_bulk"])
        messages.append(
            f"bulk ESS down to {min_ess:.0f} (site {low!r}), under {ESS_PER_CHAIN} per chain; "
            "raise inference.num_samples"
        )
    if divergences:
        messages.append(
            f"{divergences} divergent transitions; raise inference.target_accept or inspect the posterior geometry"
        )
    return Diagnostics("nuts", max_rhat, min_ess, divergences, draws, chains, per, tuple(messages), extra)
