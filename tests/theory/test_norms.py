"""Norms and Lipschitz constants of jaxml.theory against dense references (numpy SVD, loops)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.models.resnet import Block, dead_zone, residual_field
from jaxml.theory import (
    block_lipschitz,
    dead_zone_lipschitz,
    frobenius_norm,
    max_column_norm,
    norm_21,
    residual_step_lipschitz,
    spectral_norm,
    spectral_norms,
)


@pytest.mark.parametrize("shape", [(7, 3), (3, 11), (32, 32)])
def test_spectral_norm_matches_dense(shape):
    m = jax.random.normal(jax.random.PRNGKey(sum(shape)), shape)
    got = spectral_norm(m, key=jax.random.PRNGKey(1))
    np.testing.assert_allclose(got, jnp.linalg.norm(m, ord=2), rtol=1e-3)


def test_spectral_norm_of_zero_matrix_is_zero():
    assert float(spectral_norm(jnp.zeros((3, 4)), key=jax.random.PRNGKey(0))) == 0.0


def test_spectral_norms_of_a_stack():
    m = jax.random.normal(jax.random.PRNGKey(0), (6, 8, 8))
    got = spectral_norms(m, key=jax.random.PRNGKey(1))
    want = np.linalg.svd(np.asarray(m, np.float64), compute_uv=False)[:, 0]
    np.testing.assert_allclose(got, want, rtol=1e-3)


def test_frobenius_21_and_column_norms_against_loops():
    m = np.asarray(jax.random.normal(jax.random.PRNGKey(2), (2, 4, 6)), np.float64)
    for k in range(2):
        cols = [np.sqrt(sum(m[k, i, j] ** 2 for i in range(4))) for j in range(6)]
        np.testing.assert_allclose(norm_21(m)[k], sum(cols), rtol=1e-5)
        np.testing.assert_allclose(max_column_norm(m)[k], max(cols), rtol=1e-5)
        np.testing.assert_allclose(frobenius_norm(m)[k], np.linalg.norm(m[k], "fro"), rtol=1e-5)


def test_dead_zone_lipschitz_is_the_max_slope_on_a_dense_grid():
    # φ₁ = 2·ReLU, φ₂ = 0.5·ReLU: the pieces never overlap, so the constant is max (2), not 2.5.
    x = np.linspace(-4.0, 4.0, 80_001)
    # dead_zone is plain arithmetic, so numpy φ's keep this in float64.
    y = dead_zone(x, 0.3, 0.8, lambda u: 2 * np.maximum(u, 0), lambda u: 0.5 * np.maximum(u, 0))
    slopes = np.abs(np.diff(y) / np.diff(x))
    np.testing.assert_allclose(slopes.max(), dead_zone_lipschitz(2.0, 0.5), rtol=1e-3)
    with pytest.raises(ValueError, match="lip_phi1"):
        dead_zone_lipschitz(-1.0, 1.0)


def _block(key, width, scale=1.0):
    ka, kb, kw = jax.random.split(key, 3)
    return Block(
        A=scale * jax.random.normal(ka, (width, width)) / np.sqrt(width),
        b=0.1 * jax.random.normal(kb, (width,)),
        W=scale * jax.random.normal(kw, (width, width)) / np.sqrt(width),
    )


def test_block_lipschitz_is_the_product_of_dense_spectral_norms_and_bounds_jacobians():
    width = 6
    block = _block(jax.random.PRNGKey(0), width)
    bound = float(block_lipschitz(block, key=jax.random.PRNGKey(1)))
    dense = np.linalg.norm(np.asarray(block.A), 2) * np.linalg.norm(np.asarray(block.W), 2)
    np.testing.assert_allclose(bound, dense, rtol=1e-3)
    xs = jnp.asarray(2.0 * np.random.default_rng(2).standard_normal((200, width)), jnp.float32)
    jac = jax.jit(jax.vmap(jax.jacfwd(lambda x: residual_field(block, x, 0.1, 0.1))))(xs)
    sampled = np.linalg.svd(np.asarray(jac), compute_uv=False)[:, 0].max()
    assert sampled <= bound * (1 + 1e-4)
    # Away from the dead zone every unit is active and the Jacobian is (AW)ᵀ: the bound is the
    # product of norms, at least ‖AW‖₂, and that is reached.
    assert sampled >= 0.5 * np.linalg.norm(np.asarray(block.A @ block.W), 2)


def test_block_lipschitz_is_tight_in_one_dimension():
    block = Block(A=jnp.array([[-1.7]]), b=jnp.array([0.2]), W=jnp.array([[0.6]]))
    x = jnp.linspace(-5, 5, 10_001)[:, None]
    y = np.asarray(residual_field(block, x, 0.1, 0.1))[:, 0]
    slope = np.abs(np.diff(y) / np.diff(np.asarray(x)[:, 0])).max()
    np.testing.assert_allclose(float(block_lipschitz(block, key=jax.random.PRNGKey(0))), slope,
                               rtol=1e-3)  # fmt: skip


def test_residual_step_lipschitz_bounds_the_jacobian_of_the_step():
    width, tau = 5, 0.25
    stack = Block(*(jnp.stack([p, 2 * p]) for p in _block(jax.random.PRNGKey(3), width)))
    lips = residual_step_lipschitz(block_lipschitz(stack, key=jax.random.PRNGKey(4)), tau)
    assert lips.shape == (2,)
    xs = jnp.asarray(np.random.default_rng(5).standard_normal((100, width)), jnp.float32)
    for layer in range(2):
        block = Block(*(p[layer] for p in stack))
        step = jax.jacfwd(lambda x, b=block: x + tau * residual_field(b, x, 0.1, 0.1))
        jac = jax.jit(jax.vmap(step))(xs)
        sampled = np.linalg.svd(np.asarray(jac), compute_uv=False)[:, 0].max()
        assert 1.0 <= sampled <= float(lips[layer]) * (1 + 1e-4)
