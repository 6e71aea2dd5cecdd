"""LC-PFN's weights, trained here with the ``lcpfn`` package's own prior and training code.

``lcpfn`` (0.1.3, Adriaensen et al., NeurIPS 2023) ships no weights: ``lcpfn.LCPFN()`` downloads
them at run time, which an offline machine cannot. This module rebuilds them::

    python -m tuneahead.baselines.lcpfn_weights [--size small|large] [--out DIR]

and writes ``<size>.pt`` (the pickled model, as ``lcpfn`` saves it) with ``<size>.json`` (the
settings, steps, seconds, torch and lcpfn versions) into ``~/.cache/tuneahead/lcpfn/`` or
``$TUNEAHEAD_LCPFN_CACHE`` (``--out`` overrides both), atomically; lcpfn's own console output goes
to ``<size>.log`` there. The training configuration is the one ``lcpfn.train_lcpfn`` builds: this
module calls it with ``lcpfn.train.train`` intercepted, then runs ``lcpfn.train.train`` on that
configuration with a progress callback and resumable checkpoints (``<size>.ckpt.pt`` every few
epochs; a rerun with the same settings picks up there, ``--fresh`` starts over). The prior is
``lcpfn.sample_from_prior`` (pow3, ilog2 and janoschek curves with noise on x = 1..seq_len).

Sizes: ``large`` is the package's and paper's default (12 layers, embedding 512, 1,000 buckets,
1,000 epochs of 100 steps of 100 curves; hours, meant for a GPU, resumable); ``small`` fits one
CPU thread in about ten minutes; ``tiny`` is for tests only (seconds, not a useful model).

``lcpfn`` 0.1.3 declares ``torch<=1.11`` and ``numpy<2``, so it is installed beside this project's
torch with ``pip install --no-deps lcpfn==0.1.3``; :func:`import_lcpfn` makes its layer module work
with torch 2 (names its star import no longer brings, and the ``is_causal`` argument).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = ["LCPFNSettings", "SIZES", "cache_dir", "weights_path", "import_lcpfn", "load_model", "train_weights"]

log = logging.getLogger("tuneahead.lcpfn")
CACHE_ENV = "TUNEAHEAD_LCPFN_CACHE"
LCPFN_VERSION = "0.1.3"
REBUILD = "python -m tuneahead.baselines.lcpfn_weights --size {size}"


@dataclass(frozen=True)
class LCPFNSettings:
    """One model size: the arguments of ``lcpfn.train_lcpfn`` plus steps per epoch and checkpointing."""

    nlayers: int
    emsize: int
    seq_len: int = 100
    num_borders: int = 1000
    batch_size: int = 100
    epochs: int = 1000
    lr: float = 1e-4
    steps_per_epoch: int = 100  # fixed at 100 by train_lcpfn; only the tiny test size changes it
    checkpoint_every: int = 10  # epochs; 0: no checkpoints

    @property
    def steps(self) -> int:
        return self.epochs * self.steps_per_epoch


SIZES = {
    "tiny": LCPFNSettings(
        nlayers=1,
        emsize=128,
        seq_len=20,
        num_borders=50,
        batch_size=8,
        epochs=2,
        steps_per_epoch=10,
        checkpoint_every=1,
    ),
    "small": LCPFNSettings(
        nlayers=3, emsize=128, num_borders=200, batch_size=16, epochs=30, lr=5e-4, checkpoint_every=5
    ),
    "large": LCPFNSettings(nlayers=12, emsize=512),
}


def cache_dir() -> Path:
    """``$TUNEAHEAD_LCPFN_CACHE``, else ``~/.cache/tuneahead/lcpfn``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tuneahead" / "lcpfn").expanduser()


def weights_path(size: str = "small", out: str | Path | None = None) -> Path:
    """Where the weights of ``size`` live (``out`` overrides the cache folder)."""
    return (Path(out).expanduser() if out is not None else cache_dir()) / f"{size}.pt"


# ------------------------------------------------------------------ lcpfn on torch 2
def import_lcpfn():
    """``(torch, lcpfn)``, with lcpfn's layer module patched for torch 2; a clear error if missing."""
    try:
        import lcpfn
        import torch
        from lcpfn import layer
    except ImportError as err:
        raise ImportError(
            "the LC-PFN peer needs torch and lcpfn: pip install torch==2.13.0 && pip install --no-deps lcpfn==0.1.3"
        ) from err
    # lcpfn puts its own folder first on sys.path (its modules are named utils, train, model...)
    here = os.path.dirname(lcpfn.__file__)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    for name in ("MultiheadAttention", "Linear", "Dropout", "LayerNorm"):
        if not hasattr(layer, name):  # torch 2's transformer module no longer star-exports them
            setattr(layer, name, getattr(torch.nn, name))
    layer.F = getattr(layer, "F", torch.nn.functional)
    layer.torch = getattr(layer, "torch", torch)
    cls = layer.TransformerEncoderLayer
    if not getattr(cls.forward, "_drops_is_causal", False):
        original = cls.forward

        def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
            # torch 2's TransformerEncoder passes is_causal; the mask lcpfn builds is passed on as it is
            return original(self, src, src_mask, src_key_padding_mask)

        forward._drops_is_causal = True
        cls.forward = forward
    return torch, lcpfn


