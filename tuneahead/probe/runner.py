"""One LoRA fine-tuning run with its probe: the training loop, the probe features, the score.

A run trains LoRA adapters (peft) on a copy of the frozen base model with AdamW and a linear
schedule (linear warm-up over ``warmup_steps``, then linear decay to zero at ``steps``). Every
step records the training loss of its batch and the gradient norm; every ``eval_every`` steps,
and at the probe's end and the run's end, it records the held-out ``eval_loss``.

The probe is a short run whose dynamic features (:mod:`tuneahead.probe.features`) describe the
candidate. With ``ProbeConfig.mode = "own"`` it is the first ``ProbeConfig.steps`` steps of the
candidate's own run, so it costs nothing extra; with ``"standard"`` it is a separate run of the
fixed probe hyperparameters of ``ProbeConfig`` (learning rate, batch size, rank, targets), as in
TuneAhead, and the features no longer depend on the candidate's hyperparameters.

``ProbeConfig.also_at`` lists further probe lengths: the same features are taken at each of them
from the same run (``RunResult.probes``, by length), so that one run serves as a probe of 10, 20
and 40 steps with no feature that has seen past its probe's end.

A run diverges when a training or held-out loss or a gradient norm is not finite, a training loss
exceeds ``explode_factor`` times the first step's loss, or an update leaves a trainable weight not
finite (the last update included). It stops there and is recorded as diverged with its curve so
far and a final score of 0 (its weights are no longer a model). A diverged run is data, not an
error: the sweep goes on.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from peft import LoraConfig, get_peft_model

from .batches import BatchSampler, evaluate
from .datasets import InstructionDataset
from .features import GradientTracker, grad_norm_features, loss_features, param_change
from .models import BaseModel

__all__ = ["TrainConfig", "ProbeConfig", "RunResult", "train_run", "run_candidate", "flatness", "lora_copy"]


@dataclass
class TrainConfig:
    """Hyperparameters of one candidate run (the full budget is ``steps``)."""

    learning_rate: float = 1e-3
    batch_size: int = 4
    lora_rank: int = 8
    lora_alpha: float | None = None  # None: 2 * rank
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    lora_dropout: float = 0.0
    weight_decay: float = 0.0
    warmup_steps: int = 0
    steps: int = 40
    max_length: int = 64
    seed: int = 0


@dataclass
class ProbeConfig:
    """The probe: its length, its features' settings and, for ``mode="standard"``, its own hyperparameters."""

    steps: int = 10
    mode: str = "own"  # own | standard
    eval_every: int = 10
    eval_examples: int = 32
    flatness_sigma: float = 1e-2
    flatness_samples: int = 4
    explode_factor: float = 3.0
    also_at: list[int] = field(default_factory=list)  # further probe lengths with their own features
    learning_rate: float = 1e-4
    batch_size: int = 4
    lora_rank: int = 8
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])


@dataclass
class RunResult:
    """What one run produced: curves as (step, value) pairs, probe features, the score and timings."""

    curves: dict[str, list[tuple[int, float]]]
    probe: dict[str, float]
    final: float | None
    diverged: bool
    steps_done: int
    timing: dict[str, float]
    probes: dict[int, dict[str, float]] = field(default_factory=dict)  # probe length -> its features


def _trainable(model) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def weights_finite(params) -> bool:
    """Whether every trainable weight is finite (one device sync)."""
    return bool(torch.stack([torch.isfinite(p.detach()).all() for p in params]).all())


def _flat(tensors) -> np.ndarray:
    return torch.cat([t.detach().reshape(-1).float().cpu() for t in tensors]).numpy()


@torch.no_grad()
def flatness(model, batch, sigma: float, samples: int, seed: int) -> float:
    r"""Mean loss increase :math:`\frac1S\sum_s [L(\theta+\epsilon_s) - L(\theta)]` under Gaussian noise.

    The noise :math:`\epsilon_s \sim N(0, \sigma^2 I)` perturbs only the trainable parameters; it
    comes from a CPU generator seeded with ``seed`` (one draw per parameter tensor, in parameter
    order), and the parameters are restored afterwards.
    """
    params = _trainable(model)
    was_training = model.training
    model.eval()
    base = float(model(**batch.as_kwargs()).loss)
    gen = torch.Generator().manual_seed(seed)
    rises = []
    for _ in range(samples):
        noise = [torch.randn(p.shape, generator=gen).to(p.device, p.dtype) * sigma for p in params]
        for p, e in zip(params, noise):
            p.add_(e)
        rises.append(float(model(**batch.as_kwargs()).loss) - base)
        for p, e in zip(params, noise):
            p.sub_(e)
    model.train(was_training)
    return float(np.mean(rises))


