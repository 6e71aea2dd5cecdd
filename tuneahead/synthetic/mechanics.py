r"""Fine-tuning made small: a pretrained random-feature network moved to a shifted task by SGD.

**Base model.** Inputs :math:`x \in \mathbb R^d`, :math:`x \sim \mathcal N(0, I_d)`. A frozen
"pretrained" backbone :math:`W \in \mathbb R^{m \times d}` with a low-rank adapter
:math:`U V^\top` (rank :math:`r`, LoRA style: :math:`U = 0` at the start, :math:`V` random) gives
features and a logit

.. math::

    \phi(x) = \tanh\big((W + U V^\top) x\big), \qquad f(x) = \phi(x)^\top w / \sqrt m + b.

The head :math:`(w, b)` is pretrained by logistic regression on a *source* task whose labels follow
a teacher direction :math:`u_{src}`: :math:`P(y = 1 \mid x) = \sigma(k_{src}\, x^\top u_{src})`.

**Target task** :math:`k`: the teacher is rotated by a *shift* angle :math:`s_k` towards a direction
:math:`u_\perp` orthogonal to :math:`u_{src}`, with a *sharpness* (difficulty) :math:`k_k` and a
label-flip rate :math:`q_k`:

.. math::

    u_k = \cos s_k\, u_{src} + \sin s_k\, u_\perp, \qquad
    P(y = 1 \mid x) = (1 - q_k)\, \sigma(k_k x^\top u_k) + q_k\, (1 - \sigma(k_k x^\top u_k)).

A task has a fixed training set of :math:`n_k` examples and a fixed *pool* of :math:`P` examples
that stands in for its test distribution.

**Fine-tuning run** (one config, one seed): SGD (optionally with momentum or Adam scaling) on the
head and the adapter, with minibatches of size :math:`B` drawn with replacement and the step size

.. math:: \eta_t = \eta_0 \,(1 + t / t_s)^{-\rho}, \qquad t = 1, \dots, T,

(``schedule="power"``), or the same times a linear decay to zero at the end,
:math:`\eta_t = \eta_0 (1 + t / t_s)^{-\rho} (1 - t / (T + 1))` (``schedule="power_linear"``, the
usual fine-tuning schedule, under which a run settles before its end).

Every ``eval_every`` steps it records the mean train loss and gradient norm of the steps since the
last record, and the eval loss and eval score (accuracy, in points) on ``n_eval`` examples drawn
afresh from the pool with fresh labels. The run's *true accuracy*
:math:`p_T = P(\text{correct})` is exact over the pool, and its final score is that of a fresh test
set of ``n_test`` examples, :math:`R = 100\, \mathrm{Binomial}(n_{test}, p_T) / n_{test}`.

**Seeds and branching.** The adapter initialization is part of the config (its ``init_seed``), as
in a sweep that fixes the LoRA init; a run's seed sets its data order. Every minibatch has a time
index :math:`t`. A run is driven by a *run key*; a *branch* at budget :math:`c` replays steps
:math:`1..c` from the run key and draws every later minibatch from a *branch key*, so branches share
the exact state after step :math:`c` and nothing after. A branch at :math:`c = 0` shares only the
task and the config. Evaluation and test draws never feed back into training.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["SimulatorSpec", "Backbone", "TaskArrays", "RunKnobs", "RunRecord", "pretrain", "build_tasks", "simulate"]

OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("power", "power_linear")


@dataclass(frozen=True)
class SimulatorSpec:
    """Sizes shared by every run of a population (static for compilation)."""

    d: int = 16  # input dimension
    m: int = 64  # backbone width
    r_max: int = 4  # largest adapter rank
    b_max: int = 32  # largest minibatch
    steps: int = 500  # T
    eval_every: int = 25
    n_eval: int = 512
    pool: int = 4096
    n_train_max: int = 2048
    schedule_offset: float = 20.0  # t_s
    schedule: str = "power_linear"  # power | power_linear
    optimizer: str = "sgd"
    source_sharpness: float = 4.0
    adapter_init: float = 0.5  # sd of V's entries, times 1/sqrt(d)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"simulator optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"simulator schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.steps % self.eval_every:
            raise ValueError(f"steps ({self.steps}) must be a multiple of eval_every ({self.eval_every})")
        for name in ("d", "m", "r_max", "b_max", "steps", "eval_every", "n_eval", "pool", "n_train_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"simulator {name} must be positive, got {getattr(self, name)}")

    @property
    def record_steps(self) -> np.ndarray:
        return np.arange(self.eval_every, self.steps + 1, self.eval_every)


class Backbone(NamedTuple):
    """The pretrained model: frozen W, pretrained head (w, b), and the source teacher."""

    W: jnp.ndarray  # (m, d)
    w: jnp.ndarray  # (m,)
    b: jnp.ndarray  # ()
    u_src: jnp.ndarray  # (d,)


class TaskArrays(NamedTuple):
    """K target tasks, stacked."""

    x_train: jnp.ndarray  # (K, n_train_max, d)
    y_train: jnp.ndarray  # (K, n_train_max) noisy labels in {0, 1}
    n_train: jnp.ndarray  # (K,) int
    x_pool: jnp.ndarray  # (K, P, d)
    p1_pool: jnp.ndarray  # (K, P) P(y = 1 | x), label noise included


class RunKnobs(NamedTuple):
    """Per-run config, one entry per run (vmapped)."""

    task: jnp.ndarray  # int index into TaskArrays
    lr: jnp.ndarray  # eta_0
    rho: jnp.ndarray
    batch: jnp.ndarray  # int <= b_max
    rank: jnp.ndarray  # int <= r_max
    n_test: jnp.ndarray  # int
    init_seed: jnp.ndarray  # int: the adapter initialization, part of the config


class RunRecord(NamedTuple):
    """What one run leaves behind; curves have a trailing axis over ``SimulatorSpec.record_steps``."""

    train_loss: jnp.ndarray
    eval_loss: jnp.ndarray
    eval_score: jnp.ndarray
    grad_norm: jnp.ndarray
    p_final: jnp.ndarray  # exact pool accuracy after T steps, in [0, 1]
    final: jnp.ndarray  # R, in points
    diverged: jnp.ndarray


def _logit(params: dict, W: jnp.ndarray, x: jnp.ndarray) -> jnp.ndarray:
    h = x @ W.T + (x @ params["V"]) @ params["U"].T
    return jnp.tanh(h) @ params["w"] / jnp.sqrt(W.shape[0]) + params["b"]


def _log_loss(logit: jnp.ndarray, p1: jnp.ndarray) -> jnp.ndarray:
    """Cross-entropy of the logit against a label probability (a hard label is p1 in {0, 1})."""
    return p1 * jax.nn.softplus(-logit) + (1 - p1) * jax.nn.softplus(logit)


def _accuracy(logit: jnp.ndarray, p1: jnp.ndarray) -> jnp.ndarray:
    """P(correct) of the decision ``logit > 0`` against labels with P(y = 1) = p1."""
    return jnp.where(logit > 0, p1, 1 - p1)


def _teacher_p1(x, u, sharpness, noise):
    clean = jax.nn.sigmoid(sharpness * (x @ u))
    return (1 - noise) * clean + noise * (1 - clean)


@lru_cache(maxsize=8)
def pretrain(spec: SimulatorSpec, seed: int = 0, n: int = 8192, steps: int = 400) -> Backbone:
    """Draw the backbone and fit the head on the source task (Adam, full batch, expected log loss).

    Cached: every population of one spec shares its pretrained model.
    """
    return _pretrain(spec, seed, n, steps)


@partial(jax.jit, static_argnames=("spec", "n", "steps"))
def _pretrain(spec: SimulatorSpec, seed, n: int, steps: int) -> Backbone:
    kW, ku, kx = jax.random.split(jax.random.PRNGKey(seed), 3)
    W = jax.random.normal(kW, (spec.m, spec.d)) / jnp.sqrt(spec.d)
    u_src = jax.random.normal(ku, (spec.d,))
    u_src = u_src / jnp.linalg.norm(u_src)
    x = jax.random.normal(kx, (n, spec.d))
    p1 = _teacher_p1(x, u_src, spec.source_sharpness, 0.0)
    zeros = {"U": jnp.zeros((spec.m, 1)), "V": jnp.zeros((spec.d, 1))}

    def loss(head):
        return jnp.mean(_log_loss(_logit({**zeros, **head}, W, x), p1))

    opt = optax.adam(0.05)
    head = {"w": jnp.zeros(spec.m), "b": jnp.zeros(())}

    def step(carry, _):
        head, state = carry
        g = jax.grad(loss)(head)
        upd, state = opt.update(g, state)
        return (optax.apply_updates(head, upd), state), None

    (head, _), _ = jax.lax.scan(step, (head, opt.init(head)), None, length=steps)
    return Backbone(W=W, w=head["w"], b=head["b"], u_src=u_src)


def build_tasks(
    spec: SimulatorSpec,
    backbone: Backbone,
    shift: np.ndarray,
    sharpness: np.ndarray,
    label_noise: np.ndarray,
    n_train: np.ndarray,
    seed: int,
) -> TaskArrays:
    """Draw K target tasks: a rotated teacher, a training set and a test pool each."""
    shift, sharpness, label_noise = (np.asarray(v, dtype=np.float32) for v in (shift, sharpness, label_noise))
    n_train = np.asarray(n_train, dtype=np.int32)
    if (n_train < 1).any() or (n_train > spec.n_train_max).any():
        raise ValueError(f"task training-set sizes must lie in [1, {spec.n_train_max}], got {n_train.tolist()}")
    keys = jax.random.split(jax.random.PRNGKey(seed), 4 * len(shift)).reshape(len(shift), 4, -1)
    x_train, y_train, x_pool, p1_pool = _draw_tasks(spec, backbone.u_src, keys, shift, sharpness, label_noise)
    return TaskArrays(x_train, y_train, jnp.asarray(n_train), x_pool, p1_pool)


@partial(jax.jit, static_argnames=("spec",))
def _draw_tasks(spec: SimulatorSpec, u_src, keys, shift, sharpness, label_noise):
    def one(key4, s, k, q):
        perp = jax.random.normal(key4[0], (spec.d,))
        perp = perp - (perp @ u_src) * u_src
        perp = perp / jnp.linalg.norm(perp)
        u = jnp.cos(s) * u_src + jnp.sin(s) * perp
        x_train = jax.random.normal(key4[1], (spec.n_train_max, spec.d))
        y_train = jax.random.bernoulli(key4[2], _teacher_p1(x_train, u, k, q)).astype(jnp.float32)
        x_pool = jax.random.normal(key4[3], (spec.pool, spec.d))
        return x_train, y_train, x_pool, _teacher_p1(x_pool, u, k, q)

    return jax.vmap(one)(keys, shift, sharpness, label_noise)


def _scale_by(optimizer: str) -> optax.GradientTransformation:
    if optimizer == "sgd":
        return optax.identity()
    if optimizer == "momentum":
        return optax.trace(decay=0.9)
    return optax.scale_by_adam()


def _initial_params(spec: SimulatorSpec, backbone: Backbone, knob: RunKnobs) -> dict:
    """The backbone with a zero-initialized adapter of the run's rank (``V`` drawn from its init seed)."""
    rank_mask = (jnp.arange(spec.r_max) < knob.rank).astype(jnp.float32)
    V0 = (
        jax.random.normal(jax.random.PRNGKey(knob.init_seed), (spec.d, spec.r_max))
        * spec.adapter_init
        / jnp.sqrt(spec.d)
    )
    return {"w": backbone.w, "b": backbone.b, "U": jnp.zeros((spec.m, spec.r_max)), "V": V0 * rank_mask}


