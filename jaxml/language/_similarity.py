"""Language similarity (LS) between speakers replaying the same episodes.

"From Grunts to Lexicons: Emergent Language from Cooperative Foraging" (Piriyajitakonkij et al.
2025, arXiv 2505.12872): replay the same ``E`` test episodes with two speakers ``a`` and ``b`` and
compare the token sequences they emit, position by position,

    LS(a, b) = (1/E) Σ_e ( 1 − Hamming(s^a_e, s^b_e) / L ).

It is the tool of two of the paper's properties: *interchangeability* (high LS between members
of one population, whose cross-play also succeeds) and *arbitrariness* (LS near chance between
independently trained populations that each succeed). Chance is the LS of two speakers that keep
their per-position token frequencies but ignore the episode: with ``p^a_l(v)`` the frequency of
token ``v`` at position ``l`` in ``a``'s messages,

    LS_chance = (1/L) Σ_l Σ_v p^a_l(v) p^b_l(v),

which is exactly the mean of ``1 − Hamming/L`` over all ``E²`` (episode of a, episode of b)
pairings. Every position counts, pad tokens included (pad both sides the same way, or compare
fixed-length sequences).
"""

from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp

from jaxml.language import _validate
from jaxml.utils import checks


def _same_shape(a: jax.Array, b: jax.Array, argument: str, other: str, start: int = 0) -> None:
    """Raises unless ``a`` and ``b`` agree on every axis from ``start`` on."""
    checks.expect(
        a.shape[start:] == b.shape[start:],
        argument,
        f"the (E, L) = {tuple(a.shape[start:])} of {other}",
        f"shape {tuple(b.shape)}",
    )


def _similarity(a: jax.Array, b: jax.Array) -> jax.Array:
    chex.assert_equal_shape([a, b])
    return jnp.mean(a == b)  # mean over episodes of the matching fraction: the same number


def language_similarity(messages_a: Any, messages_b: Any) -> jax.Array:
    """LS of two speakers on the same episodes (module docstring); jittable.

    Args:
      messages_a: ``[E, L]`` integer tokens speaker ``a`` emitted in episode ``e``.
      messages_b: ``[E, L]`` integer tokens speaker ``b`` emitted in the same episodes.

    Returns:
      float32 scalar in [0, 1]; 1 for identical languages.
    """
    a = _validate.int_array(messages_a, "messages_a", "E, L", min_size=(1, 1))
    b = _validate.int_array(messages_b, "messages_b", "E, L", min_size=(1, 1))
    _same_shape(a, b, "messages_b", "messages_a")
    return _similarity(a, b)


def language_similarity_matrix(messages_a: Any, messages_b: Any | None = None) -> jax.Array:
    """LS between every speaker of one group and every speaker of another; jittable.

    ``language_similarity_matrix(population)`` gives the within-population matrix
    (interchangeability; its diagonal is 1, summarise it with ``cross_play_summary``);
    ``language_similarity_matrix(population_a, population_b)`` the cross-population matrix
    (arbitrariness; compare its mean with ``language_similarity_chance``).

    Args:
      messages_a: ``[A, E, L]`` integer tokens of ``A`` speakers on the same ``E`` episodes.
      messages_b: ``[B, E, L]`` speakers of a second group on the same episodes; ``messages_a``
        when ``None``.

    Returns:
      ``[A, B]`` float32, entry ``(i, j)`` = ``language_similarity(messages_a[i], messages_b[j])``.
    """
    a = _validate.int_array(messages_a, "messages_a", "A, E, L", min_size=(1, 1, 1))
    if messages_b is None:
        b = a
    else:
        b = _validate.int_array(messages_b, "messages_b", "B, E, L", min_size=(1, 1, 1))
        _same_shape(a, b, "messages_b", "messages_a", start=1)
    return jax.vmap(lambda x: jax.vmap(lambda y: _similarity(x, y))(b))(a)


def language_similarity_chance(messages_a: Any, messages_b: Any, vocab_size: int) -> jax.Array:
    """LS expected by chance from the two speakers' per-position token frequencies (module
    docstring); jittable with a static ``vocab_size``.

    Args:
      messages_a: ``[E, L]`` integer tokens of speaker ``a``, in ``[0, vocab_size)``.
      messages_b: ``[E', L]`` integer tokens of speaker ``b`` (any number of episodes).
      vocab_size: number of token values.

    Returns:
      float32 scalar in [0, 1].
    """
    a = _validate.int_array(messages_a, "messages_a", "E, L", min_size=(1, 1))
    b = _validate.int_array(messages_b, "messages_b", "E, L", min_size=(1, 1))
    checks.expect(
        a.shape[1] == b.shape[1],
        "messages_b",
        f"the message length L = {a.shape[1]} of messages_a",
        f"shape {tuple(b.shape)}",
    )
    vocab_size = _validate.tokens_below(a, vocab_size, "messages_a")
    _validate.tokens_below(b, vocab_size, "messages_b")
    p_a = jnp.mean(jax.nn.one_hot(a, vocab_size), axis=0)  # [L, V]
    p_b = jnp.mean(jax.nn.one_hot(b, vocab_size), axis=0)  # [L, V]
    return jnp.mean(jnp.sum(p_a * p_b, axis=1))
