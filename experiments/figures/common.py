"""What every figure script shares: its command line, the house style and writing PDF + PNG.

A figure script is ``python -m experiments.figures.NAME [--outputs DIR] [--out DIR]``: it reads
artifacts under ``--outputs`` (``outputs/`` by default, see :mod:`experiments.artifacts`) and
writes ``NAME.pdf`` and ``NAME.png`` into ``--out`` (``<outputs>/figures`` by default). It never fits.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tuneahead.artifacts import atomic_path  # noqa: E402

__all__ = [
    "parser",
    "out_dir",
    "save",
    "legend_entry",
    "figure_legend",
    "plain_log_ticks",
    "METHOD_STYLE",
    "REGIME_COLORS",
    "PRESET_MARKERS",
    "PRESET_REGIME",
    "plt",
]

plt.rcParams.update(
    {
        "font.size": 9,
        "axes.titlesize": 9.5,
        "axes.labelsize": 9,
        "legend.fontsize": 7.5,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "savefig.dpi": 200,
        "pdf.fonttype": 42,
    }
)

REGIME_COLORS = {"Static-Sufficient": "#2b8cbe", "Dynamic-Critical": "#e6850e", "Noise-Dominant": "#7b3294"}
PRESET_MARKERS = {"static_sufficient": "s", "dynamic_critical": "o", "noise_dominant": "^"}
PRESET_REGIME = {
    "static_sufficient": "Static-Sufficient",
    "dynamic_critical": "Dynamic-Critical",
    "noise_dominant": "Noise-Dominant",
}
# evaluate's method keys -> (label, colour, line width)
METHOD_STYLE = {
    "ours": ("ours (hierarchical)", "#d62728", 2.2),
    "tuneahead": ("TuneAhead (LightGBM + conformal)", "#1f77b4", 1.6),
    "static_only": ("static-only LightGBM", "#9ecae1", 1.1),
    "dynamic_only": ("dynamic-only LightGBM", "#6baed6", 1.1),
    "proxylm": ("ProxyLM (XGBoost on proxy scores)", "#2ca02c", 1.1),
    "config_ridge": ("config ridge", "#98df8a", 1.1),
    "lcpfn": ("LC-PFN", "#e377c2", 1.1),
    "last_value": ("last value", "#7f7f7f", 1.1),
    "extrapolation": ("early-stop extrapolation", "#8c564b", 1.1),
    "loss_decay": ("loss-decay regression", "#bcbd22", 1.1),
}


def parser(doc: str) -> argparse.ArgumentParser:
    """The shared command line: ``--outputs`` (artifact root) and ``--out`` (figure folder)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--outputs", type=Path, default=Path("outputs"), help="root of the saved artifacts")
    p.add_argument("--out", type=Path, default=None, help="folder for the PDF and PNG (default: OUTPUTS/figures)")
    return p


def out_dir(args) -> Path:
    return args.out if args.out is not None else args.outputs / "figures"


def legend_entry(ax, label: str, **style) -> None:
    """A legend row with no data: an empty line or marker drawn with ``style``."""
    ax.plot([], [], label=label, **style)


def figure_legend(fig, axes, **kwargs) -> None:
    """One legend for the whole figure: every labelled artist of ``axes``, the first of each label."""
    handles = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), **kwargs)


def plain_log_ticks(axis, ticks, formatter) -> None:
    """Major ticks of a log ``axis`` at ``ticks``, labelled by ``formatter``, and no minor labels."""
    axis.set_ticks(ticks)
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def save(fig, folder: str | Path, stem: str) -> list[Path]:
    """Write ``fig`` as ``stem.pdf`` and ``stem.png`` into ``folder`` (atomically) and close it."""
    paths = []
    for suffix in ("pdf", "png"):
        path = Path(folder) / f"{stem}.{suffix}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths
