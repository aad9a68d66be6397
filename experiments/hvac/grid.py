"""The pieces of the HVAC study: tasks as data, one trainer over a cities x weights grid, the
fixed set-point controller, and the evaluation of every policy in every city.

"Reinforcement Learning Meets Urban Climate Modeling: RL-based HVAC control" (Yu et al.,
arXiv 2505.07045) trains one city and one reward weight per run. ``HVAC-v0`` keeps the city
(``climate``) and the weight in the env state, so here a *task* is data: ``TaskEnv`` starts every
episode in a given (climate, weight), ``task_trainer`` turns any registered trainer (SAC, PPO,
DQN) into a swept one whose ``init(key, setting)`` takes the task, and ``run_trainer`` vmaps
settings x seeds into one jitted program. After training, ``evaluate_grid`` plays every member's
deterministic policy in every city with ``jaxml.rl.evaluate`` (vmapped over members and target
cities), with the same evaluation keys for every controller (common random numbers: every policy
sees the same weather and start times), and returns per-step means of ``METRICS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, NamedTuple

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jumanji import specs
from jumanji.types import TimeStep
from jumanji.wrappers import Wrapper

from jaxml import rl
from jaxml.envs.hvac import HVAC, KeepTaskAutoReset
from jaxml.utils import checks
from jaxml.utils.trainer import Trainer

# Per-step quantities an evaluation averages (the reward first; W m-2 and C).
METRICS = ("reward", "energy", "comfort", "t_indoor", "t_canyon", "t_air", "waste_heat")
# The fixed set-point controller: the paper's "on" set points (26 C cooling, 15 C heating) at
# 0.5 ACH, which is also discrete action 7 (AC on, heating on, ventilation 0.5).
FIXED_ACTION = (26.0, 15.0, 0.5)
# The learners see observations scaled to O(1) by a fixed affine map (settings to about [-1, 1],
# temperatures as (T - 20 C) / 10 K): SAC and DQN have no running normaliser, and raw set
# points near 30 slow their first updates. The fixed controller ignores its observation.
OBS_CENTER = (30.0, 15.0, 0.4, 20.0, 20.0)
OBS_SCALE = (5.0, 5.0, 0.1, 10.0, 10.0)


def scale_observation(obs: jax.Array) -> jax.Array:
    """``(obs - OBS_CENTER) / OBS_SCALE`` on the first 5 entries (time features pass through)."""
    center = jnp.zeros(obs.shape[-1:], jnp.float32).at[:5].set(jnp.asarray(OBS_CENTER))
    scale = jnp.ones(obs.shape[-1:], jnp.float32).at[:5].set(jnp.asarray(OBS_SCALE))
    return (obs - center) / scale


class TaskEnv(Wrapper):
    """``HVAC`` whose ``reset(key)`` starts the task (``climate`` index, reward ``weight``), with
    observations scaled by ``scale_observation``.

    ``climate`` and ``weight`` may be traced values (a member's setting inside ``jax.vmap``); the
    task lives in the env state from then on, so ``KeepTaskAutoReset`` (which calls
    ``reset_to`` with the state's task) keeps it across episodes.
    """

    def __init__(self, env: HVAC, climate: Any, weight: Any):
        checks.expect(isinstance(env, HVAC), "env", "an unwrapped HVAC environment", env)
        super().__init__(env)
        self.climate = climate
        self.weight = weight

    @staticmethod
    def _scaled(out: tuple[Any, TimeStep]) -> tuple[Any, TimeStep]:
        state, timestep = out
        return state, timestep.replace(observation=scale_observation(timestep.observation))

    def reset_to(self, key: jax.Array, climate: Any, weight: Any) -> tuple[Any, TimeStep]:
        return self._scaled(self._env.reset_to(key, climate, weight))

    def reset(self, key: jax.Array) -> tuple[Any, TimeStep]:
        return self.reset_to(key, self.climate, self.weight)

    def step(self, state: Any, action: jax.Array) -> tuple[Any, TimeStep]:
        return self._scaled(self._env.step(state, action))


class MetricsAsReward(Wrapper):
    """The env with a vector reward ``[len(METRICS)]``: the reward and the extras it averages.

    ``jaxml.rl.evaluate`` sums rewards of any shape over an episode, so one evaluation of this
    env gives the return (component 0) and the episode sums of energy (``p_ac + p_heat``),
    comfort, the indoor, canyon and outdoor air temperatures and the waste heat.
    """

    def _vector(self, timestep: TimeStep) -> jax.Array:
        x = timestep.extras
        parts = (timestep.reward, x["p_ac"] + x["p_heat"], x["comfort"], x["t_indoor"],
                 x["t_canyon"], x["t_air"], x["waste_heat"])  # fmt: skip
        return jnp.stack([jnp.asarray(p, jnp.float32) for p in parts])

    def reset(self, key):
        state, timestep = self._env.reset(key)
        return state, timestep.replace(reward=jnp.zeros((len(METRICS),), jnp.float32))

    def step(self, state, action):
        state, timestep = self._env.step(state, action)
        return state, timestep.replace(reward=self._vector(timestep))

    @cached_property
    def reward_spec(self) -> specs.Array:
        return specs.Array((len(METRICS),), jnp.float32, "reward")


class FixedController(nn.Module):
    """The fixed set-point controller as an ``rl.evaluate`` model: ``obs -> (point mass, 0)``.

    ``action`` is the continuous action (cooling C, heating C, ACH); with ``discrete`` the
    point mass is on the discrete action index ``action`` instead.
    """

    action: tuple[float, ...] = FIXED_ACTION

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[distrax.Distribution, jax.Array]:
        batch = obs.shape[:-1]
        loc = jnp.broadcast_to(jnp.asarray(self.action, jnp.float32), batch + (len(self.action),))
        return distrax.Deterministic(loc), jnp.zeros(batch, jnp.float32)


class TaskState(NamedTuple):
    """A swept member: the inner trainer's state and its task."""

    inner: Any  # The SAC / PPO / DQN state of one member.
    climate: jax.Array  # [] int32: index into the env's climates.
    weight: jax.Array  # [] float32: the reward weight w.


class TaskTrainer(NamedTuple):
    trainer: Trainer  # init(key, setting), step, num_steps (for run_trainer with settings).
    inner: Trainer  # One task's trainer: its model, env, sizes.


def settings(climates: Sequence[int], weights: Sequence[float]) -> dict[str, np.ndarray]:
    """``run_trainer`` settings of the grid climates x weights (climate-major) ``[C * W]``."""
    c, w = np.meshgrid(np.asarray(climates, np.int32), np.asarray(weights, np.float32),
                       indexing="ij")  # fmt: skip
    return {"climate": c.reshape(-1), "weight": w.reshape(-1)}


def task_trainer(algo: str, config: ml_collections.ConfigDict, env: HVAC) -> TaskTrainer:
    """``rl.make_trainer(algo, config, ...)`` made a swept trainer over (climate, weight) tasks.

    ``init(key, {"climate": [] int, "weight": [] float})`` builds the trainer on
    ``KeepTaskAutoReset(TaskEnv(env, climate, weight))`` (so its environments start in the task
    and keep it), ``step`` is the inner trainer's. ``evaluate`` is left out: the study evaluates
    the final states with ``evaluate_grid``.

    Raises:
      ValueError: a bad trainer config field (named by the trainer), or a bad ``algo``.
    """
    checks.choice(algo, "algo", rl.names("all"))

    def build(climate, weight) -> Trainer:
        task_env = KeepTaskAutoReset(TaskEnv(env, climate, weight), next_obs_in_extras=True)
        return rl.make_trainer(algo, config, task_env)

    inner = build(0, env.weight)  # Its step never resets by the task (the state keeps it).

    def init(key: jax.Array, setting: dict[str, jax.Array]) -> TaskState:
        climate = jnp.asarray(setting["climate"], jnp.int32)
        weight = jnp.asarray(setting["weight"], jnp.float32)
        return TaskState(build(climate, weight).init(key), climate, weight)

    def step(state: TaskState) -> tuple[TaskState, dict[str, jax.Array]]:
        inner_state, metrics = inner.step(state.inner)
        return state._replace(inner=inner_state), metrics

    return TaskTrainer(Trainer(init=init, step=step, num_steps=inner.num_steps), inner)


class Policy(NamedTuple):
    """What ``rl.evaluate`` needs of a controller, member-stacked ``[M, ...]`` (or one, ``[]``)."""

    model: Any  # An rl.evaluate model (SAC actor, greedy Q-network, ActorCritic, FixedController).
    params: Any
    normalizer: Any  # The trainer's observation normaliser, or None.


def trained_policy(algo: str, trained: TaskTrainer, state: TaskState) -> Policy:
    """The final policy of a swept run's member-stacked ``state``."""
    inner = state.inner
    model = trained.inner.model
    if algo == "sac":
        return Policy(model, inner.actor_params, None)
    if algo == "dqn":
        return Policy(model, inner.params, None)
    return Policy(model, inner.params, inner.rollout.normalizer)  # On-policy (PPO).


def fixed_policy(num_members: int) -> Policy:
    """The fixed controller as ``num_members`` stacked policies (no parameters)."""
    params = FixedController().init(jax.random.PRNGKey(0), jnp.zeros((1, 5)))
    return Policy(FixedController(), jax.tree.map(lambda x: jnp.stack([x] * num_members), params),
                  None)  # fmt: skip


def evaluate_grid(
    policy: Policy,
    env: HVAC,
    weights: jax.Array,
    targets: Sequence[int],
    key: jax.Array,
    *,
    num_episodes: int,
) -> jax.Array:
    """Per-step means ``[M, len(targets), len(METRICS)]`` of every member in every target city.

    Member ``m`` (``policy`` leaves ``[M, ...]``, its weight ``weights[m]``) plays
    ``num_episodes`` full episodes of ``env`` (its ``episode_steps``) in each target climate
    through ``jaxml.rl.evaluate`` (deterministic actions). The episode keys depend on the target
    only (``fold_in(key, target)``), so every member and every controller sees the same weather
    and start times in a city: differences between controllers are paired.
    """
    weights = jnp.asarray(weights, jnp.float32)
    targets_arr = jnp.asarray(targets, jnp.int32)
    checks.expect(weights.ndim == 1, "weights", "a [M] vector", weights.shape)

    def one(params, normalizer, weight, target):
        task_env = MetricsAsReward(TaskEnv(env, target, weight))
        out = rl.evaluate(
            policy.model, params, jax.random.fold_in(key, target), normalizer,
            env=task_env, num_episodes=num_episodes, max_steps=env.episode_steps,
        )  # fmt: skip
        return jnp.mean(out.returns / out.lengths[:, None].astype(jnp.float32), axis=0)

    over_targets = jax.vmap(one, in_axes=(None, None, None, 0))
    over_members = jax.vmap(over_targets, in_axes=(0, 0 if policy.normalizer is not None else None,
                                                   0, None))  # fmt: skip
    return jax.jit(over_members)(policy.params, policy.normalizer, weights, targets_arr)


def transfer_matrix(grid: np.ndarray, member_climates: np.ndarray, targets: Sequence[int],
                    metric: int = 0) -> np.ndarray:  # fmt: skip
    """``[S, T]`` mean over members trained in source ``s`` of ``grid[:, t, metric]``.

    ``grid`` is ``evaluate_grid``'s ``[M, T, K]``; sources are ``targets`` in order (a member
    whose climate is not among them is left out).
    """
    grid = np.asarray(grid)
    rows = []
    for source in targets:
        members = np.asarray(member_climates) == source
        checks.expect(members.any(), "member_climates", f"a member trained in {source}",
                      member_climates)  # fmt: skip
        rows.append(grid[members, :, metric].mean(axis=0))
    return np.stack(rows)


def transfer_regret(matrix: np.ndarray) -> np.ndarray:
    """``[S]`` mean over targets ``t != s`` of ``matrix[s, t] - matrix[t, t]``: what a city's
    policy loses (negative) or gains against each other city's own policy (higher transfers
    better)."""
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    checks.expect(matrix.shape == (n, n) and n >= 2, "matrix", "square, at least 2 x 2",
                  matrix.shape)  # fmt: skip
    gap = matrix - np.diag(matrix)[None, :]
    return (gap.sum(axis=1) - np.diag(gap)) / (n - 1)
