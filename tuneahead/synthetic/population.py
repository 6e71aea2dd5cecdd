"""Populations of simulated fine-tuning runs: tasks x configs x seeds, turned into a RunTable.

A population draws ``n_tasks`` target tasks and ``configs_per_task`` configs for each from the
ranges of a :class:`Preset`, and runs every (task, config) *cell* with ``seeds`` independent seeds.
A cell is the run's ``group``: it is everything knowable before training, and its seeds differ only
in the adapter initialization and the data order, which is exactly the randomness that probing
reveals. Its static features are the knobs themselves.

The population keeps everything it needs to rerun any of its runs, so
:mod:`tuneahead.validation.brute_force` can branch them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

import jax
import jax.numpy as jnp
import numpy as np

from ..data.runtable import Curve, RunTable
from .mechanics import (
    Backbone,
    RunKnobs,
    RunRecord,
    SimulatorSpec,
    TaskArrays,
    build_tasks,
    pretrain,
    simulate,
)

__all__ = ["Preset", "PRESETS", "SimulatedPopulation", "simulate_population", "simulated_population"]

STATIC_FEATURES = (
    "shift",
    "sharpness",
    "label_noise",
    "log_n_train",
    "log_n_test",
    "log_lr",
    "rho",
    "log_batch",
    "rank",
)
CURVE_METRICS = ("eval_score", "eval_loss", "train_loss", "grad_norm")
NEVER = 1 << 30  # a branch budget past every step


@dataclass(frozen=True)
class Preset:
    """Ranges of the task and config knobs; a pair ``(lo, hi)`` is drawn uniformly (log-uniformly
    for ``lr``, ``n_train`` and ``n_test``), and a list is a set of choices."""

    shift: tuple = (0.3, 0.9)  # radians between source and target teacher
    sharpness: tuple = (3.0, 6.0)  # teacher logit scale; low is hard (high Bayes error)
    label_noise: tuple = (0.0, 0.0)  # label-flip rate
    n_train: tuple = (256, 2048)
    n_test: tuple = (2000, 4000)  # test-set size of the final score
    lr: tuple = (0.5, 2.0)  # eta_0
    rho: tuple = (0.75, 0.75)  # step-size decay exponent
    batch: list = field(default_factory=lambda: [8, 16])
    rank: list = field(default_factory=lambda: [1, 2, 4])


PRESETS: dict[str, Preset] = {
    # The final score is nearly fixed by the task and config: large batches, gentle steps that
    # decay fast, and a large test set. L(0) is far below a 3-point tolerance.
    "static_sufficient": Preset(lr=(0.3, 0.6), rho=(0.9, 0.9), batch=[32], n_test=(4000, 4000)),
    # Outcomes hinge on the trajectory: large, slowly decaying steps on small batches land runs of
    # one config points apart, and the probe sees where they go. The test set is large enough
    # that its own noise stays well inside the tolerance.
    "dynamic_critical": Preset(lr=(1.5, 3.0), rho=(0.6, 0.6), batch=[4, 8], n_test=(400, 800)),
    # Heavy label noise and a tiny test set: the score's own sampling noise exceeds the tolerance,
    # whatever the probe shows.
    "noise_dominant": Preset(label_noise=(0.2, 0.3), n_test=(20, 30), lr=(0.5, 1.5)),
}


def _preset(preset: str | Preset, overrides: dict | None) -> Preset:
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"unknown simulator preset {preset!r}; choose one of {sorted(PRESETS)}")
        preset = PRESETS[preset]
    overrides = dict(overrides or {})
    unknown = set(overrides) - {f.name for f in fields(Preset)}
    if unknown:
        raise ValueError(f"unknown preset knob(s) {sorted(unknown)}; known: {[f.name for f in fields(Preset)]}")
    return replace(preset, **{k: tuple(v) if k not in ("batch", "rank") else list(v) for k, v in overrides.items()})


def _draw(rng: np.random.Generator, spec, n: int, log: bool = False, integer: bool = False) -> np.ndarray:
    if isinstance(spec, list):
        return np.asarray(spec)[rng.integers(0, len(spec), n)]
    lo, hi = spec
    if lo > hi:
        raise ValueError(f"a knob range must have lo <= hi, got {spec}")
    v = np.exp(rng.uniform(np.log(lo), np.log(hi), n)) if log and lo > 0 else rng.uniform(lo, hi, n)
    return np.round(v).astype(int) if integer else v


@dataclass(frozen=True)
class SimulatedPopulation:
    """A simulated RunTable with everything needed to rerun and branch its runs."""

    table: RunTable
    spec: SimulatorSpec
    preset: Preset
    backbone: Backbone = field(repr=False)
    tasks: TaskArrays = field(repr=False)
    knobs: RunKnobs = field(repr=False)
    run_keys: np.ndarray = field(repr=False)  # (n, 2) raw keys
    p_final: np.ndarray = field(repr=False)  # exact pool accuracy of each run's final model

    def rows(self, table: RunTable) -> np.ndarray:
        """Row of each of ``table``'s runs in this population."""
        return self.table.rows_of(table, "this simulated population")

    def intrinsic_risk_per_run(self, table: RunTable | None = None) -> np.ndarray:
        """:math:`\\operatorname{Var}(R_i \\mid \\text{whole trajectory}) = 10^4 p_i (1 - p_i) / n_{test,i}`."""
        rows = np.arange(len(self.table)) if table is None else self.rows(table)
        p = self.p_final[rows]
        return 1e4 * p * (1 - p) / np.asarray(self.knobs.n_test)[rows]

    def intrinsic_risk(self, table: RunTable | None = None) -> float:
        """True :math:`L_{int}`, the mean of :meth:`intrinsic_risk_per_run`."""
        return float(np.mean(self.intrinsic_risk_per_run(table)))

    def run(self, rows: np.ndarray, branch_keys: np.ndarray, branch_at: np.ndarray, chunk: int = 256) -> RunRecord:
        """Rerun ``rows`` (repeats allowed), switching to ``branch_keys`` after ``branch_at`` steps.

        Runs go through in chunks of one fixed size (the last one padded), so every call reuses
        one compilation of the simulator.
        """
        rows = np.asarray(rows, dtype=int)
        n = len(rows)
        pad = -n % chunk
        rows = np.concatenate([rows, np.repeat(rows[-1:], pad)])
        branch_keys = np.concatenate([branch_keys, np.repeat(branch_keys[-1:], pad, axis=0)])
        branch_at = np.concatenate([np.asarray(branch_at), np.repeat(np.asarray(branch_at)[-1:], pad)])
        out = []
        for s in range(0, len(rows), chunk):
            r = rows[s : s + chunk]
            knobs = RunKnobs(*(np.asarray(v)[r] for v in self.knobs))
            out.append(
                simulate(
                    self.spec,
                    self.backbone,
                    self.tasks,
                    knobs,
                    jnp.asarray(self.run_keys[r]),
                    jnp.asarray(branch_keys[s : s + chunk]),
                    jnp.asarray(branch_at[s : s + chunk], dtype=jnp.int32),
                )
            )
        return RunRecord(*(np.concatenate([np.asarray(getattr(o, f)) for o in out])[:n] for f in RunRecord._fields))