def check_weights(size: str = "small", path: str | Path | None = None) -> Path:
    """The weights file of ``size`` (or ``path``), or an error naming the rebuild command; imports no torch."""
    path = Path(path) if path is not None else weights_path(size)
    if not path.exists() or not path.with_suffix(".json").exists():
        raise FileNotFoundError(
            f"LC-PFN weights not found at {path}: build them with `{REBUILD.format(size=size)}` "
            f"(the cache is ${CACHE_ENV}, default ~/.cache/tuneahead/lcpfn)"
        )
    return path


def load_model(size: str = "small", path: str | Path | None = None):
    """``(model, settings)``: the trained lcpfn TransformerModel in eval mode and its JSON settings."""
    path = check_weights(size, path)
    meta = path.with_suffix(".json")
    torch, _ = import_lcpfn()
    # a whole pickled model, as lcpfn saves and loads it; our own cache file, so weights_only=False
    model = torch.load(path, map_location="cpu", weights_only=False)
    model.eval()
    return model, json.loads(meta.read_text())


# ------------------------------------------------------------------ training
def _lcpfn_config(lcpfn, s: LCPFNSettings, get_batch) -> dict:
    """The keyword arguments ``lcpfn.train_lcpfn`` passes to ``lcpfn.train.train`` for ``s``."""
    captured = {}
    original = lcpfn.train.train
    lcpfn.train.train = lambda **config: captured.update(config)
    try:
        lcpfn.train_lcpfn(
            get_batch,
            seq_len=s.seq_len,
            emsize=s.emsize,
            nlayers=s.nlayers,
            num_borders=s.num_borders,
            lr=s.lr,
            batch_size=s.batch_size,
            epochs=s.epochs,
        )
    finally:
        lcpfn.train.train = original
    return captured


