"""Sample-quality metrics for constrained diffusion: Wasserstein-1, residuals and diversity.

Used to compare denoisers as in "Softly Constrained Denoisers for Diffusion Models" (arXiv
2512.14980): W1 to held-out data, constraint residuals, and how spread out the samples are.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment


def wasserstein_1d(a: jax.Array, b: jax.Array) -> jax.Array:
    """Exact W1 between two equal-size 1-D empirical measures: the mean gap of sorted samples."""
    chex.assert_rank((a, b), 1)
    chex.assert_equal_shape((a, b))
    return jnp.mean(jnp.abs(jnp.sort(a) - jnp.sort(b)))


def sliced_wasserstein_1(
    key: jax.Array, x: jax.Array, y: jax.Array, num_projections: int = 128
) -> jax.Array:
    """Sliced W1: the mean over random unit directions of the exact 1-D W1 of the projections.

    Args:
      key: PRNG key for the directions.
      x, y: ``[N, ...]`` equal-size samples (flattened per sample).
    """
    chex.assert_equal_shape((x, y))
    x = x.reshape(x.shape[0], -1)
    y = y.reshape(y.shape[0], -1)
    dirs = jax.random.normal(key, (num_projections, x.shape[1]))
    dirs = dirs / jnp.linalg.norm(dirs, axis=1, keepdims=True)
    return jnp.mean(jax.vmap(lambda d: wasserstein_1d(x @ d, y @ d))(dirs))


def wasserstein_1_exact(x: np.ndarray, y: np.ndarray) -> float:
    """Exact W1 between two equal-size empirical measures (Euclidean cost), by optimal assignment.

    For uniform weights on equal-size samples an optimal transport plan is a permutation
    (Birkhoff), so ``scipy.optimize.linear_sum_assignment`` solves it exactly; O(N^3), meant for
    N up to a few thousand. Runs on the host.
    """
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    y = np.asarray(y, np.float64).reshape(len(y), -1)
    if x.shape != y.shape:
        raise ValueError(f"x {x.shape} and y {y.shape}: need equal sample counts and dimensions")
    cost = np.sqrt(np.maximum(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1), 0.0))
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def mean_pairwise_distance(x: jax.Array) -> jax.Array:
    """Diversity: mean Euclidean distance between distinct samples of ``x [N, ...]``."""
    x = x.reshape(x.shape[0], -1)
    n = x.shape[0]
    sq = jnp.sum(jnp.square(x[:, None, :] - x[None, :, :]), axis=-1)
    dist = jnp.sqrt(jnp.where(jnp.eye(n, dtype=bool), 1.0, sq)) * (1.0 - jnp.eye(n))
    return jnp.sum(dist) / (n * (n - 1))
