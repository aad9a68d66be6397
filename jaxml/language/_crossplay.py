"""Cross-play: how well members of a population play with partners other than their own.

"From Grunts to Lexicons" (Piriyajitakonkij et al. 2025, arXiv 2505.12872) calls a language
*interchangeable* when any two members of a population can be paired and still succeed. With
``outcome[i, j, e]`` the return (or success) of episode ``e`` played by member ``i`` in agent slot
0 and member ``j`` in slot 1, the cross-play matrix is ``C[i, j] = mean_e outcome[i, j, e]``; its
diagonal is self-play (when it was played) and its off-diagonal mean the cross-play score.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxml.language import _validate
from jaxml.utils import checks


class CrossPlaySummary(NamedTuple):
    """Means of a square pairing matrix."""

    self_play: jax.Array  # [] mean of the diagonal (each member with itself)
    cross_play: jax.Array  # [] mean of the off-diagonal entries (distinct members)


def cross_play_matrix(outcomes: Any, *, success_threshold: float | None = None) -> jax.Array:
    """Mean outcome of every (slot-0 member, slot-1 member) pairing; jittable.

    Args:
      outcomes: ``[N, N, E]`` returns (or 0/1 successes) of ``E`` episodes per pairing.
      success_threshold: when given, an episode counts as a success (1) if its outcome is
        ``> success_threshold`` and 0 otherwise, so the matrix holds success rates. In the
        foraging games a return > 0 means the right item was collected (wrong item or timeout:
        −1), so ``success_threshold=0.0`` turns returns into success.

    Returns:
      ``[N, N]`` float32.
    """
    outcomes = _validate.float_array(outcomes, "outcomes", "N, N, E")
    checks.expect(
        outcomes.shape[0] == outcomes.shape[1] and outcomes.shape[2] >= 1,
        "outcomes",
        "shape [N, N, E] with E >= 1",
        f"shape {tuple(outcomes.shape)}",
    )
    if success_threshold is not None:
        outcomes = (outcomes > success_threshold).astype(jnp.float32)
    return jnp.mean(outcomes, axis=2)


def cross_play_summary(matrix: Any) -> CrossPlaySummary:
    """Self-play (diagonal) and cross-play (off-diagonal) means of a square matrix; jittable.

    Works for a ``cross_play_matrix`` and for a within-population ``language_similarity_matrix``
    (whose ``cross_play`` is the mean LS between distinct members).

    Args:
      matrix: ``[N, N]`` with ``N >= 2``.
    """
    matrix = _validate.float_array(matrix, "matrix", "N, N")
    checks.expect(
        matrix.shape[0] == matrix.shape[1] and matrix.shape[0] >= 2,
        "matrix",
        "a square [N, N] matrix with N >= 2",
        f"shape {tuple(matrix.shape)}",
    )
    n = matrix.shape[0]
    diagonal = jnp.trace(matrix)
    return CrossPlaySummary(
        self_play=diagonal / n, cross_play=(jnp.sum(matrix) - diagonal) / (n * (n - 1))
    )
