"""What the brax-trainer benchmarks (``ppo_brax``, ``sac_brax``) share."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def install_device_put_replicated() -> None:
    """brax 0.14's trainers call ``jax.device_put_replicated``, which jax 0.10 removed: a drop-in
    that stacks one copy per device (one CPU device here) before brax's trainer is imported."""
    jax.device_put_replicated = lambda x, devices: jax.tree.map(
        lambda a: jnp.stack([a] * len(devices)), x
    )
