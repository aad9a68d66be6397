import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import diffusion


def test_soft_correction_shrinks_the_circle_residual_by_one_minus_gamma():
    # For c(x) = ||x|| - 1 the gradient of 1/2 c^2 is c x/||x||, so the correction moves each
    # point radially and the residual becomes exactly (1 - gamma) c.
    x0 = jax.random.normal(jax.random.PRNGKey(0), (64, 2)) * 2.0
    gamma = jnp.linspace(0.0, 1.0, 64)
    before = diffusion.batched_residual(diffusion.circle_residual, x0)[:, 0]
    corrected = diffusion.soft_correction(x0, diffusion.circle_residual, gamma)
    after = diffusion.batched_residual(diffusion.circle_residual, corrected)[:, 0]
    np.testing.assert_allclose(after, (1 - gamma) * before, atol=1e-5)


def test_soft_correction_reduces_the_darcy_residual_of_a_fixed_estimate():
    n = 8
    source = diffusion.darcy_source(n)
    residual_fn = lambda x: diffusion.darcy_residual(x, source) / 1000.0  # noqa: E731
    x0 = 0.3 * jax.random.normal(jax.random.PRNGKey(1), (4, n, n, 2))
    norm = jax.jit(lambda x: jnp.sum(jnp.square(jax.vmap(residual_fn)(x)), axis=(1, 2)))
    correct = jax.jit(lambda x: diffusion.soft_correction(x, residual_fn, jnp.full((4,), 0.02)))
    previous = norm(x0)
    x = x0
    for _ in range(3):  # Small steps are gradient descent on 1/2||c||^2: the residual falls.
        x = correct(x)
        current = norm(x)
        assert np.all(np.asarray(current) < np.asarray(previous))
        previous = current


def make_soft(mode, **kwargs):
    net = diffusion.MLPDenoiserNet(width=16, depth=2)
    return diffusion.SoftConstrainedDenoiser(net, diffusion.circle_residual, mode, **kwargs)


@pytest.mark.parametrize("mode", ["learned", "scheduled", "constant"])
def test_soft_denoiser_is_the_plain_denoiser_plus_the_correction(mode):
    x = jax.random.normal(jax.random.PRNGKey(2), (8, 2))
    sigma = jnp.geomspace(0.01, 10.0, 8)
    soft = make_soft(mode, gamma_init=0.3, gamma_max=0.9)
    params = soft.init(jax.random.PRNGKey(3), x, sigma)
    plain = diffusion.EDMDenoiser(diffusion.MLPDenoiserNet(width=16, depth=2))
    plain_params = {"params": {"net": params["params"]["net"]}}
    d = plain.apply(plain_params, x, sigma)
    gamma = soft.apply(params, sigma, method="gamma_value")
    expected_gamma = {
        "learned": jnp.full(8, 0.3),  # The zero-initialised head starts at gamma_init.
        "scheduled": 0.3 * sigma**2 / (sigma**2 + 0.25),
        "constant": jnp.full(8, 0.3),
    }[mode]
    np.testing.assert_allclose(gamma, expected_gamma, rtol=1e-5)
    norm = jnp.linalg.norm(d, axis=1)
    expected = d - (gamma * (norm - 1) / norm)[:, None] * d
    np.testing.assert_allclose(soft.apply(params, x, sigma), expected, rtol=1e-4, atol=1e-5)


def test_learned_gamma_stays_in_bounds_and_bad_settings_raise():
    g = diffusion.Gamma("learned", 0.5, 1.0)
    sigma = jnp.geomspace(1e-3, 100.0, 16)
    params = g.init(jax.random.PRNGKey(0), sigma)
    params = jax.tree.map(lambda p: p + 5.0 * jnp.ones_like(p), params)  # Push the logits.
    out = g.apply(params, sigma)
    assert np.all((np.asarray(out) >= 0) & (np.asarray(out) <= 1.0))
    with pytest.raises(ValueError, match="gamma_init"):
        diffusion.Gamma("learned", 2.0, 1.0).init(jax.random.PRNGKey(0), sigma)
    with pytest.raises(ValueError, match="gamma mode"):
        diffusion.Gamma("nope").init(jax.random.PRNGKey(0), sigma)


def test_soft_denoiser_trains_through_the_correction():
    soft = make_soft("learned")
    x = jax.random.normal(jax.random.PRNGKey(4), (8, 2))
    sigma = jnp.ones(8)
    params = soft.init(jax.random.PRNGKey(5), x, sigma)
    grads = jax.grad(lambda p: jnp.sum(soft.apply(p, x, sigma) ** 2))(params)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    # gamma receives gradient: the loss depends on the learned scale.
    assert float(jnp.abs(grads["params"]["gamma"]["Dense_1"]["bias"]).sum()) > 0


def test_dps_guidance_matches_the_closed_form_for_a_linear_denoiser():
    a = 0.8

    def linear(x, sigma):
        return a * x

    guided = diffusion.dps_guided(linear, diffusion.circle_residual, scale=0.5)
    x = jax.random.normal(jax.random.PRNGKey(6), (8, 2)) * 2
    sigma = jnp.linspace(0.1, 2.0, 8)
    d = a * x
    norm = jnp.linalg.norm(d, axis=1, keepdims=True)
    # grad_x 1/2 c(a x)^2 = a (||ax|| - 1) ax / ||ax||.
    expected = d - 0.5 * sigma[:, None] ** 2 * a * (norm - 1) * d / norm
    np.testing.assert_allclose(guided(x, sigma), expected, rtol=1e-5, atol=1e-6)
    constant = diffusion.dps_guided(linear, diffusion.circle_residual, 0.5, "constant")
    np.testing.assert_allclose(
        constant(x, sigma), d - 0.5 * a * (norm - 1) * d / norm, rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="weighting"):
        diffusion.dps_guided(linear, diffusion.circle_residual, 0.5, "nope")


@pytest.mark.parametrize("sigma_weighting", ["edm", "none"])
def test_regularised_loss_adds_the_weighted_residual_penalty(sigma_weighting):
    def identity(x, sigma):
        return x

    x0 = jax.random.normal(jax.random.PRNGKey(7), (32, 2))
    key = jax.random.PRNGKey(8)
    base, aux = diffusion.denoising_loss(identity, key, x0)
    loss, aux_r = diffusion.regularised_denoising_loss(
        identity, diffusion.circle_residual, 0.3, key, x0, sigma_weighting=sigma_weighting
    )
    r = jnp.linalg.norm(aux["denoised"], axis=1) - 1
    s = aux["sigma"]
    w = (s**2 + 0.25) / (0.5 * s) ** 2 if sigma_weighting == "edm" else jnp.ones_like(s)
    np.testing.assert_allclose(aux_r["residual_penalty"], jnp.mean(w * r**2), rtol=1e-5)
    np.testing.assert_allclose(loss, base + 0.3 * jnp.mean(w * r**2), rtol=1e-5)
    with pytest.raises(ValueError, match="sigma_weighting"):
        diffusion.regularised_denoising_loss(
            identity, diffusion.circle_residual, 0.3, key, x0, sigma_weighting="nope"
        )