def lora_copy(base: BaseModel, rank: int, alpha: float | None, targets, dropout: float, seed: int, device):
    """A copy of the frozen base model with fresh LoRA adapters (seeded by ``seed``), in training mode."""
    torch.manual_seed(seed)
    model = copy.deepcopy(base.model)
    lora = LoraConfig(
        r=int(rank),
        lora_alpha=float(alpha if alpha is not None else 2 * rank),
        target_modules=list(targets),
        lora_dropout=float(dropout),
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora).to(device)
    model.train()
    return model


def linear_schedule(opt, warmup_steps: int, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_steps``, then linear decay to zero at ``steps``."""
    warm = max(int(warmup_steps), 0)

    def schedule(k: int) -> float:  # k updates done so far
        if k < warm:
            return (k + 1) / (warm + 1)
        return max(0.0, (steps - k) / max(steps - warm, 1))

    return torch.optim.lr_scheduler.LambdaLR(opt, schedule)


@dataclass
class RunTrace:
    """What a run has recorded so far: its curves, its probe features and where it stopped."""

    losses: list[float] = field(default_factory=list)
    norms: list[float] = field(default_factory=list)
    evals: list[tuple[int, float]] = field(default_factory=list)
    snapshots: dict[int, dict[str, float]] = field(default_factory=dict)
    diverged: bool = False
    steps_done: int = 0
    probe_seconds: float | None = None


def backward_step(model, params, batch, trace: RunTrace, explode_factor: float) -> list[torch.Tensor] | None:
    """Forward and backward pass on ``batch``, recording its loss and gradient norm in ``trace``.

    Returns the gradients, or None when the loss diverged (then nothing is back-propagated).
    Either divergence, of the loss or of the gradient norm, sets ``trace.diverged``.
    """
    loss = model(**batch.as_kwargs()).loss
    value = float(loss.detach())
    first = trace.losses[0] if trace.losses else value
    trace.losses.append(value)
    if not math.isfinite(value) or value > explode_factor * first:
        trace.diverged = True
        return None
    loss.backward()
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    gnorm = float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads)))
    trace.norms.append(gnorm)
    trace.diverged = not math.isfinite(gnorm)
    return grads


def apply_update(opt, sched, params, trace: RunTrace) -> bool:
    """One optimizer and schedule step; False, with ``trace.diverged`` set, when it leaves a weight not finite."""
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    trace.diverged = not weights_finite(params)
    return not trace.diverged


def trajectory_features(trace: RunTrace, tracker: GradientTracker) -> dict[str, float]:
    """The features of the loss and gradient curves recorded so far."""
    return {
        **loss_features(np.array(trace.losses)),
        **grad_norm_features(np.array(trace.norms)),
        **tracker.features(),
    }


def diverged_probe_features(trace: RunTrace, tracker: GradientTracker) -> dict[str, float]:
    """The features of a run that diverged inside its probe: those of what was seen, NaN for the rest."""
    return {
        **trajectory_features(trace, tracker),
        "param_change": float("nan"),
        "flatness": float("nan"),
        "eval_loss": float("nan"),
    }


def run_timing(train_seconds: float, steps_done: int, probe_seconds: float | None, probe_steps: int) -> dict:
    """Wall times and speeds of the whole run and of its probe (NaN where undefined)."""
    return {
        "train_seconds": train_seconds,
        "steps_per_second": steps_done / train_seconds if train_seconds > 0 else float("nan"),
        "probe_seconds": probe_seconds if probe_seconds is not None else float("nan"),
        "probe_steps_per_second": probe_steps / probe_seconds if probe_seconds else float("nan"),
    }


def run_curves(trace: RunTrace) -> dict[str, list[tuple[int, float]]]:
    """The recorded curves as (step, value) pairs."""
    return {
        "train_loss": [(i + 1, v) for i, v in enumerate(trace.losses)],
        "grad_norm": [(i + 1, v) for i, v in enumerate(trace.norms)],
        "eval_loss": trace.evals,
    }


def heldout_score(model, tokenizer, heldout, max_length: int, device, diverged: bool) -> float:
    """Exact match on ``heldout`` in points; 0 for a diverged run or one whose weights are not finite."""
    healthy = not diverged and np.all(np.isfinite(_flat(_trainable(model))))
    return evaluate(model, tokenizer, heldout, max_length, device)["exact_match"] if healthy else 0.0


def train_run(
    base: BaseModel,
    data: InstructionDataset,
    cfg: TrainConfig,
    probe: ProbeConfig,
    steps: int,
    device: str = "cpu",
    score: bool = True,
    on_step=None,
) -> RunResult:
    """Train for ``steps`` steps, computing the probe features at step ``min(probe.steps, steps)``.

    ``on_step(step)`` is called after each step (for progress bars). With ``score`` the run ends
    with the exact match on the held-out split, in points.
    """
    tok = base.tokenizer
    model = lora_copy(base, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets, cfg.lora_dropout, cfg.seed, device)
    params = _trainable(model)
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    sched = linear_schedule(opt, cfg.warmup_steps, steps)
    sampler = BatchSampler(tok, data.train, cfg.batch_size, cfg.max_length, cfg.seed)
    eval_set = data.validation[: probe.eval_examples]  # never the held-out test examples
    flat_batch = BatchSampler(tok, eval_set, min(len(eval_set), 8), cfg.max_length, cfg.seed).next().to(device)
    probe_end = min(int(probe.steps), steps)
    lengths = probe_lengths(probe, steps)
    theta0, tracker, trace = _flat(params), GradientTracker(), RunTrace()
    t_start = time.perf_counter()
    for step in range(1, steps + 1):
        trace.steps_done = step
        grads = backward_step(model, params, sampler.next().to(device), trace, probe.explode_factor)
        if grads is not None and step <= lengths[-1]:
            tracker.update(_flat(grads))
        if trace.diverged or not apply_update(opt, sched, params, trace):
            break
        if step in lengths:
            if step == probe_end:
                trace.probe_seconds = time.perf_counter() - t_start
            eval_loss = evaluate(model, tok, eval_set, cfg.max_length, device)["eval_loss"]
            trace.snapshots[step] = {
                **trajectory_features(trace, tracker),
                "param_change": param_change(theta0, _flat(params)),
                "flatness": flatness(model, flat_batch, probe.flatness_sigma, probe.flatness_samples, cfg.seed),
                "eval_loss": eval_loss,
            }
            trace.evals.append((step, eval_loss))
        elif step % probe.eval_every == 0 or step == steps:
            trace.evals.append((step, evaluate(model, tok, eval_set, cfg.max_length, device)["eval_loss"]))
        if on_step is not None:
            on_step(step)
        if trace.evals and trace.evals[-1][0] == step and not math.isfinite(trace.evals[-1][1]):
            trace.diverged = True
            break
    t_train = time.perf_counter() - t_start
    probes = {n: trace.snapshots.get(n) or diverged_probe_features(trace, tracker) for n in lengths}
    final = heldout_score(model, tok, data.heldout, cfg.max_length, device, trace.diverged) if score else None
    timing = run_timing(t_train, trace.steps_done, trace.probe_seconds, probe_end)
    del model, opt
    curves = run_curves(trace)
    return RunResult(curves, probes[probe_end], final, trace.diverged, trace.steps_done, timing, probes)


def probe_lengths(probe: ProbeConfig, steps: int) -> list[int]:
    """The sorted probe lengths of a run of ``steps`` steps: ``probe.steps`` and ``also_at``, capped at ``steps``."""
    lengths = [int(probe.steps), *(int(n) for n in probe.also_at)]
    if min(lengths) < 1:
        raise ValueError(f"probe_run.steps and probe_run.also_at must be >= 1, got {lengths}")
    return sorted({min(n, steps) for n in lengths})


def run_candidate(
    base: BaseModel,
    data: InstructionDataset,
    cfg: TrainConfig,
    probe: ProbeConfig,
    full: bool = True,
    device: str = "cpu",
    on_step=None,
) -> RunResult:
    """The probe and, with ``full``, the full run of one candidate (see the module doc for modes)."""
    probe_steps = max([int(probe.steps), *(int(n) for n in probe.also_at)])
    if probe.mode == "own":
        steps = cfg.steps if full else probe_steps
        return train_run(base, data, cfg, probe, steps, device, score=full, on_step=on_step)
    if probe.mode != "standard":
        raise ValueError(f"probe_run.mode={probe.mode!r}; use 'own' or 'standard'")
    probe_cfg = TrainConfig(
        **{
            **asdict(cfg),
            "learning_rate": probe.learning_rate,
            "batch_size": probe.batch_size,
            "lora_rank": probe.lora_rank,
            "lora_alpha": None,
            "lora_targets": list(probe.lora_targets),
            "warmup_steps": 0,
        }
    )
    probed = train_run(base, data, probe_cfg, probe, probe_steps, device, score=False)
    if not full:
        return probed
    run = train_run(base, data, cfg, probe, cfg.steps, device, score=True, on_step=on_step)
    run.probe, run.probes = probed.probe, probed.probes
    run.timing.update(
        {"probe_seconds": probed.timing["train_seconds"], "probe_steps_per_second": probed.timing["steps_per_second"]}
    )
    return run
