"""One contract for every optimizer in jaxml.optim, in the style of optax's contrib common test.

Each entry gives a factory (keyword hyper-parameters, so ``inject_hyperparams`` can wrap it) and the
curvature extra args its ``update`` takes, computed from a small least-squares problem.
"""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import optim

MODEL = nn.Dense(2)
X = jax.random.normal(jax.random.PRNGKey(0), (32, 3))
Y = X @ jnp.array([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.0]]) + 0.3
PARAMS = MODEL.init(jax.random.PRNGKey(1), X)


def loss_fn(params):
    return jnp.mean(0.5 * jnp.sum((MODEL.apply(params, X) - Y) ** 2, axis=-1))


def per_example_gradient(params):
    # A one-sample "score": the gradient of the first example's loss.
    one = lambda p: 0.5 * jnp.sum((MODEL.apply(p, X[:1]) - Y[:1]) ** 2)
    return jax.grad(one)(params)


def curvature(params):
    ci = optim.loss_grads_and_stats(
        MODEL, params, X, Y, jax.random.PRNGKey(2), likelihood="gaussian"
    )
    return {"layer_stats": ci.layer_stats, "loss_fn": ci.loss_fn}


OPTIMIZERS = {
    "rank1_natural_gradient": (
        optim.rank1_natural_gradient,
        {"learning_rate": 0.05, "damping": 1.0},
        lambda params: {"fisher_vector": per_example_gradient(params)},
    ),
    "rank1_natural_gradient_without_vector": (
        optim.rank1_natural_gradient,
        {"learning_rate": 0.5, "damping": 1.0},
        lambda params: {},
    ),
    "sophia": (optim.sophia, {"learning_rate": 0.05}, lambda params: {"obj_fn": loss_fn}),
    "kfac": (optim.kfac, {"learning_rate": 0.2, "damping": 1e-2}, curvature),
    "ring": (optim.ring, {"learning_rate": 0.2, "rho": 0.05, "damping": 1e-2}, curvature),
    "reng": (
        optim.reng,
        {"learning_rate": 0.2, "rho": 0.05, "damping": 1e-2, "kl_clip": 0.1},
        curvature,
    ),
    "rkalman": (optim.rkalman, {"learning_rate": 1.0, "fading": 0.05, "rho": 0.05}, curvature),
}
NAMES = sorted(OPTIMIZERS)


def make(name, wrap=lambda tx: tx):
    factory, kwargs, extra_args = OPTIMIZERS[name]
    return wrap(factory(**kwargs)), extra_args


def jitted_update(tx, extra_args):
    # Extra args may be functions (Sophia's obj_fn), so they are closed over, not jit arguments.
    return jax.jit(
        lambda grads, state, params: tx.update(grads, state, params, **extra_args(params))
    )


WRAPPERS = {
    "alone": lambda tx: tx,
    "chain_with_clipping": lambda tx: optax.chain(optax.clip_by_global_norm(1.0), tx),
}


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
@pytest.mark.parametrize("name", NAMES)
def test_jitted_updates_are_finite_and_shaped_like_params(name, wrapper):
    tx, extra_args = make(name, WRAPPERS[wrapper])
    state = jax.jit(tx.init)(PARAMS)
    grads = jax.grad(loss_fn)(PARAMS)
    updates, _ = jitted_update(tx, extra_args)(grads, state, PARAMS)
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, PARAMS)
    chex.assert_tree_all_finite(updates)


@pytest.mark.parametrize("name", NAMES)
def test_descends_a_least_squares_loss(name):
    tx, extra_args = make(name)
    params, state = PARAMS, tx.init(PARAMS)

    @jax.jit
    def step(params, state):
        grads = jax.grad(loss_fn)(params)
        updates, state = tx.update(grads, state, params, **extra_args(params))
        return optax.apply_updates(params, updates), state

    for _ in range(50):
        params, state = step(params, state)
    assert loss_fn(params) < 0.5 * loss_fn(PARAMS)


@pytest.mark.parametrize("name", NAMES)
def test_inject_hyperparams_controls_the_learning_rate(name):
    factory, kwargs, extra_args = OPTIMIZERS[name]
    tx = optax.inject_hyperparams(factory)(**kwargs)
    state = tx.init(PARAMS)
    grads = jax.grad(loss_fn)(PARAMS)
    update = jitted_update(tx, extra_args)
    base, _ = update(grads, state, PARAMS)
    state.hyperparams["learning_rate"] = 2.0 * state.hyperparams["learning_rate"]
    doubled, _ = update(grads, state, PARAMS)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(2.0 * a, b, rtol=1e-5), base, doubled)


@pytest.mark.parametrize("name", NAMES)
def test_second_update_does_not_recompile(name):
    tx, extra_args = make(name)
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def update(grads, state, params):
        return tx.update(grads, state, params, **extra_args(params))

    state = tx.init(PARAMS)
    grads = jax.grad(loss_fn)(PARAMS)
    _, state = update(grads, state, PARAMS)
    update(grads, state, PARAMS)


@pytest.mark.parametrize("name", NAMES)
def test_multisteps_accumulates(name):
    tx, extra_args = make(name, lambda tx: optax.MultiSteps(tx, every_k_schedule=2))
    state = tx.init(PARAMS)
    grads = jax.grad(loss_fn)(PARAMS)
    first, state = tx.update(grads, state, PARAMS, **extra_args(PARAMS))
    second, _ = tx.update(grads, state, PARAMS, **extra_args(PARAMS))
    assert all(float(jnp.abs(u).max()) == 0.0 for u in jax.tree.leaves(first))
    assert any(float(jnp.abs(u).max()) > 0.0 for u in jax.tree.leaves(second))
