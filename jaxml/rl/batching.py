"""Reshaping rollouts into minibatches: flatten time and batch axes, shuffle, split."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def merge_leading_axes(tree: Any, num_axes: int = 2) -> Any:
    """Merges the first ``num_axes`` axes of every leaf: ``[T, B, ...] -> [T·B, ...]``."""

    def merge(x):
        return jnp.reshape(x, (-1,) + x.shape[num_axes:])

    return jax.tree.map(merge, tree)


def shuffled_minibatches(key: jax.Array, tree: Any, num_minibatches: int) -> Any:
    """One random permutation of the leading axis of ``tree``, split into equal minibatches.

    Args:
      key: PRNG key of the permutation (the same for every leaf, so samples stay aligned).
      tree: leaves ``[N, ...]`` with a common ``N`` divisible by ``num_minibatches``.
      num_minibatches: ``M``.

    Returns:
      ``tree`` with leaves ``[M, N / M, ...]``: scan over the first axis for an epoch.
    """
    sizes = {x.shape[0] for x in jax.tree.leaves(tree)}
    if len(sizes) != 1:
        raise ValueError(f"tree: leaves disagree on the sample axis: sizes {sorted(sizes)}")
    (size,) = sizes
    if size % num_minibatches:
        raise ValueError(f"num_minibatches: {num_minibatches} does not divide {size} samples")
    permutation = jax.random.permutation(key, size)

    def split(x):
        x = jnp.take(x, permutation, axis=0)
        return jnp.reshape(x, (num_minibatches, size // num_minibatches) + x.shape[1:])

    return jax.tree.map(split, tree)


def split_segments(tree: Any, length: int) -> Any:
    """Cuts time-major ``[T, B, ...]`` leaves into ``T / length · B`` segments of ``length`` steps.

    Returns leaves ``[S, length, ...]`` with ``S = T / length · B``, segment-major so that
    ``shuffled_minibatches`` shuffles whole segments (brax's PPO minibatches its unrolls).
    """
    sizes = {x.shape[0] for x in jax.tree.leaves(tree)}
    if len(sizes) != 1:
        raise ValueError(f"tree: leaves disagree on the time axis: sizes {sorted(sizes)}")
    (num_steps,) = sizes
    if length <= 0 or num_steps % length:
        raise ValueError(f"length: expected a positive divisor of T = {num_steps}, got {length}")

    def split(x):
        x = jnp.reshape(x, (num_steps // length, length) + x.shape[1:])  # [T/k, k, B, ...]
        x = jnp.swapaxes(x, 1, 2)  # [T/k, B, k, ...]
        return jnp.reshape(x, (-1, length) + x.shape[3:])

    return jax.tree.map(split, tree)
