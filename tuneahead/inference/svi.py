"""SVI with optax: the ELBO summed in a fixed order, the optimization a scan of the update in
chunks of a fixed length, compiled once for tables of nearby sizes and any number of steps."""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro.handlers import replay, seed
from numpyro.infer import SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoDiagonalNormal, AutoMultivariateNormal
from numpyro.infer.util import log_density

from ..model.parameters import POPULATION_SITES
from .arguments import program_arguments, without_runs
from .config import InferenceConfig
from .progress import Progress
from .start import start_strategy

__all__ = ["CHUNK_STEPS", "OrderedELBO", "compile_svi", "run_svi"]

CHUNK_STEPS = 100
"""Optimization steps per call of the compiled update: a fit of any number of steps calls it
``ceil(steps / CHUNK_STEPS)`` times, the last call skipping the steps past the end."""


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


def _svi(model, guide: str, learning_rate: float, start: dict, rng, priors_only: dict):
    """The SVI of ``model``, its guide, and its state after the set-up, which finds the guide's
    sites and their transforms on the priors alone (they do not depend on the runs).

    Both guides are Gaussian on the unconstrained sites, stacked in one vector: ``normal`` with a
    diagonal covariance (mean field), ``mvn`` with a full one. One vector means one draw of the
    random numbers per step, where a guide of one Gaussian per site (numpyro's ``AutoNormal``, the
    same family) draws once per site, and each draw is a loop of its own in the compiled program:
    the update compiles in half the time.
    """
    guide_cls = AutoDiagonalNormal if guide == "normal" else AutoMultivariateNormal
    autoguide = guide_cls(model, init_loc_fn=start_strategy(start))
    svi = SVI(model, autoguide, optax.adam(learning_rate), OrderedELBO())
    return svi, autoguide, svi.init(rng, **priors_only)


@lru_cache(maxsize=16)
def _programs(model, settings: tuple, guide: str, learning_rate: float):
    """The compiled set-up and update of one model and configuration, functions of the runs and
    the start.

    The runs are arguments, not constants of the programs, so a table of the same shapes reuses
    them in this process, and any process through the persistent cache; so does a fit of any
    number of steps, since the update runs :data:`CHUNK_STEPS` of them and is told where to stop.
    The update sets the SVI up again for its transforms; the compiler drops the unused state.
    """
    static = dict(settings)

    def init(rng, runs, start):
        return _svi(model, guide, learning_rate, start, rng, without_runs({**static, **runs}))[2]

    def advance(state, runs, start, remaining):
        model_kwargs = {**static, **runs}
        svi = _svi(model, guide, learning_rate, start, state.rng_key, without_runs(model_kwargs))[0]

        def step(state, i):
            return jax.lax.cond(
                i < remaining,
                lambda s: svi.update(s, **model_kwargs),
                lambda s: (s, jnp.zeros((), jnp.float32)),
                state,
            )

        return jax.lax.scan(step, state, jnp.arange(CHUNK_STEPS))

    return jax.jit(init), jax.jit(advance)


@lru_cache(maxsize=16)
def _sampler(model, settings: tuple, guide: str, learning_rate: float, draws: int):
    """The compiled draws of the population's sites from the guide at an SVI state."""
    static = dict(settings)

    def sample(rng, state, runs, start):
        priors_only = without_runs({**static, **runs})
        svi, autoguide, _ = _svi(model, guide, learning_rate, start, rng, priors_only)
        predictive = Predictive(
            model,
            guide=autoguide,
            params=svi.get_params(state),
            num_samples=draws,
            return_sites=list(POPULATION_SITES),
            parallel=True,
        )
        return predictive(rng, **priors_only)

    return jax.jit(sample)


def _optimize(init, advance, rng, runs, start, steps: int, progress: bool):
    """``steps`` SVI updates from the set-up, in calls of :data:`CHUNK_STEPS`: the final state and
    the loss of each step. The progress bar moves after each call."""
    bar = Progress(steps, f"SVI ({steps} steps)") if progress else None
    state, losses = init(rng, runs, start), []
    try:
        for done in range(0, steps, CHUNK_STEPS):
            state, chunk = advance(state, runs, start, steps - done)
            losses.append(np.asarray(chunk)[: steps - done])
            if bar is not None:
                bar(done + len(losses[-1]) - 1)
    finally:
        if bar is not None:
            bar.close()
    return state, np.concatenate(losses) if losses else np.zeros(0, np.float32)


def _bound(model, model_kwargs, config: InferenceConfig, start: dict):
    """The programs of a fit (set-up, update, draws), the runs they take, and the start."""
    runs, settings = program_arguments(model_kwargs)
    init, advance = _programs(model, settings, config.svi_guide, config.svi_learning_rate)
    sample = _sampler(model, settings, config.svi_guide, config.svi_learning_rate, config.svi_draws)
    return init, advance, sample, runs, {k: jnp.asarray(v, jnp.float32) for k, v in start.items()}


def compile_svi(rng, model, model_kwargs, config: InferenceConfig, start: dict) -> None:
    """Compile :func:`run_svi`'s programs for these runs' size classes: each is called once, the
    update told that no step remains, so that nothing is optimized."""
    init, advance, sample, runs, start = _bound(model, model_kwargs, config, start)
    state = init(rng, runs, start)
    state, _ = advance(state, runs, start, 0)
    jax.block_until_ready(sample(rng, state, runs, start))


def run_svi(rng, model, model_kwargs, config: InferenceConfig, start: dict):
    init, advance, sample, runs, start = _bound(model, model_kwargs, config, start)
    fit_rng, draw_rng = jax.random.split(rng)
    state, losses = _optimize(init, advance, fit_rng, runs, start, config.svi_steps, config.progress)
    draws = jax.block_until_ready(sample(draw_rng, state, runs, start))
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
