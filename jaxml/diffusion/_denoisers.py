"""Denoisers: plain EDM, softly constrained (SCD), and the two baselines it is compared with.

"Softly Constrained Denoisers for Diffusion Models" (Yeom-Song, Rissanen, Solin, Kaski, Sun;
arXiv 2512.14980) moves a guidance-like correction into the denoiser itself:

    D_SCD(x; sigma) = D_theta - gamma(sigma) * grad_y 1/2 ||c(y)||^2  at  y = D_theta(x; sigma)

and trains it with the unchanged EDM loss. The public paper gives no code; the choices made here
(documented on :class:`SoftConstrainedDenoiser`) are:

* the correction is applied to the full preconditioned denoiser output (after ``c_skip``/``c_out``),
* ``gamma`` is a non-negative scalar per sample that depends on sigma only, ``learned`` (a small
  MLP of ``c_noise`` squashed into ``[0, gamma_max]``), ``scheduled`` (``gamma_0 sigma^2 /
  (sigma^2 + sigma_d^2)``, the shape of the posterior variance of Gaussian data) or ``constant``,
* the constraint gradient is taken at ``D_theta`` without a VJP through the network; whether the
  training gradient flows through ``D_theta`` inside the correction is the ``stop_gradient`` field.

Baselines: PIDM-style loss regularisation (Bastek et al., arXiv 2403.14404) via
:func:`regularised_denoising_loss`, and DPS-style sampling guidance (Chung et al., arXiv
2209.14687) via :func:`dps_guided`, which differentiates the residual through the denoiser.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxml.diffusion._constraints import ResidualFn, constraint_gradient, half_squared_norm
from jaxml.diffusion._edm import (
    SIGMA_DATA,
    DenoiseFn,
    _expand,
    denoising_loss,
    loss_weight,
    precondition,
)
from jaxml.models.mlp import MLP

GAMMA_MODES = ("learned", "scheduled", "constant")
DPS_WEIGHTINGS = ("sigma_squared", "constant")
PIDM_WEIGHTINGS = ("edm", "none")


def fourier_features(c_noise: jax.Array, dim: int, max_frequency: float = 16.0) -> jax.Array:
    """``[B] -> [B, dim]`` sin/cos features of the noise-level input at log-spaced frequencies."""
    if dim % 2:
        raise ValueError(f"dim={dim}: must be even")
    freqs = jnp.exp(jnp.linspace(0.0, math.log(max_frequency), dim // 2))
    angles = c_noise[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


class MLPDenoiserNet(nn.Module):
    """Raw network ``F(c_in x, c_noise)`` for flat data ``[B, D]``: an MLP on [x, emb(sigma)]."""

    width: int = 128
    depth: int = 3
    embed_dim: int = 16

    @nn.compact
    def __call__(self, x: jax.Array, c_noise: jax.Array) -> jax.Array:
        h = jnp.concatenate([x, fourier_features(c_noise, self.embed_dim)], axis=-1)
        return MLP(x.shape[-1], hidden=(self.width,) * self.depth, activation=nn.silu)(h)


class EDMDenoiser(nn.Module):
    """Plain EDM denoiser ``D(x; sigma) = c_skip x + c_out F(c_in x, c_noise)`` (arXiv 2206.00364).

    ``net`` maps ``(x [B, ...], c_noise [B]) -> [B, ...]``; call with ``x [B, ...], sigma [B]``.
    """

    net: nn.Module
    sigma_data: float = SIGMA_DATA

    @nn.compact
    def __call__(self, x: jax.Array, sigma: jax.Array) -> jax.Array:
        return precondition(self.net, x, sigma, self.sigma_data)


class Gamma(nn.Module):
    """Non-negative correction scale ``gamma(sigma) [B]`` of the softly constrained denoiser."""

    mode: str = "learned"
    gamma_init: float = 0.5  # learned: the value at initialisation; scheduled: gamma_0.
    gamma_max: float = 1.0  # learned: upper bound (keeps the gradient step stable).
    sigma_data: float = SIGMA_DATA
    hidden: int = 32

    @nn.compact
    def __call__(self, sigma: jax.Array) -> jax.Array:
        if self.mode not in GAMMA_MODES:
            raise ValueError(f"gamma mode={self.mode!r}: must be one of {', '.join(GAMMA_MODES)}")
        if self.mode == "constant":
            return jnp.full(sigma.shape, self.gamma_init)
        if self.mode == "scheduled":
            return self.gamma_init * sigma**2 / (sigma**2 + self.sigma_data**2)
        if not 0.0 < self.gamma_init < self.gamma_max:
            raise ValueError(
                f"gamma_init={self.gamma_init}: must be in (0, gamma_max={self.gamma_max})"
            )
        c_noise = 0.25 * jnp.log(sigma)
        h = nn.silu(nn.Dense(self.hidden)(fourier_features(c_noise, 8)))
        # Zero-initialised head: gamma starts at gamma_init for every sigma.
        frac = self.gamma_init / self.gamma_max
        bias0 = math.log(frac / (1.0 - frac))
        logit = nn.Dense(
            1, kernel_init=nn.initializers.zeros, bias_init=nn.initializers.constant(bias0)
        )(h)
        return self.gamma_max * jax.nn.sigmoid(logit[:, 0])


def soft_correction(x0: jax.Array, residual_fn: ResidualFn, gamma: jax.Array) -> jax.Array:
    """``x0 - gamma * grad 1/2 ||c(x0)||^2`` for a batch ``x0 [B, ...]`` and ``gamma [B]``."""
    return x0 - _expand(gamma, x0) * constraint_gradient(residual_fn, x0)


class SoftConstrainedDenoiser(nn.Module):
    """Softly constrained denoiser ``D_theta - gamma(sigma) grad 1/2||c(D_theta)||^2``.

    "Softly Constrained Denoisers for Diffusion Models", arXiv 2512.14980. Trained with the plain
    EDM loss; sampled with the plain sampler. Call with ``x [B, ...], sigma [B]``.

    Attributes:
      net: raw network, as for :class:`EDMDenoiser`.
      residual_fn: constraint ``c(x) -> residual`` of one sample.
      gamma_mode: one of ``learned``, ``scheduled``, ``constant`` (see :class:`Gamma`).
      gamma_init, gamma_max: see :class:`Gamma`.
      stop_gradient: treat ``D_theta`` inside the correction as a constant when training (the
        correction then only shifts the target the network learns); False backpropagates through
        it, so the network learns where the correction will move its output.
    """

    net: nn.Module
    residual_fn: ResidualFn
    gamma_mode: str = "learned"
    gamma_init: float = 0.5
    gamma_max: float = 1.0
    stop_gradient: bool = False
    sigma_data: float = SIGMA_DATA

    def setup(self):
        self.base = EDMDenoiser(self.net, self.sigma_data)
        self.gamma = Gamma(self.gamma_mode, self.gamma_init, self.gamma_max, self.sigma_data)

    def __call__(self, x: jax.Array, sigma: jax.Array) -> jax.Array:
        denoised = self.base(x, sigma)
        at = jax.lax.stop_gradient(denoised) if self.stop_gradient else denoised
        correction = constraint_gradient(self.residual_fn, at)
        return denoised - _expand(self.gamma(sigma), x) * correction

    def gamma_value(self, sigma: jax.Array) -> jax.Array:
        """``gamma(sigma) [B]``, e.g. ``model.apply(params, sigma, method="gamma_value")``."""
        return self.gamma(sigma)


def residual_penalty(
    residual_fn: ResidualFn, x: jax.Array, weight: jax.Array | None = None
) -> jax.Array:
    """Batch mean of ``weight_b ||c(x_b)||^2`` (PIDM's residual loss on the denoised estimate).

    Args:
      residual_fn: constraint of one sample.
      x: ``[B, ...]`` denoised estimates.
      weight: optional ``[B]`` per-sample weights (default 1).
    """
    sq = 2.0 * jax.vmap(half_squared_norm(residual_fn))(x)
    return jnp.mean(sq if weight is None else weight * sq)


def regularised_denoising_loss(
    denoise_fn: DenoiseFn,
    residual_fn: ResidualFn,
    weight: float,
    key: jax.Array,
    x0: jax.Array,
    sigma_data: float = SIGMA_DATA,
    p_mean: float = -1.2,
    p_std: float = 1.2,
    sigma_weighting: str = "edm",
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """PIDM-style loss (arXiv 2403.14404): EDM loss + ``weight * mean w(sigma) ||c(D)||^2``.

    ``sigma_weighting='edm'`` uses the EDM weight ``w = lambda(sigma)`` of the denoising term, so
    ``weight`` sets the same penalty-to-error ratio at every noise level, as PIDM's unweighted sum
    of x0-error and residual does; ``'none'`` uses ``w = 1``. Returns ``(loss, aux)``.
    """
    if sigma_weighting not in PIDM_WEIGHTINGS:
        raise ValueError(
            f"sigma_weighting={sigma_weighting!r}: must be one of {', '.join(PIDM_WEIGHTINGS)}"
        )
    loss, aux = denoising_loss(denoise_fn, key, x0, sigma_data, p_mean, p_std)
    w = loss_weight(aux["sigma"], sigma_data) if sigma_weighting == "edm" else None
    penalty = residual_penalty(residual_fn, aux["denoised"], w)
    return loss + weight * penalty, {**aux, "denoise_loss": loss, "residual_penalty": penalty}


def dps_guided(
    denoise_fn: DenoiseFn,
    residual_fn: ResidualFn,
    scale: float,
    weighting: str = "sigma_squared",
) -> DenoiseFn:
    """DPS-style guided denoiser ``D - w(sigma) scale grad_x 1/2 ||c(D(x; sigma))||^2``.

    The gradient goes through the denoiser (a VJP), as in Diffusion Posterior Sampling (Chung et
    al., arXiv 2209.14687). ``weighting='sigma_squared'`` uses ``w = sigma^2``, which turns the
    guided score ``grad log p(x) - scale grad 1/2||c(D)||^2`` into denoiser space exactly (Tweedie);
    ``'constant'`` uses ``w = 1`` (swirl-dynamics' guidance transforms).
    """
    if weighting not in DPS_WEIGHTINGS:
        raise ValueError(f"weighting={weighting!r}: must be one of {', '.join(DPS_WEIGHTINGS)}")

    def guided(x: jax.Array, sigma: jax.Array) -> jax.Array:
        denoised, vjp = jax.vjp(lambda y: denoise_fn(y, sigma), x)
        # Samples are independent, so one VJP with per-sample cotangents gives per-sample grads.
        (grad_x,) = vjp(constraint_gradient(residual_fn, denoised))
        w = sigma**2 if weighting == "sigma_squared" else jnp.ones_like(sigma)
        return denoised - scale * _expand(w, x) * grad_x

    return guided


def apply_fn(model: nn.Module, params) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``(x, sigma) -> model.apply(params, x, sigma)``: a denoise function for the samplers."""
    return lambda x, sigma: model.apply(params, x, sigma)
