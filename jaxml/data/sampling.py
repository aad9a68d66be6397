"""Minibatches from in-memory arrays and token streams, and nested training subsets.

Samplers are pure functions of a key, usable inside ``jit``/``vmap``/``lax.scan``; the number of
rows to draw from may be traced, so one compiled step serves every training-set size of a sweep.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.data.digits import Split


def sample_rows(
    key: jax.Array, arrays: Any, batch_size: int, num_rows: int | jax.Array | None = None
) -> Any:
    """The same ``batch_size`` rows, drawn uniformly with replacement, of every array in ``arrays``.

    Args:
      key: PRNG key.
      arrays: a pytree of arrays with a common leading axis N (e.g. ``(x, y)``).
      batch_size: B.
      num_rows: draw from rows ``0..num_rows-1`` only (may be traced); default N.

    Returns:
      ``arrays`` with every leaf ``[B, ...]``.
    """
    leaves = jax.tree.leaves(arrays)
    sizes = {leaf.shape[0] for leaf in leaves}
    if len(sizes) != 1:
        raise ValueError(f"arrays: expected one leading size for every leaf, got {sizes}")
    high = leaves[0].shape[0] if num_rows is None else num_rows
    idx = jax.random.randint(key, (batch_size,), 0, high)
    return jax.tree.map(lambda a: a[idx], arrays)


def sample_windows(
    key: jax.Array, tokens: jax.Array, batch_size: int, length: int
) -> tuple[jax.Array, jax.Array]:
    """``batch_size`` random windows of a token stream for next-token prediction.

    Args:
      key: PRNG key.
      tokens: [N] int token ids.
      batch_size: B.
      length: the context T.

    Returns:
      inputs [B, T] and targets [B, T], the inputs shifted by one token.
    """
    starts = jax.random.randint(key, (batch_size,), 0, tokens.shape[0] - length - 1)
    chunk = tokens[starts[:, None] + jnp.arange(length + 1)[None]]
    return chunk[:, :-1], chunk[:, 1:]


def spaced_windows(tokens: np.ndarray, count: int, length: int) -> tuple[jax.Array, jax.Array]:
    """``count`` evenly spaced windows covering a token stream: a fixed evaluation set.

    Returns:
      inputs [count, length] and next-token targets [count, length].
    """
    if len(tokens) < length + 1:
        raise ValueError(f"tokens: expected at least length + 1 = {length + 1}, got {len(tokens)}")
    starts = np.linspace(0, len(tokens) - length - 1, count).astype(int)
    chunk = np.stack([tokens[s : s + length + 1] for s in starts])
    return jnp.asarray(chunk[:, :-1]), jnp.asarray(chunk[:, 1:])


def nested_order(split: Split, seed: int) -> Split:
    """``split`` in one fixed random order, so its first S rows for growing S are nested subsets.

    Learning curves over the training-set size S then differ only by the points added.
    """
    order = np.random.default_rng(seed).permutation(len(split.x))
    return Split(split.x[order], split.y[order])


def prefix_mask(num_rows: int, size: int | jax.Array) -> jax.Array:
    """[num_rows] float32: 1 for the first ``size`` rows (``size`` may be traced), else 0."""
    return (jnp.arange(num_rows) < size).astype(jnp.float32)