def _sgd_step(spec, backbone, transform, knob, x_train, y_train, n_train, key_at):
    """One minibatch step of the run, as a scan body over step numbers."""
    weights = (jnp.arange(spec.b_max) < knob.batch).astype(jnp.float32)
    weights = weights / weights.sum()

    def batch_loss(p, xb, yb):
        return jnp.sum(weights * _log_loss(_logit(p, backbone.W, xb), yb))

    def step(carry, t):
        p, state, ok = carry
        idx = jax.random.randint(key_at(t), (spec.b_max,), 0, n_train)
        loss, g = jax.value_and_grad(batch_loss)(p, x_train[idx], y_train[idx])
        gnorm = optax.tree.norm(g)
        upd, state = transform.update(g, state, p)
        lr = knob.lr * (1.0 + t / spec.schedule_offset) ** (-knob.rho)
        if spec.schedule == "power_linear":
            lr = lr * (1.0 - t / (spec.steps + 1.0))
        new = jax.tree_util.tree_map(lambda a, u: a - lr * u, p, upd)
        ok = ok & jnp.isfinite(loss) & jnp.isfinite(gnorm)
        # A diverged run stays where it broke, so no NaN spreads into its records.
        p = jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, p)
        return (p, state, ok), (loss, gnorm)

    return step


