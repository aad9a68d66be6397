"""Darcy flow data: random log-permeability fields and their finite-volume pressure solutions.

The setup of PIDM's Darcy benchmark (Bastek, Sun, Kochmann, "Physics-Informed Diffusion Models",
arXiv 2403.14404), used by "Softly Constrained Denoisers for Diffusion Models" (arXiv 2512.14980),
on a small grid: ``-div(K grad p) = f`` on the unit square with zero-flux boundaries and zero-mean
pressure, ``log K`` a Gaussian random field with exponential covariance ``exp(-r / length_scale)``
(truncated Karhunen-Loeve expansion), and ``f = +-magnitude`` on two corner squares. The operator is
:func:`jaxml.diffusion.darcy_operator`, so a solved field has zero discrete residual.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxml.diffusion._constraints import darcy_operator, darcy_source


class KLBasis(NamedTuple):
    std: jax.Array  # [M] square roots of the covariance eigenvalues, descending.
    modes: jax.Array  # [N*N, M] orthonormal eigenvectors on the cell centres.


def kl_basis(n: int, length_scale: float, num_modes: int) -> KLBasis:
    """Leading ``num_modes`` eigenpairs of the exponential covariance on the n x n cell centres."""
    if not 1 <= num_modes <= n * n:
        raise ValueError(f"num_modes={num_modes}: must be in [1, {n * n}] for n={n}")
    if length_scale <= 0:
        raise ValueError(f"length_scale={length_scale}: must be > 0")
    c = (np.arange(n) + 0.5) / n
    pts = np.stack(np.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 2)
    cov = np.exp(-np.linalg.norm(pts[:, None] - pts[None], axis=-1) / length_scale)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:num_modes]
    std = np.sqrt(np.maximum(vals[order], 0.0))
    return KLBasis(jnp.asarray(std, jnp.float32), jnp.asarray(vecs[:, order], jnp.float32))


def sample_log_permeability(
    key: jax.Array, num: int, n: int, basis: KLBasis, log_k_std: float = 1.0
) -> jax.Array:
    """``[num, n, n]`` Gaussian fields ``log K = log_k_std * sum_m sqrt(l_m) xi_m phi_m``."""
    xi = jax.random.normal(key, (num, basis.std.shape[0]))
    fields = (xi * basis.std[None, :]) @ basis.modes.T
    return log_k_std * fields.reshape(num, n, n)


def darcy_matrix(log_k: jax.Array) -> jax.Array:
    """Dense ``[N*N, N*N]`` matrix of :func:`darcy_operator` (linear in p) for one field."""
    n = log_k.shape[0]
    return jax.jacfwd(lambda p: darcy_operator(log_k, p.reshape(n, n)).reshape(-1))(
        jnp.zeros(n * n, log_k.dtype)
    )


def solve_pressure(log_k: jax.Array, source: jax.Array) -> jax.Array:
    """Zero-mean ``p [N, N]`` with ``darcy_operator(log_k, p) = source`` (a dense solve).

    The Neumann operator ``A`` is symmetric with null space the constants; for a zero-sum source
    ``(A + alpha 1 1^T) p = f`` has a unique solution, and it has zero mean.
    """
    chex.assert_rank(log_k, 2)
    chex.assert_equal_shape((log_k, source))
    n = log_k.shape[0]
    a = darcy_matrix(log_k)
    alpha = jnp.mean(jnp.diag(a)) / (n * n)
    p = jnp.linalg.solve(a + alpha * jnp.ones_like(a), source.reshape(-1))
    return p.reshape(n, n)


@partial(jax.jit, static_argnames=("num", "n", "num_modes", "length_scale"))
def _generate(key, num, n, length_scale, num_modes, log_k_std, magnitude, width):
    basis = kl_basis(n, length_scale, num_modes)
    log_k = sample_log_permeability(key, num, n, basis, log_k_std)
    source = darcy_source(n, magnitude, width)
    p = jax.vmap(solve_pressure, in_axes=(0, None))(log_k, source)
    return jnp.stack([log_k, p], axis=-1)


def generate_darcy(
    key: jax.Array,
    num: int,
    n: int = 16,
    length_scale: float = 0.2,
    num_modes: int = 32,
    log_k_std: float = 1.0,
    source_magnitude: float = 10.0,
    source_width: float = 0.125,
) -> jax.Array:
    """``[num, n, n, 2]`` fields holding (log K, p) with p solved for each log K."""
    if num < 1 or n < 2:
        raise ValueError(f"num={num} must be >= 1 and n={n} >= 2")
    return _generate(
        key, num, n, length_scale, num_modes, log_k_std, source_magnitude, source_width
    )
