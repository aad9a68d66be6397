"""A small U-Net for 2-D fields conditioned on the noise level, for EDM denoisers.

Follows the DDPM/EDM U-Net pattern (Ronneberger et al. 2015; Karras et al. 2022, arXiv 2206.00364)
at a size that trains on a CPU: residual blocks with GroupNorm and an additive noise embedding,
strided-conv downsampling, nearest-neighbour upsampling and skip connections; no attention.
"""

from __future__ import annotations

import math

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


def noise_embedding(c_noise: jax.Array, dim: int, max_frequency: float = 16.0) -> jax.Array:
    """``[B] -> [B, dim]`` sin/cos features at log-spaced frequencies."""
    freqs = jnp.exp(jnp.linspace(0.0, math.log(max_frequency), dim // 2))
    angles = c_noise[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv twice, the embedding added in between, and a (1x1) skip."""

    channels: int

    @nn.compact
    def __call__(self, x: jax.Array, emb: jax.Array) -> jax.Array:
        h = nn.silu(nn.GroupNorm(_groups(x.shape[-1]))(x))
        h = nn.Conv(self.channels, (3, 3))(h)
        h = h + nn.Dense(self.channels)(emb)[:, None, None, :]
        h = nn.silu(nn.GroupNorm(_groups(self.channels))(h))
        h = nn.Conv(self.channels, (3, 3), kernel_init=nn.initializers.zeros)(h)
        if x.shape[-1] != self.channels:
            x = nn.Conv(self.channels, (1, 1))(x)
        return x + h


class UNet(nn.Module):
    """``(x [B, H, W, C], c_noise [B]) -> [B, H, W, C]``; H and W divisible by 2^(levels-1).

    Attributes:
      channels: base width; level ``l`` has ``channels * channel_mult[l]`` channels.
      channel_mult: one entry per resolution level.
      embed_dim: width of the noise embedding.
    """

    channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)
    embed_dim: int = 64

    @nn.compact
    def __call__(self, x: jax.Array, c_noise: jax.Array) -> jax.Array:
        chex.assert_rank(x, 4)
        chex.assert_shape(c_noise, (x.shape[0],))
        factor = 2 ** (len(self.channel_mult) - 1)
        if x.shape[1] % factor or x.shape[2] % factor:
            raise ValueError(
                f"x spatial shape {x.shape[1:3]}: must be divisible by {factor} "
                f"for channel_mult={self.channel_mult}"
            )
        emb = noise_embedding(c_noise, self.embed_dim)
        emb = nn.Dense(self.embed_dim)(nn.silu(nn.Dense(self.embed_dim)(emb)))
        h = nn.Conv(self.channels, (3, 3))(x)
        skips = []
        for level, mult in enumerate(self.channel_mult):
            h = ResBlock(self.channels * mult)(h, emb)
            skips.append(h)
            if level < len(self.channel_mult) - 1:
                h = nn.Conv(h.shape[-1], (3, 3), strides=(2, 2))(h)
        h = ResBlock(h.shape[-1])(h, emb)
        for level in reversed(range(len(self.channel_mult))):
            h = ResBlock(self.channels * self.channel_mult[level])(
                jnp.concatenate([h, skips[level]], axis=-1), emb
            )
            if level > 0:
                b, hh, ww, c = h.shape
                h = jax.image.resize(h, (b, 2 * hh, 2 * ww, c), "nearest")
                h = nn.Conv(c, (3, 3))(h)
        h = nn.silu(nn.GroupNorm(_groups(h.shape[-1]))(h))
        return nn.Conv(x.shape[-1], (3, 3))(h)
