"""Each loss against hand-computed values and its gradient pattern."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.al import (
    beta_nll_loss,
    caal_loss,
    faithful_loss,
    gaussian_nll,
    make_loss,
    mse_nll_loss,
    natural_nll,
    natural_nll_loss,
    nll_loss,
)

MEAN = jnp.array([1.0, 2.0])
VAR = jnp.array([0.5, 2.0])
Y = jnp.array([0.0, 4.0])
# By hand: squared errors 1 and 4; NLL terms 1/(2*0.5) + ½ log 0.5 and 4/(2*2) + ½ log 2.
MSE = 2.5
NLL_TERMS = np.array([1.0 + 0.5 * np.log(0.5), 1.0 + 0.5 * np.log(2.0)])
NLL = NLL_TERMS.mean()  # = 1.0 exactly (the logs cancel).
# d NLL_i / d σ²_i = -(y-μ)²/(2σ⁴) + 1/(2σ²), divided by N = 2.
DNLL_DVAR = np.array([-1.0 / (2 * 0.25) + 1.0, -4.0 / (2 * 4.0) + 0.25]) / 2
DNLL_DMEAN = np.array([(1.0 - 0.0) / 0.5, (2.0 - 4.0) / 2.0]) / 2
DMSE_DMEAN = np.array([2 * 1.0, 2 * -2.0]) / 2


def grads(loss, **kw):
    return jax.grad(lambda m, v: loss(m, v, Y, **kw), argnums=(0, 1))(MEAN, VAR)


def test_gaussian_nll_value_and_constant():
    np.testing.assert_allclose(gaussian_nll(MEAN, VAR, Y), NLL, rtol=1e-6)
    with_const = gaussian_nll(MEAN, VAR, Y, include_constant=True)
    np.testing.assert_allclose(with_const, NLL + 0.5 * np.log(2 * np.pi), rtol=1e-6)


def test_nll_loss_gradient():
    g_mean, g_var = grads(nll_loss)
    np.testing.assert_allclose(g_mean, DNLL_DMEAN, rtol=1e-6)
    np.testing.assert_allclose(g_var, DNLL_DVAR, rtol=1e-6)


def test_caal_value_and_nll_sends_no_gradient_into_mean():
    np.testing.assert_allclose(caal_loss(MEAN, VAR, Y, lam=0.1), MSE + 0.1 * NLL, rtol=1e-6)
    g_mean, g_var = grads(caal_loss, lam=0.1)
    np.testing.assert_allclose(g_mean, DMSE_DMEAN, rtol=1e-6)  # MSE only.
    np.testing.assert_allclose(g_var, 0.1 * DNLL_DVAR, rtol=1e-6)
    # Without stop-gradient the NLL does reach μ.
    g_mean_nosg, _ = grads(mse_nll_loss, lam=0.1)
    np.testing.assert_allclose(g_mean_nosg, DMSE_DMEAN + 0.1 * DNLL_DMEAN, rtol=1e-6)
    np.testing.assert_allclose(mse_nll_loss(MEAN, VAR, Y, lam=0.1), MSE + 0.1 * NLL, rtol=1e-6)


def test_beta_nll_value_and_gradients():
    beta = 0.5
    value = np.mean(np.asarray(VAR) ** beta * NLL_TERMS)
    np.testing.assert_allclose(beta_nll_loss(MEAN, VAR, Y, beta=beta), value, rtol=1e-6)
    g_mean, g_var = grads(beta_nll_loss, beta=beta)
    np.testing.assert_allclose(g_mean, np.asarray(VAR) ** beta * DNLL_DMEAN, rtol=1e-6)
    # sg(σ²)^β: no gradient through the weight itself.
    np.testing.assert_allclose(g_var, np.asarray(VAR) ** beta * DNLL_DVAR, rtol=1e-6)
    # β = 1: the μ-gradient is the MSE's (up to the factor ½ of the NLL's squared error).
    g_mean_1, _ = grads(beta_nll_loss, beta=1.0)
    np.testing.assert_allclose(g_mean_1, 0.5 * DMSE_DMEAN, rtol=1e-6)
    np.testing.assert_allclose(beta_nll_loss(MEAN, VAR, Y, beta=0.0), NLL, rtol=1e-6)


def test_faithful_value_and_gradient():
    np.testing.assert_allclose(faithful_loss(MEAN, VAR, Y), MSE + NLL, rtol=1e-6)
    g_mean, g_var = grads(faithful_loss)
    np.testing.assert_allclose(g_mean, DMSE_DMEAN, rtol=1e-6)
    np.testing.assert_allclose(g_var, DNLL_DVAR, rtol=1e-6)


def test_natural_nll_closed_form():
    eta1, eta2 = MEAN / VAR, -0.5 / VAR
    y = Y
    by_hand = -(eta1 * y + eta2 * y**2 + eta1**2 / (4 * eta2) + 0.5 * jnp.log(-2 * eta2))
    np.testing.assert_allclose(natural_nll(eta1, eta2, y), by_hand.mean(), rtol=1e-6)
    # Same value as the mean-variance NLL.
    np.testing.assert_allclose(natural_nll(eta1, eta2, y), NLL, rtol=1e-6)
    np.testing.assert_allclose(natural_nll_loss(MEAN, VAR, Y), NLL, rtol=1e-6)
    # Exponential family: d/dη1 = E[y] - y = μ - y; d/dη2 = E[y²] - y² = μ² + σ² - y².
    g1, g2 = jax.grad(natural_nll, argnums=(0, 1))(eta1, eta2, y)
    np.testing.assert_allclose(g1, (MEAN - Y) / 2, rtol=1e-5)
    np.testing.assert_allclose(g2, (MEAN**2 + VAR - Y**2) / 2, rtol=1e-5)


@pytest.mark.parametrize("name", ["caal", "mse_nll", "nll", "beta_nll", "faithful", "natural_nll"])
def test_weights_select_rows_and_block_gradient(name):
    loss = make_loss(name)
    w = jnp.array([1.0, 0.0])
    np.testing.assert_allclose(
        loss(MEAN, VAR, Y, w), loss(MEAN[:1], VAR[:1], Y[:1], None), rtol=1e-6
    )
    g_mean, g_var = jax.grad(lambda m, v: loss(m, v, Y, w), argnums=(0, 1))(MEAN, VAR)
    assert g_mean[1] == 0.0 and g_var[1] == 0.0


def test_make_loss_rejects_unknown_name():
    with pytest.raises(ValueError, match="loss='huber'.*caal"):
        make_loss("huber")
