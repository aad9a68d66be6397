"""EDM diffusion: preconditioning, noise-level sampling, loss weighting and the Heun sampler.

Karras, Aittala, Aila, Laine, "Elucidating the Design Space of Diffusion-Based Generative Models",
NeurIPS 2022, arXiv 2206.00364. Data ``x0``, noisy ``x = x0 + sigma * n``; the denoiser
``D(x; sigma)`` estimates ``E[x0 | x]`` and is built from a raw network ``F`` as
``D = c_skip x + c_out F(c_in x, c_noise)`` (Table 1 of the paper).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

# Denoise function: ``(x [B, ...], sigma [B]) -> D(x; sigma) [B, ...]``.
DenoiseFn = Callable[[jax.Array, jax.Array], jax.Array]

SIGMA_DATA = 0.5  # EDM's default data standard deviation.


class Preconditioning(NamedTuple):
    c_skip: jax.Array  # Same shape as sigma.
    c_out: jax.Array
    c_in: jax.Array
    c_noise: jax.Array


def edm_preconditioning(sigma: jax.Array, sigma_data: float = SIGMA_DATA) -> Preconditioning:
    """EDM's c_skip, c_out, c_in, c_noise (Karras et al. 2022, arXiv 2206.00364, Table 1).

    Args:
      sigma: noise levels, any shape (> 0).
      sigma_data: standard deviation of the data.
    """
    sigma = jnp.asarray(sigma)
    total = sigma**2 + sigma_data**2
    return Preconditioning(
        c_skip=sigma_data**2 / total,
        c_out=sigma * sigma_data / jnp.sqrt(total),
        c_in=1.0 / jnp.sqrt(total),
        c_noise=0.25 * jnp.log(sigma),
    )


def loss_weight(sigma: jax.Array, sigma_data: float = SIGMA_DATA) -> jax.Array:
    """EDM loss weight lambda(sigma) = (sigma^2 + sigma_d^2) / (sigma sigma_d)^2."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def sample_sigma(
    key: jax.Array, shape: tuple[int, ...], p_mean: float = -1.2, p_std: float = 1.2
) -> jax.Array:
    """Training noise levels: ln sigma ~ N(p_mean, p_std^2) (EDM, arXiv 2206.00364)."""
    return jnp.exp(p_mean + p_std * jax.random.normal(key, shape))


def _expand(v: jax.Array, x: jax.Array) -> jax.Array:
    """``[B]`` -> ``[B, 1, ..., 1]`` so it multiplies ``x [B, ...]`` without rank promotion."""
    return v.reshape(v.shape + (1,) * (x.ndim - v.ndim))


def precondition(
    net_fn: Callable[[jax.Array, jax.Array], jax.Array],
    x: jax.Array,
    sigma: jax.Array,
    sigma_data: float = SIGMA_DATA,
) -> jax.Array:
    """``D(x; sigma) = c_skip x + c_out F(c_in x, c_noise)`` for a raw network ``F = net_fn``.

    Args:
      net_fn: ``(scaled x [B, ...], c_noise [B]) -> [B, ...]``.
      x: noisy samples ``[B, ...]``.
      sigma: noise levels ``[B]``.
    """
    chex.assert_rank(sigma, 1)
    chex.assert_equal_shape_prefix((x, sigma), 1)
    c = edm_preconditioning(sigma, sigma_data)
    out = net_fn(_expand(c.c_in, x) * x, c.c_noise)
    chex.assert_equal_shape((out, x))
    return _expand(c.c_skip, x) * x + _expand(c.c_out, x) * out


def denoising_loss(
    denoise_fn: DenoiseFn,
    key: jax.Array,
    x0: jax.Array,
    sigma_data: float = SIGMA_DATA,
    p_mean: float = -1.2,
    p_std: float = 1.2,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """EDM training loss ``E lambda(sigma) ||D(x0 + sigma n; sigma) - x0||^2`` (per-sample mean).

    Returns the loss and ``{"denoised": D [B, ...], "sigma": [B]}`` for regularisers.
    """
    k_sigma, k_noise = jax.random.split(key)
    sigma = sample_sigma(k_sigma, x0.shape[:1], p_mean, p_std)
    x = x0 + _expand(sigma, x0) * jax.random.normal(k_noise, x0.shape)
    denoised = denoise_fn(x, sigma)
    err = jnp.mean(jnp.square(denoised - x0).reshape(x0.shape[0], -1), axis=1)
    loss = jnp.mean(loss_weight(sigma, sigma_data) * err)
    return loss, {"denoised": denoised, "sigma": sigma}


def karras_sigmas(
    num_steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
) -> jax.Array:
    """``[num_steps + 1]`` noise levels of EDM's schedule (Eq. 5), the last one 0."""
    if num_steps < 1:
        raise ValueError(f"num_steps={num_steps}: must be >= 1")
    i = jnp.arange(num_steps)
    denom = max(num_steps - 1, 1)
    sig = (
        sigma_max ** (1 / rho) + i / denom * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))
    ) ** rho
    return jnp.concatenate([sig, jnp.zeros((1,))])


def heun_sample(
    denoise_fn: DenoiseFn, key: jax.Array, shape: tuple[int, ...], sigmas: jax.Array
) -> jax.Array:
    """Deterministic Heun sampler of the probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma.

    EDM Algorithm 1 with S_churn = 0 (arXiv 2206.00364): Euler step plus a trapezoidal correction,
    except into sigma = 0 where the Euler step is kept.

    Args:
      denoise_fn: ``(x [B, ...], sigma [B]) -> [B, ...]``.
      key: PRNG key for the initial noise ``x ~ N(0, sigmas[0]^2 I)``.
      shape: ``(B, ...)``, the batch of samples to draw.
      sigmas: decreasing noise levels ending in 0, e.g. from :func:`karras_sigmas`.
    Returns:
      Samples ``[B, ...]``.
    """
    chex.assert_rank(sigmas, 1)
    batch = shape[0]
    x = sigmas[0] * jax.random.normal(key, shape)

    def step(x, sig):
        s_cur, s_next = sig
        d_cur = (x - denoise_fn(x, jnp.full((batch,), s_cur))) / s_cur
        x_euler = x + (s_next - s_cur) * d_cur

        def heun(_):
            # Guard the denoiser against sigma = 0 even on the branch that is not taken.
            s_safe = jnp.where(s_next > 0, s_next, 1.0)
            d_next = (x_euler - denoise_fn(x_euler, jnp.full((batch,), s_safe))) / s_safe
            return x + (s_next - s_cur) * 0.5 * (d_cur + d_next)

        x_new = jax.lax.cond(s_next > 0, heun, lambda _: x_euler, None)
        return x_new, None

    pairs = jnp.stack([sigmas[:-1], sigmas[1:]], axis=1)
    x, _ = jax.lax.scan(step, x, pairs)
    return x
