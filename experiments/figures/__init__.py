"""One script per paper figure; each reads saved artifacts and writes ``NAME.pdf`` and ``NAME.png``.

Every module has ``NAME``, ``ARTIFACTS`` (the :data:`experiments.artifacts.ARTIFACTS` it reads),
``plot(outputs, folder, ...)`` and ``main(argv)``. Captions are in ``experiments/README.md``.
"""

FIGURES = (
    "fig1_phase_diagram",
    "fig2_optimization_variance",
    "fig3_budget_optimal_probe",
    "fig4_calibration",
    "fig5_predicted_vs_true",
    "fig6_screening",
    "fig7_shap",
    "fig8_risk_split",
    "fig9_epistemic_variance",
    "fig10_regret_vs_compute",
)

__all__ = ["FIGURES"]
