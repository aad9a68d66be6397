"""``adaptive=QuadraticModelOptions(...)``: the same step as ``adaptive=True`` with the keyword
arguments, one place per setting, and the guard's settings reachable from the aliases."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import optim
from jaxml.models import MLP

N, D_IN, K = 24, 3, 3
MODEL = MLP(K, hidden=(5,), activation=jnp.tanh)
X = jax.random.normal(jax.random.PRNGKey(0), (N, D_IN))
Y = jax.random.randint(jax.random.PRNGKey(1), (N,), 0, K)
PARAMS = MODEL.init(jax.random.PRNGKey(2), X)
ALIASES = {"kfac": (optim.kfac, {}), "ring": (optim.ring, {"rho": 0.05})}


def run(tx, steps):
    @jax.jit
    def step(params, state, seed):
        ci = optim.loss_grads_and_stats(MODEL, params, X, Y, jax.random.PRNGKey(seed))
        extra = {"layer_stats": ci.layer_stats, "loss_fn": ci.loss_fn}
        extra |= {"curvature_gram": ci.curvature_gram, "value": ci.loss}
        updates, state = tx.update(ci.grads, state, params, **extra)
        return optax.apply_updates(params, updates), state, updates

    params, state, out = PARAMS, tx.init(PARAMS), []
    for seed in range(steps):
        params, state, updates = step(params, state, seed)
        out.append(updates)
    return out, state


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_options_object_equals_the_keyword_arguments(name):
    factory, kwargs = ALIASES[name]
    settings = {"damping_adaptation_every": 2, "min_damping": 1e-3, "momentum": 0.5}
    by_keywords = factory(1.0, damping=1e-2, adaptive=True, **settings, **kwargs)
    options = optim.QuadraticModelOptions(**settings)
    by_options = factory(1.0, damping=1e-2, adaptive=options, **kwargs)
    got, got_state = run(by_options, 3)
    want, want_state = run(by_keywords, 3)
    for a, b in zip(got, want, strict=True):
        jax.tree.map(np.testing.assert_array_equal, a, b)
    np.testing.assert_array_equal(got_state.damping, want_state.damping)
    assert float(got_state.damping) > 1e-3 * 0.999  # The floor came through.


def test_keyword_and_options_together_is_an_error():
    with pytest.raises(ValueError, match="min_damping: expected the default"):
        optim.kfac(1.0, adaptive=optim.QuadraticModelOptions(), min_damping=1e-3)
    with pytest.raises(ValueError, match="min_damping: expected the default"):  # Checked in init.
        optax.inject_hyperparams(optim.kfac)(
            learning_rate=1.0, adaptive=optim.QuadraticModelOptions(), min_damping=1e-3
        ).init(PARAMS)
    with pytest.raises(ValueError, match="adaptive: expected a bool or a QuadraticModelOptions"):
        optim.kfac(1.0, adaptive="yes")
    with pytest.raises(ValueError, match="damping_adaptation_every: expected an integer > 0"):
        optim.QuadraticModelOptions(damping_adaptation_every=0)
    with pytest.raises(ValueError, match="min_damping, max_damping"):
        optim.QuadraticModelOptions(min_damping=1.0, max_damping=0.1)


def test_guard_settings_reach_the_alias_and_inject_hyperparams_keeps_options_static():
    # learning_rate −1 walks uphill; checking the loss at every step rejects it at step 0.
    options = optim.QuadraticModelOptions(loss_check_every=1)
    tx = optax.inject_hyperparams(optim.ring)(learning_rate=-1.0, damping=1e-2, adaptive=options)
    updates, state = run(tx, 1)
    assert all(bool(jnp.all(u == 0)) for u in jax.tree.leaves(updates[0]))
    assert int(state.inner_state.rejected) == 1
    assert "adaptive" not in state.hyperparams  # Static, not a traced hyper-parameter.
    unguarded = optim.ring(-1.0, damping=1e-2, adaptive=optim.QuadraticModelOptions())
    updates, state = run(unguarded, 1)  # Step 0 is not checked by default (T = 5).
    assert int(state.rejected) == 0
