"""The Posterior: an arviz InferenceData plus the design it was fitted with.

Sites are stored on the model's standardized scale, exactly as sampled. :meth:`Posterior.params`
gives the draws in the form the likelihood reads, and :meth:`Posterior.natural` gives the
interpretable parameters in the data's own units; both are defined once, in the parameter registry
:mod:`tuneahead.model.parameters`.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

from ..artifacts import atomic_path
from .design import ModelDesign
from .parameters import POPULATION_SITES, natural_parameters, params_from_sites

__all__ = ["Posterior", "Diagnostics", "DrawSet"]

_ATTR = "tuneahead_design"
_DIAG_ATTR = "tuneahead_diagnostics"


@dataclass(frozen=True)
class Diagnostics:
    """Sampler health: worst r_hat and bulk ESS over parameters, divergences, and any warnings."""

    method: str
    max_rhat: float | None
    min_ess_bulk: float | None
    divergences: int | None
    num_draws: int
    num_chains: int
    per_parameter: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    def to_dict(self, per_run: bool = True) -> dict:
        """Every field; ``per_run=False`` leaves out the per-run tables in ``extra`` (keys ending in
        ``_pointwise``), for summaries."""
        extra = {k: v for k, v in self.extra.items() if per_run or not k.endswith("_pointwise")}
        return {
            "method": self.method,
            "max_rhat": self.max_rhat,
            "min_ess_bulk": self.min_ess_bulk,
            "divergences": self.divergences,
            "num_draws": self.num_draws,
            "num_chains": self.num_chains,
            "per_parameter": self.per_parameter,
            "warnings": list(self.warnings),
            **extra,
        }


class DrawSet(NamedTuple):
    """Draws in the form the likelihood reads (leading axis S) and the design that encodes runs for them."""

    params: dict
    design: ModelDesign


class Posterior:
    """Posterior draws of the hierarchical model with the design that encodes new runs."""

    def __init__(self, idata: az.InferenceData, design: ModelDesign, diagnostics: Diagnostics):
        self.idata = idata
        self.design = design
        self.diagnostics = diagnostics

    # ------------------------------------------------------------------ draws
    @property
    def num_draws(self) -> int:
        post = self.idata.posterior
        return int(post.sizes["chain"] * post.sizes["draw"])

    def draws(self, max_draws: int | None = None) -> dict[str, np.ndarray]:
        """Site values as ``(S, ...)`` arrays, chains stacked, thinned evenly to ``max_draws``."""
        return self.draws_at(self.thinned(max_draws))

    def thinned(self, max_draws: int | None = None) -> np.ndarray:
        """Indices of ``max_draws`` draws (None: all) spread evenly over the stacked chains."""
        total = self.num_draws
        if max_draws is not None and max_draws < total:
            return np.linspace(0, total - 1, max_draws).round().astype(int)
        return np.arange(total)

    def draws_at(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """Site values of the draws at ``index`` (chains stacked), as ``(len(index), ...)`` arrays."""
        post = self.idata.posterior
        out = {}
        for name in POPULATION_SITES:
            if name in post:
                arr = post[name].values
                out[name] = arr.reshape((self.num_draws,) + arr.shape[2:])[index]
        return out

    def params(self, max_draws: int | None = None) -> dict[str, np.ndarray]:
        """Draws in the form the likelihood reads (see :func:`params_from_sites`)."""
        return self.params_at(self.thinned(max_draws))

    def params_at(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`params` of the draws at ``index``: only those are converted, all at once
        (:func:`params_from_sites` reads trailing axes only, so the draws' axis passes through)."""
        return params_from_sites(self.draws_at(index), len(self.design.static_names))

    def draw_sets(self, max_draws: int | None = None) -> list[DrawSet]:
        """The draws with their design, as one set; a stacked posterior
        (:class:`~tuneahead.model.stacked.StackedPosterior`) gives one set per variant."""
        return [DrawSet(self.params(max_draws), self.design)]

    def natural(self, max_draws: int | None = None) -> dict[str, np.ndarray]:
        """Interpretable parameters in the data's own units (:func:`natural_parameters`), as ``(S, ...)`` draws."""
        return natural_parameters(self.draws(max_draws), self.design)

    # ------------------------------------------------------------------ storage
    def save(self, path: str | os.PathLike) -> Path:
        """Write the InferenceData, design and diagnostics to one NetCDF file, atomically."""
        path = Path(path)
        idata = self.idata.copy()
        idata.posterior = self.tagged_draws()
        with atomic_path(path) as tmp:
            idata.to_netcdf(str(tmp), engine="h5netcdf")
        return path

    def tagged_draws(self):
        """A copy of the draws dataset with the design and diagnostics in its attributes, as saved
        (:meth:`from_dataset` reads it back)."""
        dataset = self.idata.posterior.copy()
        dataset.attrs[_ATTR] = json.dumps(self.design.to_dict())
        dataset.attrs[_DIAG_ATTR] = json.dumps(self.diagnostics.to_dict())
        return dataset

    @classmethod
    def load(cls, path: str | os.PathLike) -> Posterior:
        """Read a posterior written by :meth:`save` (a stacked one: :func:`tuneahead.model.load_posterior`)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no posterior file; run `python -m tuneahead.fit` first")
        idata = az.from_netcdf(str(path), engine="h5netcdf")
        if "posterior" not in idata.groups():
            raise ValueError(
                f"{path}: not a single tuneahead posterior (no posterior group); a stacked one is read by "
                "tuneahead.model.load_posterior"
            )
        idata.load()
        return cls.from_dataset(idata.posterior, str(path), idata)

    @classmethod
    def from_dataset(cls, dataset, where: str, idata: az.InferenceData | None = None) -> Posterior:
        """The posterior of a draws dataset whose attributes carry the design and diagnostics."""
        attrs = dataset.attrs
        if _ATTR not in attrs:
            raise ValueError(f"{where}: not a tuneahead posterior (no design attribute)")
        design = ModelDesign.from_dict(json.loads(attrs[_ATTR]))
        diag = json.loads(attrs.get(_DIAG_ATTR, "{}"))
        known = {k: diag.pop(k) for k in list(diag) if k in Diagnostics.__dataclass_fields__}
        known["warnings"] = tuple(known.get("warnings", ()))
        return cls(idata or az.InferenceData(posterior=dataset), design, Diagnostics(**known, extra=diag))
