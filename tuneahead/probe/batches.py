"""Examples to token batches, and the held-out evaluation of a causal LM on them.

An example becomes ``prompt + "\\n"`` followed by ``response`` and the end-of-sequence token. Only
the response tokens (with the end token) carry labels, so the loss is the mean cross-entropy of
the response given the prompt. A sequence longer than ``max_length`` loses tokens from the start
of its prompt, never from its response.

Exact match is scored by teacher forcing: an example counts as correct when the model's argmax
at every response position (the end token included) is the right token. By induction over the
positions this is the same as greedy decoding reproducing the response and then stopping, and it
costs one forward pass instead of one per generated token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .tasks import Example

__all__ = ["Batch", "encode", "collate", "BatchSampler", "evaluate"]

IGNORE = -100


@dataclass
class Batch:
    """Padded ``input_ids``, ``attention_mask`` and ``labels`` (``-100`` where no label)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    def to(self, device) -> Batch:
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device))

    def as_kwargs(self) -> dict:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask, "labels": self.labels}


def encode(tokenizer, ex: Example, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels of one example (see the module doc)."""
    prompt = tokenizer(ex.prompt + "\n", add_special_tokens=False)["input_ids"]
    response = tokenizer(ex.response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    response = response[: max_length - 1]
    prompt = prompt[-(max_length - len(response)) :] if max_length > len(response) else []
    return prompt + response, [IGNORE] * len(prompt) + response


def collate(encoded: list[tuple[list[int], list[int]]], pad_id: int) -> Batch:
    """Right-pad encoded examples into one batch."""
    width = max(len(ids) for ids, _ in encoded)
    n = len(encoded)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    labels = torch.full((n, width), IGNORE, dtype=torch.long)
    for i, (x, y) in enumerate(encoded):
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
        labels[i, : len(y)] = torch.tensor(y)
    return Batch(ids, mask, labels)


class BatchSampler:
    """Batches of ``batch_size`` examples drawn without replacement, reshuffled each epoch."""

    def __init__(self, tokenizer, examples: list[Example], batch_size: int, max_length: int, seed: int):
        if not examples:
            raise ValueError("no training examples to draw batches from")
        self.encoded = [encode(tokenizer, e, max_length) for e in examples]
        self.pad_id = tokenizer.pad_token_id
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.order: list[int] = []

    def next(self) -> Batch:
        """The next batch."""
        picked = []
        while len(picked) < self.batch_size:
            if not self.order:
                self.order = list(self.rng.permutation(len(self.encoded)))
            picked.append(self.order.pop())
        return collate([self.encoded[i] for i in picked], self.pad_id)


@torch.no_grad()
def evaluate(model, tokenizer, examples: list[Example], max_length: int, device, batch_size: int = 16) -> dict:
    """Held-out ``eval_loss`` (mean response-token cross-entropy) and ``exact_match`` in points.

    Both are token- and example-weighted over all of ``examples``.
    """
    model.eval()
    total_nll, total_tokens, correct = 0.0, 0, 0
    for start in range(0, len(examples), batch_size):
        chunk = [encode(tokenizer, e, max_length) for e in examples[start : start + batch_size]]
        batch = collate(chunk, tokenizer.pad_token_id).to(device)
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits.float()
        logits, target = logits[:, :-1], batch.labels[:, 1:]
        has = target != IGNORE
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.clamp(min=0).reshape(-1), reduction="none"
        ).reshape(target.shape)
        total_nll += float((nll * has).sum())
        total_tokens += int(has.sum())
        hit = (logits.argmax(-1) == target) | ~has
        correct += int(hit.all(dim=1).sum())
    model.train()
    return {
        "eval_loss": total_nll / max(total_tokens, 1),
        "exact_match": 100.0 * correct / max(len(examples), 1),
    }
