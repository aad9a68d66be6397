"""gymnax environments (CartPole-v1, Acrobot-v1, Pendulum-v1, ...) as ``jumanji.Environment``s.

What maps to what:

- ``reset(key)`` splits ``key`` into (reset key, state key) and calls gymnax's
  ``reset_env(reset key, params)``; the timestep is FIRST with reward 0, discount 1.
- ``step(state, action)`` splits ``state.key`` into (step key, next state key) and calls gymnax's
  ``step_env(step key, ...)``. gymnax's public ``step`` derives its step key the same way (the
  first half of a split), so ``step`` here matches ``gymnax_env.step(state.key, ...)`` on every
  transition that does not end the episode and on the final observation of one that does.
  Transitions that never read their key (CartPole, Pendulum; found by tracing ``step_env`` once
  at construction) skip the split and keep ``state.key``: for an env this cheap the split would
  cost more than the physics. The key still seeds ``AutoResetWrapper``'s resets, and every
  reset draws a new state key, so episodes stay distinct.
  gymnax's auto-reset is not used; wrap the adapter in ``jumanji.wrappers.AutoResetWrapper``.
- ``terminated`` is what ``step_env`` returns (a terminal state, discount 0) and ``truncated`` is
  gymnax's ``is_truncated`` (``time >= max_steps_in_episode``, discount 1); both end the episode
  (LAST), termination wins when both hold.
- Shapes are gymnax's: observation ``[*obs_shape]`` (CartPole ``[4]``, Acrobot ``[6]``, Pendulum
  ``[3]``), action ``()`` int32 for ``Discrete`` spaces and ``[*shape]`` float32 for ``Box`` spaces
  (Pendulum ``[1]``), reward and discount ``()`` float32. ``extras`` is empty.
- Specs come from gymnax's spaces: ``Discrete`` -> ``DiscreteArray``, ``Box`` -> ``BoundedArray``.
- gymnax's calls run with rank promotion allowed (as the other adapters' library calls do), so
  that ``jax_numpy_rank_promotion="raise"`` (jaxml's test setting) guards only jaxml's code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import chex
import gymnax
import jax
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import TimeStep

from jaxml.envs.adapters import _common


@chex.dataclass
class GymnaxState:
    env_state: Any  # gymnax EnvState of the wrapped environment.
    key: chex.PRNGKey  # Key for the next transition (and for AutoResetWrapper's resets).


class GymnaxAdapter(_common.Float32RewardSpecs, Environment):
    """A gymnax environment behind jumanji's ``reset``/``step``/spec interface.

    Args:
      env_id: a gymnax environment id, e.g. ``"CartPole-v1"``.
      max_steps_in_episode: time limit (truncation); ``None`` keeps gymnax's default.
      env_params: other fields of the environment's gymnax ``EnvParams`` to override.
    """

    def __init__(
        self,
        env_id: str,
        max_steps_in_episode: int | None = None,
        env_params: Mapping[str, Any] | None = None,
    ):
        _common.check_choice("env_id", env_id, gymnax.registered_envs)
        env, params = gymnax.make(env_id)
        overrides = dict(env_params or {})
        fields = [f.name for f in dataclasses.fields(params)]
        unknown = sorted(set(overrides) - set(fields))
        if unknown:
            raise ValueError(
                f"env_params: unknown fields {unknown} for {env_id}; accepted: {', '.join(fields)}"
            )
        if max_steps_in_episode is not None:
            if "max_steps_in_episode" in overrides:
                raise ValueError(
                    "max_steps_in_episode: given both as an argument and in env_params; give one"
                )
            overrides["max_steps_in_episode"] = max_steps_in_episode
        if "max_steps_in_episode" in overrides:
            _common.check_positive_int("max_steps_in_episode", overrides["max_steps_in_episode"])
        self.env_id = env_id
        self.gymnax_env = env
        self.env_params = params.replace(**overrides)
        self._step_reads_key = self._reads_key()
        super().__init__()

    def _reads_key(self) -> bool:
        """Whether gymnax's ``step_env`` uses its key (e.g. Acrobot's torque noise)."""
        key = jax.random.key(0)
        action = self.action_spec.generate_value()
        with _common.library_rank_promotion():
            _, env_state = jax.eval_shape(self.gymnax_env.reset_env, key, self.env_params)
            closed = jax.make_jaxpr(
                lambda k, s, a: self.gymnax_env.step_env(k, s, a, self.env_params)
            )(key, env_state, action)
        key_var = closed.jaxpr.invars[0]
        return key_var in closed.jaxpr.outvars or any(
            key_var in eqn.invars for eqn in closed.jaxpr.eqns
        )

    def __repr__(self) -> str:
        return f"GymnaxAdapter({self.env_id!r})"

    def reset(self, key: chex.PRNGKey) -> tuple[GymnaxState, TimeStep]:
        reset_key, state_key = jax.random.split(key)
        with _common.library_rank_promotion():
            obs, env_state = self.gymnax_env.reset_env(reset_key, self.env_params)
        env_state = _common.strong_types(env_state)
        return GymnaxState(env_state=env_state, key=state_key), _common.first_timestep(obs, {})

    def step(self, state: GymnaxState, action: chex.Array) -> tuple[GymnaxState, TimeStep]:
        if self._step_reads_key:
            step_key, next_key = jax.random.split(state.key)
        else:
            step_key = next_key = state.key
        with _common.library_rank_promotion():
            obs, env_state, reward, terminated, _ = self.gymnax_env.step_env(
                step_key, state.env_state, action, self.env_params
            )
            truncated = self.gymnax_env.is_truncated(env_state, self.env_params)
        timestep = _common.next_timestep(obs, reward, terminated, truncated, {})
        return GymnaxState(env_state=_common.strong_types(env_state), key=next_key), timestep

    @cached_property
    def observation_spec(self) -> specs.Spec:
        obs = jax.eval_shape(self.reset, jax.random.key(0))[1].observation
        space = self.gymnax_env.observation_space(self.env_params)
        return _common.space_to_spec(space, "observation", obs.shape, obs.dtype)

    @cached_property
    def action_spec(self) -> specs.Spec:
        return _common.space_to_spec(self.gymnax_env.action_space(self.env_params), "action")
