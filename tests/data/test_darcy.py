import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import diffusion
from jaxml.data import darcy


def cos_mode(n):
    c = (np.arange(n) + 0.5) / n
    return np.cos(np.pi * c)[:, None] * np.cos(np.pi * c)[None, :]


def test_solver_reproduces_the_discrete_eigenfunction_exactly():
    # With K = 1, cos(pi x) cos(pi y) at the cell centres is an eigenvector of the zero-flux
    # finite-volume Laplacian with eigenvalue 2 (2 - 2 cos(pi h)) / h^2.
    n = 16
    h = 1.0 / n
    p_star = cos_mode(n)
    lam = 2 * (2 - 2 * np.cos(np.pi * h)) / h**2
    p = darcy.solve_pressure(jnp.zeros((n, n)), jnp.asarray(lam * p_star, jnp.float32))
    np.testing.assert_allclose(p, p_star, atol=2e-4)


def test_solver_converges_at_second_order_to_the_manufactured_solution():
    # -laplace p = 2 pi^2 p for p = cos(pi x) cos(pi y), which has zero normal derivative.
    errors = []
    for n in (8, 16):
        p_star = cos_mode(n)
        f = jnp.asarray(2 * np.pi**2 * p_star, jnp.float32)
        errors.append(float(np.max(np.abs(darcy.solve_pressure(jnp.zeros((n, n)), f) - p_star))))
    assert errors[1] < 0.01 and 3.3 < errors[0] / errors[1] < 4.7, errors


def test_generated_fields_solve_the_pde_with_zero_mean_pressure():
    x = darcy.generate_darcy(jax.random.PRNGKey(0), 4, n=8, num_modes=16)
    assert x.shape == (4, 8, 8, 2)
    source = diffusion.darcy_source(8)
    res = jax.vmap(lambda y: diffusion.darcy_residual(y, source))(x)
    assert float(jnp.max(jnp.abs(res))) < 1e-3 * 10.0
    np.testing.assert_allclose(jnp.mean(x[..., 1], axis=(1, 2)), 0.0, atol=1e-5)
    assert float(jnp.std(x[..., 1])) > 1e-3  # Not the trivial solution.


def test_log_permeability_has_the_exponential_covariance():
    n, ell = 6, 0.3
    basis = darcy.kl_basis(n, ell, n * n)  # All modes: the covariance is exact.
    g = darcy.sample_log_permeability(jax.random.PRNGKey(1), 20_000, n, basis)
    g = np.asarray(g).reshape(20_000, -1)
    emp = np.cov(g.T)
    c = (np.arange(n) + 0.5) / n
    pts = np.stack(np.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 2)
    target = np.exp(-np.linalg.norm(pts[:, None] - pts[None], axis=-1) / ell)
    np.testing.assert_allclose(emp, target, atol=0.05)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_modes"):
        darcy.kl_basis(4, 0.2, 17)
    with pytest.raises(ValueError, match="length_scale"):
        darcy.kl_basis(4, 0.0, 4)
