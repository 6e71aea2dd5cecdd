"""Figure 1: the predictability phase diagram on the (L_int, alpha) plane.

The regime boundaries for a tolerance epsilon (``theory/decomposition.md`` section 5): the
Noise-Dominant wall at L_int = epsilon^2, and the curve alpha_min(L_int) above which a
Dynamic-Critical task reaches the tolerance within c_max, drawn for the simulator (its K and
c_max) and for DeBERTa (its K and c_max). On it:

- the 30 seeded tasks of ``theory/check_phase_diagram.py`` placed by the posterior (marker: the
  preset; colour: the regime the posterior calls), with their brute-force L_int in the strip below
  (that check brute-forces L(0) and L_int, not alpha);
- the three 320-run preset populations of the fit experiments, placed by brute force and by the
  posterior on the same runs, with 90% intervals (bootstrap over runs; posterior);
- the DeBERTa-base runs placed by the posterior, with 90% posterior intervals.

Static-Sufficient has no boundary on this plane (it is decided by L(0)), so those tasks are marked
by their square marker and colour only.

    python -m experiments.figures.fig1_phase_diagram [--outputs outputs] [--out outputs/figures]
"""

from __future__ import annotations

import numpy as np

from experiments.artifacts import read_json
from experiments.figures.common import (
    PRESET_MARKERS,
    PRESET_REGIME,
    REGIME_COLORS,
    legend_entry,
    out_dir,
    parser,
    plt,
    save,
)

NAME = "fig1_phase_diagram"
ARTIFACTS = (
    "phase_diagram",
    "synthetic_final",
    "synthetic_static_sufficient",
    "synthetic_noise_dominant",
    "deberta_fit",
)
PRESET_FITS = {
    "static_sufficient": "synthetic_static_sufficient",
    "dynamic_critical": "synthetic_final",
    "noise_dominant": "synthetic_noise_dominant",
}


