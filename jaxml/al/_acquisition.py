"""Acquisition functions for heteroscedastic deep ensembles, in point mode and group mode.

From "Confidence-Aware Active Learning for Heteroscedastic Atmospheric Regression" (Jiang et al.,
arXiv 2602.11825). CAAL's score rewards epistemic uncertainty and gates it by predicted noise:
``a(x) = (ũ_e(x) + 1e-8)^α · (1 − ũ_a(x) + 1e-8)^β`` on uncertainties min–max normalised over the
pool. Baselines: random, total variance, epistemic, aleatoric, BALD for Gaussian ensembles, a
BADGE-style k-means++ on uncertainty-scaled embeddings and core-set k-centre greedy.

In group mode (a PartMC scenario is labelled whole) a point score is averaged over the group's
points and diversity methods work on group-mean embeddings.
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp

STRATEGIES = (
    "caal",
    "random",
    "total_variance",
    "epistemic",
    "aleatoric",
    "confidence",
    "bald",
    "badge",
    "coreset",
)
SCORE_STRATEGIES = ("caal", "total_variance", "epistemic", "aleatoric", "confidence", "bald")
DIVERSITY_STRATEGIES = ("badge", "coreset")
_EPS = 1e-8


def minmax_normalise(u: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """``(u − min) / (max − min)`` with min and max over the rows where ``mask`` holds (the pool).

    A constant ``u`` maps to 0.
    """
    chex.assert_rank(u, 1)
    mask = jnp.ones(u.shape, bool) if mask is None else mask
    low = jnp.min(jnp.where(mask, u, jnp.inf))
    high = jnp.max(jnp.where(mask, u, -jnp.inf))
    span = high - low
    return jnp.where(span > 0, (u - low) / jnp.where(span > 0, span, 1.0), 0.0)


def caal_score(
    epistemic: jax.Array,
    aleatoric: jax.Array,
    mask: jax.Array | None = None,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
) -> jax.Array:
    """CAAL's confidence-aware score ``(ũ_e + 1e-8)^α (1 − ũ_a + 1e-8)^β`` (α = 0: "confidence")."""
    chex.assert_equal_shape([epistemic, aleatoric])
    if beta < 0:
        raise ValueError(f"beta={beta}: must be >= 0")
    ue = minmax_normalise(epistemic, mask)
    ua = minmax_normalise(aleatoric, mask)
    return (ue + _EPS) ** alpha * (1.0 - ua + _EPS) ** beta


def bald_score(means: jax.Array, variances: jax.Array) -> jax.Array:
    """BALD for a Gaussian ensemble: ``H[N(ū, u_e + u_a)] − Mean_m H[N(μ_m, σ²_m)]``.

    The mixture is approximated by its moment-matched Gaussian, as in the paper's code;
    ``means``/``variances`` are ``[M, N]``.
    """
    chex.assert_equal_shape([means, variances])
    chex.assert_rank(means, 2)
    total = means.var(0) + variances.mean(0)
    log_2pie = jnp.log(2.0 * jnp.pi * jnp.e)
    return 0.5 * (log_2pie + jnp.log(total)) - jnp.mean(0.5 * (log_2pie + jnp.log(variances)), 0)


def point_scores(
    strategy: str,
    means: jax.Array,
    variances: jax.Array,
    pool: jax.Array,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
) -> jax.Array:
    """Per-point score ``[N]`` of an uncertainty strategy (larger is acquired first).

    Args:
      strategy: one of :data:`SCORE_STRATEGIES`.
      means, variances: ``[M, N]`` member predictions.
      pool: ``[N]`` bool, the unlabelled rows (min–max normalisation is over these).
    """
    ue, ua = means.var(0), variances.mean(0)
    if strategy == "caal":
        return caal_score(ue, ua, pool, alpha=alpha, beta=beta)
    if strategy == "confidence":
        return caal_score(ue, ua, pool, alpha=0.0, beta=beta)
    if strategy == "total_variance":
        return ue + ua
    if strategy == "epistemic":
        return ue
    if strategy == "aleatoric":
        return ua
    if strategy == "bald":
        return bald_score(means, variances)
    raise ValueError(f"strategy={strategy!r}: must be one of {', '.join(SCORE_STRATEGIES)}")


