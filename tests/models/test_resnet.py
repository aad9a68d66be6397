"""Discrete/continuous ResNets of arXiv 2602.20921: against slow loops, diffrax and the 1/L rate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.models.resnet import (
    MIN_THRESHOLD,
    Block,
    NeuralODE,
    ResNet,
    block_at,
    dead_zone,
    ode_vector_field,
    ode_weights,
    odeint_diffrax,
    odeint_fixed,
    resnet_flow,
    resnet_weights,
    sample_nodes,
)


def _nodes(key, num_nodes, width, scale=1.0):
    ka, kb, kw = jax.random.split(key, 3)
    return Block(
        A=scale * jax.random.normal(ka, (num_nodes, width, width)) / np.sqrt(width),
        b=0.3 * jax.random.normal(kb, (num_nodes, width)),
        W=scale * jax.random.normal(kw, (num_nodes, width, width)) / np.sqrt(width),
    )


def test_dead_zone_is_zero_inside_and_shifted_relu_outside():
    x = jnp.linspace(-3.0, 3.0, 601)
    alpha, beta = 0.5, 1.25
    y = np.asarray(dead_zone(x, alpha, beta))
    xn = np.asarray(x)
    expected = np.where(xn > alpha, xn - alpha, np.where(xn < -beta, xn + beta, 0.0))
    np.testing.assert_allclose(y, expected, atol=1e-6)


def test_resnet_matches_a_slow_loop():
    x = jax.random.normal(jax.random.PRNGKey(0), (7, 5))
    model = ResNet(3, width=6, num_layers=5, horizon=2.0, alpha=0.2, beta=0.3)
    params = jax.jit(model.init)(jax.random.PRNGKey(1), x)  # One compile, not op by op.
    w = resnet_weights(model, params)
    h = np.asarray(x) @ np.asarray(w.pre_kernel) + np.asarray(w.pre_bias)
    for layer in range(5):
        a, b, ww = (np.asarray(p[layer]) for p in w.blocks)
        u = h @ a + b
        psi = np.maximum(u - 0.2, 0) - np.maximum(-u - 0.3, 0)
        h = h + (2.0 / 5) * psi @ ww
    expected = h @ np.asarray(w.head_kernel) + np.asarray(w.head_bias)
    np.testing.assert_allclose(jax.jit(model.apply)(params, x), expected, rtol=1e-5, atol=1e-5)


def test_learnable_thresholds_get_gradients_and_stay_positive():
    x = jax.random.normal(jax.random.PRNGKey(0), (16, 4))
    model = ResNet(2, width=8, num_layers=4, learn_thresholds=True, alpha=0.3, beta=0.7)
    params = jax.jit(model.init)(jax.random.PRNGKey(1), x)
    w = resnet_weights(model, params)
    np.testing.assert_allclose([w.alpha, w.beta], [0.3, 0.7], rtol=1e-5)
    grads = jax.jit(jax.grad(lambda p: jnp.sum(model.apply(p, x) ** 2)))(params)
    thresholds = grads["params"]["thresholds"]
    assert abs(float(thresholds["alpha_raw"])) > 0 and abs(float(thresholds["beta_raw"])) > 0
    # A huge negative step still leaves α, β > 0 (softplus parameterisation).
    moved = jax.tree.map(lambda p: p - 100.0, params)
    w2 = resnet_weights(model, moved)
    assert float(w2.alpha) >= MIN_THRESHOLD and float(w2.beta) >= MIN_THRESHOLD


def test_block_at_interpolates_between_nodes():
    nodes = _nodes(jax.random.PRNGKey(0), 5, 3)
    horizon = 2.0
    mid = block_at(nodes, jnp.asarray(0.75), horizon)  # Between node 1 (t=0.5) and 2 (t=1.0).
    np.testing.assert_allclose(mid.A, 0.5 * nodes.A[1] + 0.5 * nodes.A[2], rtol=1e-6)
    np.testing.assert_allclose(block_at(nodes, jnp.asarray(2.0), horizon).W, nodes.W[4])


def test_discrete_resnet_converges_to_the_ode_at_rate_one_over_L():
    width, horizon = 6, 1.0
    nodes = _nodes(jax.random.PRNGKey(3), 5, width)
    x0 = jax.random.normal(jax.random.PRNGKey(4), (32, width))
    alpha, beta = 0.1, 0.2
    field = ode_vector_field(nodes, alpha, beta, horizon)
    reference = jax.jit(lambda x: odeint_diffrax(field, x, horizon, rtol=1e-7, atol=1e-7))(x0)
    errors = []
    for num_layers in (32, 64, 128, 256):
        flow = jax.jit(
            lambda x, n=num_layers: resnet_flow(
                sample_nodes(nodes, horizon, n), x, horizon, alpha, beta
            )
        )
        out = flow(x0)
        errors.append(float(jnp.max(jnp.abs(out - reference))))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert errors[0] > 1e-3  # The error is measurable, not float noise.
    # First order: doubling L halves the error.
    assert np.all((ratios > 1.8) & (ratios < 2.2)), (errors, ratios)


def test_scan_solvers_against_diffrax():
    width, horizon = 5, 1.0
    nodes = _nodes(jax.random.PRNGKey(5), 3, width)
    x0 = jax.random.normal(jax.random.PRNGKey(6), (8, width))
    field = ode_vector_field(nodes, 0.1, 0.1, horizon)
    reference = jax.jit(lambda x: odeint_diffrax(field, x, horizon, rtol=1e-7, atol=1e-7))(x0)
    rk4 = jax.jit(lambda x: odeint_fixed(field, x, horizon, 64, "rk4"))(x0)
    euler = jax.jit(lambda x: odeint_fixed(field, x, horizon, 64, "euler"))(x0)
    err_rk4 = float(jnp.max(jnp.abs(rk4 - reference)))
    err_euler = float(jnp.max(jnp.abs(euler - reference)))
    assert err_rk4 < 1e-3 and err_rk4 < err_euler / 10, (err_rk4, err_euler)


def test_neural_ode_solvers_agree_and_weights_roundtrip():
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 3))
    model = NeuralODE(2, width=5, num_nodes=3, solver="rk4", num_steps=64)
    params = jax.jit(model.init)(jax.random.PRNGKey(1), x)
    ref = jax.jit(NeuralODE(2, width=5, num_nodes=3, solver="diffrax").apply)(params, x)
    np.testing.assert_allclose(jax.jit(model.apply)(params, x), ref, atol=1e-3)
    w = ode_weights(model, params)
    assert w.continuous and w.blocks.A.shape == (4, 5, 5)


@pytest.mark.parametrize(
    ("module", "match"),
    [
        (ResNet(2, num_layers=0), "num_layers"),
        (ResNet(2, alpha=0.0), "alpha"),
        (ResNet(2, horizon=-1.0), "horizon"),
        (NeuralODE(2, solver="midpoint"), "solver"),
    ],
)
def test_bad_arguments_raise(module, match):
    with pytest.raises(ValueError, match=match):
        module.init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
