r"""Static descriptors of an instruction dataset, given the base model.

For a training set of ``n`` examples with prompt ``p_i`` and response ``r_i``:

- ``size``: ``n``.
- ``token_length_mean``, ``token_length_std``: mean and population sd of the base tokenizer's
  length of ``p_i + "\n" + r_i`` (no special tokens).
- ``io_length_ratio``: :math:`\sum_i |p_i| / \sum_i |r_i|` in tokens (the ratio of the means).
- ``type_token_ratio``: distinct words over words, words being the lower-cased whitespace-split
  tokens of all prompts and responses pooled.
- ``ngram_repetition``: :math:`1 - D_4/N_4`, with :math:`N_4` the number of word 4-grams
  (taken within each ``p_i + " " + r_i``) and :math:`D_4` the number of distinct ones.
- ``near_duplicate_rate``: the fraction of examples that have at least one other example whose
  MinHash estimate of the Jaccard similarity of character 5-gram shingle sets is at least 0.9
  (128 hash functions :math:`h_k(x) = (a_k x + b_k) \bmod (2^{61}-1)` over 64-bit shingle hashes;
  the estimate is the fraction of equal minima, with a standard error of at most
  :math:`\sqrt{0.25/128} \approx 0.044`).
- ``embedding_outlier_ratio``: the fraction of prompts whose cosine distance to the centroid of
  the unit-normalized prompt embeddings exceeds the mean of those distances by more than two
  population sds.
- ``output_diversity``: the mean pairwise cosine distance :math:`1 - \cos(e_i, e_j)`, ``i < j``,
  of the response embeddings.
- ``ref_perplexity_mean``, ``ref_perplexity_std``: mean and population sd over examples of
  :math:`\exp(\bar{\mathrm{nll}}_i)`, the per-example perplexity of the response given the
  prompt under the frozen base model (the first ``max_examples`` examples).

Embeddings are mean-pooled last hidden states of a sentence encoder (:mod:`.embeddings`).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from .batches import IGNORE, collate, encode
from .tasks import Example

__all__ = [
    "text_descriptors",
    "token_descriptors",
    "shingle_hashes",
    "minhash_signatures",
    "near_duplicate_rate",
    "embedding_outlier_ratio",
    "output_diversity",
    "reference_perplexities",
    "dataset_descriptors",
]

_PRIME = (1 << 61) - 1


def _words(text: str) -> list[str]:
    return text.lower().split()


def text_descriptors(examples: list[Example]) -> dict[str, float]:
    """``size``, ``type_token_ratio`` and ``ngram_repetition`` (see the module doc)."""
    words = [w for e in examples for w in _words(e.prompt) + _words(e.response)]
    grams = []
    for e in examples:
        ws = _words(e.prompt + " " + e.response)
        grams += [tuple(ws[k : k + 4]) for k in range(len(ws) - 3)]
    return {
        "size": float(len(examples)),
        "type_token_ratio": len(set(words)) / len(words) if words else 0.0,
        "ngram_repetition": 1.0 - len(set(grams)) / len(grams) if grams else 0.0,
    }


def token_descriptors(examples: list[Example], tokenizer) -> dict[str, float]:
    """``token_length_mean``, ``token_length_std`` and ``io_length_ratio`` under ``tokenizer``."""
    p = np.array([len(tokenizer(e.prompt, add_special_tokens=False)["input_ids"]) for e in examples], float)
    r = np.array([len(tokenizer(e.response, add_special_tokens=False)["input_ids"]) for e in examples], float)
    full = np.array(
        [len(tokenizer(e.prompt + "\n" + e.response, add_special_tokens=False)["input_ids"]) for e in examples], float
    )
    return {
        "token_length_mean": float(full.mean()),
        "token_length_std": float(full.std()),
        "io_length_ratio": float(p.sum() / max(r.sum(), 1.0)),
    }


def shingle_hashes(text: str, k: int = 5) -> np.ndarray:
    """The shingle set of ``text``: its distinct character ``k``-grams as sorted hashes.

    The text is lower-cased and its whitespace folded to single spaces first; each k-gram's hash
    is its 64-bit blake2b digest reduced mod :math:`2^{61}-1`.
    """
    text = " ".join(text.lower().split())
    grams = {text[i : i + k] for i in range(max(1, len(text) - k + 1))}
    hashed = [int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little") % _PRIME for g in grams]
    return np.array(sorted(hashed), dtype=object)


def minhash_signatures(texts: list[str], num_perm: int = 128, seed: int = 0) -> np.ndarray:
    """MinHash signatures, shape ``(len(texts), num_perm)``, of character 5-gram shingle sets."""
    rng = np.random.default_rng(seed)
    a = [int(x) for x in rng.integers(1, _PRIME, size=num_perm, dtype=np.int64)]
    b = [int(x) for x in rng.integers(0, _PRIME, size=num_perm, dtype=np.int64)]
    sig = np.zeros((len(texts), num_perm), dtype=np.uint64)
    for i, t in enumerate(texts):
        sh = shingle_hashes(t)
        # Python integers keep (a x + b) mod p exact; 61-bit products overflow int64.
        sig[i] = [min((ak * int(x) + bk) % _PRIME for x in sh) for ak, bk in zip(a, b)]
    return sig


def near_duplicate_rate(texts: list[str], threshold: float = 0.9, num_perm: int = 128) -> float:
    """Fraction of texts with another text of estimated Jaccard similarity >= ``threshold``."""
    if len(texts) < 2:
        return 0.0
    sig = minhash_signatures(texts, num_perm)
    dup = np.zeros(len(texts), dtype=bool)
    for i in range(len(texts)):
        sim = (sig[i + 1 :] == sig[i]).mean(axis=1)
        hits = np.flatnonzero(sim >= threshold)
        if hits.size:
            dup[i] = True
            dup[i + 1 + hits] = True
    return float(dup.mean())


def _unit(e: np.ndarray) -> np.ndarray:
    e = np.asarray(e, dtype=float)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def embedding_outlier_ratio(embeddings: np.ndarray, z: float = 2.0) -> float:
    """Fraction of rows whose cosine distance to the unit-embedding centroid exceeds mean + z sd."""
    u = _unit(embeddings)
    centroid = u.mean(axis=0)
    centroid /= max(np.linalg.norm(centroid), 1e-12)
    dist = 1.0 - u @ centroid
    return float(np.mean(dist > dist.mean() + z * dist.std()))


def output_diversity(embeddings: np.ndarray) -> float:
    """Mean pairwise cosine distance over pairs ``i < j``."""
    u = _unit(embeddings)
    n = u.shape[0]
    if n < 2:
        return 0.0
    sims = u @ u.T
    return float(1.0 - sims[np.triu_indices(n, k=1)].mean())


@torch.no_grad()
def reference_perplexities(
    model, tokenizer, examples: list[Example], max_length: int = 64, batch_size: int = 16, device="cpu"
) -> np.ndarray:
    """Per-example perplexity of the response (and end token) given the prompt, under ``model``."""
    model.eval()
    out = []
    for start in range(0, len(examples), batch_size):
        batch = collate(
            [encode(tokenizer, e, max_length) for e in examples[start : start + batch_size]], tokenizer.pad_token_id
        ).to(device)
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits.float()[:, :-1]
        target = batch.labels[:, 1:]
        has = target != IGNORE
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.clamp(min=0).reshape(-1), reduction="none"
        ).reshape(target.shape)
        out += torch.exp((nll * has).sum(1) / has.sum(1)).tolist()
    return np.array(out)


def dataset_descriptors(
    examples: list[Example], base, encoder=None, max_examples: int = 64, max_length: int = 64, device="cpu"
) -> dict[str, float]:
    """Every descriptor of the module doc for ``examples`` under ``base`` (a :class:`BaseModel`).

    ``encoder`` is a :class:`~tuneahead.probe.embeddings.SentenceEncoder`; without one the two
    embedding descriptors are left out.
    """
    out = {**text_descriptors(examples), **token_descriptors(examples, base.tokenizer)}
    out["near_duplicate_rate"] = near_duplicate_rate([e.prompt + "\n" + e.response for e in examples])
    if encoder is not None:
        out["embedding_outlier_ratio"] = embedding_outlier_ratio(encoder.encode([e.prompt for e in examples]))
        out["output_diversity"] = output_diversity(encoder.encode([e.response for e in examples]))
    ppl = reference_perplexities(base.model, base.tokenizer, examples[:max_examples], max_length, device=device)
    out["ref_perplexity_mean"] = float(ppl.mean())
    out["ref_perplexity_std"] = float(ppl.std())
    return out