def alpha_min(L_int: np.ndarray, K: float, epsilon: float, c_max: float) -> np.ndarray:
    """Smallest alpha at which L_int + K c_max^-alpha meets epsilon^2 (NaN right of the wall)."""
    gap = epsilon**2 - np.asarray(L_int, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(K / gap) / np.log(c_max)
    return np.where(gap > 0, np.maximum(a, 0.0), np.nan)


def _point(risk: dict) -> tuple[float, float, tuple, tuple]:
    """(L_int, alpha) of a risk summary and their 90% intervals.

    alpha is the power-law fit to the posterior-mean V_opt(c); its interval comes from the fits to
    each draw, which need not contain it, so intervals are drawn as segments, not as offsets.
    """
    li, pl = risk["L_int"], risk["power_law"]
    ad = pl.get("alpha_draws") or {}
    x, y = li["value"], pl["alpha"]
    return x, y, (li.get("q05", x), li.get("q95", x)), (ad.get("q05", y), ad.get("q95", y))


def _cross(ax, x, y, xq, yq, color, zorder=5, **marker):
    """A marker at (x, y) with its interval segments along both axes."""
    ax.plot(xq, [y, y], color=color, lw=1.1, zorder=zorder, solid_capstyle="butt")
    ax.plot([x, x], yq, color=color, lw=1.1, zorder=zorder, solid_capstyle="butt")
    ax.plot([x], [y], ls="none", zorder=zorder + 0.5, **marker)


def _limits(checks, fits, deberta, tol) -> tuple[float, float, float]:
    """The L_int range (whole decades around every placed point and the wall) and the top of alpha."""
    xs = [t["posterior_L_int"] for t in checks if "posterior_L_int" in t] + [t["brute_L_int"] for t in checks]
    xs += [deberta["risk"]["L_int"]["value"]] + [f["truth"]["risk"]["L_int"]["value"] for f in fits.values()]
    xs = np.asarray([x for x in xs if x and np.isfinite(x) and x > 0])
    lo, hi = 10 ** np.floor(np.log10(min(xs.min(), tol) / 1.5)), 10 ** np.ceil(np.log10(max(xs.max(), tol) * 1.5))
    ys = [t.get("posterior_alpha", 0) for t in checks] + [deberta["risk"]["power_law"]["alpha"]]
    ys += [
        f["truth"][k]["power_law"]["alpha_draws"]["q95"]
        for f in fits.values()
        for k in ("risk", "posterior_on_same_runs")
    ]
    ys += [deberta["risk"]["power_law"]["alpha_draws"]["q95"]]
    ys = np.asarray([y for y in ys if y is not None and np.isfinite(y)])
    y_top = max(1.5, float(np.nanmax(ys)) * 1.15)
    return lo, hi, y_top


def _draw_noise_wall(ax, tol, hi, y_top) -> None:
    """The Noise-Dominant region right of L_int = epsilon^2."""
    ax.axvspan(tol, hi, color=REGIME_COLORS["Noise-Dominant"], alpha=0.08, lw=0)
    ax.axvline(
        tol,
        color=REGIME_COLORS["Noise-Dominant"],
        lw=1.4,
        label=f"Noise-Dominant wall: $L_{{int}}=\\epsilon^2$ ({tol:g} pt$^2$)",
    )
    ax.text(tol * 1.12, y_top * 0.96, "Noise-Dominant", color=REGIME_COLORS["Noise-Dominant"], va="top", fontsize=8)


def _draw_simulator_boundary(ax, grid, lo, y_top, tol, epsilon, sim_K, sim_cmax) -> None:
    """The Dynamic-Critical labels and the simulator's alpha_min(L_int), shaded below."""
    ax.text(
        lo * 1.15,
        y_top * 0.96,
        "Dynamic-Critical (reachable)\nif $L(0) > \\epsilon^2$",
        color=REGIME_COLORS["Dynamic-Critical"],
        va="top",
        fontsize=8,
    )
    ax.text(
        lo * 1.15,
        0.5 * alpha_min(lo, sim_K, epsilon, sim_cmax),
        "Dynamic-Critical,\nnot reachable within $c_{max}$",
        color=REGIME_COLORS["Dynamic-Critical"],
        va="center",
        fontsize=8,
    )
    a_sim = alpha_min(grid, sim_K, epsilon, sim_cmax)
    ax.fill_between(
        grid,
        0,
        np.where(np.isfinite(a_sim), np.minimum(a_sim, y_top), y_top),
        where=grid < tol,
        color=REGIME_COLORS["Dynamic-Critical"],
        alpha=0.07,
        lw=0,
    )
    ax.plot(
        grid,
        a_sim,
        color=REGIME_COLORS["Dynamic-Critical"],
        lw=1.4,
        label=f"$\\alpha_{{min}}(L_{{int}})$, simulator: $K$={sim_K:.3g}, $c_{{max}}$={sim_cmax:g} steps",
    )


def _draw_deberta_boundary(ax, grid, deberta) -> None:
    """DeBERTa's alpha_min(L_int) for its own K, c_max and tolerance (when its K is usable)."""
    deb_cfg = deberta["experiment"]["risk"]
    deb_K, deb_cmax, deb_eps = deberta["risk"]["power_law"]["K"], float(deb_cfg["c_max"]), float(deb_cfg["epsilon"])
    if np.isfinite(deb_K) and deb_K > 0:
        ax.plot(
            grid,
            alpha_min(grid, deb_K, deb_eps, deb_cmax),
            color="k",
            lw=1.1,
            ls="--",
            label=f"$\\alpha_{{min}}(L_{{int}})$, DeBERTa: $K$={deb_K:.3g}, $c_{{max}}$={deb_cmax:g} steps",
        )


def _draw_check_tasks(ax, strip, checks) -> None:
    """The seeded check tasks: by the posterior on the plane, by brute force (L_int only) in the strip."""
    for preset, marker in PRESET_MARKERS.items():
        tasks = [t for t in checks if t["preset"] == preset and "posterior_L_int" in t]
        for t in tasks:
            ax.scatter(
                t["posterior_L_int"],
                t["posterior_alpha"],
                marker=marker,
                s=26,
                color=REGIME_COLORS[t["posterior"]],
                edgecolor="white",
                lw=0.5,
                zorder=3,
            )
        ax.scatter([], [], marker=marker, s=26, color="0.45", label=f"check task, {preset} preset: posterior")
        b = [t for t in checks if t["preset"] == preset]
        strip.scatter(
            [t["brute_L_int"] for t in b],
            np.full(len(b), list(PRESET_MARKERS).index(preset)),
            marker=marker,
            s=22,
            color=[REGIME_COLORS[t["brute"]] for t in b],
            edgecolor="white",
            lw=0.5,
        )


def _draw_preset_populations(ax, fits) -> None:
    """Each preset population by brute force (open) and by the posterior on the same runs (filled)."""
    for preset, summary in fits.items():
        truth = summary["truth"]
        bx, by, bxq, byq = _point(truth["risk"])
        px, py, pxq, pyq = _point(truth["posterior_on_same_runs"])
        color = REGIME_COLORS[PRESET_REGIME[preset]]
        ax.annotate("", xy=(px, py), xytext=(bx, by), arrowprops=dict(arrowstyle="->", color=color, lw=0.9), zorder=4)
        _cross(ax, bx, by, bxq, byq, color, marker=PRESET_MARKERS[preset], ms=9, mfc="white", mec=color, mew=1.8)
        _cross(ax, px, py, pxq, pyq, color, marker=PRESET_MARKERS[preset], ms=9, mfc=color, mec="k", mew=0.8)
    dc = fits["dynamic_critical"]
    legend_entry(
        ax,
        f"{dc['data']['n_runs']}-run preset population: brute force on "
        f"{dc['truth']['n_runs']} held-out runs, 90% interval",
        ls="none",
        marker="o",
        ms=8,
        mfc="white",
        mec="0.3",
        mew=1.8,
    )
    legend_entry(
        ax,
        "the same runs by the posterior, 90% interval (arrow from brute force)",
        ls="none",
        marker="o",
        ms=8,
        mfc="0.5",
        mec="k",
        mew=0.8,
    )
    legend_entry(ax, "segments: 90% interval; $\\alpha$'s is over per-draw fits", color="0.3", lw=1.1)


def _draw_deberta_point(ax, deberta) -> None:
    """The DeBERTa-base runs placed by the posterior, coloured by the regime it calls."""
    dx, dy, dxq, dyq = _point(deberta["risk"])
    face = REGIME_COLORS.get(deberta["regime"]["label"], "k")
    _cross(ax, dx, dy, dxq, dyq, "k", zorder=6, marker="*", ms=15, mfc=face, mec="k", mew=0.8)
    legend_entry(
        ax,
        f"DeBERTa-base MultiNLI ({deberta['data']['n_test']} held-out runs): posterior",
        ls="none",
        marker="*",
        ms=12,
        mfc=face,
        mec="k",
        mew=0.8,
    )


def _finish_plane(ax, lo, hi, y_top, epsilon) -> None:
    """Colour key, axes, title and the legend of the (L_int, alpha) plane."""
    for regime, color in REGIME_COLORS.items():
        ax.scatter([], [], marker="s", s=30, color=color, label=f"colour: called {regime}")
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, y_top)
    ax.set_ylabel("decay exponent $\\alpha$ of $V_{opt}(c) = K c^{-\\alpha}$ (dimensionless)")
    ax.set_title(f"Predictability phase diagram, tolerance $\\epsilon$ = {epsilon:g} points")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _finish_strip(strip, tol) -> None:
    """The wall, preset rows and labels of the brute-force strip."""
    strip.axvline(tol, color=REGIME_COLORS["Noise-Dominant"], lw=1.4)
    strip.set_yticks(range(len(PRESET_MARKERS)), [p.replace("_", " ") for p in PRESET_MARKERS], fontsize=7)
    strip.set_ylim(-0.7, len(PRESET_MARKERS) - 0.3)
    strip.set_xlabel("intrinsic risk $L_{int}$ (points$^2$)")
    strip.set_title(
        "the same check tasks placed by brute force (it measures $L_{int}$ and $L(0)$, not $\\alpha$; "
        "colour: brute-force regime)",
        fontsize=7.5,
        loc="left",
    )


