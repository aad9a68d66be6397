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
    Experiment(
        name="grng",
        module="experiments.grng.main",
        paper="Gradient Regularized Natural Gradients (Dash et al., AISTATS 2026, 2601.18420)",
        smoke_overrides={
            # Three optimizers keep the smoke test short; the conformance suite covers them all.
            "optimizers": "adamw,ring,rkalman",
            "num_seeds": 1,
            "chunk_size": 2,
            "digits.num_steps": 4,
            "charlm.num_steps": 4,
            "charlm.width": 16,
            "charlm.num_layers": 1,
            "charlm.corpus_chars": 20_000,
            "progress_bar": False,
        },
    ),
    Experiment(
        name="npg",
        module="experiments.npg.main",
        paper="Rank-1 inverse-Fisher natural policy gradient (Huo et al., 2601.18626)",
        smoke_overrides={
            "envs": "CartPole-v1",
            "num_seeds": 1,
            "total_timesteps": 2048,  # Two TRPO updates (8 x 128); more for the others.
            "num_chunks": 2,
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
