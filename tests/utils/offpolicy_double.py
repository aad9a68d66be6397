"""The conformance suite's off-policy trainer: jaxml's real DQN (``jaxml.rl.dqn``), tiny.

It began as a DQN test double with a flashbax item buffer in its state, showing that an
off-policy loop fits ``Trainer`` as it is; the library's DQN now does that, so the suite runs it.
``ConstantRewardEnv`` is the SAC and DQN tests' truncation-bootstrapping check.
"""

from __future__ import annotations

from functools import cached_property

import chex
import jax
import jax.numpy as jnp
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import restart, transition, truncation

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


@chex.dataclass
class ClockState:
    t: jax.Array  # [] int32: steps into the episode.
    key: jax.Array  # [2]: AutoResetWrapper reads it.


class ConstantRewardEnv(Environment):
    """Reward 1 at every step, one constant observation, episodes truncated after ``horizon``
    steps (never terminated): with discount γ every state's value is ``1 / (1 − γ)``.

    A trainer that treats the truncation as a termination learns a smaller value instead (for
    a constant observation, the fixed point of ``Q = 1 + γ·Q·(1 − 1/horizon)``), so it tells
    the two apart. ``discrete``: a 2-action ``DiscreteArray``, else a ``[-1, 1]`` box ``[1]``.
    """

    def __init__(self, *, horizon: int = 5, discrete: bool = True):
        self.horizon, self.discrete = horizon, discrete
        super().__init__()

    def reset(self, key):
        obs = jnp.ones((2,), jnp.float32)
        return ClockState(t=jnp.zeros((), jnp.int32), key=key), restart(obs, extras={})

    def step(self, state, action):
        del action
        t = state.t + 1
        obs = jnp.ones((2,), jnp.float32)
        reward = jnp.ones((), jnp.float32)
        timestep = jax.lax.cond(
            t >= self.horizon,
            lambda: truncation(reward, obs, extras={}),
            lambda: transition(reward, obs, extras={}),
        )
        return ClockState(t=t, key=state.key), timestep

    @cached_property
    def observation_spec(self):
        return specs.Array((2,), jnp.float32, "observation")

    @cached_property
    def action_spec(self):
        if self.discrete:
            return specs.DiscreteArray(2, name="action")
        return specs.BoundedArray((1,), jnp.float32, -1.0, 1.0, "action")
