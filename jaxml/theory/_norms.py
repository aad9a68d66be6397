"""Matrix norms and Lipschitz constants used by the generalization bounds.

Kernels follow flax's ``[in, out]`` convention (``x @ kernel``): column ``j`` of a kernel holds the
incoming weights of output unit ``j``. References: "On the Generalization Behavior of Deep Residual
Networks From a Dynamical System Perspective" (arXiv 2602.20921) and "Spectrally-normalized margin
bounds for neural networks" (Bartlett, Foster, Telgarsky; arXiv 1706.08498).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from jaxml.models.resnet import Block

DEFAULT_POWER_ITERATIONS = 200


def spectral_norm(
    matrix: jax.Array, *, key: jax.Array, num_iters: int = DEFAULT_POWER_ITERATIONS
) -> jax.Array:
    """Largest singular value of ``matrix`` [m, n] by power iteration on ``MᵀM`` (a [] array).

    The start vector is drawn from ``key``; a random start has a non-zero component along the top
    right-singular vector with probability one. Power iteration approaches from below.
    """
    chex.assert_rank(matrix, 2)
    v = jax.random.normal(key, (matrix.shape[1],), matrix.dtype)
    v = v / jnp.linalg.norm(v)

    def body(_, v):
        u = matrix.T @ (matrix @ v)
        # Guard the zero matrix: keep v instead of dividing by zero.
        n = jnp.linalg.norm(u)
        return jnp.where(n > 0, u / jnp.where(n > 0, n, 1.0), v)

    v = jax.lax.fori_loop(0, num_iters, body, v)
    return jnp.linalg.norm(matrix @ v)


def spectral_norms(
    matrices: jax.Array, *, key: jax.Array, num_iters: int = DEFAULT_POWER_ITERATIONS
) -> jax.Array:
    """:func:`spectral_norm` of each matrix of a stack [L, m, n] -> [L]."""
    chex.assert_rank(matrices, 3)
    keys = jax.random.split(key, matrices.shape[0])
    return jax.vmap(lambda m, k: spectral_norm(m, key=k, num_iters=num_iters))(matrices, keys)


def frobenius_norm(matrix: jax.Array) -> jax.Array:
    """``‖M‖_F`` over the last two axes: [..., m, n] -> [...]."""
    return jnp.sqrt(jnp.sum(jnp.square(matrix), axis=(-2, -1)))


def norm_21(kernel: jax.Array) -> jax.Array:
    """``‖K‖_{2,1}``: the sum over columns of their Euclidean norms. [..., m, n] -> [...].

    For a flax kernel K = Aᵀ this is BFT's ``‖Aᵀ‖_{2,1}`` (sum over units of incoming-weight
    norms), and also the width factor in the residual bound's Rademacher recursion.
    """
    return jnp.sum(jnp.sqrt(jnp.sum(jnp.square(kernel), axis=-2)), axis=-1)


def max_column_norm(kernel: jax.Array) -> jax.Array:
    """``max_j ‖K[:, j]‖₂``: the largest incoming-weight norm of a unit. [..., m, n] -> [...]."""
    return jnp.max(jnp.sqrt(jnp.sum(jnp.square(kernel), axis=-2)), axis=-1)


def dead_zone_lipschitz(lip_phi1: float = 1.0, lip_phi2: float = 1.0) -> float:
    """Lipschitz constant of ψ(x) = φ₁(x − α) − φ₂(−x − β) for α, β ≥ 0 and φ₁, φ₂ ∈ Γ(ℝ).

    φ₁, φ₂ vanish on (−∞, 0], so ψ is φ₁(x − α) right of α, −φ₂(−x − β) left of −β and zero in
    between: the pieces never overlap and the constant is the larger of the two, not the sum.
    """
    if lip_phi1 < 0 or lip_phi2 < 0:
        raise ValueError(f"lip_phi1={lip_phi1}, lip_phi2={lip_phi2}: must be >= 0")
    return max(lip_phi1, lip_phi2)


def block_lipschitz(
    block: Block, *, key: jax.Array, lip_psi: float = 1.0, num_iters: int = DEFAULT_POWER_ITERATIONS
) -> jax.Array:
    """Upper bound ``Lip_ψ ‖A‖₂ ‖W‖₂`` on the Lipschitz constant of x ↦ ψ(x A + b) W.

    ``block`` may be stacked ([L, d, d] kernels); the result then has shape [L].
    """
    ka, kw = jax.random.split(key)
    if block.A.ndim == 2:
        return (
            lip_psi
            * spectral_norm(block.A, key=ka, num_iters=num_iters)
            * spectral_norm(block.W, key=kw, num_iters=num_iters)
        )
    a = spectral_norms(block.A, key=ka, num_iters=num_iters)
    w = spectral_norms(block.W, key=kw, num_iters=num_iters)
    return lip_psi * a * w


def residual_step_lipschitz(block_lip: jax.Array, tau: float) -> jax.Array:
    """Upper bound ``1 + τ Lip(f)`` on the Lipschitz constant of x ↦ x + τ f(x)."""
    return 1.0 + tau * block_lip