def _atomic_save(torch, obj, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _held_out_nll(torch, get_batch, s: LCPFNSettings, n: int = 64, seed: int = 12345):
    """A fixed batch of prior curves and a function: the model's mean NLL of their second halves."""
    state = np.random.get_state()  # lcpfn's prior draws from numpy's global RNG
    np.random.seed(seed)
    x, y, target = get_batch(n, s.seq_len, 1, single_eval_pos=s.seq_len // 2)
    np.random.set_state(state)
    pos = s.seq_len // 2

    def nll(model) -> float:
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            logits = model((x.to(device), y.to(device)), single_eval_pos=pos)
            value = float(model.criterion(logits, target[pos:].to(device)).mean())
        model.train(was_training)
        return value

    return nll


def _checkpoint(torch, ckpt: Path, s: LCPFNSettings, fresh: bool) -> dict | None:
    if fresh or not ckpt.exists():
        return None
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    if state.get("settings") != asdict(s):
        log.warning("ignoring %s: it was written for other settings", ckpt)
        return None
    log.info("resuming from %s at epoch %d of %d", ckpt, state["epoch"], s.epochs)
    return state


def _progress(torch, s: LCPFNSettings, ckpt: Path, resume: dict | None, nll, holder: dict, start: float):
    """The epoch callback: log progress and the held-out NLL, write checkpoints (seconds count from ``start``)."""
    done = resume["epoch"] if resume else 0
    start -= resume["elapsed"] if resume else 0.0
    every = max(1, s.epochs // 50)

    def callback(model, _fraction):
        holder["epoch"] = epoch = holder.get("epoch", done) + 1
        elapsed = time.time() - start
        if epoch % every == 0 or epoch == s.epochs:
            holder["nll"] = value = nll(model)
            eta = elapsed / max(epoch - done, 1) * (s.epochs - epoch) if epoch > done else 0.0
            log.info("epoch %d/%d (%d steps) %.0f s, held-out NLL %.3f, ~%.0f s left", epoch, s.epochs,
                     epoch * s.steps_per_epoch, elapsed, value, eta)  # fmt: skip
        if s.checkpoint_every and epoch % s.checkpoint_every == 0 and epoch < s.epochs:
            state = {"settings": asdict(s), "epoch": epoch, "elapsed": elapsed, "model_state_dict": model.state_dict()}
            state["optimizer_state_dict"] = holder["optimizer"].state_dict()
            _atomic_save(torch, state, ckpt)
        holder["elapsed"] = elapsed

    return callback


def _scheduler(lcpfn, total_epochs: int, resume: dict | None, holder: dict):
    """lcpfn's cosine schedule over all epochs, fast-forwarded past the epochs already done."""

    def make(optimizer, warmup_epochs, _epochs):
        holder["optimizer"] = optimizer
        if resume is not None:  # before the schedule, so that it starts from the saved initial_lr
            optimizer.load_state_dict(resume["optimizer_state_dict"])
        schedule = lcpfn.utils.get_cosine_schedule_with_warmup(optimizer, warmup_epochs, total_epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(resume["epoch"] if resume else 0):
                schedule.step()
        return schedule

    return make


def train_weights(
    size: str = "small",
    out: str | Path | None = None,
    settings: LCPFNSettings | None = None,
    seed: int = 0,
    threads: int | None = 1,
    fresh: bool = False,
) -> Path:
    """Train LC-PFN at ``size`` (or ``settings``) and write ``<size>.pt`` and ``<size>.json``; returns the path."""
    start = time.time()
    torch, lcpfn = import_lcpfn()
    s = settings or SIZES[size]
    path = weights_path(size, out)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = path.with_name(f"{size}.ckpt.pt")
    if threads:
        torch.set_num_threads(threads)
    resume = _checkpoint(torch, ckpt, s, fresh)
    done = resume["epoch"] if resume else 0
    np.random.seed(seed + done)  # lcpfn's prior draws from numpy's global RNG, its eval positions from random's
    random.seed(seed + done)
    torch.manual_seed(seed + done)
    get_batch = lcpfn.create_get_batch_func(prior=lcpfn.sample_from_prior)
    holder: dict = {}
    log.info("LC-PFN %s: %s, %d steps; lcpfn's output goes to %s", size, s, s.steps, path.with_suffix(".log"))
    with open(path.with_suffix(".log"), "a") as out_log, _quiet(out_log):
        config = _lcpfn_config(lcpfn, s, get_batch)
        config.update(
            epochs=s.epochs - done,
            steps_per_epoch=s.steps_per_epoch,
            scheduler=_scheduler(lcpfn, s.epochs, resume, holder),
            epoch_callback=_progress(torch, s, ckpt, resume, _held_out_nll(torch, get_batch, s), holder, start),
            load_weights_from_this_state_dict=resume["model_state_dict"] if resume else None,
        )
        model = lcpfn.train.train(**config)[2]
    if holder.get("epoch", done) < s.epochs:  # lcpfn's loop swallows KeyboardInterrupt and returns the model
        raise KeyboardInterrupt(f"LC-PFN training stopped at epoch {holder.get('epoch', done)} of {s.epochs}; "
                                f"rerun `{REBUILD.format(size=size)}` to resume from {ckpt}")  # fmt: skip
    _atomic_save(torch, model.eval(), path)
    _write_meta(path, size, s, model, holder, torch, lcpfn, seed)
    if ckpt.exists():
        ckpt.unlink()
    log.info("wrote %s (%.0f s of training)", path, holder.get("elapsed", 0.0))
    return path


@contextlib.contextmanager
def _quiet(stream):
    """lcpfn prints (and rebinds ``builtins.print``) and warns about torch 2 deprecations: keep both off the console."""
    import builtins

    printer = builtins.print
    try:
        with contextlib.redirect_stdout(stream), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="lcpfn")
            warnings.filterwarnings("ignore", message=".*(nested_tensor|searchsorted|non-contiguous).*")
            yield
    finally:
        builtins.print = printer


def _write_meta(path: Path, size: str, s: LCPFNSettings, model, holder: dict, torch, lcpfn, seed: int) -> None:
    meta = {
        "size": size,
        **asdict(s),
        "steps": s.steps,
        "nhead": s.emsize // 128,
        "nhid": 2 * s.emsize,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": round(float(holder.get("elapsed", 0.0)), 1),
        "held_out_nll": holder.get("nll"),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "threads": torch.get_num_threads(),
        "seed": seed,
        "prior": "lcpfn.sample_from_prior",
        "torch": torch.__version__,
        "lcpfn": getattr(lcpfn, "__version__", LCPFN_VERSION),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".json.tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(meta, f, indent=2)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path.with_suffix(".json"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tuneahead.baselines.lcpfn_weights", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="small", help="tiny is for tests only")
    parser.add_argument("--out", default=None, help=f"folder for <size>.pt and <size>.json (default ${CACHE_ENV})")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="ignore a checkpoint left by an interrupted run")
    args = parser.parse_args(argv)
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    train_weights(args.size, args.out, seed=args.seed, threads=args.threads or None, fresh=args.fresh)


if __name__ == "__main__":
    main()
