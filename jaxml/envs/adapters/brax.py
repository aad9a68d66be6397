"""brax environments (e.g. ``inverted_pendulum``) as ``jumanji.Environment``s.

What maps to what:

- The wrapped env is ``brax.envs.create(env_name, episode_length, action_repeat,
  auto_reset=False, backend=backend)``: brax's own ``EpisodeWrapper`` counts steps and marks
  truncation; brax's auto-reset is not used (wrap the adapter in jumanji's ``AutoResetWrapper``).
- ``reset(key)`` splits ``key`` into (reset key, state key) and calls brax's ``reset(reset key)``.
  brax transitions are deterministic, so ``step`` leaves ``state.key`` as it is; it only seeds
  the resets that ``AutoResetWrapper`` draws from it.
- ``terminated`` is brax's ``done`` when ``info["truncation"]`` is 0 (discount 0); ``truncated``
  is ``info["truncation"]`` (the episode reached ``episode_length`` without terminating,
  discount 1).
- Shapes: observation ``[obs_size]`` float32 (inverted_pendulum ``[4]``), action ``[action_size]``
  float32 in ``[-1, 1]`` (inverted_pendulum ``[1]``), reward and discount ``()`` float32.
  ``extras`` holds brax's ``metrics`` dict (empty for inverted_pendulum).
- brax broadcasts arrays of different ranks; its calls run with rank promotion allowed, so that
  ``jax_numpy_rank_promotion="raise"`` (jaxml's test setting) still guards the code around it.
- brax 0.14's fluid model (``swimmer``; any system with viscosity or density) calls
  ``jnp.clip(x, a_min=...)``, a keyword that jax has since removed; ``_patch_brax_fluid`` gives
  ``brax.fluid`` a numpy namespace whose ``clip`` still takes it (only when jax rejects it).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import chex
import jax
import jax.numpy as jnp
from brax import envs as brax_envs
from brax import fluid as brax_fluid
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import TimeStep

from jaxml.envs.adapters import _common

BACKENDS = ("generalized", "positional", "spring", "mjx")


class _ClipKeywordNumpy:
    """``jax.numpy`` whose ``clip`` also takes the removed ``a_min``/``a_max`` keywords."""

    def __getattr__(self, name: str) -> Any:
        return getattr(jnp, name)

    @staticmethod
    def clip(x, min=None, max=None, *, a_min=None, a_max=None):  # noqa: A002 (jnp's names)
        return jnp.clip(x, min=a_min if min is None else min, max=a_max if max is None else max)


def _patch_brax_fluid() -> None:
    """Lets brax's fluid forces run on a jax without ``jnp.clip(a_min=...)`` (swimmer)."""
    try:
        jnp.clip(jnp.zeros(()), a_min=0.0)
    except TypeError:
        brax_fluid.jp = _ClipKeywordNumpy()


_patch_brax_fluid()


@chex.dataclass
class BraxState:
    brax_state: brax_envs.State  # State of the EpisodeWrapper'd brax env (pipeline, obs, info).
    key: chex.PRNGKey  # Seeds AutoResetWrapper's resets; brax steps use no randomness.


class BraxAdapter(_common.Float32RewardSpecs, Environment):
    """A brax environment behind jumanji's ``reset``/``step``/spec interface.

    Args:
      env_name: a brax environment name, e.g. ``"inverted_pendulum"``.
      episode_length: time limit in environment steps (truncation).
      action_repeat: physics steps per environment step (brax's ``action_repeat``).
      backend: brax physics pipeline, one of ``BACKENDS``.
      env_kwargs: other keyword arguments of the brax environment's constructor.
    """

    def __init__(
        self,
        env_name: str,
        episode_length: int = 1000,
        action_repeat: int = 1,
        backend: str = "generalized",
        env_kwargs: Mapping[str, Any] | None = None,
    ):
        registered = sorted(brax_envs._envs)  # brax keeps its registry in this dict.
        _common.check_choice("env_name", env_name, registered)
        _common.check_positive_int("episode_length", episode_length)
        _common.check_positive_int("action_repeat", action_repeat)
        _common.check_choice("backend", backend, BACKENDS)
        env_class = brax_envs._envs[env_name]
        kwargs = _common.check_kwargs(
            "env_kwargs", env_kwargs, env_class, brax_envs.PipelineEnv.__init__
        )
        for taken in ("backend", "sys"):
            if taken in kwargs:
                raise ValueError(f"env_kwargs: {taken!r} is set by the adapter, not env_kwargs")
        self.env_name = env_name
        self.brax_env = brax_envs.create(
            env_name,
            episode_length=episode_length,
            action_repeat=action_repeat,
            auto_reset=False,
            backend=backend,
            **kwargs,
        )
        self.episode_length = episode_length
        super().__init__()

    def __repr__(self) -> str:
        return f"BraxAdapter({self.env_name!r})"

    def reset(self, key: chex.PRNGKey) -> tuple[BraxState, TimeStep]:
        reset_key, state_key = jax.random.split(key)
        with _common.library_rank_promotion():
            brax_state = self.brax_env.reset(reset_key)
        timestep = _common.first_timestep(brax_state.obs, dict(brax_state.metrics))
        return BraxState(brax_state=brax_state, key=state_key), timestep

    def step(self, state: BraxState, action: chex.Array) -> tuple[BraxState, TimeStep]:
        with _common.library_rank_promotion():
            brax_state = self.brax_env.step(state.brax_state, action)
        truncated = brax_state.info["truncation"] > 0
        terminated = (brax_state.done > 0) & ~truncated
        timestep = _common.next_timestep(
            brax_state.obs, brax_state.reward, terminated, truncated, dict(brax_state.metrics)
        )
        return BraxState(brax_state=brax_state, key=state.key), timestep

    @cached_property
    def _reset_shapes(self) -> Any:
        # Shapes from tracing, not brax's observation_size (which runs an eager reset).
        with _common.library_rank_promotion():
            return jax.eval_shape(self.brax_env.reset, jax.random.PRNGKey(0))

    @cached_property
    def observation_spec(self) -> specs.Spec:
        obs = self._reset_shapes.obs
        if not isinstance(obs, jax.ShapeDtypeStruct):
            raise ValueError(
                f"env_name: {self.env_name!r} has dict observations; the adapter takes array ones"
            )
        return specs.Array(obs.shape, obs.dtype, name="observation")

    @cached_property
    def action_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray(
            (self.brax_env.action_size,), jnp.float32, -1.0, 1.0, name="action"
        )
