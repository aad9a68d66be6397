"""The rank-1 natural gradient against the dense solve ``(λI + v vᵀ)⁻¹ g``."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from jaxml.optim import rank1_natural_gradient, scale_by_rank1_natural_gradient

SHAPES = {"w": (4, 3), "b": (3,), "nested": {"k": (2, 2, 2)}}


def random_tree(key):
    leaves, treedef = jax.tree.flatten(SHAPES, is_leaf=lambda x: isinstance(x, tuple))
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(
        treedef, [jax.random.normal(k, s) for k, s in zip(keys, leaves, strict=True)]
    )


def dense_direction(g, v, damping):
    g_flat, unravel = ravel_pytree(g)
    g_flat, v_flat = np.float64(g_flat), np.float64(ravel_pytree(v)[0])  # Solve in float64.
    fisher = damping * np.eye(g_flat.size) + np.outer(v_flat, v_flat)
    return unravel(jnp.asarray(np.linalg.solve(fisher, g_flat), jnp.float32))


@pytest.mark.parametrize("use_jit", [False, True])
@pytest.mark.parametrize("with_vector", [False, True])
@pytest.mark.parametrize("damping", [1e-2, 0.5, 3.0])
def test_matches_dense_solve(use_jit, with_vector, damping):
    key_g, key_v = jax.random.split(jax.random.PRNGKey(int(damping * 100)))
    g, v = random_tree(key_g), random_tree(key_v)
    tx = scale_by_rank1_natural_gradient(damping)
    update = jax.jit(tx.update) if use_jit else tx.update
    state = tx.init(g)
    kwargs = {"fisher_vector": v} if with_vector else {}
    direction, _ = update(g, state, None, **kwargs)
    expected = dense_direction(g, v if with_vector else g, damping)
    # Entries reach ~1/λ in size; errors are measured relative to the largest (absolute below 1).
    scale = max(float(np.abs(ravel_pytree(expected)[0]).max()), 1.0)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a / scale, b / scale, atol=1e-5),
        direction,
        expected,
    )


def test_kl_radius_step_has_the_requested_quadratic_kl():
    g, v = random_tree(jax.random.PRNGKey(0)), random_tree(jax.random.PRNGKey(1))
    tx = scale_by_rank1_natural_gradient(damping=0.1, kl_radius=0.01)
    d, _ = tx.update(g, tx.init(g), None, fisher_vector=v)
    d_flat, v_flat = ravel_pytree(d)[0], ravel_pytree(v)[0]
    quad_kl = 0.5 * (0.1 * d_flat @ d_flat + (v_flat @ d_flat) ** 2)
    np.testing.assert_allclose(quad_kl, 0.01, rtol=1e-4)


def test_alias_descends_and_schedules_damping():
    g, v = random_tree(jax.random.PRNGKey(0)), random_tree(jax.random.PRNGKey(1))
    schedule = optax.linear_schedule(1.0, 0.1, 10)
    tx = rank1_natural_gradient(learning_rate=0.5, damping=schedule)
    state = tx.init(g)
    for count in range(3):
        updates, state = tx.update(g, state, None, fisher_vector=v)
        expected = dense_direction(g, v, float(schedule(count)))
        jax.tree.map(
            lambda u, e: np.testing.assert_allclose(u, -0.5 * e, rtol=1e-4, atol=1e-6),
            updates,
            expected,
        )


def test_malformed_fisher_vector_is_named():
    g = random_tree(jax.random.PRNGKey(0))
    tx = scale_by_rank1_natural_gradient()
    with pytest.raises(ValueError, match="fisher_vector"):
        tx.update(g, tx.init(g), None, fisher_vector={"w": g["w"]})
    bad = jax.tree.map(lambda x: x, g)
    bad["b"] = jnp.zeros(5)
    with pytest.raises(ValueError, match="fisher_vector"):
        tx.update(g, tx.init(g), None, fisher_vector=bad)
    with pytest.raises(ValueError, match="kl_radius"):
        scale_by_rank1_natural_gradient(kl_radius=-1.0)


def test_bfloat16_gradients_keep_their_dtype():
    g = jax.tree.map(lambda x: x.astype(jnp.bfloat16), random_tree(jax.random.PRNGKey(0)))
    tx = scale_by_rank1_natural_gradient(0.1)
    d, _ = tx.update(g, tx.init(g), None)
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(d))
