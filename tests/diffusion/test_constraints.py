import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import diffusion


def directional_fd(f, x, v, eps=1e-3):
    return (f(x + eps * v) - f(x - eps * v)) / (2 * eps)


@pytest.mark.parametrize(
    "residual_fn",
    [
        diffusion.circle_residual,
        lambda x: diffusion.circle_residual(x, 1.3),
        lambda x: diffusion.ellipse_residual(x, (1.5, 0.7)),
    ],
    ids=["unit_circle", "circle_1.3", "ellipse"],
)
def test_point_constraint_gradients_match_finite_differences(residual_fn):
    energy = diffusion.half_squared_norm(residual_fn)
    x = jax.random.normal(jax.random.PRNGKey(0), (16, 2))
    v = jax.random.normal(jax.random.PRNGKey(1), (16, 2))
    grads = diffusion.constraint_gradient(residual_fn, x)
    for i in range(16):
        fd = directional_fd(energy, x[i], v[i])
        np.testing.assert_allclose(jnp.dot(grads[i], v[i]), fd, rtol=2e-2, atol=2e-3)


def test_circle_and_ellipse_residuals():
    x = jnp.array([[3.0, 4.0], [0.0, 0.5]])
    np.testing.assert_allclose(diffusion.batched_residual(diffusion.circle_residual, x)[:, 0],
                               [4.0, -0.5], rtol=1e-5)  # fmt: skip
    e = diffusion.batched_residual(lambda p: diffusion.ellipse_residual(p, (3.0, 8.0)), x)
    np.testing.assert_allclose(e[:, 0], [np.sqrt(1 + 0.25) - 1, 0.5 / 8 - 1], rtol=1e-5)


def dense_darcy_operator(log_k, p):
    """Slow loop over cells: the same finite-volume stencil written out face by face."""
    n = log_k.shape[0]
    h = 1.0 / n
    k = np.exp(log_k)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                a, b = i + di, j + dj
                if 0 <= a < n and 0 <= b < n:
                    kf = 2 * k[i, j] * k[a, b] / (k[i, j] + k[a, b])
                    out[i, j] += kf * (p[i, j] - p[a, b]) / h**2
    return out


def test_darcy_operator_matches_a_slow_loop():
    key1, key2 = jax.random.split(jax.random.PRNGKey(0))
    log_k = jax.random.normal(key1, (6, 6))
    p = jax.random.normal(key2, (6, 6))
    np.testing.assert_allclose(
        diffusion.darcy_operator(log_k, p),
        dense_darcy_operator(np.asarray(log_k, np.float64), np.asarray(p, np.float64)),
        rtol=1e-4,
        atol=1e-3,
    )


def test_darcy_source_sums_to_zero():
    f = np.asarray(diffusion.darcy_source(16))
    assert f.sum() == 0 and f[0, 0] == 10 and f[-1, -1] == -10 and (f != 0).sum() == 8


def test_darcy_residual_gradient_matches_finite_differences():
    n = 5
    source = diffusion.darcy_source(n, magnitude=1.0, width=0.2)
    residual_fn = lambda x: diffusion.darcy_residual(x, source) / 100.0  # noqa: E731
    energy = jax.jit(diffusion.half_squared_norm(residual_fn))
    x = 0.5 * jax.random.normal(jax.random.PRNGKey(3), (3, n, n, 2))
    v = jax.random.normal(jax.random.PRNGKey(4), (3, n, n, 2))
    grads = jax.jit(lambda y: diffusion.constraint_gradient(residual_fn, y))(x)
    for i in range(3):
        fd = directional_fd(energy, x[i], v[i], eps=1e-3)
        np.testing.assert_allclose(jnp.vdot(grads[i], v[i]), fd, rtol=2e-2)


def standardised_darcy_fields(n=8):
    # Fields that solve the Darcy equation (jaxml.data.darcy), standardised per channel.
    from jaxml.data.darcy import generate_darcy

    fields = generate_darcy(jax.random.PRNGKey(0), 4, n, 0.2, 8, 1.0, 10.0)
    mean = jnp.mean(fields, axis=(0, 1, 2))
    scale = jnp.std(fields, axis=(0, 1, 2)) / 0.5
    return (
        (fields - mean[None, None, None]) / scale[None, None, None],
        mean,
        scale,
        diffusion.darcy_source(n, 10.0),
    )


def test_standardised_darcy_residual_is_the_physical_one():
    x, mean, scale, source = standardised_darcy_fields()
    physical = x[0] * scale[None, None] + mean[None, None]
    np.testing.assert_allclose(
        diffusion.standardised_darcy_residual(x[0], source, mean, scale),
        diffusion.darcy_residual(physical, source),
        rtol=1e-6,
    )
    assert float(jnp.max(jnp.abs(diffusion.darcy_residual(physical, source)))) < 1e-3


def test_darcy_source_family_scales_the_source_and_bounds_the_pressure_jacobian():
    x, mean, scale, source = standardised_darcy_fields()
    family = diffusion.darcy_source_family(source, mean, scale)
    correct, doubled = family(jnp.asarray([1.0])), family(jnp.asarray([2.0]))
    x = x[0]
    # Data solve the PDE with the given source: only theta = 1 has (almost) no residual.
    assert float(jnp.max(jnp.abs(correct(x)))) < 1e-5
    # theta = 2 leaves -f over the Gershgorin bound 8 max(K) scale_p / h^2 wherever f != 0.
    k_max = jnp.exp(jnp.max(x[..., 0] * scale[0] + mean[0]))
    expected = -source / (8.0 * k_max * scale[1] * 8**2)
    np.testing.assert_allclose(doubled(x) - correct(x), expected, rtol=1e-4, atol=1e-9)
    # log K is held fixed: the gradient moves the pressure only (unless grad_log_k).
    grad = jax.grad(lambda y: 0.5 * jnp.sum(doubled(y) ** 2))(x + 0.1)
    assert float(jnp.max(jnp.abs(grad[..., 0]))) == 0.0
    assert float(jnp.max(jnp.abs(grad[..., 1]))) > 0.0
    free = diffusion.darcy_source_family(source, mean, scale, grad_log_k=True)(jnp.asarray([2.0]))
    grad = jax.grad(lambda y: 0.5 * jnp.sum(free(y) ** 2))(x + 0.1)
    assert float(jnp.max(jnp.abs(grad[..., 0]))) > 0.0
    # Gershgorin scaling: the pressure Jacobian has spectral norm <= 1.
    jac = jax.jacfwd(lambda p: correct(jnp.stack([x[..., 0], p], -1)).ravel())(x[..., 1])
    assert float(np.linalg.norm(np.asarray(jac).reshape(64, 64), 2)) <= 1.0 + 1e-5
