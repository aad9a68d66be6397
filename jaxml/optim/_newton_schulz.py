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
      warm_start: ``[n, n]`` previous inverse; used when it is a contraction start
        (``‖I − A X‖_F < 1``), otherwise the cold start is.
      tol: stop once ``‖I − A X‖_F <= tol`` (one extra matmul per iteration to check).
      active: ``[]`` bool; when False, no iteration runs and the (warm) start is returned. Gating
        the loop instead of branching with ``lax.cond`` keeps skipped refreshes cheap under
        ``vmap``, where a batched ``cond`` predicate would run both branches.

    Returns:
      ``[n, n]`` approximate inverse, symmetrised.
    """
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix: expected a square [n, n] array, got shape {matrix.shape}")
    if warm_start is not None and warm_start.shape != matrix.shape:
        raise ValueError(f"warm_start: shape {warm_start.shape} != matrix shape {matrix.shape}")
    go = jnp.asarray(True) if active is None else active

    def start(_):
        if warm_start is None:
            return cold_start(matrix)
        usable = residual_norm(matrix, warm_start) < 1.0
        return jnp.where(usable, warm_start, cold_start(matrix))

    if active is None:
        x = start(None)
    else:
        # A one-shot loop gated by `active`: the O(n³) residual check is skipped when inactive.
        initial = cold_start(matrix) if warm_start is None else warm_start
        x = jax.lax.while_loop(
            lambda c: go & c[0], lambda c: (False, start(None)), (True, initial)
        )[1]
    eye = jnp.eye(matrix.shape[-1], dtype=matrix.dtype)

    def body(_, x):
        return x @ (2.0 * eye - matrix @ x)

    if tol is None and active is None:
        x = jax.lax.fori_loop(0, num_iters, body, x)
    else:

        def not_done(carry):
            k, x = carry
            unconverged = True if tol is None else residual_norm(matrix, x) > tol
            return go & (k < num_iters) & unconverged

        _, x = jax.lax.while_loop(not_done, lambda c: (c[0] + 1, body(c[0], c[1])), (0, x))
    return 0.5 * (x + x.T)
