"""Heteroscedastic Gaussian regressors: a shared trunk, a mean head and a variance head.

From "Confidence-Aware Active Learning for Heteroscedastic Atmospheric Regression" (Jiang et al.,
arXiv 2602.11825): each ensemble member predicts ``μ(x)`` and ``σ²(x) = softplus(raw(x)) + 1e-6``
from an MLP or an FT-Transformer trunk ("Revisiting Deep Learning Models for Tabular Data",
Gorishniy et al., arXiv 2106.11959: one token per feature plus a CLS token).
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

VARIANCE_FLOOR = 1e-6
TRUNKS = ("mlp", "ft_transformer")


class Prediction(NamedTuple):
    mean: jax.Array  # [B] predicted mean μ.
    variance: jax.Array  # [B] predicted aleatoric variance σ² > 0.
    embedding: jax.Array  # [B, D] trunk features (the CLS token for the FT-Transformer).


class MLPTrunk(nn.Module):
    """``Dense -> GELU`` layers of one width; input ``[B, F]``, output ``[B, width]``."""

    width: int = 128
    depth: int = 3

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.depth):
            x = nn.gelu(nn.Dense(self.width)(x))
        return x


class FeatureTokenizer(nn.Module):
    """One ``d_model`` token per scalar feature, ``x_j W_j + b_j``, after a learned CLS token."""

    d_model: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        num_features = x.shape[-1]
        init = nn.initializers.normal(1.0 / jnp.sqrt(self.d_model))
        weight = self.param("weight", init, (num_features, self.d_model))
        bias = self.param("bias", init, (num_features, self.d_model))
        cls = self.param("cls", init, (self.d_model,))
        lead = (1,) * (x.ndim - 1)  # Explicit broadcasting (rank promotion is an error in tests).
        tokens = x[..., :, None] * weight.reshape(lead + weight.shape) + bias.reshape(
            lead + bias.shape
        )  # [B, F, d]
        cls = jnp.broadcast_to(cls, (*x.shape[:-1], 1, self.d_model))
        return jnp.concatenate([cls, tokens], axis=-2)  # [B, F + 1, d]


class FTTransformerTrunk(nn.Module):
    """Pre-norm transformer over feature tokens; returns the final CLS token ``[B, d_model]``."""

    d_model: int = 128
    num_heads: int = 8
    num_layers: int = 4
    ffn_width: int = 512

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = FeatureTokenizer(self.d_model)(x)
        for _ in range(self.num_layers):
            a = nn.LayerNorm()(h)
            h = h + nn.MultiHeadDotProductAttention(num_heads=self.num_heads)(a, a)
            f = nn.LayerNorm()(h)
            f = nn.Dense(self.d_model)(nn.gelu(nn.Dense(self.ffn_width)(f)))
            h = h + f
        return nn.LayerNorm()(h[..., 0, :])


class HeteroscedasticRegressor(nn.Module):
    """Mean and variance heads on a shared trunk; input ``[B, F]`` gives a :class:`Prediction`.

    Attributes:
      trunk: ``"mlp"`` or ``"ft_transformer"``.
      detach_variance_features: feed the variance head stop-gradient trunk features ("Faithful
        Heteroscedastic Regression", Stirn et al., arXiv 2212.09184). CAAL keeps them attached.
      natural_parameters: read the mean head as the natural parameter η1 and the variance head as
        σ² = -1 / (2 η2), so μ = η1 σ² (Immer et al., NeurIPS 2023); used with ``natural_nll``.
    """

    trunk: str = "mlp"
    width: int = 128
    depth: int = 3
    num_heads: int = 8
    ffn_width: int = 512
    detach_variance_features: bool = False
    natural_parameters: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> Prediction:
        if self.trunk == "mlp":
            h = MLPTrunk(self.width, self.depth)(x)
        elif self.trunk == "ft_transformer":
            h = FTTransformerTrunk(self.width, self.num_heads, self.depth, self.ffn_width)(x)
        else:
            raise ValueError(f"trunk={self.trunk!r}: must be one of {', '.join(TRUNKS)}")
        head_in = jax.lax.stop_gradient(h) if self.detach_variance_features else h
        mean = nn.Dense(1, name="mean_head")(h)[..., 0]
        variance = nn.softplus(nn.Dense(1, name="variance_head")(head_in)[..., 0]) + VARIANCE_FLOOR
        if self.natural_parameters:
            mean = mean * variance  # μ = η1 σ², i.e. -η1 / (2 η2).
        return Prediction(mean, variance, h)
