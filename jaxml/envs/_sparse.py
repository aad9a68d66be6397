"""An episodic-return (sparse-reward) version of any jaxml environment.

TAR² ("TAR²: Temporal-Agent Reward Redistribution for Optimal Policy Preservation in
Multi-Agent Reinforcement Learning", Kapoor et al., arXiv 2502.04864; earlier version arXiv
2412.14779) studies cooperative tasks whose team reward arrives only at the end of an episode
(the ``episodic_team`` arm of the authors' code). ``SparseReward`` makes such a task from any
dense one: it withholds every step's reward and releases the episode's sum at the episode's last
step, whether that step is a termination (discount 0) or a truncation (discount 1).

The reward keeps the wrapped env's shape (``[A]`` for jaxml's multi-agent envs, ``()`` for a
single-agent one), and each entry accumulates on its own: agent ``i`` receives
``Σ_t r_{i,t}`` at the last step. SMAX, MABrax and ScoreG give every agent the team's reward, so
there each agent receives the team's episode return. Observations, discounts, step types and
extras pass through unchanged; ``extras["dense_reward"]`` adds this step's withheld reward, for
the dense-reward reference arm and for tests (agents must not observe it).

Under jumanji's ``AutoResetWrapper`` (which needs ``state.key``: ``SparseRewardState.key`` is the
wrapped state's key) the accumulator restarts with each episode, because the auto-reset calls
``reset``, which zeroes it.
"""

from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
from jumanji.env import Environment
from jumanji.types import TimeStep
from jumanji.wrappers import Wrapper


@chex.dataclass
class SparseRewardState:
    env_state: Any  # The wrapped environment's state.
    accumulated: chex.Array  # reward shape (e.g. [A]) float32: reward withheld this episode.

    @property
    def key(self) -> chex.PRNGKey:
        """The wrapped state's key (jumanji's ``AutoResetWrapper`` reads ``state.key``)."""
        return self.env_state.key


class SparseReward(Wrapper):
    """The env with its reward withheld and its episode sum released at the last step.

    From the episodic-reward setting of TAR² (Kapoor et al., arXiv 2502.04864). See the module
    docstring for shapes and semantics.

    Args:
      env: a ``jumanji.Environment`` with a float reward (any shape).
    """

    def __init__(self, env: Environment):
        super().__init__(env)

    def __repr__(self) -> str:
        return f"SparseReward({self._env!r})"

    def _timestep(self, timestep: TimeStep, accumulated: jax.Array) -> TimeStep:
        dense = jnp.asarray(timestep.reward, jnp.float32)
        total = accumulated + dense
        # Sum over the episode up to this step; it is handed out only when the episode ends.
        reward = jnp.where(timestep.last(), total, jnp.zeros_like(total))
        extras = {**timestep.extras, "dense_reward": dense}
        return timestep.replace(reward=reward, extras=extras), total

    def reset(self, key: chex.PRNGKey) -> tuple[SparseRewardState, TimeStep]:
        env_state, timestep = self._env.reset(key)
        zeros = jnp.zeros(jnp.shape(timestep.reward), jnp.float32)
        # A FIRST timestep's reward (0 in every jaxml env) counts towards the episode as well.
        timestep, total = self._timestep(timestep, zeros)
        return SparseRewardState(env_state=env_state, accumulated=total), timestep

    def step(self, state: SparseRewardState, action: Any) -> tuple[SparseRewardState, TimeStep]:
        env_state, timestep = self._env.step(state.env_state, action)
        timestep, total = self._timestep(timestep, state.accumulated)
        # After the last step the accumulator would carry over into a step taken without a
        # reset; zero it so that such a continuation starts a fresh sum as well.
        total = jnp.where(timestep.last(), jnp.zeros_like(total), total)
        return SparseRewardState(env_state=env_state, accumulated=total), timestep


__all__ = ["SparseReward", "SparseRewardState"]
