"""The saved artifacts the paper figures read, where they live and the command that makes each.

Paths are relative to an outputs root (``outputs/`` by default). Every figure script reads only
these files; :mod:`experiments.all` runs the commands of those that are missing or stale. A figure
that finds an artifact missing raises :class:`ArtifactMissing`, whose message names the file and
the command that makes it.

``--fast`` settings (smaller simulations, shorter chains, SVI for DeBERTa) exist for every
command, so the whole pipeline can be smoke-run in minutes; their numbers are not the paper's, so
the driver keeps them under their own root (``outputs/fast``).
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Artifact", "ArtifactMissing", "ARTIFACTS", "artifact", "read_json", "read_csv"]

_FAST_FIT = (
    "inference.num_warmup=150",
    "inference.num_samples=150",
    "inference.num_chains=1",
    "truth.max_runs=16",
    "truth.branches=4",
    "truth.probe_seeds=16",
    "data.n_tasks=3",
    "data.configs_per_task=3",
    "data.seeds=6",
    "data.simulator={steps: 200, eval_every: 10}",
    "probe.budget=40",
    "risk.budgets=[0,10,20,40,80,160]",
    "risk.c_max=160",
)
_FAST_DEBERTA = ("inference=svi", "inference.svi_steps=800", "inference.svi_draws=200", "predict.max_draws=100")


class ArtifactMissing(FileNotFoundError):
    """A figure's input is missing or lacks a field; the message says which command makes it."""


@dataclass(frozen=True)
class Artifact:
    """One saved result: its files under the outputs root and the command that writes them.

    Attributes
    ----------
    name
        Key of the artifact in :data:`ARTIFACTS`.
    folder
        Folder under the outputs root that holds ``files``.
    files
        The files figures read.
    argv, fast_argv
        The command (``{folder}`` stands for the folder's path) at full and at ``--fast`` settings.
    minutes
        Typical wall time of the full command on two CPU cores.
    needs
        ``(file, field)`` pairs: a JSON key or CSV column that must be present, so that an artifact
        from an older version of a command counts as stale.
    """

    name: str
    folder: str
    files: tuple[str, ...]
    argv: tuple[str, ...]
    fast_argv: tuple[str, ...]
    minutes: float
    what: str
    needs: tuple[tuple[str, str], ...] = field(default=())

    def path(self, root: str | Path, file: str | None = None) -> Path:
        base = Path(root) / self.folder
        return base if file is None else base / file

    def command(self, root: str | Path, fast: bool = False) -> list[str]:
        argv = self.fast_argv if fast else self.argv
        folder = str(self.path(root))
        return [sys.executable if a == "python" else a.replace("{folder}", folder) for a in argv]

    def shell(self, root: str | Path = "outputs", fast: bool = False) -> str:
        """The command as a user would type it."""
        return " ".join(shlex.quote("python" if a == sys.executable else a) for a in self.command(root, fast))

    def problems(self, root: str | Path) -> list[str]:
        """Why this artifact cannot be used as it is (empty when it is complete)."""
        out = []
        for f in self.files:
            if not self.path(root, f).is_file():
                out.append(f"{self.path(root, f)} is missing")
        if out:
            return out
        for f, key in self.needs:
            p = self.path(root, f)
            if p.suffix == ".json":
                present = key in json.loads(p.read_text())
            else:
                with open(p) as fh:
                    present = key in fh.readline().strip().split(",")
            if not present:
                out.append(f"{p} has no '{key}' (written by an older version of the command)")
        return out


def _check(name: str, module: str, minutes: float, what: str) -> Artifact:
    """A theory check (or its posterior companion) that writes ``theory/NAME.json`` with ``--json``."""
    argv = ("python", "-m", module, "--json", f"{{folder}}/{name}.json")
    return Artifact(name, "theory", (f"{name}.json",), argv, argv[:3] + ("--fast",) + argv[3:], minutes, what)


def _fit(name: str, preset: str) -> Artifact:
    base = (
        "python",
        "-m",
        "tuneahead.fit",
        "+experiment=synthetic",
        f"data.preset={preset}",
        "hydra.run.dir={folder}",
        "inference.progress=false",
    )
    return Artifact(
        name=name,
        folder=f"fit/{name}",
        files=("summary.json",),
        argv=base,
        fast_argv=base + _FAST_FIT,
        minutes=2.0,
        what=f"hierarchical fit to 320 simulated runs of the {preset} preset, with brute-force truth",
        needs=(("summary.json", "truth"),),
    )