def simulate_population(
    preset: str | Preset = "dynamic_critical",
    n_tasks: int = 8,
    configs_per_task: int = 5,
    seeds: int = 8,
    spec: SimulatorSpec = SimulatorSpec(),
    seed: int = 0,
    overrides: dict | None = None,
) -> SimulatedPopulation:
    """Draw tasks and configs from ``preset`` and run every cell with ``seeds`` seeds."""
    if n_tasks < 1 or configs_per_task < 1 or seeds < 2:
        raise ValueError("a simulated population needs >= 1 task, >= 1 config per task and >= 2 seeds per cell")
    pre = _preset(preset, overrides)
    task, cell = _draw_cells(pre, np.random.default_rng(seed), n_tasks, configs_per_task)
    n_cells = n_tasks * configs_per_task
    if (cell["batch"] > spec.b_max).any() or (cell["rank"] > spec.r_max).any():
        raise ValueError(f"preset batch/rank exceed the simulator's b_max={spec.b_max} / r_max={spec.r_max}")
    backbone = pretrain(spec)
    tasks = build_tasks(spec, backbone, task["shift"], task["sharpness"], task["label_noise"], task["n_train"], seed)
    per_run = {k: np.repeat(v, seeds) for k, v in cell.items()}
    knobs = RunKnobs(
        task=per_run["task"].astype(np.int32),
        lr=per_run["lr"].astype(np.float32),
        rho=per_run["rho"].astype(np.float32),
        batch=per_run["batch"].astype(np.int32),
        rank=per_run["rank"].astype(np.int32),
        n_test=per_run["n_test"].astype(np.int32),
        init_seed=(np.repeat(np.arange(n_cells), seeds) + 7919 * seed).astype(np.int32),
    )
    n = n_cells * seeds
    run_keys = np.asarray(jax.random.split(jax.random.PRNGKey(seed + 1), n))
    test_keys = np.asarray(jax.random.split(jax.random.PRNGKey(seed + 2), n))
    pop = SimulatedPopulation(
        table=None,
        spec=spec,
        preset=pre,
        backbone=backbone,
        tasks=tasks,
        knobs=knobs,  # type: ignore[arg-type]
        run_keys=run_keys,
        p_final=np.zeros(n),
    )
    # The observed run: every event from its run key, and its test draw from its own test key.
    record = pop.run(np.arange(n), test_keys, np.full(n, NEVER))
    table = _observed_table(spec, task, per_run, record, n_cells, seeds)
    return replace(pop, table=table, p_final=np.asarray(record.p_final, dtype=float))