def group_mean(values: jax.Array, unit: jax.Array, num_units: int) -> jax.Array:
    """Mean of ``values [N, ...]`` over the rows of each unit; ``unit [N]`` ints in [0, num_units).

    Units without rows get 0.
    """
    chex.assert_rank(unit, 1)
    sums = jax.ops.segment_sum(values, unit, num_segments=num_units)
    counts = jax.ops.segment_sum(jnp.ones(unit.shape, values.dtype), unit, num_segments=num_units)
    counts = counts.reshape(counts.shape + (1,) * (values.ndim - 1))
    return sums / jnp.maximum(counts, 1.0)


@functools.partial(jax.jit, static_argnames="k")
def top_k(scores: jax.Array, candidates: jax.Array, k: int) -> jax.Array:
    """Indices ``[k]`` of the ``k`` best-scoring candidates (ties: lower index first)."""
    chex.assert_equal_shape([scores, candidates])
    return jax.lax.top_k(jnp.where(candidates, scores, -jnp.inf), k)[1]


@functools.partial(jax.jit, static_argnames="k")
def random_units(key: jax.Array, candidates: jax.Array, k: int) -> jax.Array:
    """``k`` candidates drawn uniformly without replacement."""
    u = jax.random.uniform(key, candidates.shape)
    return jax.lax.top_k(jnp.where(candidates, u, -jnp.inf), k)[1]


def _sq_dist(vectors: jax.Array, centre: jax.Array) -> jax.Array:
    return jnp.sum((vectors - centre[None, :]) ** 2, axis=-1)


@functools.partial(jax.jit, static_argnames="k")
def kcenter_greedy(
    vectors: jax.Array, labelled: jax.Array, candidates: jax.Array, k: int
) -> jax.Array:
    """Core-set k-centre greedy (Sener & Savarese, arXiv 1708.00489): ``k`` candidate indices.

    Each pick is the candidate farthest from all labelled and already-picked vectors.
    Args: ``vectors [U, D]``, ``labelled [U]`` bool (at least one), ``candidates [U]`` bool.
    """
    chex.assert_rank(vectors, 2)
    d_all = jax.vmap(lambda c: _sq_dist(vectors, c))(vectors)  # [U, U]
    min_d = jnp.min(jnp.where(labelled[None, :], d_all, jnp.inf), axis=1)  # [U]

    def body(i, carry):
        min_d, picked, free = carry
        j = jnp.argmax(jnp.where(free, min_d, -jnp.inf))
        return jnp.minimum(min_d, d_all[j]), picked.at[i].set(j), free.at[j].set(False)

    init = (min_d, jnp.zeros((k,), jnp.int32), candidates)
    return jax.lax.fori_loop(0, k, body, init)[1]


@functools.partial(jax.jit, static_argnames="k")
def kmeans_pp(key: jax.Array, vectors: jax.Array, candidates: jax.Array, k: int) -> jax.Array:
    """k-means++ seeding over candidates, as BADGE (Ash et al., arXiv 1906.03671) uses it.

    The first pick is the largest-norm vector (BADGE's choice); each next is drawn with probability
    proportional to the squared distance to the nearest pick.
    """
    chex.assert_rank(vectors, 2)
    first = jnp.argmax(jnp.where(candidates, jnp.sum(vectors**2, -1), -jnp.inf))
    min_d = _sq_dist(vectors, vectors[first])
    free = candidates.at[first].set(False)
    picked = jnp.zeros((k,), jnp.int32).at[0].set(first)

    def body(i, carry):
        min_d, picked, free, key = carry
        key, sub = jax.random.split(key)
        w = jnp.where(free, min_d, 0.0)
        # All-zero weights (duplicates): fall back to uniform over what is left.
        logits = jnp.where(jnp.sum(w) > 0, jnp.log(w), jnp.where(free, 0.0, -jnp.inf))
        j = jax.random.categorical(sub, logits)
        min_d = jnp.minimum(min_d, _sq_dist(vectors, vectors[j]))
        return min_d, picked.at[i].set(j), free.at[j].set(False), key

    return jax.lax.fori_loop(1, k, body, (min_d, picked, free, key))[1]
