"""Where the compiled programs run and are kept: CPU devices per chain and the compilation cache."""

from __future__ import annotations

import logging
import os

import jax

from .config import InferenceConfig

__all__ = ["use_host_devices", "use_compilation_cache", "chain_method"]

log = logging.getLogger(__name__)


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
