"""Positional and bag-of-symbols disentanglement (information-gap compositionality measures).

Chaabouni, Kharitonov, Bouchacourt, Dupoux, Baroni 2020, "Compositionality and Generalization in
Emergent Languages" (arXiv 2004.09124), section 4. For a message representation with "slots"
``r_1..r_R`` (PosDis: the symbol at each position; BosDis: the count of each vocabulary symbol)
and meaning attributes ``a_1..a_M``,

    gap(r) = ( I(r; a_(1)) − I(r; a_(2)) ) / H(r),
    score  = (1 / |R₊|) Σ_{r ∈ R₊} gap(r),     R₊ = { r : H(r) > 0 },

where ``a_(1)`` and ``a_(2)`` are the attributes with the largest and second largest mutual
information with ``r``. Entropies and mutual informations are plug-in estimates from the
empirical joint distribution of the ``N`` (meaning, message) records (natural log; the ratio does
not depend on the base).

Zero-entropy convention: a constant slot (``H(r) = 0``) says nothing and is left out of the
average, as in the paper; when every slot is constant (e.g. a constant message) the score is 0,
not the undefined 0/0.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxml.language import _validate
from jaxml.utils import checks


def _entropy(p: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    return -jnp.sum(jax.scipy.special.xlogy(p, p), axis=axes)


@functools.partial(jax.jit, static_argnames=("num_values", "num_symbols"))
def information_gap(
    attributes: jax.Array, slots: jax.Array, *, num_values: int, num_symbols: int
) -> jax.Array:
    """The information-gap score (module docstring) of ``slots`` about ``attributes``.

    Args:
      attributes: ``[N, M]`` attribute codes in ``[0, num_values)``, ``M >= 2``.
      slots: ``[N, R]`` slot values in ``[0, num_symbols)``.
      num_values: number of attribute codes (static).
      num_symbols: number of slot values (static).

    Returns:
      float32 scalar in [0, 1]; 0 when every slot is constant.
    """
    chex.assert_rank([attributes, slots], 2)
    n = attributes.shape[0]
    a = jax.nn.one_hot(attributes, num_values)  # [N, M, K]
    s = jax.nn.one_hot(slots, num_symbols)  # [N, R, S]
    joint = jnp.einsum("nmk,nrs->mrks", a, s) / n  # [M, R, K, S]
    h_attribute = _entropy(jnp.mean(a, axis=0), (1,))  # [M]
    h_slot = _entropy(jnp.mean(s, axis=0), (1,))  # [R]
    h_joint = _entropy(joint, (2, 3))  # [M, R]
    mutual = h_attribute[:, None] + h_slot[None, :] - h_joint  # [M, R]
    top2 = -jnp.sort(-mutual, axis=0)[:2]  # [2, R]: largest, second largest
    informative = h_slot > 0.0
    gaps = jnp.where(informative, (top2[0] - top2[1]) / jnp.where(informative, h_slot, 1.0), 0.0)
    return jnp.sum(gaps) / jnp.maximum(jnp.sum(informative), 1)


def _attribute_codes(meanings: jax.Array) -> tuple[jax.Array, int]:
    """Each attribute's values renumbered 0..K_m-1 (sparse values such as scores 5, 10, ..., 250
    would otherwise make the one-hot tables as wide as the largest value)."""
    columns = [np.unique(np.asarray(c), return_inverse=True) for c in np.asarray(meanings).T]
    codes = np.stack([inverse.reshape(-1) for _, inverse in columns], axis=1)
    return jnp.asarray(codes, jnp.int32), max(len(values) for values, _ in columns)


def _check(meanings: Any, messages: Any, vocab_size: Any) -> tuple[jax.Array, jax.Array, int]:
    meanings = _validate.int_array(meanings, "meanings", "N, M", min_size=(1, 2))
    messages = _validate.int_array(messages, "messages", "N, L", min_size=(1, 1))
    _validate.same_leading(meanings, messages, "messages", "meanings")
    vocab_size = _validate.tokens_below(messages, vocab_size)
    return meanings, messages, vocab_size


def positional_disentanglement(meanings: Any, messages: Any, vocab_size: int) -> jax.Array:
    """PosDis (Chaabouni et al. 2020, arXiv 2004.09124): the information gap of each position.

    PosDis is 1 when every position that varies names exactly one attribute and nothing of the
    others; 0 when no position carries more about one attribute than about another (or when every
    position is constant, the zero-entropy convention of the module docstring).

    Args:
      meanings: ``[N, M]`` integer attribute values, ``M >= 2`` (any integers: renumbered).
      messages: ``[N, L]`` integer tokens in ``[0, vocab_size)`` (count the pad token, if any).
      vocab_size: number of token values.

    Returns:
      float32 scalar in [0, 1]. Not jittable (the attribute renumbering reads values).
    """
    meanings, messages, vocab_size = _check(meanings, messages, vocab_size)
    codes, num_values = _attribute_codes(meanings)
    return information_gap(codes, messages, num_values=num_values, num_symbols=vocab_size)


def symbol_counts(messages: jax.Array, vocab_size: int) -> jax.Array:
    """``[N, vocab_size]`` times each token occurs in each message (the bag of symbols)."""
    chex.assert_rank(messages, 2)
    return jnp.sum(jax.nn.one_hot(messages, vocab_size, dtype=jnp.int32), axis=1)


def bag_of_symbols_disentanglement(
    meanings: Any, messages: Any, vocab_size: int, *, exclude_tokens: Iterable[int] = ()
) -> jax.Array:
    """BosDis (Chaabouni et al. 2020, arXiv 2004.09124): the information gap of each symbol's count.

    Order-free: a language where each attribute value has its own symbol, in any order, has
    BosDis 1.

    Args:
      meanings: ``[N, M]`` integer attribute values, ``M >= 2`` (any integers: renumbered).
      messages: ``[N, L]`` integer tokens in ``[0, vocab_size)``.
      vocab_size: number of token values.
      exclude_tokens: symbols whose counts are left out (e.g. a pad or end-of-sequence token,
        whose count only repeats the message length; EGG leaves out its EOS symbol 0). None by
        default: in the foraging games every token, 0 included, is a word the agent chose.

    Returns:
      float32 scalar in [0, 1]. Not jittable (the attribute renumbering reads values).
    """
    meanings, messages, vocab_size = _check(meanings, messages, vocab_size)
    exclude = tuple(exclude_tokens)
    for token in exclude:
        checks.expect(
            isinstance(token, int | np.integer) and 0 <= token < vocab_size,
            "exclude_tokens",
            f"tokens in [0, {vocab_size})",
            exclude,
        )
    kept = np.array([v for v in range(vocab_size) if v not in set(exclude)], dtype=np.int32)
    checks.expect(kept.size > 0, "exclude_tokens", "to keep at least one token", exclude)
    counts = symbol_counts(messages, vocab_size)[:, kept]
    codes, num_values = _attribute_codes(meanings)
    return information_gap(codes, counts, num_values=num_values, num_symbols=messages.shape[1] + 1)
