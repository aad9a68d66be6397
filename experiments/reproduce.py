"""Runs every registered experiment's preset and writes ``results/<preset>/REPORT.md``.

  python -m experiments.reproduce --preset=quick            # what `make run` does
  python -m experiments.reproduce --preset=full --only=digits

Each experiment runs as its own process (its launcher, as a user would call it), so a crash
in one is reported and the others still run. The report gathers each ``summary.md`` and figure.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from absl import app, flags

from experiments.registry import EXPERIMENTS, by_name
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


def main(argv):
    del argv
    experiments = [by_name(n) for n in _ONLY.value] if _ONLY.value else list(EXPERIMENTS)
    report_dir = Path(_RESULTS.value) / _PRESET.value
    report_dir.mkdir(parents=True, exist_ok=True)
    sections, failed = [], []
    start = time.perf_counter()
    for experiment in experiments:
        workdir = report_dir / experiment.name
        log_path = report_dir / f"{experiment.name}.log"
        print(f"[{experiment.name}] running --preset={_PRESET.value} -> {workdir}", flush=True)
        status, seconds = run_experiment(experiment.module, _PRESET.value, workdir, log_path)
        shutil.move(log_path, workdir / "run.log")
        print(f"[{experiment.name}] exit {status} in {seconds:.0f} s", flush=True)
        if status:
            failed.append(experiment.name)
        sections.append(
            section(experiment.name, experiment.paper, workdir, report_dir, status, seconds)
        )
    total = time.perf_counter() - start
    header = [
        f"# jaxml report: preset `{_PRESET.value}`",
        "",
        f"{len(experiments)} experiment(s), {total:.0f} s in all, on {platform.machine()} "
        f"with {os.cpu_count()} CPU core(s). Every number below was measured by this run.",
        "",
    ]
    report = report_dir / "REPORT.md"
    report.write_text("\n".join(header) + "\n" + "\n".join(sections))
    print(f"wrote {report}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
