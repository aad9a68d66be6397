"""The optimizer registry and the generic training step."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import optim

MODEL = nn.Dense(3)
X = jax.random.normal(jax.random.PRNGKey(0), (16, 4))
Y = jax.random.randint(jax.random.PRNGKey(1), (16,), 0, 3)
PARAMS = MODEL.init(jax.random.PRNGKey(2), X)


def test_unknown_optimizer_lists_the_known_ones():
    match = "optimizer: expected one of sgd, adam, rmsprop, rank1, adamw, .*, got 'lbfgs'"
    with pytest.raises(ValueError, match=match):
        optim.make("lbfgs", learning_rate=0.1)


def test_learning_rate_lives_in_the_state():
    tx = optim.make("adamw", learning_rate=1e-3)
    state = tx.init(PARAMS)
    np.testing.assert_allclose(state.hyperparams["learning_rate"], 1e-3)


@pytest.mark.parametrize("name", ["ring", "rkalman"])
def test_train_step_passes_the_curvature_the_optimizer_needs(name):
    tx = optim.make(name, learning_rate=0.1)
    state = tx.init(PARAMS)
    key = jax.random.PRNGKey(3)
    params, _, metrics = optim.train_step(name, tx, MODEL, PARAMS, state, X, Y, key)
    ci = optim.loss_grads_and_stats(MODEL, PARAMS, X, Y, key)
    updates, _ = tx.update(ci.grads, state, PARAMS, layer_stats=ci.layer_stats, loss_fn=ci.loss_fn)
    expected = optax.apply_updates(PARAMS, updates)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), params, expected)
    np.testing.assert_allclose(metrics["loss"], ci.loss, rtol=1e-6)
    np.testing.assert_allclose(metrics["grad_norm"], optax.tree.norm(ci.grads), rtol=1e-6)


def test_every_registered_optimizer_lowers_the_loss():
    for name in optim.OPTIMIZERS:
        lr = {"rkalman": 1.0, "sgd": 0.3}.get(
            name, 0.05 if name in ("kfac", "ring", "reng") else 0.03
        )
        tx = optim.make(name, learning_rate=lr)
        step = jax.jit(
            lambda p, s, k, tx=tx, name=name: optim.train_step(name, tx, MODEL, p, s, X, Y, k)
        )
        params, state = PARAMS, tx.init(PARAMS)
        losses = []
        for i in range(30):
            params, state, metrics = step(params, state, jax.random.PRNGKey(i))
            losses.append(float(metrics["loss"]))
        assert losses[-1] < 0.8 * losses[0], (name, losses[0], losses[-1])
        assert jnp.isfinite(jnp.asarray(losses)).all()
