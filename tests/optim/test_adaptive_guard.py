"""The adaptive step's guard: a non-finite or loss-increasing proposed step is rejected (zero
update, λ raised by 1/ω), as Levenberg–Marquardt trust regions and Martens' Hessian-free
optimisation (ICML 2010, §4.6) do; tested as a pure rule and through
``scale_by_quadratic_model`` around K-FAC on a tiny tanh MLP."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import optim
from jaxml.models import MLP

N, D_IN, K = 24, 3, 3
MODEL = MLP(K, hidden=(5,), activation=jnp.tanh)
X = jax.random.normal(jax.random.PRNGKey(0), (N, D_IN))
Y = jax.random.randint(jax.random.PRNGKey(1), (N,), 0, K)
PARAMS = MODEL.init(jax.random.PRNGKey(2), X)
LAM = 1e-2
OMEGA = 0.95**5


def guarded_kfac(scale=1.0, reject_steps=True, loss_check_every=None, **kwargs):
    return optim.scale_by_quadratic_model(
        lambda damping: optim.scale_by_kfac(damping),
        initial_damping=LAM,
        scale=scale,
        reject_steps=reject_steps,
        loss_check_every=loss_check_every,
        **kwargs,
    )


def step(tx, state, params=PARAMS, poison_grads=False, poison_stats=False):
    ci = optim.loss_grads_and_stats(MODEL, params, X, Y, jax.random.PRNGKey(3))
    grads, stats = ci.grads, ci.layer_stats
    if poison_grads:  # One nan entry, as an overflowing backward pass would give.
        grads = jax.tree.map(lambda g: g.at[(0,) * g.ndim].set(jnp.nan), grads)
    if poison_stats:
        stats = jax.tree.map(lambda s: s.at[(0,) * s.ndim].set(jnp.nan), stats)
    extra = {"layer_stats": stats, "loss_fn": ci.loss_fn, "curvature_gram": ci.curvature_gram}
    return tx.update(grads, state, params, value=ci.loss, **extra)


def all_zero(tree):
    return all(bool(jnp.all(leaf == 0)) for leaf in jax.tree.leaves(tree))


def all_finite(tree):
    return all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(tree))


def test_step_accepted_rule():
    rule = optim.step_accepted
    nan = jnp.float32(jnp.nan)
    assert bool(rule(True, nan, False))  # No ρ this step: only finiteness counts.
    assert bool(rule(True, jnp.float32(0.3), True))
    assert bool(rule(True, jnp.float32(0.0), True))  # No change at all is not an increase.
    assert not bool(rule(False, jnp.float32(0.9), True))
    assert not bool(rule(False, nan, False))
    assert not bool(rule(True, jnp.float32(-0.2), True))  # The batch loss went up.
    assert not bool(rule(True, jnp.float32(-jnp.inf), True))
    assert not bool(rule(True, nan, True))  # The new loss is not finite.


def test_guarded_damping_raises_on_rejection_only():
    lam, adapted = jnp.float32(LAM), jnp.float32(LAM * OMEGA)
    np.testing.assert_allclose(optim.guarded_damping(True, lam, adapted, OMEGA), adapted)
    np.testing.assert_allclose(
        optim.guarded_damping(False, lam, adapted, OMEGA), LAM / OMEGA, rtol=1e-6
    )
    assert float(optim.guarded_damping(False, lam, adapted, OMEGA, max_damping=0.011)) == (
        pytest.approx(0.011)
    )


def test_nan_gradient_leaves_params_unchanged_and_raises_damping():
    tx = guarded_kfac()
    state = tx.init(PARAMS)
    updates, state = jax.jit(lambda s: step(tx, s, poison_grads=True))(state)
    assert all_zero(updates)
    assert all_zero(state.last_update)
    assert int(state.rejected) == 1
    np.testing.assert_allclose(state.damping, LAM / OMEGA, rtol=1e-6)  # Not an adaptation step.
    assert all_finite(state.inner_state)
    # The next, clean step is taken: finite and not zero.
    updates, state = step(tx, state)
    assert all_finite(updates) and not all_zero(updates)
    assert int(state.rejected) == 1
    # Without the guard the same nan goes straight into the parameters.
    bare = guarded_kfac(reject_steps=False)
    updates, _ = step(bare, bare.init(PARAMS), poison_grads=True)
    assert not all_finite(updates)


def test_nan_layer_stats_do_not_poison_the_preconditioner():
    tx = guarded_kfac()
    state = tx.init(PARAMS)
    updates, poisoned = step(tx, state, poison_stats=True)
    assert all_zero(updates) and int(poisoned.rejected) == 1
    # The preconditioner state is the one before the step, not the nan one.
    jax.tree.map(np.testing.assert_array_equal, poisoned.inner_state, state.inner_state)
    bare = guarded_kfac(reject_steps=False)
    _, bare_state = step(bare, bare.init(PARAMS), poison_stats=True)
    assert not all_finite(bare_state.inner_state)


def test_loss_increasing_step_is_rejected_where_the_loss_is_checked():
    # scale = −1 walks up the quadratic model: the batch loss rises, ρ < 0.
    loss = optim.loss_grads_and_stats(MODEL, PARAMS, X, Y, jax.random.PRNGKey(3)).loss_fn
    tx = guarded_kfac(scale=-1.0, loss_check_every=1)  # Step 0 is not an adaptation step (T=5).
    updates, state = step(tx, tx.init(PARAMS))
    assert all_zero(updates) and int(state.rejected) == 1
    np.testing.assert_allclose(state.damping, LAM / OMEGA, rtol=1e-6)
    # The same step unguarded does raise the loss (what the check saw).
    bare = guarded_kfac(scale=-1.0, reject_steps=False)
    bare_updates, bare_state = step(bare, bare.init(PARAMS))
    new_params = jax.tree.map(jnp.add, PARAMS, bare_updates)
    assert float(loss(new_params)) > float(loss(PARAMS))
    np.testing.assert_allclose(bare_state.damping, LAM)
    # With the default (ρ only at adaptation steps) step 0 is not checked for a loss increase.
    unchecked = guarded_kfac(scale=-1.0)
    updates, state = step(unchecked, unchecked.init(PARAMS))
    assert not all_zero(updates) and int(state.rejected) == 0


def test_loss_check_every_is_validated():
    with pytest.raises(ValueError, match="loss_check_every: expected an integer > 0, got 0"):
        guarded_kfac(loss_check_every=0)
