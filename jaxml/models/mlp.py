"""Multi-layer perceptrons shared across jaxml."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax


class ResidualBlock(nn.Module):
    """Pre-norm residual block: ``x + Dense(act(Dense(LayerNorm(x))))`` (He et al. 2016)."""

    width: int
    activation: Callable[[jax.Array], jax.Array] = nn.gelu

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.LayerNorm()(x)
        h = self.activation(nn.Dense(self.width)(h))
        # Zero-initialised output layer: each block starts as the identity, which keeps deep stacks
        # trainable from the first step.
        h = nn.Dense(self.width, kernel_init=nn.initializers.zeros)(h)
        return x + h


class ResidualMLP(nn.Module):
    """Dense embedding, ``num_blocks`` residual blocks, LayerNorm and a linear head.

    Input ``[..., d_in]`` gives output ``[..., num_outputs]``.
    """

    num_outputs: int
    width: int = 128
    num_blocks: int = 2
    activation: Callable[[jax.Array], jax.Array] = nn.gelu

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.Dense(self.width)(x)
        for _ in range(self.num_blocks):
            h = ResidualBlock(self.width, self.activation)(h)
        h = nn.LayerNorm()(h)
        return nn.Dense(self.num_outputs)(h)


class MLP(nn.Module):
    """Plain MLP: ``Dense -> activation`` for each hidden width, then a linear head."""

    num_outputs: int
    hidden: tuple[int, ...] = (512, 512, 512)
    activation: Callable[[jax.Array], jax.Array] = nn.relu

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden:
            x = self.activation(nn.Dense(width)(x))
        return nn.Dense(self.num_outputs)(x)
