"""Actor-critic losses on flat batches of ``N`` samples: PPO's clipped surrogate and A2C's.

Every loss takes the quantities a trainer computes from its network (log-probabilities, values,
entropies) and from its rollout (old log-probabilities, advantages, value targets) as ``[N]``
arrays, and returns ``(loss, metrics)`` with scalar metrics. Advantages and targets are treated
as constants (``stop_gradient``).

- PPO: Schulman, Wolski, Dhariwal, Radford, Klimov. "Proximal Policy Optimization Algorithms",
  arXiv 1707.06347 (the clipped surrogate is rlax's ``clipped_surrogate_pg_loss``).
- A2C: Mnih et al. "Asynchronous Methods for Deep Reinforcement Learning", arXiv 1602.01783
  (its synchronous variant).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import rlax

Metrics = dict[str, jax.Array]


def weighted_mean(x: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """``mean(x)``, or with ``weight`` (same shape, e.g. a 0/1 mask) ``Σ w·x / max(Σ w, 1)``."""
    if weight is None:
        return jnp.mean(x)
    return jnp.sum(weight * x) / jnp.maximum(jnp.sum(weight), 1.0)


def normalize(x: jax.Array, eps: float = 1e-8, weight: jax.Array | None = None) -> jax.Array:
    """``(x − mean) / (std + eps)`` over all entries (advantage normalisation); with ``weight``
    the mean and std are those of the weighted entries (``weighted_mean``)."""
    if weight is None:
        return (x - jnp.mean(x)) / (jnp.std(x) + eps)
    centred = x - weighted_mean(x, weight)
    return centred / (jnp.sqrt(weighted_mean(jnp.square(centred), weight)) + eps)


def value_loss(
    value: jax.Array,
    target: jax.Array,
    old_value: jax.Array | None = None,
    clip_eps: float | None = None,
    weight: jax.Array | None = None,
) -> jax.Array:
    """``½ mean((v − target)²)``; with ``clip_eps`` PPO's pessimistic clipped value loss.

    The clipped form is ``½ mean(max((v − R)², (v_old + clip(v − v_old, ±ε) − R)²))``: the value
    may not gain from moving further than ``ε`` from the rollout's ``v_old``.

    Args:
      value: ``[N]`` the critic's current values.
      target: ``[N]`` value targets (λ-returns).
      old_value: ``[N]`` values at rollout time; needed with ``clip_eps``.
      clip_eps: ε, or None for the unclipped loss.
      weight: ``[N]`` per-sample weights of the mean (``weighted_mean``), or None.
    """
    target = jax.lax.stop_gradient(target)
    loss = jnp.square(value - target)
    if clip_eps is not None:
        if old_value is None:
            raise ValueError("old_value: required when clip_eps is set")
        clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
        loss = jnp.maximum(loss, jnp.square(clipped - target))
    return 0.5 * weighted_mean(loss, weight)


def ppo_loss(
    log_prob: jax.Array,
    old_log_prob: jax.Array,
    advantage: jax.Array,
    value: jax.Array,
    old_value: jax.Array,
    target: jax.Array,
    entropy: jax.Array,
    *,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float,
    value_clip_eps: float | None = None,
    weight: jax.Array | None = None,
) -> tuple[jax.Array, Metrics]:
    """PPO's loss: clipped surrogate + ``vf_coef`` · value loss − ``ent_coef`` · entropy.

    Args:
      log_prob: ``[N]`` log π_θ(a|s) under the current parameters.
      old_log_prob: ``[N]`` log π_old(a|s) at rollout time.
      advantage: ``[N]`` advantage estimates (normalised or not, as the caller decides).
      value: ``[N]`` current values; old_value: ``[N]`` rollout values; target: ``[N]`` targets.
      entropy: ``[N]`` policy entropies.
      clip_eps: ε of the ratio clip ``[1 − ε, 1 + ε]``.
      vf_coef, ent_coef: weights of the value loss and the entropy bonus.
      value_clip_eps: ε of the value clip (PureJaxRL uses ``clip_eps``), or None.
      weight: ``[N]`` per-sample weights (e.g. a 0/1 mask of the samples that count): every
        mean, of the loss terms and of the metrics, is ``weighted_mean``; None: plain means.

    Returns:
      ``(loss, metrics)``; metrics: ``policy_loss``, ``value_loss``, ``entropy``,
      ``approx_kl`` (the ``mean((r − 1) − log r)`` estimator of KL(π_old‖π_θ)) and
      ``clip_fraction`` (share of samples whose ratio left ``[1 − ε, 1 + ε]``).
    """
    chex.assert_rank([log_prob, old_log_prob, advantage, value, old_value, target, entropy], 1)
    chex.assert_equal_shape([log_prob, old_log_prob, advantage, value, old_value, target, entropy])
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    if weight is None:
        policy_loss = rlax.clipped_surrogate_pg_loss(ratio, advantage, clip_eps)
    else:  # rlax's surrogate, its mean weighted.
        advantage = jax.lax.stop_gradient(advantage)
        clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
        policy_loss = -weighted_mean(jnp.minimum(ratio * advantage, clipped * advantage), weight)
    v_loss = value_loss(value, target, old_value, value_clip_eps, weight)
    mean_entropy = weighted_mean(entropy, weight)
    loss = policy_loss + vf_coef * v_loss - ent_coef * mean_entropy
    metrics = {
        "policy_loss": policy_loss,
        "value_loss": v_loss,
        "entropy": mean_entropy,
        "approx_kl": jax.lax.stop_gradient(weighted_mean((ratio - 1.0) - log_ratio, weight)),
        "clip_fraction": jax.lax.stop_gradient(
            weighted_mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32), weight)
        ),
    }
    return loss, metrics


def a2c_loss(
    log_prob: jax.Array,
    advantage: jax.Array,
    value: jax.Array,
    target: jax.Array,
    entropy: jax.Array,
    *,
    vf_coef: float,
    ent_coef: float,
) -> tuple[jax.Array, Metrics]:
    """A2C's loss: ``−mean(log π(a|s) · A)`` + ``vf_coef`` · value loss − ``ent_coef`` · entropy.

    Args:
      log_prob: ``[N]`` log π_θ(a|s); advantage: ``[N]``; value, target: ``[N]``;
      entropy: ``[N]``.
      vf_coef, ent_coef: weights of the value loss and the entropy bonus.

    Returns:
      ``(loss, metrics)``; metrics: ``policy_loss``, ``value_loss``, ``entropy``.
    """
    chex.assert_rank([log_prob, advantage, value, target, entropy], 1)
    chex.assert_equal_shape([log_prob, advantage, value, target, entropy])
    policy_loss = -jnp.mean(log_prob * jax.lax.stop_gradient(advantage))
    v_loss = value_loss(value, target)
    mean_entropy = jnp.mean(entropy)
    loss = policy_loss + vf_coef * v_loss - ent_coef * mean_entropy
    return loss, {"policy_loss": policy_loss, "value_loss": v_loss, "entropy": mean_entropy}
