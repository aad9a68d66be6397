"""Rank-1 NPG (arXiv 2601.18626) against A2C, PPO and TRPO on gymnax classic control (and brax
locomotion in the full preset), several seeds vmapped, return vs environment steps and wall-clock.

  python -m experiments.npg.main --preset=quick --workdir=results/quick/npg
      # CartPole-v1, Acrobot-v1, Pendulum-v1; 1e5 steps per run, 3 seeds; 4 algorithms.
      # Measured 2026-11-25: 1m55s on a 2-core CPU. Final returns (mean over seeds):
      # CartPole NPG-rank1 288, A2C 107, PPO 273, TRPO 415; Acrobot -99, -102, -227, -84;
      # Pendulum -1211, -1599, -1147, -874 (nobody learns Pendulum at 1e5 steps).
  python -m experiments.npg.main --preset=full
      # + brax hopper, walker2d, halfcheetah, swimmer, humanoid, pusher; 1e6 gymnax / 5e6 brax
      # steps, 5 seeds.
      # For an accelerator (days on CPU); not run. Its brax envs at 5e5 steps, 2 seeds
      # (--config.envs=brax/hopper,... --config.brax_total_timesteps=500000 --config.num_seeds=2)
      # took 72 min on the CPU; final returns in the README (TRPO best on hopper and walker2d).

Each algorithm trains at ``config.trainers.<algo>``, its ``jaxml.rl.default_config(algo)``, on
gymnax and at ``config.brax_trainers.<algo>`` (``rl.default_config(algo, "continuous")``) on
brax; change any field there (``--config.trainers.ppo.learning_rate=1e-3``). Its ``total_timesteps``
is replaced by ``total_timesteps`` (gymnax) or ``brax_total_timesteps`` (brax) per environment.
Lists are tuples: ``--config.algos="('npg','ppo')" --config.envs="('CartPole-v1',)"`` (a single
name without brackets is a 1-tuple).
"""

from __future__ import annotations

import ml_collections

from jaxml import rl
from jaxml.utils.config import base_config, check_preset

ALGOS = ("npg", "a2c", "ppo", "trpo")
GYMNAX_ENVS = ("CartPole-v1", "Acrobot-v1", "Pendulum-v1")
BRAX_PPO_SHAPE = dict(
    num_envs=256, num_steps=128, num_minibatches=8, learning_rate=3e-4, gamma=0.97
)
BRAX_ENVS = ("hopper", "walker2d", "halfcheetah", "swimmer", "humanoid", "pusher")


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
    check_preset(preset)
    config = base_config()
    config.algos = ALGOS
    config.envs = GYMNAX_ENVS
    config.num_seeds = 3
    config.total_timesteps = 100_000  # Per gymnax run (every algorithm, every seed).
    config.brax_total_timesteps = 5_000_000  # Per brax run (full preset).
    config.brax_backend = "generalized"  # brax physics pipeline (positional: brax's PPO runs).
    config.num_chunks = ml_collections.FieldReference(10)  # Metric rows (and checkpoints) per run.
    config.checkpoint_every_chunks = 5
    # The final policy is evaluated after the last chunk (set it lower for evaluation curves):
    # eval_episodes fresh episodes per seed, mean action / argmax (jaxml.rl.evaluate).
    # 0: after the last chunk only. A plain field, not a reference to num_chunks (assigning
    # a reference sets what it points to: --config.eval_every_chunks=1 would set num_chunks).
    config.eval_every_chunks = 0
    config.eval_episodes = ml_collections.FieldReference(16)
    config.tensorboard = False
    # Every algorithm's trainer config (jaxml.rl.default_config), nested: override any field.
    config.trainers = ml_collections.ConfigDict({algo: rl.default_config(algo) for algo in ALGOS})
    # On brax (continuous control) each algorithm trains at rl.default_config(algo, "continuous"):
    # brax's PPO networks and observation normalisation for all four, PPO with the rest of brax's
    # PPO choices (issue 15: the PureJaxRL defaults learn far less there).
    config.brax_trainers = ml_collections.ConfigDict(
        {algo: rl.default_config(algo, "continuous") for algo in ALGOS}
    )
    # PPO on brax at the rollout shape of brax's PPO trainer and benchmarks/ppo_brax.py (whose
    # inverted_pendulum and halfcheetah runs match brax's return): 256 envs x 128 steps,
    # 8 minibatches, lr 3e-4, γ 0.97 (its entropy 1e-2 is the preset's).
    config.brax_trainers.ppo.update(BRAX_PPO_SHAPE)
    for trainers in (config.trainers, config.brax_trainers):
        for algo in ALGOS:
            trainers[algo].eval_episodes = config.get_ref("eval_episodes")
    if preset == "full":
        config.envs = GYMNAX_ENVS + tuple(f"brax/{e}" for e in BRAX_ENVS)
        config.num_seeds = 5
        config.total_timesteps = 1_000_000
        config.num_chunks = 50
    return config
