"""The runs as arguments of the compiled programs: each part of a table padded to a size class.

A fit's programs take the runs as arguments, not as constants, so that tables of nearby sizes (the
folds of a K-fold, a sweep's table as trials finish) share one compiled program, in this process
and, through the persistent cache, in any other. Each part (runs of unknown, healthy and diverged
fate) is padded to :func:`run_rows` with copies of its first run marked absent
(:meth:`tuneahead.model.design.ModelData.padded_runs`), which the model's likelihood leaves out.
The programs that read a few runs under a few posterior draws (the predictive, the pointwise
likelihood) pad both to the same classes, and the curves' points to a common width
(:func:`size_classes`), and cut their results back.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..model.design import ModelData

__all__ = ["run_rows", "point_columns", "program_arguments", "without_runs", "padded_draws", "size_classes"]


def run_rows(n: int) -> int:
    """The padded size of a part of ``n`` runs: 8 at least, then four sizes an octave (10, 12, 14,
    16, 20, 24, 28, 32, 40, ...), at most a quarter more rows than ``n``."""
    if n <= 8:
        return 8
    step = 1 << ((n - 1).bit_length() - 3)
    return -(-n // step) * step


def point_columns(width: int, at_least: int = 1) -> int:
    """The padded width of curves of ``width`` points: ``at_least`` at the fewest, then a power of two
    up to 8 points, then four widths an octave as :func:`run_rows` (a quarter more points at most:
    the branches' work grows with the points, and a probe's points rarely fill a power of two)."""
    if width <= 8:
        return max(at_least, 1 if width <= 1 else 1 << (width - 1).bit_length())
    return max(at_least, run_rows(width))


def program_arguments(model_kwargs: dict) -> tuple[dict, tuple]:
    """The runs (each part padded to :func:`run_rows`), and the remaining model arguments, which
    shape the program, as a sorted tuple of pairs (a key of its cache)."""
    runs, settings = {}, []
    for key, value in model_kwargs.items():
        if isinstance(value, ModelData):
            n = value.y.shape[0]
            runs[key] = value.padded_runs(run_rows(n)) if n else value
        else:
            settings.append((key, value))
    return runs, tuple(sorted(settings))


def without_runs(model_kwargs: dict) -> dict:
    """``model_kwargs`` with every :class:`ModelData` emptied of runs (its columns kept).

    The model's sites, their transforms and the guide's draws do not depend on the runs, but
    numpyro finds them by running the model, likelihood included; without runs the likelihood is
    left out, and the compiled set-up holds the priors alone. Slicing, not selecting, so that it
    also serves inside a compiled program, on the runs as its arguments.
    """
    return {k: jax.tree.map(lambda a: a[:0], v) if isinstance(v, ModelData) else v for k, v in model_kwargs.items()}


def padded_draws(params: dict, draws: int) -> dict:
    """``params`` (leading axis the draws) padded to ``draws`` by repeating the last draw; also
    inside a compiled program."""
    n_draws = len(params["sigma_eps"])
    if draws <= n_draws:
        return params
    return jax.tree.map(lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], draws - n_draws, axis=0)]), params)


#: Run-draw pairs up to which :func:`size_classes` pads: there the work is small beside a compile,
#: and nearby sizes share one program; beyond, the work is what costs, and the sizes stay exact.
PADDED_PAIRS = 8192

#: The fewest points :func:`size_classes` pads each run's curve to where the work is small: a probe
#: cut at 25, 50, 100 or 400 steps keeps 2, 4, 8 or 16 points, and each width would compile its own
#: program (a few seconds each) for work of milliseconds.
POINT_FLOOR = 16

#: Run-draw-point triples up to which the curves are padded to :data:`POINT_FLOOR` points (about
#: 0.05 s of branch work on 2 cores, against seconds for each program it spares).
PADDED_POINTS = 1 << 20


def size_classes(params: dict, data: ModelData, curves: bool = True) -> tuple[dict, ModelData]:
    """Draws ``params`` (leading axis) and runs ``data``, each padded to :func:`run_rows` (the last
    draw repeated, the first run copied) when they make at most :data:`PADDED_PAIRS` pairs, and the
    point axis to :func:`point_columns`, at least :data:`POINT_FLOOR` points where the model reads
    curves (``curves``; a probe of no steps included) and the work is at most :data:`PADDED_POINTS`
    triples (the padding is masked); a program's results are cut back to the first rows."""
    n_draws, n, width = len(params["sigma_eps"]), data.t.shape[0], data.t.shape[1]
    small = curves and n_draws * n * max(width, POINT_FLOOR) <= PADDED_POINTS
    data = data.padded_points(point_columns(width, POINT_FLOOR if small else 1))
    if n_draws * n > PADDED_PAIRS or not n:
        return params, data
    return padded_draws(params, run_rows(n_draws)), data.padded_runs(run_rows(n))
