"""Static dataset descriptors on small hand-made datasets whose right values are known."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tuneahead.probe.descriptors import (  # noqa: E402
    dataset_descriptors,
    embedding_outlier_ratio,
    minhash_signatures,
    near_duplicate_rate,
    output_diversity,
    reference_perplexities,
    shingle_hashes,
    text_descriptors,
    token_descriptors,
)
from tuneahead.probe.embeddings import mean_pool, tiny_encoder  # noqa: E402
from tuneahead.probe.tasks import Example  # noqa: E402


@pytest.fixture(scope="module")
def word_tokenizer():
    """A word-level tokenizer: one token per whitespace-separated word, so lengths are word counts."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = "a b c d e f g h the cat sat on mat dog ran yes no".split()
    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(words)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")


DATA = [
    Example("the cat sat on the mat", "yes"),  # 6 + 1 words
    Example("the dog ran", "no no"),  # 3 + 2 words
]


def test_text_descriptors_by_hand():
    d = text_descriptors(DATA)
    assert d["size"] == 2
    # words: the cat sat on the mat yes the dog ran no no -> 12 words, distinct:
    # the cat sat on mat yes dog ran no = 9
    assert d["type_token_ratio"] == pytest.approx(9 / 12)
    # 4-grams: example 1 has 7 words -> 4 grams, example 2 has 5 words -> 2 grams, all distinct
    assert d["ngram_repetition"] == 0.0
    rep = text_descriptors([Example("a b c d", "a"), Example("a b c d", "b")])
    # grams: (a b c d), (b c d a) and (a b c d), (b c d b): 4 grams, 3 distinct
    assert rep["ngram_repetition"] == pytest.approx(1 - 3 / 4)


def test_token_descriptors_by_hand(word_tokenizer):
    d = token_descriptors(DATA, word_tokenizer)
    assert d["token_length_mean"] == pytest.approx((7 + 5) / 2)
    assert d["token_length_std"] == pytest.approx(1.0)
    assert d["io_length_ratio"] == pytest.approx((6 + 3) / (1 + 2))


def test_minhash_estimates_jaccard_within_its_standard_error():
    a = " ".join(f"w{i}" for i in range(60))
    b = " ".join(f"w{i}" for i in range(30)) + " " + " ".join(f"v{i}" for i in range(30))
    sa, sb = set(shingle_hashes(a)), set(shingle_hashes(b))
    true = len(sa & sb) / len(sa | sb)
    sig = minhash_signatures([a, b])
    est = float((sig[0] == sig[1]).mean())
    # 128 hashes: sd <= sqrt(0.25/128) = 0.044; 4 sd makes a false failure ~1e-4.
    assert abs(est - true) < 4 * math.sqrt(0.25 / 128)
    assert (minhash_signatures([a, a])[0] == minhash_signatures([a, a])[1]).all()


def test_near_duplicate_rate():
    texts = [
        "the quick brown fox jumps over the lazy dog",
        "The quick  brown fox jumps over the lazy dog",
        "a completely different sentence about cats",
        "numbers one two three four five six seven",
    ]
    # the first two are the same after lower-casing and whitespace folding (Jaccard 1); the rest ~0
    assert near_duplicate_rate(texts) == 0.5
    assert near_duplicate_rate(texts[2:]) == 0.0


def test_embedding_descriptors_by_hand():
    e1, e2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    # ten equal rows and one orthogonal row: the odd one's z-score is sqrt(10) > 2, the others' < 2
    assert embedding_outlier_ratio(np.stack([e1] * 10 + [e2])) == pytest.approx(1 / 11)
    assert embedding_outlier_ratio(np.stack([e1] * 5)) == 0.0
    # pairs (e1, 2 e2): distance 1, (e1, e1): 0, (2 e2, e1): 1 -> mean 2/3 (scale does not matter)
    assert output_diversity(np.stack([e1, 2 * e2, e1])) == pytest.approx(2 / 3)


def test_mean_pooling_and_tiny_encoder(word_tokenizer):
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    m = torch.tensor([[1, 1, 0]])
    assert torch.allclose(mean_pool(h, m), torch.tensor([[2.0, 3.0]]))
    enc = tiny_encoder(word_tokenizer)
    e = enc.encode(["the cat", "the cat sat on the mat", "dog"])
    assert e.shape == (3, 32) and np.isfinite(e).all()
    # padding must not change an embedding: "the cat" alone equals "the cat" in a padded batch
    assert np.allclose(enc.encode(["the cat"])[0], e[0], atol=1e-5)


class _Uniform(torch.nn.Module):
    """All logits zero: every next token has probability 1/V, so every perplexity is exactly V."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab

    def forward(self, input_ids, attention_mask=None):
        class Out:
            pass

        out = Out()
        out.logits = torch.zeros(*input_ids.shape, self.vocab)
        return out


def test_reference_perplexity_of_a_uniform_model(word_tokenizer):
    v = len(word_tokenizer)
    ppl = reference_perplexities(_Uniform(v), word_tokenizer, DATA)
    assert np.allclose(ppl, v, rtol=1e-5)


def test_dataset_descriptors_on_the_tiny_model():
    from tuneahead.probe.models import tiny_causal_lm

    base = tiny_causal_lm("qwen2")
    data = [Example(f"What is {i} + 1?", str(i + 1)) for i in range(12)]
    d = dataset_descriptors(data, base, tiny_encoder(base.tokenizer), max_examples=12)
    expected = {
        "size",
        "token_length_mean",
        "token_length_std",
        "io_length_ratio",
        "type_token_ratio",
        "ngram_repetition",
        "near_duplicate_rate",
        "embedding_outlier_ratio",
        "output_diversity",
        "ref_perplexity_mean",
        "ref_perplexity_std",
    }
    assert set(d) == expected
    assert all(np.isfinite(v) for v in d.values())
    assert d["size"] == 12 and d["ref_perplexity_mean"] > 1
