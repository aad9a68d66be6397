"""R-Kalman against the closed-form Bayesian posterior of linear-Gaussian regression."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import optim

D = 6


def orthogonal_stream(num_batches=5, batch=3, seed=0):
    """Batches of one-hot features with random scales: the posterior information is diagonal."""
    rng = np.random.default_rng(seed)
    for _ in range(num_batches):
        idx = rng.integers(0, D, size=batch)
        x = np.zeros((batch, D), np.float32)
        x[np.arange(batch), idx] = rng.uniform(0.5, 2.0, size=batch)
        yield x, rng.normal(size=(batch, 1)).astype(np.float32)


def test_filter_is_the_exact_posterior_on_linear_gaussian_regression():
    prior_precision = 2.0
    params = {"params": {"kernel": jnp.zeros((D, 1))}}  # Prior mean 0, no bias.
    tx = optim.rkalman(learning_rate=1.0, prior_precision=prior_precision, fading=0.0, rho=0.0)
    state = tx.init(params)
    xs, ys = [], []
    for x, y in orthogonal_stream():
        loss = lambda p, x=x, y=y: jnp.mean(0.5 * jnp.sum((x @ p["params"]["kernel"] - y) ** 2, -1))
        # Unit-variance Gaussian: ∂ℓ/∂s has E[e²] = 1, the exact per-example Fisher weight.
        stats = {"params": optim.LayerStats(jnp.asarray(x), jnp.ones((len(x), 1)))}
        updates, state = tx.update(jax.grad(loss)(params), state, params, layer_stats=stats)
        params = optax.apply_updates(params, updates)
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs).astype(np.float64), np.concatenate(ys).astype(np.float64)
    posterior_precision = prior_precision * np.eye(D) + x.T @ x
    posterior_mean = np.linalg.solve(posterior_precision, x.T @ y)
    np.testing.assert_allclose(params["params"]["kernel"], posterior_mean, rtol=1e-5, atol=1e-6)
    information = state[0].information["params"]["kernel"][:, 0]
    np.testing.assert_allclose(information, np.diag(posterior_precision), rtol=1e-6)


def test_fading_memory_relaxes_information_toward_the_prior():
    params = {"params": {"kernel": jnp.zeros((D, 1))}}
    tx = optim.scale_by_rkalman(prior_precision=1.0, fading=0.5, rho=0.0)
    state = tx.init(params)
    stats = {"params": optim.LayerStats(jnp.zeros((1, D)), jnp.zeros((1, 1)))}  # No information.
    state = state._replace(information={"params": {"kernel": jnp.full((D, 1), 9.0)}})
    _, state = tx.update(params, state, params, layer_stats=stats)
    np.testing.assert_allclose(state.information["params"]["kernel"], 0.5 * 9.0 + 0.5 * 1.0)


def test_rho_inflates_the_information_by_the_squared_gradient_norm():
    params = {"params": {"kernel": jnp.zeros((D, 1))}}
    grads = {"params": {"kernel": jnp.full((D, 1), 0.5)}}
    stats = {"params": optim.LayerStats(jnp.zeros((4, D)), jnp.zeros((4, 1)))}
    tx = optim.scale_by_rkalman(prior_precision=1.0, fading=0.0, rho=0.1)
    _, state = tx.update(grads, tx.init(params), params, layer_stats=stats)
    expected = 1.0 + 4 * 0.1 * float(optax.tree.norm(grads, squared=True))
    np.testing.assert_allclose(state.information["params"]["kernel"], expected, rtol=1e-6)


def test_missing_layer_stats_is_named():
    params = {"params": {"kernel": jnp.zeros((D, 1))}}
    tx = optim.scale_by_rkalman()
    with pytest.raises(ValueError, match="layer_stats"):
        tx.update(params, tx.init(params), params)


def test_inject_hyperparams_does_not_switch_on_the_hessian_term():
    # inject_hyperparams turns every number into a traced array; the Hessian-vector product must
    # stay off unless explicit_rho is given (it would need loss_fn and double the step's cost).
    params = {"params": {"kernel": jnp.zeros((D, 1))}}
    stats = {"params": optim.LayerStats(jnp.ones((2, D)), jnp.ones((2, 1)))}
    tx = optax.inject_hyperparams(optim.rkalman)(learning_rate=1.0)
    updates, _ = tx.update(params, tx.init(params), params, layer_stats=stats)
    assert jax.tree.structure(updates) == jax.tree.structure(params)
