"""From a RunTable to the arrays the model reads, on a standardized scale.

A :class:`ModelDesign` is fitted once, on the training runs, and then encodes any table
(training runs or candidates) the same way:

- the final score is standardized, :math:`r = (R - \\bar R) / s_R`;
- each probe metric ``m`` is standardized with its own mean and sd over training points;
- steps are divided by a time unit, the median training budget;
- static features are standardized (on the log scale where they span orders of magnitude, and
  clamped to the training range), then expanded by the static basis (``linear``, ``quadratic`` or
  ``relu`` random features) and standardized again: :mod:`tuneahead.model.static_scale`.

Ragged curves become padded ``(n_runs, n_points)`` arrays with a mask; the points of all modelled
metrics of a run sit side by side, each with its metric index. The design is stored with the
posterior, so predictions use exactly the scaling the fit used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from ..data.runtable import Curve, RunTable, RunTableError
from . import static_scale

__all__ = ["ModelSpec", "ModelDesign", "ModelData", "NO_FLOOR", "CURVE_OPTIONS"]

#: The options of :class:`ModelSpec` that act on probe curves, refused for a table without them.
CURVE_OPTIONS = ("shape_features", "variance_features", "group_spread", "random_walk", "transient", "curve_offsets")


@dataclass(frozen=True)
class ModelSpec:
    r"""Choices of the hierarchical model that change its structure (set from ``conf/model``).

    Attributes
    ----------
    metrics
        Probe metrics whose curves inform the trajectory latent. Empty: a table without curves
        (static features, which may hold fixed probe summaries, and final scores). Then nothing
        tells the trajectory latent :math:`\delta_i` from the outcome noise :math:`\varepsilon_i`, so
        the model does without it: the run-level spread is :math:`\sigma_\varepsilon` alone, no probe
        length changes the risk, :math:`L(c) = L(0)`, and :math:`L_{int}` is the risk the static
        features leave (an upper bound on the limit that curves could approach). The options that act on
        curves (:data:`CURVE_OPTIONS`, ``divergence_features``) are refused; ``amplitude_features`` and
        ``max_points`` have nothing to act on.
    static_basis
        ``"linear"``, ``"quadratic"`` or ``"relu"`` (random hidden units: a nonlinear static part)
        expansion of the static features in ``f(x)`` (:mod:`tuneahead.model.static_scale`).
    failure_gate
        Whether runs may diverge (the marginalized gate); off, every run is healthy.
    amplitude_features
        Whether the mean curve amplitude depends linearly on the static features.
    shape_features
        Whether the curve's time scale depends log-linearly on the static features.
    variance_features
        Whether the spread of the trajectory latent, :math:`\sigma_{\delta,i}`, depends
        log-linearly on the static features (some configs scatter their seeds more than others).
    group_spread
        Whether each group scatters its runs by a factor of its own besides, :math:`e^{\eta_g}` on
        :math:`\sigma_{\delta,i}`, :math:`\eta_g \sim \mathcal N(0, \tau_s^2)` (a new group's: the mean variance).
    gate_basis
        ``"static"``: the failure gate's log-odds are linear in the static basis; ``"linear"``: in
        the standardized static features themselves, so the divergence risk is monotone in each
        feature (a quadratic gate can turn back up outside the range it was fitted on).
    divergence_features
        Whether the time scale of divergence depends log-linearly on the static features (a long
        warm-up reaches its peak learning rate late, and diverges late).
    random_walk
        Whether the trajectory wanders as the run trains: a random walk whose future increments no
        probe can see rides on :math:`\delta_i` (see :mod:`tuneahead.model.walk`).
    transient
        Whether the curve strays from the trajectory by a deviation that fades as the run trains (an
        Ornstein-Uhlenbeck process on a learned clock, of a size that may change over the run): an
        early point then says little about the end, a late one much. Not with ``random_walk``.
    curve_offsets
        Whether each run's curve of each metric sits off its trajectory by a persistent offset
        :math:`o_{im} \sim \mathcal N(0, \sigma_{o,m}^2)` that the final score does not share:
        a fixed evaluation set's sampling error, or a wiggle of the run that outlasts several
        evaluations. The points of one curve then share an error, so averaging many of them
        cannot reveal :math:`\delta_i` beyond :math:`\sigma_{o,m} / \lambda_{1m}`.
    chance_floor
        Per metric, the value at or below which a point cannot be told from chance (on the metric's
        own scale; for a metric where higher is better, such as an accuracy a little above its
        chance rate). Such a point is censored: it says only that the run sits at chance then, which
        a failed run does and so does a healthy run that has not started to learn. Both branches
        score it as the probability of being there, not as a density: the failed branch as
        :math:`\Phi((c - y_{fail}) / s_{yfail})`, the healthy branch as the probability under its
        prior predictive at the run's latest censored point (so a stretch of them, which a rising
        curve makes nearly certain together, counts once), and the healthy latents are
        conditioned on the other points. Without it a flat start at chance is scored by the chance
        branch's small spread against the healthy curve's noise, point by point, and reads as
        near-certain failure. Empty: no censoring.
    max_points
        Most probe points kept per run and metric, at geometrically spaced positions (dense early,
        where curves move fast, sparse late; the first and last are always kept); ``None`` keeps
        all. Long training curves then cost less, and their serially correlated noise is not
        counted as many independent looks.
    log_span
        A static feature positive on every training run, whose largest value is at least this
        many times its smallest and whose logarithm is less skewed than itself, is modelled on the
        log scale (:mod:`tuneahead.model.static_scale`); ``None``: every feature on its own scale.
    clamp_features
        Whether a candidate's standardized static features are clamped to the training runs' range
        before they reach the static part, the curve features and the gate, so that no fitted line
        is drawn past its data (:mod:`tuneahead.model.static_scale`).
    """

    metrics: tuple[str, ...] = ("eval_score",)
    static_basis: str = "linear"
    failure_gate: bool = True
    amplitude_features: bool = True
    shape_features: bool = False
    variance_features: bool = False
    group_spread: bool = False
    gate_basis: str = "static"
    divergence_features: bool = False
    random_walk: bool = False
    transient: bool = False
    curve_offsets: bool = False
    chance_floor: tuple[tuple[str, float], ...] = ()
    max_points: int | None = None
    log_span: float | None = 100.0
    clamp_features: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics))
        floors = dict(self.chance_floor.items() if isinstance(self.chance_floor, Mapping) else self.chance_floor or ())
        object.__setattr__(self, "chance_floor", tuple((str(m), float(v)) for m, v in floors.items()))
        unknown = [m for m, _ in self.chance_floor if m not in self.metrics]
        if unknown:
            raise RunTableError(
                f"model.chance_floor names {unknown}, which are not among model.metrics {list(self.metrics)}; "
                "give a floor only to the metrics the model reads"
            )
        walks = [name for name in ("random_walk", "transient") if getattr(self, name)]
        if self.chance_floor and walks:
            raise RunTableError(f"model.chance_floor is not implemented with model.{walks[0]}=true; drop one")
        if len(walks) == 2:
            raise RunTableError("model.random_walk and model.transient are two walks; set one of them to false")
        if self.log_span is not None and not self.log_span > 1:
            raise RunTableError(f"model.log_span={self.log_span}; use a ratio above 1 (such as 100) or null")
        if self.max_points is not None and self.max_points < 1:
            raise RunTableError(f"model.max_points={self.max_points}; use a positive count or null")
        if not self.metrics:
            on = [name for name in (*CURVE_OPTIONS, "divergence_features") if getattr(self, name)]
            if on:
                raise RunTableError(
                    f"model.metrics is empty (a table without curves), but model.{on[0]}=true acts on probe "
                    f"curves; set model.{on[0]}=false or name the metrics whose curves the runs have"
                )
        if self.static_basis not in static_scale.BASES:
            raise RunTableError(f"model.static_basis={self.static_basis!r}; use one of {list(static_scale.BASES)}")
        if self.gate_basis not in ("static", "linear"):
            raise RunTableError(f"model.gate_basis={self.gate_basis!r}; use 'static' or 'linear'")


#: The standardized floor of a metric without one: no point lies at or below it (finite: no NaN gradient).
NO_FLOOR = -1e6


class ModelData(NamedTuple):
    """The arrays of one encoded table (all on the standardized scale)."""

    x_static: jnp.ndarray  # (n, p_f) basis of f(x)
    x_linear: jnp.ndarray  # (n, p) standardized static features: amplitude mean and time scale
    x_gate: jnp.ndarray  # (n, p_g) the failure gate's basis: x_static or x_linear
    group: jnp.ndarray  # (n,) int, -1 for a group not seen in training
    t: jnp.ndarray  # (n, P) steps / time unit
    y: jnp.ndarray  # (n, P) standardized curve values, 0 where masked
    metric: jnp.ndarray  # (n, P) int metric index
    mask: jnp.ndarray  # (n, P) bool, point present and finite
    budget: jnp.ndarray  # (n,) T / time unit
    r: jnp.ndarray  # (n,) standardized final score, 0 where missing
    r_mask: jnp.ndarray  # (n,) bool
    gate: jnp.ndarray  # (n,) int: 1 diverged, 0 healthy, -1 unknown
    floor: jnp.ndarray | None  # (n, P) standardized chance floor of each point's metric; None: no metric has one
    present: jnp.ndarray | None = None  # (n,) bool, False for a padding row (padded_runs); None: every row

    def select(self, rows: np.ndarray) -> ModelData:
        """The runs at the integer positions ``rows``."""
        return ModelData(*(None if a is None else jnp.asarray(np.asarray(a)[rows]) for a in self))

    def padded_points(self, width: int) -> ModelData:
        """The point axis padded (masked) to ``width`` points, at least its own."""
        if width <= self.t.shape[1]:
            return self
        pad = ((0, 0), (0, width - self.t.shape[1]))
        points = {k: getattr(self, k) for k in ("t", "y", "metric", "mask", "floor")}
        return self._replace(**{k: None if v is None else jnp.pad(v, pad) for k, v in points.items()})

    def padded_runs(self, rows: int) -> ModelData:
        """``rows`` rows: these runs, then copies of the first marked absent (``present``), which the
        model leaves out; the copies keep every term finite, so no NaN reaches a gradient."""
        n = self.y.shape[0]
        if not 0 < n <= rows:
            raise ValueError(f"cannot pad {n} runs to {rows} rows")
        take = np.concatenate([np.arange(n), np.zeros(rows - n, dtype=int)])
        present = (np.arange(rows) < n) & (True if self.present is None else np.asarray(self.present)[take])
        return self.select(take)._replace(present=jnp.asarray(present))

    def by_fate(self) -> tuple[ModelData, ModelData, ModelData]:
        """The runs of unknown fate, those known healthy and those known diverged."""
        gate = np.asarray(self.gate)
        return tuple(self.select(np.flatnonzero(gate == g)) for g in (-1, 0, 1))


def _thin(curve: Curve, max_points: int | None) -> Curve:
    """Keep at most ``max_points`` points of each run, at geometrically spaced positions."""
    counts = curve.counts
    if max_points is None or counts.max(initial=0) <= max_points:
        return curve
    steps = np.full((len(counts), max_points), np.nan)
    values = steps.copy()
    for i, count in enumerate(counts):
        keep = np.arange(count)
        if count > max_points:
            keep = np.unique(np.geomspace(1, count, max_points).round().astype(int) - 1)
        steps[i, : keep.size] = curve.steps[i, keep]
        values[i, : keep.size] = curve.values[i, keep]
    return Curve(steps, values)


def _median_spacing(curve: Curve) -> float:
    """The median spacing of consecutive points over all runs of ``curve`` (NaN with none)."""
    gaps = np.diff(curve.steps, axis=1)
    gaps = gaps[np.isfinite(gaps) & (gaps > 0)]
    return float(np.median(gaps)) if gaps.size else float("nan")


def _scale(values: np.ndarray) -> tuple[float, float]:
    """Mean and sd of the finite ``values``; 0 and 1 with none, and an sd of 1 where they are constant."""
    values = values[np.isfinite(values)]
    sd = float(values.std()) if values.size else 0.0
    return (float(values.mean()) if values.size else 0.0), sd if sd > 1e-12 else 1.0


@dataclass(frozen=True)
class ModelDesign:
    """Standardization and indexing learned from the training runs (see module doc)."""

    spec: ModelSpec
    static_names: tuple[str, ...]
    basis_names: tuple[str, ...]
    groups: tuple[str, ...]
    x_mean: tuple[float, ...]
    x_sd: tuple[float, ...]
    basis_mean: tuple[float, ...]
    basis_sd: tuple[float, ...]
    r_mean: float
    r_sd: float
    y_mean: tuple[float, ...]
    y_sd: tuple[float, ...]
    time_unit: float
    standardize: bool = field(default=True)
    cadence: tuple[float, ...] = ()  # per metric, the training runs' median spacing of points (steps)
    x_log: tuple[bool, ...] = ()  # per static feature, modelled on the log scale (model/static_scale.py)
    z_low: tuple[float, ...] = ()  # per standardized static feature, the training range; () no clamp
    z_high: tuple[float, ...] = ()

    @classmethod
    def fit(cls, table: RunTable, spec: ModelSpec, standardize: bool = True) -> ModelDesign:
        """Learn the scaling from ``table``, the training runs.

        ``standardize=False`` gives the identity design: data stay in their natural units, which is
        how the generating parameters of a synthetic population are evaluated.
        """
        for m in spec.metrics:
            table.curve(m)  # names the known metrics if ``m`` is not one
        if not table.has_final.any():
            raise RunTableError("the training runs have no final scores; a fit needs scored runs")
        p = len(table.static_names)
        x_log = static_scale.log_features(table.static, spec.log_span if standardize else None)
        x = static_scale.model_scale(table.static, x_log, table.static_names, table.run_id, clamped=True)
        x_stats = [_scale(x[:, j]) if standardize else (0.0, 1.0) for j in range(p)]
        x_mean = tuple(s[0] for s in x_stats)
        x_sd = tuple(s[1] for s in x_stats)
        z = (x - np.array(x_mean)) / np.array(x_sd) if p else x
        clamps = standardize and spec.clamp_features and p and len(table)
        z_low, z_high = ((tuple(map(float, f(z, axis=0))) if clamps else ()) for f in (np.nanmin, np.nanmax))
        basis, basis_names = static_scale.basis(z, table.static_names, spec.static_basis)
        b_stats = static_scale.basis_scales(basis, basis_names, spec.static_basis if standardize else "linear", _scale)
        r_mean, r_sd = _scale(table.final) if standardize else (0.0, 1.0)
        y_stats = [
            _scale(table.curve(m).values[table.curve(m).present]) if standardize else (0.0, 1.0) for m in spec.metrics
        ]
        return cls(
            spec=spec,
            static_names=tuple(table.static_names),
            basis_names=tuple(basis_names),
            groups=table.groups,
            x_mean=x_mean,
            x_sd=x_sd,
            basis_mean=tuple(s[0] for s in b_stats),
            basis_sd=tuple(s[1] for s in b_stats),
            r_mean=r_mean,
            r_sd=r_sd,
            y_mean=tuple(s[0] for s in y_stats),
            y_sd=tuple(s[1] for s in y_stats),
            time_unit=float(np.median(table.budget)) if standardize else 1.0,
            standardize=standardize,
            cadence=tuple(_median_spacing(table.curve(m)) for m in spec.metrics),
            x_log=x_log,
            z_low=z_low,
            z_high=z_high,
        )

    # ------------------------------------------------------------------ encoding
    def _standardized_floors(self) -> np.ndarray:
        """Each metric's chance floor on the standardized scale (:data:`NO_FLOOR`: none)."""
        floors = dict(self.spec.chance_floor)
        return np.array(
            [
                (floors[m] - self.y_mean[k]) / self.y_sd[k] if m in floors else NO_FLOOR
                for k, m in enumerate(self.spec.metrics)
            ]
        )

    def standardized_features(self, table: RunTable) -> np.ndarray:
        """``table``'s static features on the model's scale, standardized, not yet clamped: ``(n, p)``."""
        if tuple(table.static_names) != self.static_names:
            raise RunTableError(
                f"static features {list(table.static_names)} differ from those of the fit "
                f"{list(self.static_names)}; candidates need the training runs' features"
            )
        x = static_scale.model_scale(table.static, self.x_log, self.static_names, table.run_id, bool(self.z_low))
        return (x - np.array(self.x_mean)) / np.array(self.x_sd) if self.static_names else x

    def extrapolation(self, table: RunTable) -> np.ndarray:
        """How far each run of ``table`` lies outside the training range of the static features,
        in training standard deviations (0 inside; :func:`tuneahead.model.static_scale.extrapolation`)."""
        return static_scale.extrapolation(self.standardized_features(table), self.z_low, self.z_high)

    def encode(self, table: RunTable, with_outcome: bool = True) -> ModelData:
        """Encode ``table``; ``with_outcome=False`` hides the final scores (candidates)."""
        p = len(self.static_names)
        z = static_scale.clamp(self.standardized_features(table), self.z_low, self.z_high)
        basis, _ = static_scale.basis(z, self.static_names, self.spec.static_basis)
        basis = (basis - np.array(self.basis_mean)) / np.array(self.basis_sd) if basis.size else basis

        t_parts, y_parts, m_parts, mask_parts = [], [], [], []
        floor = self._standardized_floors()
        for k, m in enumerate(self.spec.metrics):
            curve = _thin(table.curve(m), self.spec.max_points)
            present = curve.present & np.isfinite(curve.values)
            t_parts.append(np.where(present, curve.steps, 0.0) / self.time_unit)
            y_parts.append(np.where(present, (curve.values - self.y_mean[k]) / self.y_sd[k], 0.0))
            m_parts.append(np.full(curve.steps.shape, k, dtype=np.int32))
            mask_parts.append(present)
        n = len(table)
        index = {g: i for i, g in enumerate(self.groups)}
        group = np.array([index.get(g, -1) for g in table.group], dtype=np.int32)
        r_mask = table.has_final & with_outcome
        r = np.where(r_mask, (np.nan_to_num(table.final) - self.r_mean) / self.r_sd, 0.0)
        gate = table.fate
        cat = lambda parts, dtype: np.concatenate(parts, axis=1).astype(dtype) if parts else np.zeros((n, 0), dtype)  # noqa: E731
        t, y, metric, mask = (
            cat(t_parts, np.float32),
            cat(y_parts, np.float32),
            cat(m_parts, np.int32),
            cat(mask_parts, bool),
        )
        # points of all metrics in step order, masked ones last: the failure branch sums the
        # divergence time over the gaps between consecutive points
        order = np.argsort(np.where(mask, t, np.inf), axis=1, kind="stable")
        t, y, metric, mask = (np.take_along_axis(a, order, axis=1) for a in (t, y, metric, mask))
        x_static = jnp.asarray(basis.reshape(n, -1), dtype=jnp.float32)
        x_linear = jnp.asarray(z.reshape(n, p), dtype=jnp.float32)
        return ModelData(
            x_static=x_static,
            x_linear=x_linear,
            x_gate=x_linear if self.spec.gate_basis == "linear" else x_static,
            group=jnp.asarray(group),
            t=jnp.asarray(t),
            y=jnp.asarray(y),
            metric=jnp.asarray(metric),
            mask=jnp.asarray(mask),
            budget=jnp.asarray(table.budget / self.time_unit, dtype=jnp.float32),
            r=jnp.asarray(r, dtype=jnp.float32),
            r_mask=jnp.asarray(r_mask),
            gate=jnp.asarray(gate),
            floor=jnp.asarray(floor[metric], dtype=jnp.float32) if self.spec.chance_floor else None,
        )

    # ------------------------------------------------------------------ storage
    def to_dict(self) -> dict:
        d = asdict(self)
        d["spec"] = asdict(self.spec)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelDesign:
        d = dict(d)
        spec = ModelSpec(**{**d.pop("spec")})
        tuples = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(spec=spec, **tuples)
