"""Points on or near a circle: the 2-D toy of PIDM (arXiv 2403.14404) and of softly constrained
denoisers (arXiv 2512.14980)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sample_circle(
    key: jax.Array, num_points: int, radius: float = 1.0, radial_noise: float = 0.0
) -> jax.Array:
    """``[num_points, 2]`` points at uniform angles and radius ``radius + radial_noise * N(0, 1)``.

    ``radial_noise = 0`` puts every point exactly on the circle (PIDM's toy).
    """
    if num_points < 1:
        raise ValueError(f"num_points={num_points}: must be >= 1")
    if radius <= 0 or radial_noise < 0:
        raise ValueError(f"radius={radius} must be > 0 and radial_noise={radial_noise} >= 0")
    k_angle, k_radius = jax.random.split(key)
    angle = jax.random.uniform(k_angle, (num_points,), maxval=2 * jnp.pi)
    r = radius + radial_noise * jax.random.normal(k_radius, (num_points,))
    return jnp.stack([r * jnp.cos(angle), r * jnp.sin(angle)], axis=-1)
