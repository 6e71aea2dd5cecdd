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
- **SVI**: the optimization is a scan of the optimizer's update, its ELBO summed in a fixed order
  (:class:`~tuneahead.inference.svi.OrderedELBO`), called in chunks of a fixed number of steps,
  so that the program does not depend on how many steps a fit takes. :func:`compile_fit` compiles
  a table's programs without fitting, for a sweep that will refit at a larger size.

The runs are arguments of these programs, not constants, each part of the table padded to a size
class (:mod:`.arguments`): tables of nearby sizes (a K-fold's folds, a sweep's table as trials
finish) share one program. Nothing in them depends on the order of a Python set, so the persistent
compilation cache (``inference.compilation_cache``) serves them to a later fit in any process.

The package, one concern a module: :mod:`.config` (the checked config), :mod:`.fitting` (the
fit and its arviz output), :mod:`.arguments` (the runs as the programs' arguments), :mod:`.start`
(starting values), :mod:`.nuts`, :mod:`.svi`, :mod:`.diagnostics` (r_hat, ESS, divergences, SVI
convergence; logged and kept, never dropped), :mod:`.devices` (CPU devices per chain, the
compilation cache), :mod:`.progress`, and :mod:`.update` (a posterior updated with new runs by
importance resampling, no refit).
"""

from .config import InferenceConfig
from .devices import chain_method, use_compilation_cache, use_host_devices
from .diagnostics import diagnose
from .fitting import check_gate_identified, check_training_runs, compile_fit, fit
from .progress import Progress
from .svi import OrderedELBO
from .update import ImportanceUpdate, pointwise_loglik

__all__ = [
    "InferenceConfig",
    "fit",
    "compile_fit",
    "check_gate_identified",
    "check_training_runs",
    "OrderedELBO",
    "use_host_devices",
    "use_compilation_cache",
    "chain_method",
    "diagnose",
    "Progress",
    "ImportanceUpdate",
    "pointwise_loglik",
]
