"""Rank-1 inverse-Fisher natural gradient by Sherman–Morrison.

Huo, Dash, Stoican, Kaski, Sun. "Rank-1 Approximation of Inverse Fisher for Natural Policy Gradients
in Deep Reinforcement Learning", arXiv 2601.18626.

The Fisher is approximated by the damped rank-1 matrix ``F = λ I + v vᵀ`` (``v`` is e.g. the score
``∇ log π(a|s)`` of one sampled state-action pair), whose inverse is closed-form:

    F⁻¹ g = (g − v (vᵀg) / (λ + vᵀv)) / λ.

Everything is tree-wise dot products over the parameter pytree: O(d) time and memory, no matrix.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax


class ScaleByRank1NaturalGradientState(NamedTuple):
    count: chex.Array  # [] int32: updates so far, the argument of the damping schedule.


def _value(hyperparam: optax.ScalarOrSchedule, count: chex.Array) -> jax.Array:
    return hyperparam(count) if callable(hyperparam) else jnp.asarray(hyperparam)


def _check_like(name: str, tree: Any, like: Any) -> None:
    """Raises ValueError naming ``name`` unless ``tree`` is shaped like ``like``."""
    if jax.tree.structure(tree) != jax.tree.structure(like):
        raise ValueError(
            f"{name}: expected a pytree shaped like the gradient {jax.tree.structure(like)}, "
            f"got {jax.tree.structure(tree)}"
        )
    for x, y in zip(jax.tree.leaves(tree), jax.tree.leaves(like), strict=True):
        if jnp.shape(x) != jnp.shape(y):
            raise ValueError(f"{name}: a leaf of shape {jnp.shape(x)}, the gradient's is {y.shape}")


def scale_by_rank1_natural_gradient(
    damping: optax.ScalarOrSchedule = 1e-3,
    kl_radius: float | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Preconditions the gradient ``g`` by ``(damping·I + v vᵀ)⁻¹`` (arXiv 2601.18626).

    ``v`` arrives as the keyword extra arg ``fisher_vector``, a pytree shaped like the gradient:
    e.g. the score of one sampled state-action pair. Without it, ``v = g`` (the one-sample empirical
    Fisher of the gradient itself, which gives ``g / (λ + ‖g‖²)``).

    Args:
      damping: λ > 0, a float or a schedule of the update count.
      kl_radius: if set (δ), the direction ``d`` is rescaled to the trust-region step
        ``sqrt(2δ / gᵀd) · d``, whose quadratic KL ``½ dᵀ F d`` equals δ (the natural policy
        gradient step of Kakade 2001; the paper leaves this choice open). Use learning rate 1.

    Returns:
      A transform whose ``update(grads, state, params=None, *, fisher_vector=None)`` returns the
      natural direction (a descent direction once ``optax.scale_by_learning_rate`` negates it).
    """
    # Only Python numbers are checked: inject_hyperparams passes traced arrays.
    if isinstance(kl_radius, int | float) and not kl_radius > 0:
        raise ValueError(f"kl_radius={kl_radius}: must be > 0 or None")

    def init_fn(params):
        del params
        return ScaleByRank1NaturalGradientState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None, *, fisher_vector=None, **extra_args):
        del params, extra_args
        if fisher_vector is None:
            fisher_vector = updates
        else:
            _check_like("fisher_vector", fisher_vector, updates)
        lam = _value(damping, state.count).astype(jnp.float32)
        v_dot_g = optax.tree.vdot(fisher_vector, updates).astype(jnp.float32)
        v_dot_v = optax.tree.vdot(fisher_vector, fisher_vector).astype(jnp.float32)
        coef = v_dot_g / (lam + v_dot_v)
        direction = jax.tree.map(
            lambda g, v: ((g - coef * v) / lam).astype(g.dtype), updates, fisher_vector
        )
        if kl_radius is not None:
            # gᵀF⁻¹g >= 0 as F is SPD; the floor keeps a zero gradient from dividing by zero.
            g_dot_d = optax.tree.vdot(updates, direction).astype(jnp.float32)
            scale = jnp.sqrt(2.0 * kl_radius / jnp.maximum(g_dot_d, 1e-20))
            direction = jax.tree.map(lambda d: (scale * d).astype(d.dtype), direction)
        return direction, ScaleByRank1NaturalGradientState(optax.safe_increment(state.count))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def rank1_natural_gradient(
    learning_rate: optax.ScalarOrSchedule,
    damping: optax.ScalarOrSchedule = 1e-3,
    kl_radius: float | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Rank-1 inverse-Fisher natural gradient descent (arXiv 2601.18626).

    ``optax.chain(scale_by_rank1_natural_gradient(damping, kl_radius),
    optax.scale_by_learning_rate(learning_rate))``; pass ``fisher_vector=v`` to ``update``.
    """
    return optax.chain(
        scale_by_rank1_natural_gradient(damping, kl_radius),
        optax.scale_by_learning_rate(learning_rate),
    )
