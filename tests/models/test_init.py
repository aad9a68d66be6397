"""``jaxml.models._init.orthogonal``: jax's orthogonal initialiser, looping under ``vmap``."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.models._init import orthogonal


def test_draws_jaxs_values_and_loops_under_vmap():
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    ours, theirs = orthogonal(0.5), jax.nn.initializers.orthogonal(0.5)
    np.testing.assert_array_equal(ours(keys[0], (6, 4)), theirs(keys[0], (6, 4)))
    batched = jax.vmap(lambda k: ours(k, (6, 4)))(keys)
    for i, key in enumerate(keys):  # Each member's draw is its own key's, unbatched.
        np.testing.assert_array_equal(batched[i], theirs(key, (6, 4)))
    np.testing.assert_allclose(batched[1].T @ batched[1], 0.25 * np.eye(4), atol=1e-6)
    # The vmapped program loops over the batch (a scan), so no QR is batched.
    jaxpr = str(jax.make_jaxpr(jax.vmap(lambda k: ours(k, (6, 4))))(keys))
    assert "scan" in jaxpr or "while" in jaxpr
    plain = str(jax.make_jaxpr(jax.vmap(lambda k: theirs(k, (6, 4))))(keys))
    assert "scan" not in plain and "while" not in plain
    assert jnp.dtype(batched.dtype) == jnp.float32