def _record_step(spec, backbone, sgd_step, x_pool, p1_pool, rkey, bkey, c):
    """``eval_every`` steps of the run, then one record of its curves, as a scan body over records."""

    def record(carry, k):
        steps = k * spec.eval_every + 1 + jnp.arange(spec.eval_every)
        carry, (loss, gnorm) = jax.lax.scan(sgd_step, carry, steps)
        p = carry[0]
        t_rec = (k + 1) * spec.eval_every
        ke = jax.random.fold_in(jax.random.fold_in(bkey, t_rec), 1 << 20)
        ki, ky = jax.random.split(jnp.where(t_rec <= c, jax.random.fold_in(rkey, t_rec + (1 << 21)), ke))
        idx = jax.random.randint(ki, (spec.n_eval,), 0, spec.pool)
        logit = _logit(p, backbone.W, x_pool[idx])
        y = jax.random.bernoulli(ky, p1_pool[idx]).astype(jnp.float32)
        eval_loss = jnp.mean(_log_loss(logit, y))
        eval_score = 100.0 * jnp.mean(jnp.where(logit > 0, y, 1 - y))
        return carry, (jnp.mean(loss), eval_loss, eval_score, jnp.mean(gnorm))

    return record


def _simulate_run(spec, backbone, tasks, transform, knob: RunKnobs, rkey, bkey, c) -> RunRecord:
    """One run: its records up to ``spec.steps`` and its final score on a fresh test set."""

    def key_at(t):
        shared = t <= c
        return jax.random.fold_in(jnp.where(shared, rkey, bkey), t)

    x_train, y_train = tasks.x_train[knob.task], tasks.y_train[knob.task]
    x_pool, p1_pool = tasks.x_pool[knob.task], tasks.p1_pool[knob.task]
    params = _initial_params(spec, backbone, knob)
    sgd_step = _sgd_step(spec, backbone, transform, knob, x_train, y_train, tasks.n_train[knob.task], key_at)
    record = _record_step(spec, backbone, sgd_step, x_pool, p1_pool, rkey, bkey, c)
    state = transform.init(params)
    n_records = spec.steps // spec.eval_every
    (params, _, ok), curves = jax.lax.scan(record, (params, state, jnp.array(True)), jnp.arange(n_records))
    p_final = jnp.mean(_accuracy(_logit(params, backbone.W, x_pool), p1_pool))
    p_final = jnp.where(ok, p_final, 0.5)
    test_key = jax.random.fold_in(bkey, 1 << 22)
    hits = jax.random.binomial(test_key, knob.n_test.astype(jnp.float32), p_final)
    final = 100.0 * hits / knob.n_test
    return RunRecord(*curves, p_final=p_final, final=final, diverged=~ok)


@partial(jax.jit, static_argnames=("spec",))
def simulate(
    spec: SimulatorSpec,
    backbone: Backbone,
    tasks: TaskArrays,
    knobs: RunKnobs,
    run_key: jnp.ndarray,
    branch_key: jnp.ndarray,
    branch_at: jnp.ndarray,
) -> RunRecord:
    """Run every run of ``knobs`` (vmapped) and return their records.

    ``run_key`` and ``branch_key`` are ``(n, 2)`` raw keys; ``branch_at`` is the budget c at which
    each run switches from its run key to its branch key (``spec.steps`` or more: never). See the
    module doc for what a branch shares.
    """
    transform = _scale_by(spec.optimizer)

    def one(knob: RunKnobs, rkey, bkey, c):
        return _simulate_run(spec, backbone, tasks, transform, knob, rkey, bkey, c)

    return jax.vmap(one)(knobs, run_key, branch_key, branch_at)
