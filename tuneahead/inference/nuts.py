"""NUTS: each chain one scan of numpyro's own kernel over warm-up and draws, chains side by side."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.infer.hmc import hmc

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


def _run_chains(run, z, keys, method: str, progress: Progress | None):
    """``run`` on every chain's start ``z`` and key: side by side (``parallel``, one device each),
    as one vectorized program, or one after another, each with its own progress bar."""
    if method == "parallel":
        return jax.block_until_ready(jax.pmap(run)(z, keys))
    if method == "vectorized":
        return jax.block_until_ready(jax.jit(jax.vmap(run))(z, keys))
    one, per, chains = jax.jit(run), [], len(keys)
    for c in range(chains):
        if progress is not None:
            progress.restart(f"NUTS (chain {c + 1} of {chains}, {method})")
        start = jax.tree.map(lambda a, c=c: a[c], z)
        per.append(jax.block_until_ready(one(start, keys[c])))
    return jax.tree.map(lambda *a: jnp.stack(a), *per)


def run_nuts(rng, model, model_kwargs, config: InferenceConfig, start: dict):
    init_key, jitter_key, chain_key = jax.random.split(rng, 3)
    z, potential, to_sites = initialize(init_key, model, model_kwargs, start_strategy(start))
    chains = config.num_chains
    flat, unravel = ravel_pytree(z)
    offsets = jax.random.normal(jitter_key, (chains, flat.size), flat.dtype) * START_SPREAD
    z = jax.vmap(unravel)(flat + offsets)
    keys = jax.random.split(chain_key, chains)
    method = chain_method(config)
    total = config.num_warmup + config.num_samples
    progress = Progress(total, f"NUTS ({chains} chains, {method})") if config.progress else None
    run = nuts_chain(potential, config, progress)
    try:
        draws, diverging, num_steps, start_energy = _run_chains(run, z, keys, method, progress)
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
