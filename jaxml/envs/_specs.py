"""Random values of jumanji specs, for random policies and tests."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from jumanji import specs


def _leaves(spec: specs.Spec) -> list[specs.Array]:
    if isinstance(spec, specs.Array):
        return [spec]
    # A nested spec keeps its children in ``_specs`` (jumanji's own converters read vars()).
    return [leaf for child in spec._specs.values() for leaf in _leaves(child)]


def _rebuild(spec: specs.Spec, values: list[Any]) -> Any:
    if isinstance(spec, specs.Array):
        return values.pop(0)
    fields = {name: _rebuild(child, values) for name, child in spec._specs.items()}
    return spec._constructor(**fields)


def _is_int(leaf: specs.Array) -> bool:
    return isinstance(leaf, specs.BoundedArray) and jnp.issubdtype(leaf.dtype, jnp.integer)


def sample_action(spec: specs.Spec, key: jax.Array) -> Any:
    """A uniformly random value of ``spec`` (e.g. an ``action_spec``), jit- and vmap-friendly.

    Integer bounded specs (``DiscreteArray``, ``MultiDiscreteArray``, integer ``BoundedArray``)
    draw every entry uniformly from ``[minimum, maximum]``: all of them together from one
    ``jax.random.bits`` call (a modulo of 32 random bits, whose bias is below range / 2**32),
    because a random policy's sampler sits inside every rollout step. Float bounded specs draw
    uniformly in ``[minimum, maximum)`` (a standard normal where a bound is infinite), unbounded
    float specs a standard normal, bool specs fair coins. Nested specs (over a NamedTuple or a
    dataclass) return that structure.

    Args:
      spec: a jumanji spec, possibly nested.
      key: PRNG key.

    Returns:
      A value of the spec's structure, shapes and dtypes (``spec.validate`` accepts it).
    """
    leaves = _leaves(spec)
    others = [leaf for leaf in leaves if not _is_int(leaf)]
    keys = jax.random.split(key, len(others) + 1) if others else [key]
    total = sum(math.prod(leaf.shape) for leaf in leaves if _is_int(leaf))
    bits = jax.random.bits(keys[0], (total,), jnp.uint32)
    values, offset, other_keys = [], 0, iter(keys[1:])
    for leaf in leaves:
        if _is_int(leaf):
            size = math.prod(leaf.shape)
            low = jnp.broadcast_to(jnp.asarray(leaf.minimum, jnp.int32), leaf.shape)
            span = jnp.broadcast_to(jnp.asarray(leaf.maximum, jnp.int32), leaf.shape) - low + 1
            draw = bits[offset : offset + size].reshape(leaf.shape) % span.astype(jnp.uint32)
            values.append((low + draw.astype(jnp.int32)).astype(leaf.dtype))
            offset += size
            continue
        k = next(other_keys)
        if jnp.issubdtype(leaf.dtype, jnp.bool_):
            values.append(jax.random.bernoulli(k, 0.5, leaf.shape))
        elif not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise ValueError(f"spec: cannot sample an unbounded {leaf.dtype} array ({leaf!r})")
        elif isinstance(leaf, specs.BoundedArray):
            low = jnp.broadcast_to(leaf.minimum, leaf.shape)
            high = jnp.broadcast_to(leaf.maximum, leaf.shape)
            finite = jnp.isfinite(low) & jnp.isfinite(high)
            k_uniform, k_normal = jax.random.split(k)
            uniform = jax.random.uniform(
                k_uniform,
                leaf.shape,
                leaf.dtype,
                jnp.where(finite, low, 0),
                jnp.where(finite, high, 1),
            )
            normal = jax.random.normal(k_normal, leaf.shape, leaf.dtype)
            values.append(jnp.where(finite, uniform, normal).astype(leaf.dtype))
        else:
            values.append(jax.random.normal(k, leaf.shape, leaf.dtype))
    return _rebuild(spec, values)
