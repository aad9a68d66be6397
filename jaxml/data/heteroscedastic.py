"""A synthetic heteroscedastic regression benchmark whose aleatoric noise is known exactly.

The "SineDetlefsen" toy used by β-NLL ("On the Pitfalls of Heteroscedastic Uncertainty Estimation
with Probabilistic Neural Networks", Seitzer et al., ICLR 2022, arXiv 2203.09168), after Detlefsen
et al. (2019): ``y = x sin(x) + 0.3 ε1 + 0.3 x ε2`` with ``ε1, ε2 ~ N(0, 1)``, so the noise
variance is ``0.09 (1 + x²)``: it grows with ``x`` while the signal's amplitude also grows.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

X_RANGE = (0.0, 10.0)


class SineData(NamedTuple):
    x: jax.Array  # [N, 1] float32 inputs.
    y: jax.Array  # [N] float32 noisy targets.
    mean: jax.Array  # [N] the noise-free function x sin(x).
    noise_variance: jax.Array  # [N] the true aleatoric variance 0.09 (1 + x²).


def sine_mean(x: jax.Array) -> jax.Array:
    return x * jnp.sin(x)


def sine_noise_variance(x: jax.Array) -> jax.Array:
    return 0.09 * (1.0 + x**2)


def make_sine(key: jax.Array, num_points: int, x_range: tuple[float, float] = X_RANGE) -> SineData:
    """Draws ``num_points`` inputs uniformly from ``x_range`` and their noisy targets."""
    if num_points <= 0:
        raise ValueError(f"num_points={num_points}: must be > 0")
    low, high = x_range
    if not high > low:
        raise ValueError(f"x_range={x_range}: the upper end must exceed the lower end")
    x_key, noise_key = jax.random.split(key)
    x = jax.random.uniform(x_key, (num_points,), minval=low, maxval=high)
    mean = sine_mean(x)
    variance = sine_noise_variance(x)
    y = mean + jnp.sqrt(variance) * jax.random.normal(noise_key, (num_points,))
    return SineData(x[:, None], y, mean, variance)
