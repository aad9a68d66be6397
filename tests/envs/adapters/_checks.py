"""Shared checks for the adapter tests: a wrapped rollout, random actions, spec validation.

Every adapter test runs its env through jumanji's own ``VmapWrapper(AutoResetWrapper(env))``
under ``jit`` (so the wrappers are exercised unchanged), then compares the rollout with the raw
library driven by the same keys and actions, up to the end of each env's first episode.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jumanji import specs
from jumanji.types import StepType
from jumanji.wrappers import AutoResetWrapper, VmapWrapper

from tests.helpers import fast_jit


def random_actions(spec: specs.Array, key: jax.Array, prefix: tuple[int, ...]) -> jax.Array:
    """Uniform random actions of ``spec`` with leading axes ``prefix`` (e.g. ``(T, B)``)."""
    shape = (*prefix, *spec.shape)
    if isinstance(spec, specs.MultiDiscreteArray | specs.DiscreteArray):
        num_values = jnp.broadcast_to(spec.num_values, shape)
        return jax.random.randint(key, shape, 0, num_values, dtype=spec.dtype)
    low = jnp.broadcast_to(spec.minimum, shape)
    high = jnp.broadcast_to(spec.maximum, shape)
    return jax.random.uniform(key, shape, spec.dtype, low, high)


class Rollout(NamedTuple):
    first: Any  # TimeStep [B] from reset.
    key_before: jax.Array  # [T, B] state.key before each step.
    timestep: Any  # TimeStep [T, B]; extras["next_obs"] is the pre-reset observation.
    state_after: Any  # State [T, B] after each step (after auto-reset where one happened).


def make_rollout(env, *, trace_once: bool = True):
    """A jitted ``rollout(keys [B], actions [T, B, ...]) -> Rollout`` over the wrapped env.

    With ``trace_once`` the env's ``step`` is wrapped in ``chex.assert_max_traces(n=1)``: calling
    the rollout again with new keys and actions must not trace ``step`` again.
    """
    if trace_once:
        chex.clear_trace_counter()
        env.step = chex.assert_max_traces(env.step, n=1)
    wrapped = VmapWrapper(AutoResetWrapper(env, next_obs_in_extras=True))

    def body(state, action):
        key_before = state.key
        state, timestep = wrapped.step(state, action)
        return state, (key_before, timestep, state)

    @fast_jit
    def rollout(keys, actions):
        state, first = wrapped.reset(keys)
        _, (key_before, timestep, state_after) = jax.lax.scan(body, state, actions)
        return Rollout(first, key_before, timestep, state_after)

    return rollout


def reset_keys(keys: jax.Array) -> jax.Array:
    """The key each adapter hands to the raw library's reset: the first half of ``split(key)``."""
    return jax.vmap(lambda k: jax.random.split(k)[0])(keys)


def first_episode(step_type: jax.Array) -> np.ndarray:
    """[T, B] bool: the step belongs to each env's first episode (up to its first LAST)."""
    last = np.asarray(step_type) == int(StepType.LAST)
    return np.cumsum(last, axis=0) - last == 0


def terminated(timestep) -> np.ndarray:
    """[T, B] bool from the jumanji timestep: LAST with discount 0 (any agent)."""
    last = np.asarray(timestep.step_type) == int(StepType.LAST)
    discount = np.asarray(timestep.discount).reshape(last.shape + (-1,))
    return last & (discount == 0).all(-1)


def truncated(timestep) -> np.ndarray:
    """[T, B] bool from the jumanji timestep: LAST with discount 1 (every agent)."""
    last = np.asarray(timestep.step_type) == int(StepType.LAST)
    discount = np.asarray(timestep.discount).reshape(last.shape + (-1,))
    return last & (discount == 1).all(-1)


def assert_close_where(mask: np.ndarray, ours, raw, rtol: float = 1e-5, atol: float = 1e-5):
    """``ours`` equals ``raw`` on the leading ``[T, B]`` entries where ``mask`` holds."""
    ours, raw = np.asarray(ours), np.asarray(raw)
    assert ours.shape == raw.shape, (ours.shape, raw.shape)
    np.testing.assert_allclose(ours[mask], raw[mask], rtol=rtol, atol=atol)


def host(tree):
    """``tree`` as numpy arrays, with typed PRNG keys as their raw key data."""

    def to_numpy(x):
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        return np.asarray(x)

    return jax.tree.map(to_numpy, tree)


def validate_specs(env, rollout: Rollout, action: jax.Array, samples: int = 6) -> None:
    """The env's specs accept its observations, rewards, discounts and the given actions."""
    rollout, action = host((rollout, action))  # Slice on the host, not op by op.
    steps, batch = rollout.timestep.step_type.shape
    picks = [(0, 0), (steps - 1, batch - 1)] + [
        (t, t % batch) for t in range(0, steps, max(1, steps // samples))
    ]
    for t, b in picks:
        timestep = jax.tree.map(lambda x: x[t, b], rollout.timestep)  # noqa: B023
        env.observation_spec.validate(timestep.observation)
        env.reward_spec.validate(timestep.reward)
        env.discount_spec.validate(timestep.discount)
        env.action_spec.validate(action[t, b])
    first = jax.tree.map(lambda x: x[0], rollout.first)
    env.observation_spec.validate(first.observation)
    env.reward_spec.validate(first.reward)
    env.discount_spec.validate(first.discount)
