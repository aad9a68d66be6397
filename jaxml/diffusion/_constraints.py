"""Constraints as pure residual functions ``c(x) -> r`` of one (unbatched) sample.

A sample satisfies the constraint when ``r = 0``; the softly constrained denoiser and the baselines
use ``1/2 ||c(x)||^2`` (arXiv 2512.14980, "Softly Constrained Denoisers for Diffusion Models").
"""

from __future__ import annotations

from collections.abc import Callable

import chex
import jax
import jax.numpy as jnp

ResidualFn = Callable[[jax.Array], jax.Array]


def _safe_norm(x: jax.Array) -> jax.Array:
    # sqrt has an infinite derivative at 0; the tiny offset keeps gradients finite at the origin.
    return jnp.sqrt(jnp.sum(jnp.square(x)) + 1e-12)


def circle_residual(x: jax.Array, radius: float = 1.0) -> jax.Array:
    """``[||x|| - radius]`` for a point ``x [2]`` (shape ``[1]``)."""
    chex.assert_shape(x, (2,))
    return jnp.reshape(_safe_norm(x) - radius, (1,))


def ellipse_residual(x: jax.Array, semi_axes: tuple[float, float] = (1.0, 1.0)) -> jax.Array:
    """``[sqrt((x/a)^2 + (y/b)^2) - 1]`` for a point ``x [2]``; a = b = r is the circle."""
    chex.assert_shape(x, (2,))
    a, b = semi_axes
    return jnp.reshape(_safe_norm(x / jnp.asarray([a, b])) - 1.0, (1,))


def half_squared_norm(residual_fn: ResidualFn) -> Callable[[jax.Array], jax.Array]:
    """``x -> 1/2 ||c(x)||^2`` (a scalar), i.e. ``-log c`` of the paper's Gaussian constraint."""

    def energy(x: jax.Array) -> jax.Array:
        r = residual_fn(x)
        return 0.5 * jnp.sum(jnp.square(r))

    return energy


def constraint_gradient(residual_fn: ResidualFn, x: jax.Array) -> jax.Array:
    """``grad_x 1/2 ||c(x)||^2 = J_c(x)^T c(x)`` for a batch ``x [B, ...]``."""
    return jax.vmap(jax.grad(half_squared_norm(residual_fn)))(x)


def batched_residual(residual_fn: ResidualFn, x: jax.Array) -> jax.Array:
    """``c(x)`` for every sample of ``x [B, ...]`` -> ``[B, ...]``."""
    return jax.vmap(residual_fn)(x)


def mean_abs_residual(residual_fn: ResidualFn, x: jax.Array) -> jax.Array:
    """Mean of ``|c(x)|`` over samples and residual entries (a scalar)."""
    return jnp.mean(jnp.abs(batched_residual(residual_fn, x)))


def _harmonic_mean(a: jax.Array, b: jax.Array) -> jax.Array:
    return 2.0 * a * b / (a + b)


def darcy_operator(log_k: jax.Array, p: jax.Array) -> jax.Array:
    """Cell-centred finite volumes for ``-div(K grad p)`` with zero-flux (Neumann) boundaries.

    The unit square holds ``N x N`` cells of side ``h = 1/N`` (axis 0 is x, axis 1 is y); the face
    permeability is the harmonic mean of its two cells and boundary faces carry no flux. Second
    order for smooth ``K`` and ``p``; PIDM's Darcy benchmark (Bastek et al., arXiv 2403.14404) uses
    the same equation.

    Args:
      log_k: ``[N, N]`` log-permeability.
      p: ``[N, N]`` pressure.
    Returns:
      ``[N, N]`` values of ``-div(K grad p)`` at the cell centres.
    """
    chex.assert_rank(log_k, 2)
    chex.assert_equal_shape((log_k, p))
    n = log_k.shape[0]
    h = 1.0 / n
    k = jnp.exp(log_k)
    flux_x = _harmonic_mean(k[1:, :], k[:-1, :]) * (p[1:, :] - p[:-1, :]) / h  # [N-1, N]
    flux_y = _harmonic_mean(k[:, 1:], k[:, :-1]) * (p[:, 1:] - p[:, :-1]) / h  # [N, N-1]
    flux_x = jnp.pad(flux_x, ((1, 1), (0, 0)))  # Zero flux through the boundary faces.
    flux_y = jnp.pad(flux_y, ((0, 0), (1, 1)))
    div = (flux_x[1:, :] - flux_x[:-1, :]) / h + (flux_y[:, 1:] - flux_y[:, :-1]) / h
    return -div


