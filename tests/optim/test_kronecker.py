"""K-FAC, RING and RENG against dense references, and their reductions to each other."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import optim
from jaxml.optim._kronecker import layer_factors

N, D_IN, D_OUT = 64, 4, 3


def linear_problem(d_out=D_OUT, likelihood="categorical"):
    model = nn.Dense(d_out)
    x = jax.random.normal(jax.random.PRNGKey(0), (N, D_IN))
    if likelihood == "categorical":
        y = jax.random.randint(jax.random.PRNGKey(1), (N,), 0, d_out)
    else:
        y = jax.random.normal(jax.random.PRNGKey(1), (N, d_out))
    params = model.init(jax.random.PRNGKey(2), x)
    params = jax.tree.map(
        lambda p: p + 0.3 * jax.random.normal(jax.random.PRNGKey(3), p.shape), params
    )
    return model, params, x, y


def test_helper_factors_equal_hand_computed_expectations():
    model, params, x, y = linear_problem()
    key = jax.random.PRNGKey(7)
    ci = optim.loss_grads_and_stats(model, params, x, y, key)
    kernel, bias = params["params"]["kernel"], params["params"]["bias"]
    logits = x @ kernel + bias[None]
    sampled = jax.random.categorical(key, logits)
    e = jax.nn.softmax(logits) - jax.nn.one_hot(sampled, D_OUT)  # ∂CE/∂logits at sampled labels.
    a = jnp.concatenate([x, jnp.ones((N, 1))], axis=1)
    factor_a, factor_g = layer_factors(ci.layer_stats["params"], has_bias=True)
    np.testing.assert_allclose(factor_a, a.T @ a / N, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(factor_g, e.T @ e / N, rtol=1e-5, atol=1e-6)
    loss = lambda p: jnp.mean(optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y))
    jax.tree.map(
        lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6),
        ci.grads,
        jax.grad(loss)(params),
    )
    np.testing.assert_allclose(ci.loss, loss(params), rtol=1e-6)


def test_helper_records_hidden_layer_inputs():
    class TwoLayer(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2, name="out")(jnp.tanh(nn.Dense(5, name="hidden")(x)))

    model = TwoLayer()
    x = jax.random.normal(jax.random.PRNGKey(0), (6, 3))
    params = model.init(jax.random.PRNGKey(1), x)
    stats = optim.loss_grads_and_stats(
        model, params, x, jnp.zeros(6, jnp.int32), jax.random.PRNGKey(2)
    )
    p = params["params"]["hidden"]
    hidden = jnp.tanh(x @ p["kernel"] + p["bias"][None])
    np.testing.assert_allclose(stats.layer_stats["params"]["out"].inputs, hidden, rtol=1e-6)
    np.testing.assert_allclose(stats.layer_stats["params"]["hidden"].inputs, x)


def exact_direction(tx, params, grads, stats, **extra):
    state = tx.init(params)
    return tx.update(grads, state, params, layer_stats=stats, **extra)[0]


def test_direction_is_the_dense_solve_with_the_damped_kronecker_fisher():
    model, params, x, y = linear_problem()
    ci = optim.loss_grads_and_stats(model, params, x, y, jax.random.PRNGKey(4))
    damping = 0.05
    tx = optim.scale_by_kfac(damping=damping, newton_schulz_iters=60, newton_schulz_tol=None)
    direction = exact_direction(tx, params, ci.grads, ci.layer_stats)
    a, g = (np.float64(f) for f in layer_factors(ci.layer_stats["params"], has_bias=True))
    pi = np.sqrt((np.trace(a) / a.shape[0]) / (np.trace(g) / g.shape[0]))
    fisher = np.kron(a + pi * np.sqrt(damping) * np.eye(5), g + np.sqrt(damping) / pi * np.eye(3))
    stacked = np.concatenate([ci.grads["params"]["kernel"], ci.grads["params"]["bias"][None]], 0)
    expected = np.linalg.solve(fisher, stacked.reshape(-1)).reshape(5, 3)
    np.testing.assert_allclose(direction["params"]["kernel"], expected[:4], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(direction["params"]["bias"], expected[4], rtol=1e-3, atol=1e-4)


def test_exact_curvature_gives_the_dense_natural_gradient():
    # One linear output with unit-variance Gaussian noise: the Fisher is E[â âᵀ] exactly; with
    # output gradients of 1 the Kronecker factor G = 1 is exact too.
    model, params, x, y = linear_problem(d_out=1, likelihood="gaussian")
    stats = {"params": optim.LayerStats(x, jnp.ones((N, 1)))}
    loss = lambda p: jnp.mean(0.5 * jnp.sum((model.apply(p, x) - y) ** 2, axis=-1))
    grads = jax.grad(loss)(params)
    tx = optim.scale_by_kfac(damping=1e-8, newton_schulz_iters=80, newton_schulz_tol=None)
    direction = exact_direction(tx, params, grads, stats)
    jac = np.concatenate([np.float64(x), np.ones((N, 1))], axis=1)  # ∂f(x_n)/∂[W; b]
    fisher = jac.T @ jac / N
    flat_grad = np.concatenate([grads["params"]["kernel"][:, 0], grads["params"]["bias"]])
    natural = np.linalg.solve(fisher, flat_grad)
    np.testing.assert_allclose(
        direction["params"]["kernel"][:, 0], natural[:4], rtol=2e-3, atol=1e-4
    )
    np.testing.assert_allclose(direction["params"]["bias"], natural[4:], rtol=2e-3, atol=1e-4)


def run_steps(tx, num_steps=3, **extra_keys):
    model, params, x, y = linear_problem()
    state = tx.init(params)
    out = []
    for step in range(num_steps):
        ci = optim.loss_grads_and_stats(model, params, x, y, jax.random.PRNGKey(step))
        updates, state = tx.update(
            ci.grads, state, params, layer_stats=ci.layer_stats, loss_fn=ci.loss_fn
        )
        params = optax.apply_updates(params, updates)
        out.append(updates)
    return out


def test_rho_zero_reduces_ring_and_reng_to_kfac():
    kfac = run_steps(optim.kfac(0.1, damping=0.01))
    for other in (optim.ring(0.1, rho=0.0, damping=0.01), optim.reng(0.1, rho=0.0, damping=0.01)):
        for u, v in zip(run_steps(other), kfac, strict=True):
            jax.tree.map(np.testing.assert_array_equal, u, v)


def test_ring_is_kfac_damped_by_the_squared_gradient_norm():
    model, params, x, y = linear_problem()
    ci = optim.loss_grads_and_stats(model, params, x, y, jax.random.PRNGKey(0))
    rho, damping = 0.3, 0.01
    ring = exact_direction(optim.scale_by_ring(rho, damping), params, ci.grads, ci.layer_stats)
    lam = damping + rho * float(optax.tree.norm(ci.grads, squared=True))
    kfac = exact_direction(optim.scale_by_kfac(lam), params, ci.grads, ci.layer_stats)
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-5), ring, kfac)
    plain = exact_direction(optim.scale_by_kfac(damping), params, ci.grads, ci.layer_stats)
    assert optax.tree.norm(ring) < optax.tree.norm(plain)  # More damping, shorter step.


def test_gradient_regularization_term_is_the_gradient_of_half_squared_gradient_norm():
    jax.config.update("jax_enable_x64", True)
    try:
        model, params, x, y = linear_problem()
        params = jax.tree.map(lambda p: p.astype(jnp.float64), params)
        x = x.astype(jnp.float64)
        loss = lambda p: jnp.mean(
            optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y)
        )
        half_sq_norm = lambda p: 0.5 * optax.tree.norm(jax.grad(loss)(p), squared=True)
        term = optim.gradient_regularization_term(loss, params, jax.grad(loss)(params))
        flat, unravel = jax.flatten_util.ravel_pytree(params)
        eps = 1e-6
        fd = np.array(
            [
                (half_sq_norm(unravel(flat + eps * e)) - half_sq_norm(unravel(flat - eps * e)))
                / (2 * eps)
                for e in np.eye(flat.size)
            ]
        )
        np.testing.assert_allclose(jax.flatten_util.ravel_pytree(term)[0], fd, rtol=1e-6, atol=1e-9)
    finally:
        jax.config.update("jax_enable_x64", False)


def test_reng_preconditions_the_regularized_gradient():
    model, params, x, y = linear_problem()
    ci = optim.loss_grads_and_stats(model, params, x, y, jax.random.PRNGKey(0))
    rho = 0.2
    reng = exact_direction(
        optim.scale_by_reng(rho, 0.01), params, ci.grads, ci.layer_stats, loss_fn=ci.loss_fn
    )
    hg = optim.gradient_regularization_term(ci.loss_fn, params, ci.grads)
    regularized = jax.tree.map(lambda g, h: g + rho * h, ci.grads, hg)
    kfac = exact_direction(optim.scale_by_kfac(0.01), params, regularized, ci.layer_stats)
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-7), reng, kfac)


def test_missing_and_malformed_extra_args_are_named():
    model, params, x, y = linear_problem()
    ci = optim.loss_grads_and_stats(model, params, x, y, jax.random.PRNGKey(0))
    tx = optim.scale_by_kfac()
    state = tx.init(params)
    with pytest.raises(ValueError, match="layer_stats"):
        tx.update(ci.grads, state, params)
    with pytest.raises(ValueError, match="layer_stats"):
        tx.update(ci.grads, state, params, layer_stats={"params": optim.LayerStats(x[:, :2], x)})
    with pytest.raises(ValueError, match="layer_stats"):
        tx.update(ci.grads, state, params, layer_stats={"other": ci.layer_stats["params"]})
    reng = optim.scale_by_reng()
    with pytest.raises(ValueError, match="loss_fn"):
        reng.update(ci.grads, reng.init(params), params, layer_stats=ci.layer_stats)
    with pytest.raises(ValueError, match="likelihood"):
        optim.loss_grads_and_stats(model, params, x, y, jax.random.PRNGKey(0), likelihood="poisson")


def test_inverses_are_reused_between_refreshes_and_exact_at_them():
    model, params, x, y = linear_problem()
    damping = 0.05
    tx = optim.scale_by_kfac(damping, inverse_update_every=3, newton_schulz_tol=None)
    state = tx.init(params)
    inverses = []
    for step in range(4):
        ci = optim.loss_grads_and_stats(model, params, x, y, jax.random.PRNGKey(step))
        _, state = tx.update(ci.grads, state, params, layer_stats=ci.layer_stats)
        inverses.append(state.factors["params"].a_inv)
    np.testing.assert_array_equal(inverses[0], inverses[1])
    np.testing.assert_array_equal(inverses[1], inverses[2])
    # Step 3 refreshes: the inverse of the current damped factor A + π√λ I.
    f = state.factors["params"]
    a, g = np.float64(f.a), np.float64(f.g)
    pi = np.sqrt((np.trace(a) / a.shape[0]) / (np.trace(g) / g.shape[0]))
    expected = np.linalg.inv(a + pi * np.sqrt(damping) * np.eye(a.shape[0]))
    np.testing.assert_allclose(inverses[3], expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(inverses[2], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("factory", [optim.scale_by_kfac, optim.scale_by_reng])
def test_kl_clip_bounds_the_fisher_norm_of_the_direction(factory):
    model, params, x, y = linear_problem()
    ci = optim.loss_grads_and_stats(model, params, x, y, jax.random.PRNGKey(4))
    extra = {"loss_fn": ci.loss_fn}
    kwargs = {"damping": 0.05, "newton_schulz_iters": 60, "newton_schulz_tol": None}
    free = exact_direction(factory(**kwargs), params, ci.grads, ci.layer_stats, **extra)
    preconditioned = ci.grads
    if factory is optim.scale_by_reng:  # RENG preconditions g + ρHg: dᵀF̂d = dᵀ(g + ρHg).
        hg = jax.jvp(jax.grad(ci.loss_fn), (params,), (ci.grads,))[1]
        preconditioned = jax.tree.map(lambda g, h: g + 0.05 * h, ci.grads, hg)
    quadratic = float(optax.tree.vdot(free, preconditioned))
    for kl_clip, expected_scale in ((0.25 * quadratic, 0.5), (4.0 * quadratic, 1.0)):
        clipped = exact_direction(
            factory(**kwargs, kl_clip=kl_clip), params, ci.grads, ci.layer_stats, **extra
        )
        jax.tree.map(
            lambda c, f, s=expected_scale: np.testing.assert_allclose(c, s * f, rtol=1e-4),
            clipped,
            free,
        )
