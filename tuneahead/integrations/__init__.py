"""The package where fine-tuning happens: an Optuna pruner driven by the posterior
(:mod:`.optuna_pruner`) and a ``transformers`` Trainer callback (:mod:`.trainer_callback`). Each
integration imports its own tool only when it is first asked for, and none imports torch itself
(transformers does)."""

__all__ = ["PosteriorPruner", "trial_features", "TuneAheadCallback", "argument_features"]

_HOMES = {
    "PosteriorPruner": ("optuna_pruner", "optuna", "eval"),
    "trial_features": ("optuna_pruner", "optuna", "eval"),
    "TuneAheadCallback": ("trainer_callback", "transformers", "probe"),
    "argument_features": ("trainer_callback", "transformers", "probe"),
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, tool, extra = _HOMES[name]
    import importlib

    try:
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    except ModuleNotFoundError as err:
        if err.name != tool:
            raise
        raise ModuleNotFoundError(f"{name} needs {tool}: pip install 'tuneahead[{extra}]'", name=tool) from None
