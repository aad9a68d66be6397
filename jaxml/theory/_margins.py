"""Multiclass margins and the margin losses that generalization bounds are stated for.

* BFT ("Spectrally-normalized margin bounds for neural networks", Bartlett, Foster, Telgarsky;
  arXiv 1706.08498) bound the 0-1 test error by the training *margin loss*
  R̂_γ = P̂[f(x)_y − max_{k≠y} f(x)_k ≤ γ] plus a complexity term.
* The depth-uniform ResNet bound ("On the Generalization Behavior of Deep Residual Networks From
  a Dynamical System Perspective", arXiv 2602.20921) holds for a bounded Lipschitz loss; the
  *ramp loss* ℓ_γ = clip(1 − margin/γ, 0, 1) is one: bounded by 1, above the 0-1 loss, and
  √2/γ-Lipschitz in the logits (the margin is √2-Lipschitz in ℓ2): :func:`ramp_loss_lipschitz`.
"""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp


def margins(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """The multiclass margin ``f_y − max_{k≠y} f_k`` of every example (BFT, arXiv 1706.08498).

    Args:
      logits: [B, K] network outputs, K >= 2.
      labels: [B] integer classes in ``0..K-1``.

    Returns:
      [B] margins; positive where the example is classified correctly with a unique maximum.
    """
    chex.assert_rank(logits, 2)
    chex.assert_shape(labels, (logits.shape[0],))
    true = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
    # The true class is masked with −inf so the max runs over the other classes only.
    others = jnp.where(jax.nn.one_hot(labels, logits.shape[-1]) > 0, -jnp.inf, logits)
    return true - jnp.max(others, axis=-1)


def ramp_loss(margin: jax.Array, gamma: float) -> jax.Array:
    """The ramp loss ℓ_γ = clip(1 − margin/γ, 0, 1) of arXiv 2602.20921's bound, elementwise.

    It is 1 for margins ≤ 0 and 0 for margins ≥ γ, so 0-1 loss ≤ ℓ_γ ≤ BFT's margin loss.
    """
    return jnp.clip(1.0 - margin / gamma, 0.0, 1.0)


def ramp_loss_lipschitz(gamma: float) -> float:
    """√2/γ: the ramp loss's Lipschitz constant in the logits (ℓ2), ``loss_lipschitz`` of
    ``residual_bound`` (arXiv 2602.20921)."""
    return math.sqrt(2.0) / gamma


def margin_statistics(
    logits: jax.Array, labels: jax.Array, gamma: float, mask: jax.Array | None = None
) -> dict[str, jax.Array]:
    """Masked means of the losses both bounds talk about.

    Args:
      logits: [B, K].
      labels: [B].
      gamma: the margin γ > 0.
      mask: [B] weights (1 for the examples that count, e.g. the first S of a training pool);
        all ones by default. It is a mask rather than a slice so a traced S keeps shapes static.

    Returns:
      ``error`` (0-1 loss), ``ramp`` (ℓ_γ, arXiv 2602.20921) and ``margin_loss`` (BFT's R̂_γ,
      margin ≤ γ), each a [] mean over the masked examples.
    """
    if mask is None:
        mask = jnp.ones(logits.shape[0], jnp.float32)
    chex.assert_shape(mask, (logits.shape[0],))
    m = margins(logits, labels)
    total = jnp.sum(mask)
    return {
        "error": jnp.sum(mask * (jnp.argmax(logits, -1) != labels)) / total,
        "ramp": jnp.sum(mask * ramp_loss(m, gamma)) / total,
        "margin_loss": jnp.sum(mask * (m <= gamma)) / total,
    }
