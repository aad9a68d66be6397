"""Level-Based Foraging as a cooperative team task for TAR²'s second benchmark.

TAR² ("Redistributing Rewards Across Time and Agents for Multi-Agent Reinforcement Learning",
Kapoor et al., arXiv 2502.04864) evaluates on SMACLite and Google Research Football, which have
no JAX port. Besides sparse SMAX, this experiment uses jumanji's LevelBasedForaging (Papoudakis
et al., "Benchmarking Multi-Agent Deep Reinforcement Learning Algorithms in Cooperative Tasks",
arXiv 2006.07869) through jaxml's jumanji adapter, made into the paper's setting:

- **Team reward.** LBF pays each agent its share of a food item's value (split by level). The
  paper's tasks are team tasks, so ``LBFTeamTask`` gives every agent the team's reward
  ``Σ_i r_{i,t}``; with jumanji's normalised rewards an episode that collects all the food
  returns 1. ``SparseReward`` (outside this wrapper) then withholds it until the episode ends.
- **Outcome.** ``extras["success"]``: every food item has been collected (LBF's termination);
  the trainer's ``win_rate`` and the evaluator's ``eval_success`` read it.
- **Observation.** jumanji's ``step_count`` is a scalar without the agent axis that jaxml's
  multi-agent trainers require; it is dropped (``tar2_train.ElapsedTime`` adds the elapsed
  time per agent, for every method alike). ``agents_view [A, 3 (A + F)]`` and
  ``action_mask [A, 6]`` pass through.

With ``force_coop`` every food item's level needs both agents' levels, so the agents must meet
at an item and load it on the same step: the credit-assignment problem the paper targets.
An episode has at most ``time_limit`` transitions (the time limit is a truncation).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import chex
import jax.numpy as jnp
from jumanji import specs
from jumanji.env import Environment
from jumanji.environments.routing.lbf.generator import RandomGenerator
from jumanji.types import TimeStep
from jumanji.wrappers import Wrapper

from jaxml import envs
from jaxml.utils import checks


class LBFObservation(NamedTuple):
    agents_view: chex.Array  # [A, 3 * (A + F)] int32: every agent's and food item's (y, x, level).
    action_mask: chex.Array  # [A, 6] bool: noop, up, right, down, left, load.


class LBFTeamTask(Wrapper):
    """LBF with the team reward for every agent, a ``success`` extra and per-agent fields only.

    Args:
      env: a jumanji ``LevelBasedForaging`` (e.g. ``jaxml.envs.make("jumanji/...")``).
    """

    def __init__(self, env: Environment):
        super().__init__(env)
        self.num_agents = checks.positive_int(env.num_agents, "env.num_agents")

    def __repr__(self) -> str:
        return f"LBFTeamTask({self._env!r})"

    def _timestep(self, timestep: TimeStep) -> TimeStep:
        obs = timestep.observation
        team = jnp.sum(jnp.asarray(timestep.reward, jnp.float32))
        reward = jnp.full((self.num_agents,), team, jnp.float32)
        # percent_eaten counts the items collected so far, this step's included.
        success = jnp.asarray(timestep.extras["percent_eaten"] >= 100.0, bool)
        return timestep.replace(
            observation=LBFObservation(obs.agents_view, obs.action_mask),
            reward=reward,
            extras={**timestep.extras, "success": success},
        )

    def reset(self, key: chex.PRNGKey) -> tuple[Any, TimeStep]:
        state, timestep = self._env.reset(key)
        return state, self._timestep(timestep)

    def step(self, state: Any, action: chex.Array) -> tuple[Any, TimeStep]:
        state, timestep = self._env.step(state, action)
        return state, self._timestep(timestep)

    @property
    def observation_spec(self) -> specs.Spec:
        inner = self._env.observation_spec
        return specs.Spec(
            LBFObservation,
            "ObservationSpec",
            agents_view=inner.agents_view,
            action_mask=inner.action_mask,
        )

    @property
    def reward_spec(self) -> specs.Array:
        return specs.Array((self.num_agents,), jnp.float32, "reward")


def make_lbf(
    grid_size: int = 6, num_agents: int = 2, num_food: int = 2, time_limit: int = 20
) -> LBFTeamTask:
    """Cooperative LBF (``force_coop``, full view) as a team task; see the module docstring."""
    generator = RandomGenerator(
        grid_size=grid_size,
        fov=grid_size,
        num_agents=num_agents,
        num_food=num_food,
        force_coop=True,
    )
    env = envs.make(
        "jumanji/LevelBasedForaging-v0",
        env_kwargs={"generator": generator, "time_limit": time_limit},
    )
    return LBFTeamTask(env)


__all__ = ["LBFObservation", "LBFTeamTask", "make_lbf"]