ARTIFACTS: dict[str, Artifact] = {
    a.name: a
    for a in [
        _check(
            "lower_bound",
            "theory.check_lower_bound",
            3.0,
            "brute-force V_opt(c) for step-size exponents rho = 0.6, 0.75, 0.9, 1 (claim 2)",
        ),
        _check(
            "lower_bound_posterior",
            "experiments.lower_bound_posterior",
            1.5,
            "the posterior's V_opt(c) on the lower-bound check's runs, for the same rho",
        ),
        _check(
            "budget",
            "theory.check_budget",
            2.0,
            "brute-force L(c), the power-law fit and c* against the grid argmin (claim 3)",
        ),
        _check(
            "phase_diagram",
            "theory.check_phase_diagram",
            9.0,
            "10 seeded tasks per preset placed by brute force and by the posterior (claim 4)",
        ),
        _check(
            "epistemic_variance",
            "experiments.epistemic_variance",
            4.0,
            "the risk split of fits to 100, 300 and 1,000 training runs on the same candidates",
        ),
        _check(
            "scheduler_replay",
            "experiments.scheduler_replay",
            2.0,
            "the value-of-information scheduler and Optuna's pruners replayed on DeBERTa-base",
        ),
        _fit("synthetic_final", "dynamic_critical"),
        _fit("synthetic_static_sufficient", "static_sufficient"),
        _fit("synthetic_noise_dominant", "noise_dominant"),
        Artifact(
            "deberta_fit",
            "fit/deberta",
            ("summary.json",),
            (
                "python",
                "-m",
                "tuneahead.fit",
                "+experiment=deberta",
                "hydra.run.dir={folder}",
                "inference.progress=false",
            ),
            (
                "python",
                "-m",
                "tuneahead.fit",
                "+experiment=deberta",
                "hydra.run.dir={folder}",
                "inference.progress=false",
                *_FAST_DEBERTA,
            ),
            1.5,
            "hierarchical fit to the DeBERTa-base runs: risk split, power law and regime",
        ),
        Artifact(
            "synthetic_eval",
            "evaluate/synthetic",
            ("results.json",),
            (
                "python",
                "-m",
                "tuneahead.evaluate",
                "+experiment=synthetic",
                "evaluation.budgets=[25,100,400]",
                "~evaluation.splits.grouped",
                "evaluation.explain.enabled=false",
                "hydra.run.dir={folder}",
                "inference.progress=false",
            ),
            (
                "python",
                "-m",
                "tuneahead.evaluate",
                "+experiment=synthetic",
                "evaluation.budgets=[20,80]",
                "~evaluation.splits.grouped",
                "evaluation.explain.enabled=false",
                "hydra.run.dir={folder}",
                "inference.progress=false",
                *[a for a in _FAST_FIT if not a.startswith(("truth.", "risk.", "probe."))],
                "evaluation.screen.pruners=[{kind: median, percentile: 50}]",
            ),
            2.0,
            "every method on held-out simulated runs (dynamic_critical) at probe budgets 25, 100, 400",
            (("results.json", "calibration"),),
        ),
        Artifact(
            "deberta_eval",
            "evaluate/deberta_nuts",
            ("results.json", "predictions.csv", "screening.csv", "explanations.csv"),
            (
                "python",
                "-m",
                "tuneahead.evaluate",
                "+experiment=deberta_eval",
                "hydra.run.dir={folder}",
                "inference.progress=false",
                "evaluation.posterior_cache={folder}/../posteriors",
            ),
            (
                "python",
                "-m",
                "tuneahead.evaluate",
                "+experiment=deberta_eval",
                "hydra.run.dir={folder}",
                "inference.progress=false",
                "evaluation.posterior_cache={folder}/../posteriors",
                *_FAST_DEBERTA,
                "evaluation.budgets=[1000,4000]",
                "evaluation.explain.budget=1000",
                "evaluation.explain.candidates=4",
                "evaluation.explain.background=8",
                "evaluation.explain.permutations=1",
                "evaluation.explain.max_draws=20",
            ),
            4.5,
            "every method on held-out DeBERTa runs at probe budgets 1000, 2000, 4000 (two NUTS fits, cached)",
            (("results.json", "calibration"), ("predictions.csv", "p_top"), ("predictions.csv", "total_steps")),
        ),
    ]
}


def artifact(name: str) -> Artifact:
    try:
        return ARTIFACTS[name]
    except KeyError:
        raise KeyError(f"unknown artifact {name!r}; known: {sorted(ARTIFACTS)}") from None


def _checked(root: str | Path, name: str, file: str) -> Path:
    a = artifact(name)
    problems = a.problems(root)
    p = a.path(root, file)
    mine = [m for m in problems if str(p) in m]
    if mine:
        raise ArtifactMissing(
            f"{'; '.join(mine)}. Make it with `{a.shell(root)}` ({a.what}; about {a.minutes:g} min), "
            f"or run `python -m experiments.all --outputs {root}`"
        )
    return p


def read_json(root: str | Path, name: str, file: str, check: Callable[[dict], None] | None = None):
    """The JSON ``file`` of artifact ``name`` under ``root``; :class:`ArtifactMissing` if absent or stale."""
    data = json.loads(_checked(root, name, file).read_text())
    if check is not None:
        check(data)
    return data


def read_csv(root: str | Path, name: str, file: str):
    """The CSV ``file`` of artifact ``name`` under ``root`` as a DataFrame."""
    import pandas as pd

    return pd.read_csv(_checked(root, name, file))
