"""A small causal transformer language model in flax.

Every projection, the token embedding included (a ``Dense`` on one-hot tokens), is an ``nn.Dense``
called once per forward, so Kronecker-factored optimizers (K-FAC, RING, RENG) precondition all of
them; only LayerNorm and the learned positions pass through unpreconditioned.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class CausalSelfAttention(nn.Module):
    num_heads: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        batch, length, width = x.shape
        head = width // self.num_heads
        qkv = nn.Dense(3 * width, name="qkv")(x).reshape(batch, length, 3, self.num_heads, head)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(head).astype(x.dtype)
        mask = jnp.tril(jnp.ones((length, length), bool))
        logits = jnp.where(mask[None, None], logits, jnp.finfo(logits.dtype).min)
        out = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v)
        return nn.Dense(width, name="out")(out.reshape(batch, length, width))


class TransformerBlock(nn.Module):
    num_heads: int
    mlp_ratio: int = 4

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        width = x.shape[-1]
        x = x + CausalSelfAttention(self.num_heads)(nn.LayerNorm()(x))
        h = nn.gelu(nn.Dense(self.mlp_ratio * width, name="mlp_in")(nn.LayerNorm()(x)))
        return x + nn.Dense(width, name="mlp_out")(h)


class CharTransformer(nn.Module):
    """Tokens ``[B, T]`` int -> next-token logits ``[B, T, vocab_size]``."""

    vocab_size: int
    max_length: int
    width: int = 64
    num_layers: int = 2
    num_heads: int = 4

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        if tokens.ndim != 2 or tokens.shape[1] > self.max_length:
            raise ValueError(f"tokens: expected [B, T<={self.max_length}], got {tokens.shape}")
        one_hot = jax.nn.one_hot(tokens, self.vocab_size)
        x = nn.Dense(self.width, use_bias=False, name="embed")(one_hot)
        positions = self.param(
            "positions", nn.initializers.normal(0.02), (self.max_length, self.width)
        )
        x = x + positions[None, : tokens.shape[1]]
        for _ in range(self.num_layers):
            x = TransformerBlock(self.num_heads)(x)
        return nn.Dense(self.vocab_size, name="head")(nn.LayerNorm()(x))
