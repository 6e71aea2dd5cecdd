"""The package where fine-tuning happens: an Optuna pruner driven by the posterior
(:mod:`.optuna_pruner`) and a ``transformers`` Trainer callback (:mod:`.trainer_callback`). Each
integration imports its own tool only when asked for, and none imports torch."""

from .optuna_pruner import PosteriorPruner, trial_features

__all__ = ["PosteriorPruner", "trial_features", "TuneAheadCallback", "argument_features"]


def __getattr__(name: str):
    if name in ("TuneAheadCallback", "argument_features"):  # transformers only when asked for
        from . import trainer_callback

        return getattr(trainer_callback, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
