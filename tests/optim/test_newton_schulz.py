"""Newton–Schulz inverses of damped SPD factors: quadratic convergence and warm starts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.optim import newton_schulz_inverse
from jaxml.optim._newton_schulz import residual_norm


def damped_spd(key, n, damping=1e-2):
    a = jax.random.normal(key, (n, 2 * n))
    return a @ a.T / (2 * n) + damping * jnp.eye(n)


def test_residual_squares_each_iteration():
    jax.config.update("jax_enable_x64", True)
    try:
        matrix = damped_spd(jax.random.PRNGKey(0), 12).astype(jnp.float64)
        residuals = [
            float(residual_norm(matrix, newton_schulz_inverse(matrix, k))) for k in range(30)
        ]
    finally:
        jax.config.update("jax_enable_x64", False)
    # R_{k+1} = R_k² in the spectral norm; in the Frobenius norm ‖R²‖_F <= ‖R‖_F².
    for before, after in zip(residuals, residuals[1:], strict=False):
        if before > 1e-7:
            assert after <= before**2 * (1 + 1e-6) + 1e-12
    assert residuals[-1] < 1e-10


@pytest.mark.parametrize("n", [1, 5, 32])
def test_converges_to_the_inverse(n):
    matrix = damped_spd(jax.random.PRNGKey(n), n, damping=0.1)
    inverse = jax.jit(newton_schulz_inverse, static_argnums=1)(matrix, 40)
    np.testing.assert_allclose(inverse, np.linalg.inv(np.asarray(matrix)), rtol=1e-3, atol=1e-4)


def test_warm_start_from_a_nearby_inverse_needs_fewer_iterations():
    key_a, key_b = jax.random.split(jax.random.PRNGKey(3))
    matrix = damped_spd(key_a, 16, damping=0.05)
    previous = matrix + 0.01 * damped_spd(key_b, 16)  # The factor one step earlier.
    warm = newton_schulz_inverse(previous, 40)
    cold_residual = residual_norm(matrix, newton_schulz_inverse(matrix, 3))
    warm_residual = residual_norm(matrix, newton_schulz_inverse(matrix, 3, warm_start=warm))
    assert warm_residual < 1e-3 < cold_residual


def test_an_overscaled_warm_start_is_rescaled_and_still_converges():
    matrix = damped_spd(jax.random.PRNGKey(4), 8, damping=0.1)
    bad = 100.0 * jnp.linalg.inv(matrix)  # I − AX = −99 I: Newton–Schulz would diverge from it.
    assert residual_norm(matrix, newton_schulz_inverse(matrix, 0, warm_start=bad)) < np.sqrt(8)
    fixed = newton_schulz_inverse(matrix, 30, warm_start=bad)
    np.testing.assert_allclose(fixed, np.linalg.inv(np.asarray(matrix)), rtol=1e-3, atol=1e-4)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="matrix"):
        newton_schulz_inverse(jnp.ones((2, 3)), 3)
    with pytest.raises(ValueError, match="warm_start"):
        newton_schulz_inverse(jnp.eye(3), 3, warm_start=jnp.eye(2))


def test_tolerance_stops_early_and_still_converges():
    matrix = damped_spd(jax.random.PRNGKey(5), 16, damping=0.1)
    inverse = jax.jit(newton_schulz_inverse, static_argnums=(1, 3))(matrix, 60, None, 1e-4)
    # tol is an RMS residual; symmetrising can add rounding above it.
    assert residual_norm(matrix, inverse) <= 1e-3 * np.sqrt(16)
    # From the converged inverse as warm start, zero further iterations are needed.
    again = newton_schulz_inverse(matrix, 60, warm_start=inverse, tol=1e-2)
    np.testing.assert_allclose(again, inverse, rtol=1e-6, atol=1e-7)


def test_large_warm_start_with_small_spectral_residual_is_kept():
    # X = ½A⁻¹ gives I − AX = ½I: spectral norm 0.5 (converges) but Frobenius ½√n ≈ 7 for n = 200.
    matrix = damped_spd(jax.random.PRNGKey(6), 200, damping=0.5)
    warm = 0.5 * jnp.linalg.inv(matrix)
    one_step = newton_schulz_inverse(matrix, 1, warm_start=warm)
    # One iteration squares the residual: ½I -> ¼I, i.e. Frobenius ¼√200 ≈ 3.5 (a cold start: ~14).
    np.testing.assert_allclose(residual_norm(matrix, one_step), 0.25 * np.sqrt(200), rtol=1e-2)


def test_a_warm_start_that_fools_the_power_iteration_still_converges():
    # A = 2I and X = A⁻¹ (I + 1.5 u uᵀ) with u ⟂ the power iteration's start vector (all ones):
    # I − A X = −1.5 u uᵀ maps that start to 0, so the spectral estimate reads 0 and the start is
    # accepted, yet the residual's eigenvalue −1.5 makes plain Newton–Schulz diverge.
    n = 16
    matrix = 2.0 * jnp.eye(n)
    u = jnp.zeros(n).at[0].set(1.0).at[1].set(-1.0) / jnp.sqrt(2.0)
    warm = 0.5 * (jnp.eye(n) + 1.5 * jnp.outer(u, u))
    assert float(residual_norm(matrix, warm)) > 1.0
    for tol in (None, 1e-3):
        fixed = newton_schulz_inverse(matrix, 40, warm_start=warm, tol=tol)
        np.testing.assert_allclose(fixed, 0.5 * np.eye(n), rtol=1e-3, atol=1e-4)
