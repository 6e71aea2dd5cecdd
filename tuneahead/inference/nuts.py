"""NUTS: each chain one scan of numpyro's own kernel over warm-up and draws, chains side by side,
the runs arguments of the compiled program."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.infer.hmc import hmc
from numpyro.infer.util import potential_energy

from .arguments import program_arguments
from .config import InferenceConfig
from .devices import chain_method
from .progress import Progress
from .start import START_SPREAD, initialize, start_strategy

__all__ = ["nuts_chain", "run_nuts"]


def nuts_chain(potential, config: InferenceConfig, progress=None):
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


@lru_cache(maxsize=16)
def _program(model, settings: tuple, config: InferenceConfig, method: str):
    """The compiled chains of one model and configuration, a function of the chains' starts and
    keys and of the runs: the runs are arguments, not constants of the program, so a table of the
    same shapes (:func:`~tuneahead.inference.arguments.program_arguments`) reuses it in this
    process, and any process through the persistent cache. The progress bar is the program's,
    started again by each fit."""
    total = config.num_warmup + config.num_samples
    progress = Progress(total, f"NUTS ({config.num_chains} chains, {method})") if config.progress else None
    static = dict(settings)

    def run(z, key, runs):
        potential = partial(potential_energy, model, (), {**static, **runs})
        return nuts_chain(potential, config, progress)(z, key)

    if method == "parallel":
        return jax.pmap(run, in_axes=(0, 0, None)), progress
    if method == "vectorized":
        return jax.jit(jax.vmap(run, in_axes=(0, 0, None))), progress
    return jax.jit(run), progress


def _run_chains(program, z, keys, runs, method: str, progress: Progress | None):
    """``program`` on every chain's start ``z`` and key: side by side (``parallel``, one device
    each), as one vectorized program, or one after another, each with its own progress bar."""
    if method in ("parallel", "vectorized"):
        return jax.block_until_ready(program(z, keys, runs))
    per, chains = [], len(keys)
    for c in range(chains):
        if progress is not None:
            progress.restart(f"NUTS (chain {c + 1} of {chains}, {method})")
        start = jax.tree.map(lambda a, c=c: a[c], z)
        per.append(jax.block_until_ready(program(start, keys[c], runs)))
    return jax.tree.map(lambda *a: jnp.stack(a), *per)


def run_nuts(rng, model, model_kwargs, config: InferenceConfig, start: dict):
    init_key, jitter_key, chain_key = jax.random.split(rng, 3)
    z, to_sites = initialize(init_key, model, model_kwargs, start_strategy(start))
    chains = config.num_chains
    flat, unravel = ravel_pytree(z)
    offsets = jax.random.normal(jitter_key, (chains, flat.size), flat.dtype) * START_SPREAD
    z = jax.vmap(unravel)(flat + offsets)
    keys = jax.random.split(chain_key, chains)
    method = chain_method(config)
    runs, settings = program_arguments(model_kwargs)
    # the seed and the cache folder do not shape the program
    program, progress = _program(model, settings, replace(config, seed=0, compilation_cache=None), method)
    try:
        draws, diverging, num_steps, start_energy = _run_chains(program, z, keys, runs, method, progress)
    finally:
        if progress is not None:
            progress.restart(progress.desc)  # closes this fit's bar; the next fit starts its own
    if not np.all(np.isfinite(np.asarray(start_energy))):
        raise RuntimeError(
            "no valid starting point: the log density is not finite where the chains start; "
            "check the data for extreme values"
        )
    sites = jax.jit(jax.vmap(jax.vmap(to_sites)))(draws)
    samples = {k: np.asarray(v) for k, v in sites.items()}
    stats = {"diverging": np.asarray(diverging), "num_steps": np.asarray(num_steps)}
    return samples, {"sample_stats": stats}
