"""Every experiment `make run` reproduces. A smoke test runs each entry, so none goes untested."""

from __future__ import annotations

from typing import Any, NamedTuple


class Experiment(NamedTuple):
    name: str  # Folder under experiments/ and section of the report.
    module: str  # Defines get_config(preset), train_and_evaluate(config, workdir, resume), FIGURE.
    paper: str  # What the experiment reproduces.
    smoke_overrides: dict[str, Any]  # Config overrides that make the smoke test take seconds.


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        name="digits",
        module="experiments.digits.main",
        paper="Skeleton check: residual MLP + AdamW on scikit-learn digits (no paper).",
        smoke_overrides={
            "num_steps": 20,
            "warmup_steps": 5,
            "chunk_size": 10,
            "progress_bar": False,
        },
    ),
)


def by_name(name: str) -> Experiment:
    for experiment in EXPERIMENTS:
        if experiment.name == name:
            return experiment
    names = ", ".join(e.name for e in EXPERIMENTS)
    raise ValueError(f"--only={name!r}: unknown experiment; registered: {names}")
