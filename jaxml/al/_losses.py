"""Heteroscedastic regression losses, each ``loss(mean [N], variance [N], y [N], weight [N])``.

``weight`` is a 0/1 (or any non-negative) row weight, so a padded, masked batch gives the mean over
its real rows; rows of weight 0 send no gradient. Constants (½ log 2π) are dropped from training
losses; :func:`gaussian_nll` with ``include_constant=True`` is the evaluation metric.

References: CAAL, "Confidence-Aware Active Learning for Heteroscedastic Atmospheric Regression"
(Jiang et al., arXiv 2602.11825); β-NLL (Seitzer et al., arXiv 2203.09168); Faithful heteroscedastic
regression (Stirn et al., arXiv 2212.09184); natural-parameter NLL (Immer et al., NeurIPS 2023).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

LossFn = Callable[[jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]
LOSSES = ("caal", "mse_nll", "nll", "beta_nll", "faithful", "natural_nll", "mse")

_HALF_LOG_2PI = 0.5 * float(jnp.log(2.0 * jnp.pi))


def _weighted_mean(values: jax.Array, weight: jax.Array | None) -> jax.Array:
    if weight is None:
        return jnp.mean(values)
    return jnp.sum(values * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def mse(mean: jax.Array, y: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """Mean squared error ``(1/N) Σ (y − μ)²``."""
    return _weighted_mean((y - mean) ** 2, weight)


def gaussian_nll(
    mean: jax.Array,
    variance: jax.Array,
    y: jax.Array,
    weight: jax.Array | None = None,
    *,
    include_constant: bool = False,
) -> jax.Array:
    """Gaussian NLL ``(1/N) Σ [(y − μ)² / (2σ²) + ½ log σ²]`` (+ ½ log 2π if asked)."""
    nll = (y - mean) ** 2 / (2.0 * variance) + 0.5 * jnp.log(variance)
    if include_constant:
        nll = nll + _HALF_LOG_2PI
    return _weighted_mean(nll, weight)


def caal_loss(mean, variance, y, weight=None, *, lam: float = 0.1) -> jax.Array:
    """CAAL's decoupled objective ``MSE(μ) + λ·NLL(sg(μ), σ²)``: only the MSE trains the mean.

    The trunk is shared and not detached, so the NLL still shapes the features through σ².
    """
    nll = gaussian_nll(jax.lax.stop_gradient(mean), variance, y, weight)
    return mse(mean, y, weight) + lam * nll


def mse_nll_loss(mean, variance, y, weight=None, *, lam: float = 0.1) -> jax.Array:
    """The CAAL ablation without stop-gradient: ``MSE(μ) + λ·NLL(μ, σ²)``."""
    return mse(mean, y, weight) + lam * gaussian_nll(mean, variance, y, weight)


def nll_loss(mean, variance, y, weight=None) -> jax.Array:
    """Plain Gaussian NLL (Kendall & Gal 2017; deep ensembles)."""
    return gaussian_nll(mean, variance, y, weight)


def beta_nll_loss(mean, variance, y, weight=None, *, beta: float = 0.5) -> jax.Array:
    """β-NLL ``sg(σ²)^β · [(y − μ)² / (2σ²) + ½ log σ²]``

    β = 0 is the NLL; β = 1 gives the μ-gradient of the MSE.
    """
    nll = (y - mean) ** 2 / (2.0 * variance) + 0.5 * jnp.log(variance)
    return _weighted_mean(jax.lax.stop_gradient(variance) ** beta * nll, weight)


def faithful_loss(mean, variance, y, weight=None) -> jax.Array:
    """Faithful: ``MSE(μ) + NLL(sg(μ), σ²)`` at weight 1.

    Pair it with ``HeteroscedasticRegressor(detach_variance_features=True)``: the variance head then
    sees stop-gradient trunk features, so the trunk is trained by the MSE alone.
    """
    return mse(mean, y, weight) + gaussian_nll(jax.lax.stop_gradient(mean), variance, y, weight)


def natural_nll(eta1: jax.Array, eta2: jax.Array, y: jax.Array, weight=None) -> jax.Array:
    """Gaussian NLL in natural parameters ``η1 = μ/σ², η2 = −1/(2σ²)`` (η2 < 0), constant dropped.

    ``−(η1 y + η2 y² + η1² / (4 η2) + ½ log(−2 η2))``.
    """
    nll = -(eta1 * y + eta2 * y**2 + eta1**2 / (4.0 * eta2) + 0.5 * jnp.log(-2.0 * eta2))
    return _weighted_mean(nll, weight)


def natural_nll_loss(mean, variance, y, weight=None) -> jax.Array:
    """:func:`natural_nll` of a prediction given as ``(μ, σ²)``.

    Pair it with ``HeteroscedasticRegressor(natural_parameters=True)``, whose heads are η1 and σ²,
    so the gradient is taken in the natural parameterisation.
    """
    return natural_nll(mean / variance, -0.5 / variance, y, weight)


def mse_loss(mean, variance, y, weight=None) -> jax.Array:
    """MSE on the mean only (the variance head is left untrained); a homoscedastic reference."""
    del variance
    return mse(mean, y, weight)


def make_loss(name: str, *, lam: float = 0.1, beta: float = 0.5) -> LossFn:
    """The loss called ``name`` (one of :data:`LOSSES`) with its hyper-parameters bound."""
    losses = {
        "caal": functools.partial(caal_loss, lam=lam),
        "mse_nll": functools.partial(mse_nll_loss, lam=lam),
        "nll": nll_loss,
        "beta_nll": functools.partial(beta_nll_loss, beta=beta),
        "faithful": faithful_loss,
        "natural_nll": natural_nll_loss,
        "mse": mse_loss,
    }
    if name not in losses:
        raise ValueError(f"loss={name!r}: must be one of {', '.join(LOSSES)}")
    return losses[name]
