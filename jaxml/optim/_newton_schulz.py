"""Matrix inverses by Newton–Schulz iteration, warm-started from the previous inverse.

Curvature factors (K-FAC, RENG/RING) change slowly between steps, so last step's inverse is an
excellent start and a few matmul-only iterations suffice: no ``inv``/``solve``, and matmuls are what
accelerators do best. For ``R_k = I − A X_k`` the iteration ``X_{k+1} = X_k (2I − A X_k)`` gives
``R_{k+1} = R_k²``: quadratic convergence whenever ``‖R_0‖ < 1`` (Schulz 1933; Pan and
Schreiber 1991).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def residual_norm(matrix: jax.Array, inverse: jax.Array) -> jax.Array:
    """``‖I − A X‖_F`` (an upper bound on the spectral norm): how far ``X`` is from ``A⁻¹``."""
    eye = jnp.eye(matrix.shape[-1], dtype=matrix.dtype)
    return jnp.linalg.norm(eye - matrix @ inverse)


def cold_start(matrix: jax.Array) -> jax.Array:
    """``X_0 = I / ‖A‖_F``: for SPD ``A``, ``I − A X_0`` has eigenvalues in [0, 1)."""
    eye = jnp.eye(matrix.shape[-1], dtype=matrix.dtype)
    return eye / jnp.linalg.norm(matrix)


def spectral_norm_estimate(r: jax.Array, num_iters: int = 20) -> jax.Array:
    """``‖r‖₂`` by power iteration on ``rᵀr`` from a fixed start: O(n²) per iteration."""
    v = jnp.ones((r.shape[-1],), r.dtype) / jnp.sqrt(r.shape[-1]).astype(r.dtype)

    def body(_, v):
        w = r.T @ (r @ v)
        return w / jnp.maximum(jnp.linalg.norm(w), jnp.finfo(r.dtype).tiny)

    v = jax.lax.fori_loop(0, num_iters, body, v)
    return jnp.linalg.norm(r @ v)


def top_eigenvalue_estimate(m: jax.Array, num_iters: int = 20) -> jax.Array:
    """Largest eigenvalue of ``m`` by power iteration, for ``m`` similar to an SPD matrix."""
    v = jnp.ones((m.shape[-1],), m.dtype) / jnp.sqrt(m.shape[-1]).astype(m.dtype)

    def body(_, v):
        w = m @ v
        return w / jnp.maximum(jnp.linalg.norm(w), jnp.finfo(m.dtype).tiny)

    v = jax.lax.fori_loop(0, num_iters, body, v)
    return jnp.vdot(v, m @ v) / jnp.vdot(v, v)


# A warm start is taken as it is when its estimated ‖I − A X‖₂ is below this (convergence needs
# < 1; the margin covers power iteration's underestimate). The Frobenius norm would be far
# stricter: it grows like √n and would throw away good warm starts of large factors.
WARM_START_MAX_RESIDUAL = 0.9
# An iterate whose RMS residual ``‖I − A X‖_F / √n`` exceeds this is taken as diverging. Starts that
# converge (the cold start, accepted or rescaled warm starts) have spectral residual below 1, and
# squaring only shrinks it.
DIVERGED_RMS_RESIDUAL = 1.0


def newton_schulz_inverse(
    matrix: jax.Array,
    num_iters: int,
    warm_start: jax.Array | None = None,
    tol: float | None = None,
    active: jax.Array | None = None,
) -> jax.Array:
    """Approximates the inverse of the SPD ``matrix`` ``[n, n]`` in at most ``num_iters`` steps.

    Args:
      matrix: ``[n, n]`` symmetric positive definite (e.g. a damped Kronecker factor ``A + εI``).
      num_iters: Newton–Schulz iterations (static); the maximum when ``tol`` is set.
      warm_start: ``[n, n]`` previous SPD inverse. Used as it is when a contraction start
        (estimated ``‖I − A X‖₂ <`` :data:`WARM_START_MAX_RESIDUAL`); otherwise rescaled to
        ``X / μ_max(A X)``, whose residual ``1 − μ_min/μ_max`` is below 1 for SPD ``A`` and ``X``,
        so it still converges and keeps the shape of the previous inverse.
      tol: stop once the RMS residual ``‖I − A X‖_F / √n <= tol`` (checked for free: each
        iteration computes ``A X``).
      active: ``[]`` bool; when False, nothing runs and the warm start is returned as it is.
        Gating loops instead of branching with ``lax.cond`` keeps skipped refreshes cheap under
        ``vmap``, where a batched ``cond`` predicate would run both branches.

    Returns:
      ``[n, n]`` approximate inverse, symmetrised.
    """
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix: expected a square [n, n] array, got shape {matrix.shape}")
    if warm_start is not None and warm_start.shape != matrix.shape:
        raise ValueError(f"warm_start: shape {warm_start.shape} != matrix shape {matrix.shape}")
    eye = jnp.eye(matrix.shape[-1], dtype=matrix.dtype)

    def prepare(matrix, warm_start):
        """The start ``X_0`` and ``A X_0``."""
        cold = cold_start(matrix)
        if warm_start is None:
            return cold, matrix @ cold
        warm_product = matrix @ warm_start
        usable = spectral_norm_estimate(eye - warm_product) < WARM_START_MAX_RESIDUAL
        scale = jnp.where(usable, 1.0, 1.0 / top_eigenvalue_estimate(warm_product))
        return scale * warm_start, scale * warm_product

    def gated_prepare(carry):
        # Route the inputs through the loop's flag: otherwise XLA's loop-invariant code motion
        # hoists these O(n³) products out of the loop and runs them even when it is gated off.
        first = carry[0]
        warm = None if warm_start is None else jnp.where(first, warm_start, 0.0)
        return (False, *prepare(jnp.where(first, matrix, 0.0), warm))

    n = matrix.shape[-1]
    cold = cold_start(matrix)
    cold_product = matrix / jnp.linalg.norm(matrix)  # A X_0 for the cold start, without a matmul.

    def rms_residual(ax):
        return jnp.linalg.norm(eye - ax) / jnp.sqrt(n).astype(ax.dtype)

    def body(carry):
        k, x, ax, restarted = carry
        x = x @ (2.0 * eye - ax)
        ax = matrix @ x
        # Divergence guard: a warm start whose residual has an eigenvalue beyond 1 in modulus (the
        # power-iteration test above can miss it) blows up doubly exponentially. Restart once from
        # the cold start, which always converges, with the full iteration budget.
        diverging = ~(rms_residual(ax) <= DIVERGED_RMS_RESIDUAL) & ~restarted
        x = jnp.where(diverging, cold, x)
        ax = jnp.where(diverging, cold_product, ax)
        return jnp.where(diverging, 0, k + 1), x, ax, restarted | diverging

    if active is None:
        x, ax = prepare(matrix, warm_start)
        go = jnp.asarray(True)
    else:
        # A one-shot loop gated by `active`: no O(n³) work at all when inactive.
        initial = cold if warm_start is None else warm_start
        _, x, ax = jax.lax.while_loop(
            lambda c: active & c[0], gated_prepare, (jnp.asarray(True), initial, eye)
        )
        go = active

    def not_done(carry):
        k, _, ax, _ = carry
        unconverged = True if tol is None else rms_residual(ax) > tol
        return go & (k < num_iters) & unconverged

    _, x, _, _ = jax.lax.while_loop(not_done, body, (0, x, ax, jnp.asarray(False)))
    return 0.5 * (x + x.T)
