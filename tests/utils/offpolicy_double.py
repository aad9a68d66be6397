"""The conformance suite's off-policy trainer: jaxml's real DQN (``jaxml.rl.dqn``), tiny.

It began as a DQN test double with a flashbax item buffer in its state, showing that an
off-policy loop fits ``Trainer`` as it is; the library's DQN now does that, so the suite runs it.
"""

from __future__ import annotations

from jaxml.rl import dqn
from jaxml.utils.trainer import Trainer


def make_dqn_trainer(
    env,
    *,
    num_steps: int,
    num_envs: int = 4,
    buffer_size: int = 256,
    batch_size: int = 16,
    learning_rate: float = 1e-3,
    gamma: float = 0.99,
    epsilon: float = 0.2,
    target_every: int = 4,
) -> Trainer:
    """``jaxml.rl.dqn`` with a constant ε, learning from the first full minibatch."""
    config = dqn.default_config()
    config.update(
        num_envs=num_envs, total_timesteps=num_steps * num_envs, buffer_size=buffer_size,
        batch_size=batch_size, learning_starts=0, learning_rate=learning_rate, gamma=gamma,
        epsilon_start=epsilon, epsilon_end=epsilon, epsilon_anneal_steps=1,
        target_update_period=target_every, hidden=(16,), eval_episodes=0,
    )  # fmt: skip
    return dqn.make_trainer(config, env)
