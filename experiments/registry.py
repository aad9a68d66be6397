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
            "optimizers": ("adamw", "ring", "rkalman"),
            "num_seeds": 1,
            "chunk_size": 2,
            "digits.num_steps": 4,
            "charlm.num_steps": 4,
            "charlm.width": 16,
            "charlm.num_layers": 1,
            "charlm.corpus_chars": 20_000,
            # The quick preset runs the CNN too (issue 20): a tiny one here.
            "digits_cnn.num_steps": 4,
            "digits_cnn.channels": (4,),
            "progress_bar": False,
        },
    ),
    Experiment(
        name="npg",
        module="experiments.npg.main",
        paper="Rank-1 inverse-Fisher natural policy gradient (Huo et al., 2601.18626)",
        smoke_overrides={
            "envs": ("CartPole-v1",),
            "num_seeds": 1,
            "total_timesteps": 2048,  # Two TRPO updates (8 x 128); more for the others.
            "num_chunks": 2,
            "progress_bar": False,
        },
    ),
    Experiment(
        name="marl",
        module="experiments.marl.main",
        paper="IPPO (2011.09533) and MAPPO (2103.01955) on SMAX; IPPO-LSTM on the Foraging Games",
        smoke_overrides={
            # SMAX and the vmapped-seed path are covered by npg's smoke run and tests/rl; this
            # runs the seed-after-seed path the recurrent Foraging run takes.
            "run_names": ("foraging_ippo_lstm",),
            "num_seeds": 2,
            "vmap_seeds": False,
            "runs.foraging_ippo_lstm.num_envs": 8,
            "runs.foraging_ippo_lstm.num_steps": 16,
            "foraging_total_timesteps": 256,
            "num_chunks": 2,
            "progress_bar": False,
        },
    ),
    Experiment(
        name="caal",
        module="experiments.caal.main",
        paper="Confidence-aware active learning for heteroscedastic regression (2602.11825)",
        smoke_overrides={
            "num_seeds": 1,
            "strategies": ("caal", "random", "coreset"),
            "ensemble.num_members": 2,
            "ensemble.width": 8,
            "ensemble.depth": 1,
            "ensemble.max_epochs": 3,
            "ensemble.patience": 2,
            "partmc.num_rounds": 1,
            "partmc.acquire_per_round": 5,
            "sine.pool_size": 60,
            "sine.initial_points": 10,
            "sine.test_size": 50,
            "sine.num_rounds": 1,
            "sine.acquire_per_round": 5,
            "progress_bar": False,
        },
    ),
    Experiment(
        name="scd",
        module="experiments.scd.main",
        paper="Softly constrained denoisers for diffusion models (2512.14980)",
        smoke_overrides={
            "tasks": ("circle",),
            "methods": ("plain", "soft", "dps"),
            "num_seeds": 1,
            "circle.num_steps": 10,
            "circle.chunk_size": 10,
            "circle.num_train": 64,
            "circle.num_eval": 16,
            "circle.constraints": ((1.0, 1.0), (1.2, 1.2)),
            "sampler.num_steps": 1,
            "progress_bar": False,
        },
    ),
    Experiment(
        name="resnet_bounds",
        module="experiments.resnet_bounds.main",
        paper="Generalization bounds for discrete- and continuous-time ResNets (2602.20921)",
        smoke_overrides={
            "datasets": ("moons",),
            "depths": (2,),
            "include_ode": False,
            "train_sizes": (40, 80),
            "num_seeds": 1,
            "train_steps": 10,
            "chunk_size": 10,
            "moons_test": 200,
            "progress_bar": False,
        },
    ),
    Experiment(
        name="lorasa",
        module="experiments.lorasa.main",
        paper="LoRASA: per-agent low-rank adapters on a shared MAPPO policy (2502.05573)",
        smoke_overrides={
            "run_names": ("ps_id", "lorasa"),
            "num_seeds": 1,
            "total_timesteps": 512,  # 4 updates of 8 envs x 16 steps (LoRASA: 2 PS + 2).
            "runs.ps_id.num_envs": 8,
            "runs.ps_id.num_steps": 16,
            "runs.lorasa.num_envs": 8,
            "runs.lorasa.num_steps": 16,
            "num_chunks": 2,
            "eval_episodes": 2,
            "progress_bar": False,
        },
    ),
    Experiment(
        name="tar2",
        module="experiments.tar2.main",
        paper="TAR²: temporal-agent reward redistribution vs AREL/STAS on sparse SMAX (2502.04864)",
        smoke_overrides={
            "algorithms": ("ippo",),
            "ippo.tar2.methods": ("sparse", "tar2"),
            "ippo.num_envs": 4,
            "ippo.tar2.warmup_episodes": 16,
            "ippo.tar2.update_every_episodes": 4,
            "ippo.tar2.num_epochs": 1,
            "horizon": 4,
            "num_seeds": 1,
            "total_timesteps": 4 * 5 * 4,  # 4 updates of 4 envs x 5 steps.
            "num_chunks": 2,
            "eval_episodes": 2,
            "progress_bar": False,
        },
    ),
    Experiment(
        name="hvac",
        module="experiments.hvac.main",
        paper="RL-based HVAC control meets urban climate modelling (Yu et al., 2505.07045)",
        smoke_overrides={
            # DQN's path (task trainer, discrete evaluation) is tests/experiments/test_hvac.py's.
            "algos": ("sac", "ppo"),
            "cities": ("london", "singapore"),
            "weights": (0.1, 0.9),
            "num_seeds": 1,
            "episode_steps": 8,
            "eval_episode_steps": 8,
            "eval_episodes": 2,
            "trainers.sac.num_envs": 4,
            "trainers.sac.total_timesteps": 64,
            "trainers.sac.buffer_size": 64,
            "trainers.sac.batch_size": 8,
            "trainers.sac.learning_starts": 16,
            "trainers.ppo.num_envs": 4,
            "trainers.ppo.num_steps": 8,
            "trainers.ppo.total_timesteps": 64,
            "trainers.ppo.num_minibatches": 2,
            "trainers.ppo.update_epochs": 1,
            "progress_bar": False,
        },
    ),
    Experiment(
        name="language",
        module="experiments.language.main",
        paper="Emergent language on the Foraging Games: ScoreG populations (2505.12872)",
        smoke_overrides={
            "run_names": ("pair",),
            "num_seeds": 1,
            "total_timesteps": 128,  # 2 rounds of 8 envs x 8 steps.
            "runs.pair.num_envs": 8,
            "runs.pair.num_steps": 8,
            "num_chunks": 2,
            "eval_episodes": 2,
            "cross_play_episodes": 4,
            "language_episodes": 40,
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
