"""Make every paper figure: first the artifacts that are missing, then the figures.

    python -m experiments.all                  # outputs/ -> outputs/figures/*.pdf, *.png
    python -m experiments.all --plan           # what would run, and nothing else
    python -m experiments.all --only 4 6       # figures 4 and 6 (and only their artifacts)
    python -m experiments.all --force          # remake every artifact the figures read
    python -m experiments.all --remake deberta_eval
    python -m experiments.all --fast           # smoke-sized artifacts under outputs/fast/

An artifact (:data:`experiments.artifacts.ARTIFACTS`) is made only if one of its files is missing
or lacks a field the figures need; an existing one is kept. Each command's output is shown as it
runs and kept in ``<outputs>/logs/NAME.log``; the time of every step goes to
``<outputs>/logs/timings.json``. Run from the repository root (``make figures`` does).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from experiments.artifacts import ARTIFACTS, Artifact
from experiments.figures import FIGURES

ROOT = Path(__file__).resolve().parents[1]


def _figure_modules(only: list[str] | None):
    names = list(FIGURES)
    if only:
        picked = [n for n in names if any(n.startswith(f"fig{o}_") or n == o or n.startswith(o) for o in only)]
        if not picked:
            raise SystemExit(f"--only {only} matches no figure; figures are {names}")
        names = picked
    return [importlib.import_module(f"experiments.figures.{n}") for n in names]


def _fmt(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def make_artifact(a: Artifact, outputs: Path, fast: bool, logs: Path) -> float:
    """Run ``a``'s command from the repository root, echoing and logging its output; returns seconds."""
    logs.mkdir(parents=True, exist_ok=True)
    a.path(outputs).mkdir(parents=True, exist_ok=True)  # the theory checks write into an existing folder
    log_path = logs / f"{a.name}.log"
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            a.command(outputs, fast),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        for line in proc.stdout:
            log.write(line)
            print(f"    | [{_fmt(time.perf_counter() - t0):>7s}] {line.rstrip()[:160]}", flush=True)
        code = proc.wait()
    if code != 0:
        raise RuntimeError(f"`{a.shell(outputs, fast)}` failed with exit code {code}; its output is in {log_path}")
    problems = a.problems(outputs)
    if problems:
        raise RuntimeError(f"`{a.shell(outputs, fast)}` ran but {'; '.join(problems)}")
    return time.perf_counter() - t0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--outputs", type=Path, default=None, help="artifact root (default outputs/, or outputs/fast/ with --fast)"
    )
    parser.add_argument("--out", type=Path, default=None, help="figure folder (default OUTPUTS/figures)")
    parser.add_argument(
        "--fast", action="store_true", help="smoke-sized artifact settings (minutes, not the paper's numbers)"
    )
    parser.add_argument("--force", action="store_true", help="remake every artifact the chosen figures read")
    parser.add_argument(
        "--remake",
        nargs="+",
        default=[],
        choices=sorted(ARTIFACTS),
        metavar="ARTIFACT",
        help=f"remake these artifacts: {', '.join(ARTIFACTS)}",
    )
    parser.add_argument("--only", nargs="+", default=None, help="figures to make, by number (4) or name")
    parser.add_argument("--plan", action="store_true", help="print what would run and stop")
    return parser


def _print_plan(
    needed: list[Artifact], todo: list[Artifact], outputs: Path, folder: Path, n_figures: int, fast: bool
) -> None:
    """Which artifacts are kept and which are made (with why), and a rough time for the lot."""
    print(f"artifacts under {outputs}; figures into {folder}{' (fast settings)' if fast else ''}")
    for a in needed:
        state = "make" if a in todo else "keep"
        why = "forced" if a in todo and not a.problems(outputs) else "; ".join(a.problems(outputs)[:1])
        print(f"  {state} {a.name:28s} {'(' + why + ')' if state == 'make' else ''}")
    est = sum(a.minutes for a in todo) * (0.25 if fast else 1.0)
    print(f"{len(todo)} artifact(s) to make (roughly {est:.0f} min on two cores), then {n_figures} figure(s)")


def _make_artifacts(todo: list[Artifact], outputs: Path, fast: bool, logs: Path, started: float) -> dict:
    """Make each artifact in turn; returns the seconds each took."""
    seconds_of = {}
    for i, a in enumerate(todo, 1):
        print(f"\n[{i}/{len(todo)}] {a.name}: {a.what} (about {a.minutes * (0.25 if fast else 1):g} min)")
        print(f"    $ {a.shell(outputs, fast)}")
        seconds = make_artifact(a, outputs, fast, logs)
        seconds_of[a.name] = seconds
        print(f"    done in {_fmt(seconds)} (total {_fmt(time.perf_counter() - started)})")
    return seconds_of


def _make_figures(figures, outputs: Path, folder: Path, seconds_of: dict) -> list[str]:
    """Plot every figure, recording its seconds in ``seconds_of``; returns the names of those that failed."""
    failed = []
    print(f"\nfigures into {folder}")
    for f in figures:
        t0 = time.perf_counter()
        try:
            paths = f.plot(outputs, folder)
        except Exception as err:  # one broken figure must not hide the others
            failed.append(f.NAME)
            print(f"  {f.NAME}: FAILED: {err}")
            traceback.print_exc()
            continue
        seconds_of[f.NAME] = time.perf_counter() - t0
        print(f"  {f.NAME}: {', '.join(p.name for p in paths)} ({_fmt(seconds_of[f.NAME])})")
    return failed


def _write_timings(logs: Path, timings: dict) -> None:
    """``timings.json``, where artifacts kept from earlier runs keep the times they were made in."""
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / "timings.json"
    earlier = json.loads(path.read_text()).get("artifacts", {}) if path.exists() else {}
    timings["artifacts"] = {**earlier, **timings["artifacts"]}
    path.write_text(json.dumps(timings, indent=2) + "\n")


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    outputs = (args.outputs or Path("outputs/fast" if args.fast else "outputs")).resolve()
    folder = (args.out or outputs / "figures").resolve()
    logs = outputs / "logs"
    figures = _figure_modules(args.only)
    needed = [a for a in ARTIFACTS.values() if any(a.name in f.ARTIFACTS for f in figures)]
    todo = [a for a in needed if args.force or a.name in args.remake or a.problems(outputs)]

    _print_plan(needed, todo, outputs, folder, len(figures), args.fast)
    if args.plan:
        for a in todo:
            print(f"  $ {a.shell(outputs, args.fast)}")
        return 0

    started = time.perf_counter()
    timings = {"artifacts": _make_artifacts(todo, outputs, args.fast, logs, started), "figures": {}}
    failed = _make_figures(figures, outputs, folder, timings["figures"])
    timings["last_run_seconds"] = time.perf_counter() - started
    _write_timings(logs, timings)
    print(f"\nall done in {_fmt(timings['last_run_seconds'])}" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
