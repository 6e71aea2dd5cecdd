"""Figure 8: prediction risk against probe budget, L(c) = L_int + V_opt(c) + V_epi(c), for each regime preset.

One panel per simulator preset (the 320-run fits of ``python -m tuneahead.fit +experiment=synthetic
data.preset=...``): the posterior's split as a stacked area, intrinsic risk L_int below and
optimization variance V_opt(c) above it, and the between-draw (parameter) variance V_epi(c) on
top, on the held-out runs that were brute-forced; the posterior's
90% interval of L(c); the brute-force L(c) and L_int of the same runs; and the tolerance epsilon^2.

    python -m experiments.figures.fig8_risk_split [--outputs outputs] [--out outputs/figures]
"""

from __future__ import annotations

import numpy as np

from experiments.artifacts import ArtifactMissing, artifact, read_json
from experiments.figures.common import REGIME_COLORS, figure_legend, out_dir, parser, plt, save

NAME = "fig8_risk_split"
ARTIFACTS = ("synthetic_static_sufficient", "synthetic_final", "synthetic_noise_dominant")
PRESETS = (
    ("static_sufficient", "synthetic_static_sufficient"),
    ("dynamic_critical", "synthetic_final"),
    ("noise_dominant", "synthetic_noise_dominant"),
)


def _read_fit(outputs, name: str) -> dict:
    """A preset fit's summary, which must carry the brute-force truth and the posterior on its runs."""
    s = read_json(outputs, name, "summary.json")
    if "posterior_on_same_runs" not in s.get("truth", {}):
        raise ArtifactMissing(
            f"{artifact(name).path(outputs, 'summary.json')} has no brute-force truth; "
            f"rerun `{artifact(name).shell(outputs)}`"
        )
    return s


def _draw_risk_split(ax, post: dict, brute: dict) -> None:
    """The posterior's L(c) stacked as L_int, V_opt(c) and V_epi(c), its 90% interval, and the brute force."""
    c = np.asarray(post["budgets"], float)
    L = np.asarray(post["L"], float)
    L_int = post["L_int"]["value"]
    ax.fill_between(c, 0, L_int, color="#9e9ac8", alpha=0.75, lw=0, label="$L_{int}$, posterior")
    v_epi = np.asarray(post.get("V_epi", np.zeros_like(L)), float)
    ax.fill_between(
        c,
        L_int,
        np.maximum(L - v_epi, L_int),
        color="#fdae6b",
        alpha=0.8,
        lw=0,
        label="$V_{opt}(c)$, posterior",
    )
    ax.fill_between(
        c,
        np.maximum(L - v_epi, L_int),
        np.maximum(L, L_int),
        color="#74c476",
        alpha=0.8,
        lw=0,
        label="$V_{epi}(c)$, posterior",
    )
    ax.fill_between(
        c,
        post["L_q05"],
        post["L_q95"],
        facecolor="none",
        edgecolor="#a63603",
        hatch="////",
        lw=0,
        label="posterior 90% interval of $L(c)$",
    )
    ax.plot(c, L, color="#a63603", lw=1.2)
    ax.plot(brute["budgets"], brute["L"], color="k", lw=1.4, ls="--", marker="o", ms=3, label="brute force $L(c)$")
    ax.axhline(brute["L_int"]["value"], color="k", lw=1.0, ls=":", label="brute force $L_{int}$")


def _draw_tolerance(ax, tol: float, post: dict, brute: dict) -> None:
    """The y range, and the tolerance epsilon^2 as a line (or a note when it lies far above the curves)."""
    top = max(np.max(post["L_q95"]), np.max(brute["L"])) * 1.4
    ax.set_ylim(0, max(top, tol * 1.08) if tol < 3 * top else top)
    if tol <= ax.get_ylim()[1]:
        ax.axhline(tol, color="#31a354", lw=1.3, label="tolerance $\\epsilon^2$")
    else:
        ax.annotate(
            f"$\\epsilon^2$ = {tol:g} lies above",
            xy=(0.98, 0.97),
            xycoords="axes fraction",
            ha="right",
            va="top",
            color="#31a354",
            fontsize=7.5,
        )


def _annotate_panel(ax, s: dict, preset: str, tol: float) -> None:
    """The posterior's and the brute force's L_int and L(0), and a title with both regime calls."""
    post, brute = s["truth"]["posterior_on_same_runs"], s["truth"]["risk"]
    ax.text(
        0.98,
        0.86 if tol > ax.get_ylim()[1] else 0.97,
        f"$L_{{int}}$: posterior {post['L_int']['value']:.2f}, brute force {brute['L_int']['value']:.2f}\n"
        f"$L(0)$: posterior {np.asarray(post['L'], float)[0]:.2f}, brute force {brute['L'][0]:.2f}",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=7,
    )
    label = s["regime"]["label"]
    brute_label = s["truth"]["regime"]["label"]
    called = f"both call it {label}" if brute_label == label else f"posterior: {label}; brute force: {brute_label}"
    ax.set_title(
        f"{preset.replace('_', '-')} preset ({s['truth']['n_runs']} runs)\n{called}",
        fontsize=8.5,
        color=REGIME_COLORS.get(label, "k"),
    )


def plot(outputs, folder) -> list:
    fig, axes = plt.subplots(1, len(PRESETS), figsize=(10.8, 3.5), squeeze=False)
    for ax, (preset, name) in zip(axes[0], PRESETS):
        s = _read_fit(outputs, name)
        post, brute = s["truth"]["posterior_on_same_runs"], s["truth"]["risk"]
        tol = s["experiment"]["risk"]["epsilon"] ** 2
        _draw_risk_split(ax, post, brute)
        _draw_tolerance(ax, tol, post, brute)
        _annotate_panel(ax, s, preset, tol)
        ax.set_xlabel("probe budget $c$ (steps)")
        c = np.asarray(post["budgets"], float)
        ax.set_xlim(c.min(), c.max())
    axes[0][0].set_ylabel("prediction risk $L(c)$ (points$^2$)")
    figure_legend(fig, axes[0], loc="lower center", ncol=6, frameon=False, fontsize=7, bbox_to_anchor=(0.5, -0.06))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save(fig, folder, NAME)


def main(argv=None) -> list:
    args = parser(__doc__).parse_args(argv)
    return plot(args.outputs, out_dir(args))


if __name__ == "__main__":
    main()
