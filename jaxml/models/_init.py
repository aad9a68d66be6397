"""Initialisers that avoid an XLA:CPU hang: an orthogonal init that loops under ``vmap``.

``jax.nn.initializers.orthogonal`` draws a QR factorisation. Under ``vmap`` (per-agent or
per-member networks, ``jaxml.models.stacked``) that becomes a batched LAPACK QR, and with jax
0.10.2 on a 2-core CPU, programs holding several of them sometimes never finish
(``scripts/xla_cpu_lapack_hang.py``: 2 of 5 tries finished, against 5 of 5 unbatched). This
``orthogonal`` draws the same values as jax's (bitwise, for one key), but its batching rule
is a ``lax.map`` over the batch, so every QR it asks for is unbatched.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def orthogonal(scale: float = 1.0, column_axis: int = -1, dtype=jnp.float32):
    """``jax.nn.initializers.orthogonal(scale, column_axis, dtype)`` whose vmap is a loop."""
    base = jax.nn.initializers.orthogonal(scale, column_axis, dtype)

    def init(key, shape, dtype=dtype):
        @jax.custom_batching.custom_vmap
        def draw(key):
            return base(key, shape, dtype)

        @draw.def_vmap
        def _loop(axis_size, in_batched, key):
            del axis_size
            (batched,) = in_batched
            if not batched:
                return draw(key), False
            return jax.lax.map(draw, key), True

        return draw(key)

    return init
