"""Per-step overhead of the probe over a bare torch LoRA training loop, on the same model and batches.

Both loops train the same LoRA model (peft, AdamW, linear schedule) on the same batch sequence.
The bare loop does forward, backward, optimizer and schedule steps only; the probe loop is
:func:`tuneahead.probe.runner.train_run` with the probe covering every step, so each step also
records its loss and gradient norm and feeds the flattened gradient to the consistency and
sparsity tracker. The probe's one-off end costs (held-out eval loss, flatness) are not per-step
and are left out: its time is taken when its last step ends. Repeats alternate the two loops so
that load from other processes falls on both alike; the medians are printed.

    python experiments/benchmarks/probe_overhead.py                       # tiny Llama
    python experiments/benchmarks/probe_overhead.py --model smollm2-135m --steps 8 --repeats 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from tuneahead.probe.batches import BatchSampler
from tuneahead.probe.datasets import load_dataset
from tuneahead.probe.models import load_base_model
from tuneahead.probe.runner import ProbeConfig, TrainConfig, lora_copy, train_run


def bare_loop(base, data, cfg: TrainConfig, steps: int) -> float:
    """Seconds per step of a plain LoRA training loop."""
    model = lora_copy(base, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets, cfg.lora_dropout, cfg.seed, "cpu")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: max(0.0, (steps - k) / steps))
    sampler = BatchSampler(base.tokenizer, data.train, cfg.batch_size, cfg.max_length, cfg.seed)
    start = time.perf_counter()
    for _ in range(steps):
        loss = model(**sampler.next().as_kwargs()).loss
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
    return (time.perf_counter() - start) / steps


def probe_loop(base, data, cfg: TrainConfig, steps: int) -> float:
    """Seconds per step of the probe runner over the same steps."""
    probe = ProbeConfig(steps=steps, eval_every=10**9, eval_examples=8, flatness_samples=1)
    run = train_run(base, data, cfg, probe, steps, score=False)
    return run.timing["probe_seconds"] / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-llama", help="tiny-llama | tiny-qwen2 | smollm2-135m")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = load_base_model(args.model)
    data = load_dataset("classify", {"source": "procedural", "task": "classify", "size": 256, "heldout": 8})
    cfg = TrainConfig(learning_rate=1e-3, batch_size=args.batch_size, max_length=args.max_length, steps=args.steps)
    bare_loop(base, data, cfg, min(args.steps, 3))  # warm-up: first-call allocations
    bare, probe = [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(base, data, cfg, args.steps))
        probe.append(probe_loop(base, data, cfg, args.steps))
    b, p = float(np.median(bare)), float(np.median(probe))
    print(
        f"model {base.name}, batch {args.batch_size} x <= {args.max_length} tokens, "
        f"{args.steps} steps x {args.repeats} repeats, {args.threads} thread(s)"
    )
    print(f"bare LoRA loop : {1e3 * b:8.2f} ms/step ({1 / b:7.2f} steps/s)")
    print(f"probe loop     : {1e3 * p:8.2f} ms/step ({1 / p:7.2f} steps/s)")
    print(f"overhead ratio : {p / b:.3f}")


if __name__ == "__main__":
    main()