def darcy_source(n: int, magnitude: float = 10.0, width: float = 0.125) -> jax.Array:
    """``[n, n]`` source: ``+magnitude`` on the bottom-left square of side ``width``, ``-magnitude``
    on the top-right one (PIDM's Darcy setup); it sums to zero, as Neumann boundaries require."""
    centres = (jnp.arange(n) + 0.5) / n
    low = centres < width
    high = centres > 1.0 - width
    f = magnitude * (low[:, None] & low[None, :]) - magnitude * (high[:, None] & high[None, :])
    return f.astype(jnp.float32)


def darcy_residual(x: jax.Array, source: jax.Array) -> jax.Array:
    """``-div(K grad p) - f`` for a field ``x [N, N, 2]`` holding (log K, p) -> ``[N, N]``."""
    chex.assert_rank(x, 3)
    chex.assert_shape(source, x.shape[:2])
    return darcy_operator(x[..., 0], x[..., 1]) - source


def standardised_darcy_residual(
    x: jax.Array, source: jax.Array, mean: jax.Array, scale: jax.Array
) -> jax.Array:
    """:func:`darcy_residual` of a field standardised per channel (physical = ``x * scale + mean``).

    Args:
      x: ``[N, N, 2]`` standardised (log K, p).
      source: ``[N, N]`` source term (physical units).
      mean, scale: ``[2]`` per-channel mean and scale of the standardisation.
    """
    chex.assert_shape((mean, scale), (2,))
    return darcy_residual(x * scale[None, None, :] + mean[None, None, :], source)


def darcy_source_family(
    source: jax.Array, mean: jax.Array, scale: jax.Array, *, grad_log_k: bool = False
) -> Callable[[jax.Array], ResidualFn]:
    """``theta [1] -> c``: Darcy constraints of standardised fields with the source times theta[0].

    The residual is divided per sample by the Gershgorin bound ``8 max(K) / h^2`` of the
    finite-volume matrix (times the pressure's scale), so that ``||dc/dp|| <= 1`` and a soft
    correction step with ``gamma <= 1`` (arXiv 2512.14980) cannot blow up, whatever permeability
    it sees. log K is held fixed in the constraint (stop-gradient) unless ``grad_log_k``: the
    correction then moves the pressure towards the solution for the permeability it sees. A
    misspecified constraint is ``theta != 1`` (the wrong source magnitude).

    Args:
      source: ``[N, N]`` the data's source term (physical units).
      mean, scale: ``[2]`` per-channel standardisation of (log K, p).
      grad_log_k: let the constraint gradient move log K too.
    """
    chex.assert_rank(source, 2)
    h = 1.0 / source.shape[0]

    def family(theta: jax.Array) -> ResidualFn:
        def residual(x: jax.Array) -> jax.Array:
            log_k = x[..., 0] if grad_log_k else jax.lax.stop_gradient(x[..., 0])
            x = jnp.stack([log_k, x[..., 1]], axis=-1)
            k_max = jnp.exp(jnp.max(jax.lax.stop_gradient(log_k) * scale[0] + mean[0]))
            bound = 8.0 * k_max * scale[1] / h**2
            return standardised_darcy_residual(x, source * theta[0], mean, scale) / bound

        return residual

    return family
