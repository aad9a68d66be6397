"""Topographic similarity: do similar meanings get similar messages?

Brighton & Kirby 2006, "Understanding Linguistic Evolution by Visualizing the Emergence of
Topographic Mappings" (Artificial Life 12(2)); used for emergent languages by Lazaridou et al. 2018
(arXiv 1804.03984) and Chaabouni et al. 2020, "Compositionality and Generalization in Emergent
Languages" (arXiv 2004.09124). With ``d_M`` the Hamming distance of two meanings and ``d_S`` the
edit (Levenshtein) distance of their messages divided by the message length ``L``,

    TopSim = Spearman ρ( {d_M(m_i, m_j)}_{i<j}, {d_S(s_i, s_j)}_{i<j} ).

Every distance is an integer (``d_M`` in ``0..M``, ``L·d_S`` in ``0..L``), so the ranks with
averaged ties and the correlation are read off the ``(M + 1) × (L + 1)`` table of pair counts:
exact in float32 however many pairs there are, and no sort. Dividing by ``L`` does not change
Spearman's ρ (a constant factor), so it never enters the computation.
"""

from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp

from jaxml.language import _validate


def edit_distance(a: jax.Array, b: jax.Array) -> jax.Array:
    """Levenshtein distance between two token sequences (unit insert, delete and substitute).

    The dynamic programme runs over ``a`` with ``lax.scan``, one row of the DP table per step. The
    row's left-to-right dependency ``d[i, j] = min(c[j], d[i, j-1] + 1)`` is solved in one
    vectorised step: ``d[i, j] = min_{k<=j} (c[k] + j - k) = j + cummin(c - k)``.

    Args:
      a: ``[La]`` integer tokens.
      b: ``[Lb]`` integer tokens.

    Returns:
      int32 scalar, the number of edits that turn ``a`` into ``b``.
    """
    chex.assert_rank([a, b], 1)
    columns = jnp.arange(b.shape[0] + 1, dtype=jnp.int32)

    def row(previous: jax.Array, inputs: tuple[jax.Array, jax.Array]):
        token, i = inputs
        substitute = previous[:-1] + (b != token).astype(jnp.int32)
        # c[j]: best of deleting a[i-1] (from above) or (mis)matching it with b[j-1] (diagonal).
        c = jnp.concatenate([i[None], jnp.minimum(previous[1:] + 1, substitute)])
        return columns + jax.lax.cummin(c - columns), None

    rows = jnp.arange(1, a.shape[0] + 1, dtype=jnp.int32)
    last, _ = jax.lax.scan(row, columns, (a.astype(jnp.int32), rows))
    return last[-1]


def _pair_distances(
    meanings: jax.Array, messages: jax.Array, batch_size: int | None
) -> tuple[jax.Array, jax.Array]:
    """Hamming distances of meanings and edit distances of messages over all pairs ``i < j``."""
    i, j = jnp.triu_indices(messages.shape[0], k=1)

    def one(pair: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        p, q = pair
        hamming = jnp.sum(meanings[p] != meanings[q]).astype(jnp.int32)
        return hamming, edit_distance(messages[p], messages[q])

    return jax.lax.map(one, (i, j), batch_size=batch_size)


def _average_ranks(counts: jax.Array) -> jax.Array:
    """1-based rank of each level, ties averaged, from ``[K]`` counts of the sorted levels."""
    below = jnp.cumsum(counts) - counts
    return below + (counts + 1.0) / 2.0


def spearman_from_table(table: jax.Array) -> jax.Array:
    """Spearman's ρ (average ranks for ties) of two integer variables from their count table.

    Args:
      table: ``[A, B]`` number of pairs with ``x = a`` and ``y = b``.

    Returns:
      float32 scalar ρ; 0 when either variable is constant (ρ undefined: no monotone relation).
    """
    chex.assert_rank(table, 2)
    table = table.astype(jnp.float32)
    n = jnp.sum(table)
    count_x, count_y = jnp.sum(table, axis=1), jnp.sum(table, axis=0)
    mean_rank = (n + 1.0) / 2.0
    # Centred ranks keep the products small; every sum below has at most A·B terms.
    rank_x = _average_ranks(count_x) - mean_rank
    rank_y = _average_ranks(count_y) - mean_rank
    covariance = jnp.sum(table * rank_x[:, None] * rank_y[None, :])
    var_x = jnp.sum(count_x * rank_x**2)
    var_y = jnp.sum(count_y * rank_y**2)
    denominator = jnp.sqrt(var_x * var_y)
    constant = denominator <= 0.0
    return jnp.where(constant, 0.0, covariance / jnp.where(constant, 1.0, denominator))


def _topographic_similarity(
    meanings: jax.Array, messages: jax.Array, batch_size: int | None
) -> jax.Array:
    hamming, edits = _pair_distances(meanings, messages, batch_size)
    num_edits = messages.shape[1] + 1
    shape = (meanings.shape[1] + 1, num_edits)
    table = jnp.zeros(shape[0] * shape[1], jnp.int32).at[hamming * num_edits + edits].add(1)
    return spearman_from_table(table.reshape(shape))


def topographic_similarity(
    meanings: Any, messages: Any, *, batch_size: int | None = 65536
) -> jax.Array:
    """Topographic similarity (module docstring): Spearman ρ of meaning and message distances.

    Jittable (wrap it in ``jax.jit``; ``batch_size`` is then static). Messages of different
    lengths are compared as padded to ``L`` (the pad token counts as a symbol, as in the foraging
    paper's protocol, see ``pad_messages``).

    Args:
      meanings: ``[N, M]`` integer attribute values of each meaning, ``N >= 2``.
      messages: ``[N, L]`` integer tokens of the message sent for each meaning.
      batch_size: pairs computed at once (``lax.map`` chunks; bounds memory at ``O(batch · L)``);
        ``None`` vectorises all ``N(N-1)/2`` pairs at once.

    Returns:
      float32 scalar in [-1, 1]; 0 by convention when all meaning distances or all message
      distances are equal (ρ undefined).
    """
    meanings = _validate.int_array(meanings, "meanings", "N, M", min_size=(2, 1))
    messages = _validate.int_array(messages, "messages", "N, L", min_size=(2, 1))
    _validate.same_leading(meanings, messages, "messages", "meanings")
    if batch_size is not None:
        batch_size = min(
            _validate.checks.positive_int(batch_size, "batch_size"),
            messages.shape[0] * (messages.shape[0] - 1) // 2,
        )
    return _topographic_similarity(meanings, messages, batch_size)
