"""Runs every registered experiment's preset and writes ``results/<preset>/REPORT.md``.

  python -m experiments.reproduce --preset=quick            # what `make run` does
  python -m experiments.reproduce --preset=full --only=digits

Each experiment runs as its own process (its launcher, as a user would call it), so a crash
in one is reported and the others still run. The report opens with one table of every claim the
experiments checked (each launcher's ``claims.json``, see ``jaxml.utils.claims``): held or not,
and on which numbers; then it gathers each ``summary.md`` and figure.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from absl import app, flags

from experiments.registry import EXPERIMENTS, Experiment, by_name
from jaxml.utils.claims import Claim, read_claims
from jaxml.utils.config import PRESETS

_PRESET = flags.DEFINE_enum("preset", "quick", list(PRESETS), "Preset every experiment runs.")
_ONLY = flags.DEFINE_list("only", [], "Run only these experiments (comma-separated names).")
_RESULTS = flags.DEFINE_string("results", "results", "Root of the outputs.")


def run_experiment(module: str, preset: str, workdir: Path, log_path: Path) -> tuple[int, float]:
    """Runs one launcher in a subprocess; returns (exit status, seconds)."""
    if workdir.exists():
        shutil.rmtree(workdir)  # A report describes one fresh run, never a mix of two.
    workdir.mkdir(parents=True)
    cmd = [sys.executable, "-m", module, f"--preset={preset}", f"--workdir={workdir}"]
    start = time.perf_counter()
    with log_path.open("w") as log:
        status = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    return status, time.perf_counter() - start


def section(name: str, paper: str, workdir: Path, report_dir: Path, status: int, seconds: float):
    rel = os.path.relpath(workdir, report_dir)
    lines = [f"## {name}", "", f"*{paper}*", "", f"Exit status {status}, {seconds:.0f} s.", ""]
    summary = workdir / "summary.md"
    if status == 0 and summary.exists():
        # Figures are linked relative to the experiment's workdir; rebase them on the report's.
        text = summary.read_text()
        for png in sorted(workdir.glob("*.png")):
            text = text.replace(f"]({png.name})", f"]({rel}/{png.name})")
        lines.append(text)
    else:
        lines.append(f"FAILED: see `{rel}/run.log`.")
    return "\n".join(lines) + "\n"


class Outcome(NamedTuple):
    """How one experiment's run ended."""

    experiment: Experiment
    workdir: Path  # Its outputs: summary.md, claims.json, figures, run.log.
    status: int  # The launcher's exit status.
    seconds: float


def _cell(text: str) -> str:
    # A "|" in a claim (SCD's "|residual|") would split the table's row.
    return " ".join(str(text).split()).replace("|", "\\|")


def run_claims(outcome: Outcome, report_dir: Path) -> tuple[list[Claim], str]:
    """The claims one run checked, or none and why (a failed run, no or a bad ``claims.json``)."""
    if outcome.status:  # What a failed run left behind is not a result.
        rel = os.path.relpath(outcome.workdir, report_dir)
        return [], f"exit status {outcome.status}: see `{rel}/run.log`"
    try:
        claims = read_claims(outcome.workdir)
    except FileNotFoundError:
        return [], "no claims.json: this launcher states no claims"
    except ValueError as error:
        return [], f"unreadable claims.json: {error}"
    return claims, "claims.json lists no claim: none could be checked in this run"


def claims_table(outcomes: Sequence[Outcome], report_dir: Path) -> list[str]:
    """A tally, then the table "experiment | claim | held? | evidence" of every experiment."""
    rows, held, missed, failed, silent = [], 0, 0, [], []
    for o in outcomes:
        name = o.experiment.name
        claims, why = run_claims(o, report_dir)
        held, missed = held + sum(c.held for c in claims), missed + sum(not c.held for c in claims)
        for c in claims:
            verdict = "yes" if c.held else "**no**"
            rows.append(f"| {name} | {_cell(c.statement)} | {verdict} | {_cell(c.evidence)} |")
        if not claims:
            (failed if o.status else silent).append(name)
            rows.append(f"| {name} | — | {'FAILED' if o.status else '—'} | {_cell(why)} |")
    tally = f"Of {held + missed} claim(s) checked, {held} held and {missed} did not."
    tally += f" Failed: {', '.join(failed)}." if failed else ""
    tally += f" No claim checked: {', '.join(silent)}." if silent else ""
    header = ["| experiment | claim | held? | evidence |", "| --- | --- | --- | --- |"]
    return [tally, "", *header, *rows]


def write_report(
    report_dir: Path, preset: str, outcomes: Sequence[Outcome], seconds: float
) -> Path:
    """Writes ``report_dir/REPORT.md``: the claims table, the total time, then each section."""
    sections = [
        section(o.experiment.name, o.experiment.paper, o.workdir, report_dir, o.status, o.seconds)
        for o in outcomes
    ]
    header = [
        f"# jaxml report: preset `{preset}`",
        "",
        *claims_table(outcomes, report_dir),
        "",
        f"{len(outcomes)} experiment(s), {seconds:.0f} s in all, on {platform.machine()} "
        f"with {os.cpu_count()} CPU core(s). Every number below was measured by this run.",
        "",
    ]
    report = report_dir / "REPORT.md"
    report.write_text("\n".join(header) + "\n" + "\n".join(sections))
    return report


def main(argv):
    del argv
    experiments = [by_name(n) for n in _ONLY.value] if _ONLY.value else list(EXPERIMENTS)
    report_dir = Path(_RESULTS.value) / _PRESET.value
    report_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    start = time.perf_counter()
    for experiment in experiments:
        workdir = report_dir / experiment.name
        log_path = report_dir / f"{experiment.name}.log"
        print(f"[{experiment.name}] running --preset={_PRESET.value} -> {workdir}", flush=True)
        status, seconds = run_experiment(experiment.module, _PRESET.value, workdir, log_path)
        shutil.move(log_path, workdir / "run.log")
        print(f"[{experiment.name}] exit {status} in {seconds:.0f} s", flush=True)
        outcomes.append(Outcome(experiment, workdir, status, seconds))
    total = time.perf_counter() - start
    report = write_report(report_dir, _PRESET.value, outcomes, total)
    print(f"wrote {report}")
    failed = [o.experiment.name for o in outcomes if o.status]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
