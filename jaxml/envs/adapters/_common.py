"""Pieces every adapter shares: timestep construction, space-to-spec conversion, config checks.

A wrapped library reports two booleans after a transition, ``terminated`` (the MDP reached a
terminal state) and ``truncated`` (a time limit cut the episode). They map to jumanji's
``TimeStep`` as follows:

| terminated | truncated | step_type | discount |
| ---------- | --------- | --------- | -------- |
| False      | False     | MID       | 1        |
| True       | any       | LAST      | 0        |
| False      | True      | LAST      | 1        |

A transition that is both terminal and at the time limit is a termination (as in jumanji's
LevelBasedForaging). Rewards and discounts are float32.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jumanji import specs
from jumanji.types import StepType, TimeStep


def first_timestep(observation: Any, extras: dict, shape: tuple[int, ...] = ()) -> TimeStep:
    """The FIRST timestep of an episode: reward 0 and discount 1, both of ``shape``."""
    return TimeStep(
        step_type=StepType.FIRST,
        reward=jnp.zeros(shape, jnp.float32),
        discount=jnp.ones(shape, jnp.float32),
        observation=observation,
        extras=extras,
    )


def next_timestep(
    observation: Any,
    reward: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    extras: dict,
    shape: tuple[int, ...] = (),
) -> TimeStep:
    """The timestep after a transition, following the table in this module's docstring.

    Args:
      observation: the observation after the transition.
      reward: float array of ``shape`` (``()`` single-agent, ``(A,)`` multi-agent).
      terminated: bool scalar, the episode reached a terminal state.
      truncated: bool scalar, the episode hit its time limit.
      extras: information not observed by the agents.
      shape: shape of the reward and discount.
    """
    terminated = jnp.asarray(terminated, bool)
    last = terminated | jnp.asarray(truncated, bool)
    discount = jnp.where(terminated, jnp.float32(0.0), jnp.float32(1.0))
    return TimeStep(
        step_type=jnp.where(last, StepType.LAST, StepType.MID),
        reward=jnp.asarray(reward, jnp.float32),
        discount=jnp.broadcast_to(discount, shape),
        observation=observation,
        extras=extras,
    )


def reward_spec(shape: tuple[int, ...] = ()) -> specs.Array:
    return specs.Array(shape, jnp.float32, name="reward")


def discount_spec(shape: tuple[int, ...] = ()) -> specs.BoundedArray:
    return specs.BoundedArray(shape, jnp.float32, 0.0, 1.0, name="discount")


class Float32RewardSpecs:
    """Mixin (before ``Environment`` in the bases): float32 reward and discount specs, shaped
    ``[A]`` when the adapter has ``num_agents`` and ``()`` otherwise."""

    @cached_property
    def reward_spec(self) -> specs.Array:
        return reward_spec(self._reward_shape())

    @cached_property
    def discount_spec(self) -> specs.BoundedArray:
        return discount_spec(self._reward_shape())

    def _reward_shape(self) -> tuple[int, ...]:
        num_agents = getattr(self, "num_agents", None)
        return () if num_agents is None else (num_agents,)


def space_to_spec(space: Any, name: str, shape: tuple[int, ...] | None = None, dtype=None):
    """The jumanji spec of a gymnax or jaxmarl space (both libraries share these fields).

    ``Discrete(n)`` becomes ``DiscreteArray(n)``, ``MultiDiscrete`` becomes
    ``MultiDiscreteArray`` and ``Box(low, high)`` becomes ``BoundedArray(low, high)``, or an
    unbounded ``Array`` when both bounds are infinite. ``shape`` and ``dtype`` override the
    space's (use the values the environment actually emits).
    """
    if hasattr(space, "n"):  # Discrete
        return specs.DiscreteArray(int(space.n), dtype=dtype or jnp.int32, name=name)
    if hasattr(space, "num_categories"):  # jaxmarl MultiDiscrete
        num_values = np.asarray(space.num_categories, np.int32)
        return specs.MultiDiscreteArray(jnp.asarray(num_values), dtype or jnp.int32, name=name)
    if hasattr(space, "low") and hasattr(space, "high"):  # Box
        shape = tuple(space.shape if shape is None else shape)
        dtype = jnp.dtype(space.dtype if dtype is None else dtype)
        low = np.asarray(space.low, np.float64)
        high = np.asarray(space.high, np.float64)
        if np.all(np.isneginf(low)) and np.all(np.isposinf(high)):
            return specs.Array(shape, dtype, name=name)
        if jnp.issubdtype(dtype, jnp.floating):
            # Bounds like float32.max survive the cast; keep them finite in dtype.
            info = jnp.finfo(dtype)
            low = np.clip(low, float(info.min), float(info.max))
            high = np.clip(high, float(info.min), float(info.max))
        return specs.BoundedArray(shape, dtype, low.astype(dtype), high.astype(dtype), name=name)
    raise ValueError(
        f"{name}: unsupported space {type(space).__name__}; accepted: Discrete, MultiDiscrete, Box"
    )


def strong_types(tree: Any) -> Any:
    """``tree`` with every weakly typed leaf made strong (same dtype).

    Libraries build some state fields from Python scalars (gymnax Pendulum's ``last_u``, SMAX's
    heuristic-enemy state); those are weakly typed after ``reset`` but strong after ``step``, and
    the mismatch makes a jitted ``step`` trace twice.
    """
    return jax.tree.map(lambda x: jax.lax.convert_element_type(x, jnp.result_type(x)), tree)


def library_rank_promotion():
    """Context in which a wrapped library may broadcast ranks implicitly (brax and jaxmarl do).

    jaxml's tests set ``jax_numpy_rank_promotion="raise"`` to catch silent broadcasting in
    jaxml's own code; the adapters scope the library calls they make with this.
    """
    return jax.numpy_rank_promotion("allow")


def check_choice(argument: str, value: Any, accepted: Iterable[Any]) -> None:
    """Raises ``ValueError`` naming ``argument`` unless ``value`` is one of ``accepted``."""
    accepted = list(accepted)
    if value not in accepted:
        listed = ", ".join(repr(a) for a in accepted)
        raise ValueError(f"{argument}: got {value!r}; accepted: {listed}")


def check_positive_int(argument: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{argument}: expected a positive int, got {value!r}")


def check_kwargs(argument: str, kwargs: Mapping[str, Any] | None, *targets: Callable) -> dict:
    """``kwargs`` as a dict, after checking its keys against the targets' keyword parameters."""
    kwargs = dict(kwargs or {})
    accepted: list[str] = []
    for target in targets:
        for param in inspect.signature(target).parameters.values():
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                if param.name != "self" and param.name not in accepted:
                    accepted.append(param.name)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"{argument}: unknown keys {unknown}; accepted: {', '.join(accepted)}")
    return kwargs


def stack_agents(tree: Mapping[str, Any], agents: Iterable[str]) -> jax.Array:
    """Stacks a dict keyed by agent name into one array with the agent axis first."""
    return jnp.stack([tree[agent] for agent in agents])
