"""RL-based HVAC control in five urban climates (Yu et al., "Reinforcement Learning Meets Urban
Climate Modeling: RL-based HVAC control", arXiv 2505.07045) on ``HVAC-v0``: SAC (the paper's main
method), PPO and DQN against a fixed set-point controller, a reward-weight sweep and the city x
city transfer matrix, every (city, weight, seed) of an algorithm in one jitted program.

  python -m experiments.hvac.main --preset=quick --workdir=results/quick/hvac
      # All five cities; SAC at w in (0.1, 0.5, 0.9), PPO and DQN at w = 0.1; 2 seeds; one-week
      # episodes (336 steps of 30 min) from random starts; small networks and budgets (SAC 1.6e4,
      # PPO 4.1e4, DQN 1.6e4 env steps per member); 8 one-week evaluation episodes per city.
      # About 100 s of CPU time (README: the measured time and figures).
  python -m experiments.hvac.main --preset=full
      # The paper's scale: one-year episodes (17,520 steps), all five cities, every algorithm at
      # w in (0.1, 0.3, 0.5, 0.7, 0.9), 5 seeds, 2 x 256 networks, 1e6 env steps per member
      # (57 simulated years), 4 one-year evaluation episodes per city. For an accelerator; not run
      # (training alone is 28.3 CPU hours on 2 CPU cores: python -m experiments.hvac.cost).

Every algorithm trains at ``config.trainers.<algo>`` (``rl.default_config(algo)``; PPO's
``"continuous"`` preset); override any field (``--config.trainers.sac.total_timesteps=32000``).
``sweep_algos`` train at every weight of ``weights``, the others at ``base_weight`` only (the
weight of the per-city tables and the transfer matrix).
"""

from __future__ import annotations

import ml_collections

from jaxml import rl
from jaxml.data import weather
from jaxml.utils.config import base_config, check_preset

ALGOS = ("sac", "ppo", "dqn")
PAPER_WEIGHTS = (0.1, 0.3, 0.5, 0.7, 0.9)


def trainer_configs(preset: str) -> ml_collections.ConfigDict:
    """SAC, PPO and DQN for the preset; quick shrinks networks and budgets for 2 CPU cores."""
    sac = rl.default_config("sac")
    ppo = rl.default_config("ppo", "continuous")
    dqn = rl.default_config("dqn")
    for c in (sac, ppo, dqn):
        c.eval_episodes = 0  # The study evaluates the final policies itself (grid.evaluate_grid).
    if preset == "quick":
        # 16 environments per member; one gradient step per trainer step (per 16 env steps).
        sac.update(
            num_envs=16, total_timesteps=16_000, buffer_size=16_000, batch_size=128,
            learning_starts=1_600, actor_hidden=(32, 32), critic_hidden=(32, 32),
            actor_learning_rate=1e-3, critic_learning_rate=1e-3, alpha_learning_rate=1e-3,
            gamma=0.9,
        )  # fmt: skip
        ppo.update(
            num_envs=32, num_steps=64, total_timesteps=40_960, num_minibatches=4,
            update_epochs=4, learning_rate=1e-3, actor_hidden=(32, 32), critic_hidden=(64, 64),
            gamma=0.9, ent_coef=1e-3,
        )  # fmt: skip
        dqn.update(
            num_envs=16, total_timesteps=16_000, buffer_size=16_000, batch_size=128,
            learning_starts=1_600, epsilon_anneal_steps=8_000, target_update_period=25,
            learning_rate=1e-3, hidden=(32, 32), gamma=0.9,
        )  # fmt: skip
    else:
        # The paper's CleanRL-style runs, 1e6 env steps per member in 16 environments.
        sac.update(num_envs=16, total_timesteps=1_000_000, buffer_size=200_000,
                   learning_starts=10_000)  # fmt: skip
        ppo.update(num_envs=64, num_steps=256, total_timesteps=1_000_000, num_minibatches=8,
                   learning_rate=3e-4, gamma=0.99)  # fmt: skip
        dqn.update(num_envs=16, total_timesteps=1_000_000, buffer_size=100_000,
                   learning_starts=10_000, epsilon_anneal_steps=500_000,
                   hidden=(256, 256))  # fmt: skip
    return ml_collections.ConfigDict({"sac": sac, "ppo": ppo, "dqn": dqn})


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
    check_preset(preset)
    config = base_config()
    config.cities = weather.CITIES
    config.algos = ALGOS
    config.sweep_algos = ("sac",)  # Trained at every weight; the others at base_weight.
    config.weights = (0.1, 0.5, 0.9)
    config.base_weight = 0.1  # The paper's default w.
    config.num_seeds = 2
    config.episode_steps = 336  # Training episodes: one week of 30-minute steps.
    config.eval_episode_steps = 336
    config.eval_episodes = 8  # Per city and member, deterministic policy, random starts.
    config.density_class = 3  # CLM numurbl index 3 (the populated class; docs/hvac.md).
    config.num_chunks = 2
    config.checkpoint_every_chunks = 2
    config.tensorboard = False
    if preset == "full":
        config.sweep_algos = ALGOS
        config.weights = PAPER_WEIGHTS
        config.num_seeds = 5
        config.episode_steps = 17_520  # One year.
        config.eval_episode_steps = 17_520
        config.eval_episodes = 4
        config.num_chunks = 20
        config.checkpoint_every_chunks = 5
    config.trainers = trainer_configs(preset)
    return config
