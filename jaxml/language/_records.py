"""The records every language metric reads, and the padding that makes episodes comparable.

Following the foraging paper's protocol ("From Grunts to Lexicons", Piriyajitakonkij et al. 2025,
arXiv 2505.12872; ../shared/papers/foraging.md): the meaning of an episode is what the speaker saw
(ScoreG: ``[target score, target row, target column]``), the message is the token sequence the
speaker emitted over the episode, padded with a pad token ``V`` (one past the vocabulary) to the
most common episode length + 2, so metrics that need fixed-length messages see every episode.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.language import _validate
from jaxml.utils import checks


class LanguageRecords(NamedTuple):
    """One row per episode: what the speaker meant, what it said, how the episode went."""

    meanings: jax.Array  # [N, M] int32 attribute values the speaker saw
    messages: jax.Array  # [N, L] int32 tokens, pad token V after the episode's end
    lengths: jax.Array  # [N] int32 steps the episode lasted (tokens before padding)
    outcomes: jax.Array  # [N] float32 episode return (success: > 0 in the foraging games)


def pad_messages(
    tokens: Any, lengths: Any, vocab_size: int, *, length: int | None = None
) -> jax.Array:
    """Pads (or cuts) each episode's tokens to one length with the pad token ``vocab_size``.

    Args:
      tokens: ``[N, T]`` integer tokens per step (entries at or after ``lengths[n]`` are ignored).
      lengths: ``[N]`` steps each episode lasted, in ``[0, T]``.
      vocab_size: ``V``; tokens lie in ``[0, V)`` and the pad token is ``V`` (so pass
        ``vocab_size + 1`` to the metrics that take one).
      length: the padded length; by default the most common episode length + 2 (the smallest
        such length on ties), the paper's choice.

    Returns:
      ``[N, length]`` int32. Not jittable when ``length`` is ``None`` (the mode reads values).
    """
    tokens = _validate.int_array(tokens, "tokens", "N, T", min_size=(1, 1))
    lengths = _validate.int_array(lengths, "lengths", "N")
    _validate.same_leading(tokens, lengths, "lengths", "tokens")
    vocab_size = checks.positive_int(vocab_size, "vocab_size")
    num_steps = tokens.shape[1]
    if _validate.is_concrete(lengths):
        low, high = int(jnp.min(lengths)), int(jnp.max(lengths))
        checks.expect(
            0 <= low and high <= num_steps, "lengths", f"values in [0, {num_steps}]", (low, high)
        )
        valid = np.arange(num_steps)[None, :] < np.asarray(lengths)[:, None]
        _validate.tokens_below(jnp.where(jnp.asarray(valid), tokens, 0), vocab_size, "tokens")
    if length is None:
        checks.expect(
            _validate.is_concrete(lengths), "length", "an int under jit", "None with traced lengths"
        )
        length = int(np.argmax(np.bincount(np.asarray(lengths)))) + 2
    length = checks.positive_int(length, "length")
    if length > num_steps:
        tokens = jnp.pad(tokens, ((0, 0), (0, length - num_steps)))
    steps = jnp.arange(length)
    return jnp.where(steps[None, :] < lengths[:, None], tokens[:, :length], vocab_size)
