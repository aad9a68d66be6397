"""IPPO and MAPPO on jaxmarl SMAX (win rate) and IPPO with LSTM policies on the Foraging Games
(success rate): the multi-agent tests of ``jaxml.rl.mappo``, several seeds vmapped.

  python -m experiments.marl.main --preset=quick --workdir=results/quick/marl
      # SMAX 3m (MAPPO, IPPO; 250k steps) and ForagingScoreG-v0 (IPPO-LSTM; 150k steps),
      # 3 seeds each. See summary.md for the measured time and rates.
  python -m experiments.marl.main --preset=full
      # + SMAX 2s3z; 1e7 steps per run, 5 seeds. For an accelerator; not run. At 2e6 steps,
      # 2 seeds (2026-11-25, CPU): 2s3z win rate MAPPO 0.957, IPPO 0.995 (README).

Each run trains at ``config.runs.<run>``, ``mappo.default_config(algorithm)`` at the settings
below; change any field there (``--config.runs.smax_3m_mappo.learning_rate=3e-4``). Its
``total_timesteps`` follows ``smax_total_timesteps`` / ``foraging_total_timesteps`` unless set.
``run_names`` picks the runs, a tuple: ``--config.run_names="('smax_3m_mappo','smax_3m_ippo')"``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import ml_collections

from jaxml.rl import mappo
from jaxml.utils.config import base_config, check_preset


class Run(NamedTuple):
    """A learning run of the experiment."""

    env_id: str  # jaxml.envs name.
    env_kwargs: dict  # Its constructor arguments.
    algorithm: str  # "mappo" (centralised critic) or "ippo" (decentralised).
    label: str  # For plots and tables.
    rate: str  # What ``win_rate`` counts here: "win" (SMAX) or "success" (Foraging Games).


RUNS = {
    "smax_3m_mappo": Run("jaxmarl/SMAX", {"scenario": "3m"}, "mappo", "SMAX 3m MAPPO", "win"),
    "smax_3m_ippo": Run("jaxmarl/SMAX", {"scenario": "3m"}, "ippo", "SMAX 3m IPPO", "win"),
    "smax_2s3z_mappo": Run("jaxmarl/SMAX", {"scenario": "2s3z"}, "mappo", "SMAX 2s3z MAPPO", "win"),
    "smax_2s3z_ippo": Run("jaxmarl/SMAX", {"scenario": "2s3z"}, "ippo", "SMAX 2s3z IPPO", "win"),
    "foraging_ippo_lstm": Run(
        "ForagingScoreG-v0", {}, "ippo", "ForagingScoreG IPPO-LSTM", "success"
    ),
}


def smax_config(algorithm: str, total_timesteps: Any) -> ml_collections.ConfigDict:
    """``mappo.default_config`` (4 epochs x 4 minibatches, lr 5e-4, ReLU 64-64, entropy 0.01)
    at 64 envs x 64 steps."""
    config = mappo.default_config(algorithm)
    config.update(num_envs=64, num_steps=64, total_timesteps=total_timesteps)
    config.eval_max_steps = 128  # SMAX's limit: 100 steps (+1, see the adapter).
    return config


def foraging_config(total_timesteps: Any) -> ml_collections.ConfigDict:
    """The Foraging Games authors' PPO settings (128 envs x 32 steps, lr 2.5e-4, LSTM 128),
    with shared parameters and an agent id instead of one network per agent."""
    config = mappo.default_config("ippo")
    config.update(
        num_envs=128,
        num_steps=32,
        total_timesteps=total_timesteps,
        learning_rate=2.5e-4,
        hidden=(128, 128),
        recurrent="lstm",
        rnn_size=128,
        bootstrap_truncated=False,  # Every episode end is a termination.
    )
    config.eval_max_steps = 32  # The game's horizon is 10 steps.
    return config


def trainer_config(name: str, total_timesteps: Any) -> ml_collections.ConfigDict:
    run = RUNS[name]
    if run.env_id == "jaxmarl/SMAX":
        return smax_config(run.algorithm, total_timesteps)
    return foraging_config(total_timesteps)


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
    check_preset(preset)
    config = base_config()
    config.run_names = ("smax_3m_mappo", "smax_3m_ippo", "foraging_ippo_lstm")
    config.num_seeds = 3
    # Per SMAX / Foraging run (every seed); each run's total_timesteps refers to one of these.
    config.smax_total_timesteps = ml_collections.FieldReference(250_000)
    config.foraging_total_timesteps = ml_collections.FieldReference(150_000)
    config.num_chunks = ml_collections.FieldReference(10)  # Metric rows (and checkpoints) per run.
    config.checkpoint_every_chunks = 5
    # The final policy is evaluated after the last chunk (set it lower for evaluation curves):
    # eval_episodes fresh episodes per seed, each agent's argmax action (jaxml.rl.evaluate).
    # 0: after the last chunk only. A plain field, not a reference to num_chunks (assigning
    # a reference sets what it points to: --config.eval_every_chunks=1 would set num_chunks).
    config.eval_every_chunks = 0
    config.eval_episodes = ml_collections.FieldReference(32)
    config.tensorboard = False
    # Seeds in one vmapped program; False runs them one after the other, each its own runner job.
    # (With jax 0.10.2 vmapped multi-agent seeds deadlocked XLA:CPU's concurrency-optimized
    # scheduler; importing jaxml switches it off, see jaxml/_xla_flags.py.)
    config.vmap_seeds = True
    # Every run's trainer config, nested: override any field.
    totals = {"jaxmarl/SMAX": config.get_ref("smax_total_timesteps"),
              "ForagingScoreG-v0": config.get_ref("foraging_total_timesteps")}  # fmt: skip
    config.runs = ml_collections.ConfigDict(
        {name: trainer_config(name, totals[run.env_id]) for name, run in RUNS.items()}
    )
    for name in RUNS:
        config.runs[name].eval_episodes = config.get_ref("eval_episodes")
    if preset == "full":
        config.run_names = tuple(RUNS)
        config.num_seeds = 5
        config.smax_total_timesteps = 10_000_000
        config.foraging_total_timesteps = 10_000_000
        config.num_chunks = 50
    return config