def plot(outputs, folder) -> list:
    checks = read_json(outputs, "phase_diagram", "phase_diagram.json")["tasks"]
    fits = {p: read_json(outputs, a, "summary.json") for p, a in PRESET_FITS.items()}
    deberta = read_json(outputs, "deberta_fit", "summary.json")
    sim_risk_cfg = fits["dynamic_critical"]["experiment"]["risk"]
    epsilon = float(sim_risk_cfg["epsilon"])
    tol = epsilon**2
    sim_K = fits["dynamic_critical"]["truth"]["risk"]["power_law"]["K"]
    sim_cmax = float(sim_risk_cfg["c_max"])

    fig, (ax, strip) = plt.subplots(
        2, 1, figsize=(6.6, 5.6), sharex=True, gridspec_kw={"height_ratios": [6, 1], "hspace": 0.32}
    )
    lo, hi, y_top = _limits(checks, fits, deberta, tol)
    grid = np.geomspace(lo, hi, 600)
    _draw_noise_wall(ax, tol, hi, y_top)
    _draw_simulator_boundary(ax, grid, lo, y_top, tol, epsilon, sim_K, sim_cmax)
    _draw_deberta_boundary(ax, grid, deberta)
    _draw_check_tasks(ax, strip, checks)
    _draw_preset_populations(ax, fits)
    _draw_deberta_point(ax, deberta)
    _finish_plane(ax, lo, hi, y_top, epsilon)
    _finish_strip(strip, tol)
    return save(fig, folder, NAME)


def main(argv=None) -> list:
    args = parser(__doc__).parse_args(argv)
    return plot(args.outputs, out_dir(args))


if __name__ == "__main__":
    main()
