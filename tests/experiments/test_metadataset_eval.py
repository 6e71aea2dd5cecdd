"""The seed noise of the meta-dataset's evaluation, on a hand-written store export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from experiments.metadataset_eval import seed_noise  # noqa: E402


def _write(path: Path, finals: dict) -> Path:
    lines = []
    for (name, lr, rank), scores in finals.items():
        for seed, final in enumerate(scores):
            config = {"learning_rate": lr, "lora_rank": rank, "seed": seed}
            lines.append(json.dumps({"dataset": {"name": name}, "config": config, "final": final}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_seed_noise_pools_the_configs_with_enough_seeds(tmp_path):
    a, b = [40.0, 42, 44, 46, 38, 40], [10.0, 20, 30, 10, 20, 30, 10, 20]
    path = _write(tmp_path / "runs.jsonl", {("arith", 1e-3, 4): a, ("arith", 2e-3, 4): b, ("cls", 1e-3, 4): [1.0, 2]})
    noise = seed_noise(path, min_seeds=6)
    assert [c["seeds"] for c in noise["configs"]] == [6, 8]  # the two-seed config is left out
    assert noise["pooled_var"] == pytest.approx((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)
    assert noise["pooled_var_se"] > 0
    one = seed_noise(_write(tmp_path / "one.jsonl", {("arith", 1e-3, 4): a}), min_seeds=6)
    assert one["pooled_var_se"] == pytest.approx(np.var(a, ddof=1) * np.sqrt(2 / 5))  # one config: normal theory
    assert seed_noise(path, min_seeds=9)["pooled_var"] is None