def _draw_cells(pre: Preset, rng: np.random.Generator, n_tasks: int, configs_per_task: int) -> tuple[dict, dict]:
    """The tasks' knobs, then each (task, config) cell's, drawn from the preset's ranges."""
    task = dict(
        shift=_draw(rng, pre.shift, n_tasks),
        sharpness=_draw(rng, pre.sharpness, n_tasks),
        label_noise=_draw(rng, pre.label_noise, n_tasks),
        n_train=_draw(rng, pre.n_train, n_tasks, log=True, integer=True),
    )
    n_cells = n_tasks * configs_per_task
    cell = dict(
        task=np.repeat(np.arange(n_tasks), configs_per_task),
        lr=_draw(rng, pre.lr, n_cells, log=True),
        rho=_draw(rng, pre.rho, n_cells),
        batch=_draw(rng, pre.batch, n_cells).astype(int),
        rank=_draw(rng, pre.rank, n_cells).astype(int),
        n_test=_draw(rng, pre.n_test, n_cells, log=True, integer=True),
    )
    return task, cell


def _observed_table(spec: SimulatorSpec, task: dict, per_run: dict, record, n_cells: int, seeds: int) -> RunTable:
    """The observed runs as a RunTable: the knobs as static features, a (task, config) cell a group."""
    n = n_cells * seeds
    t = per_run["task"]
    static = np.stack(
        [
            task["shift"][t],
            task["sharpness"][t],
            task["label_noise"][t],
            np.log(task["n_train"][t]),
            np.log(per_run["n_test"]),
            np.log(per_run["lr"]),
            per_run["rho"],
            np.log(per_run["batch"]),
            per_run["rank"].astype(float),
        ],
        axis=1,
    )
    steps = spec.record_steps.astype(float)
    curves = {m: Curve(np.tile(steps, (n, 1)), np.asarray(getattr(record, m), dtype=float)) for m in CURVE_METRICS}
    cell_id = np.repeat(np.arange(n_cells), seeds)
    return RunTable(
        run_id=np.array([f"c{c:03d}s{s}" for c, s in zip(cell_id, np.tile(np.arange(seeds), n_cells))]),
        group=np.array([f"task{t_:02d}/cfg{c:03d}" for t_, c in zip(t, cell_id)]),
        static=static,
        static_names=STATIC_FEATURES,
        budget=np.full(n, float(spec.steps)),
        curves=curves,
        final=np.asarray(record.final, dtype=float),
        diverged=np.asarray(record.diverged, dtype=bool),
    )


def simulated_population(
    preset: str = "dynamic_critical",
    n_tasks: int = 8,
    configs_per_task: int = 5,
    seeds: int = 8,
    seed: int = 0,
    simulator: dict | None = None,
    overrides: dict | None = None,
) -> SimulatedPopulation:
    """Hydra target: :func:`simulate_population` with the simulator sizes given as a mapping."""
    simulator = dict(simulator or {})
    unknown = set(simulator) - {f.name for f in fields(SimulatorSpec)}
    if unknown:
        raise ValueError(f"unknown simulator setting(s) {sorted(unknown)}; known: {sorted(asdict(SimulatorSpec()))}")
    return simulate_population(preset, n_tasks, configs_per_task, seeds, SimulatorSpec(**simulator), seed, overrides)
