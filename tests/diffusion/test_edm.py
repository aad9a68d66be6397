import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import diffusion


def test_preconditioning_matches_the_edm_formulas():
    sigma = np.array([0.002, 0.1, 0.5, 1.0, 3.0, 80.0])
    sd = 0.5
    c = diffusion.edm_preconditioning(jnp.asarray(sigma), sd)
    np.testing.assert_allclose(c.c_skip, sd**2 / (sigma**2 + sd**2), rtol=1e-6)
    np.testing.assert_allclose(c.c_out, sigma * sd / np.sqrt(sigma**2 + sd**2), rtol=1e-6)
    np.testing.assert_allclose(c.c_in, 1 / np.sqrt(sigma**2 + sd**2), rtol=1e-6)
    np.testing.assert_allclose(c.c_noise, np.log(sigma) / 4, rtol=1e-6)


@pytest.mark.parametrize("sd", [0.5, 1.3])
def test_preconditioning_gives_unit_variance_inputs_and_targets(sd):
    # The defining properties (EDM Appendix B.6): Var[c_in x] = 1 and the effective target
    # (x0 - c_skip x) / c_out has unit variance; lambda = 1 / c_out^2.
    sigma = jnp.geomspace(0.01, 50.0, 9)
    c = diffusion.edm_preconditioning(sigma, sd)
    np.testing.assert_allclose(c.c_in**2 * (sigma**2 + sd**2), 1.0, rtol=1e-5)
    target_var = ((1 - c.c_skip) ** 2 * sd**2 + c.c_skip**2 * sigma**2) / c.c_out**2
    np.testing.assert_allclose(target_var, 1.0, rtol=1e-5)
    np.testing.assert_allclose(diffusion.loss_weight(sigma, sd), 1 / c.c_out**2, rtol=1e-5)


def test_sigma_sampling_is_log_normal():
    s = diffusion.sample_sigma(jax.random.PRNGKey(0), (20_000,), -1.2, 1.2)
    logs = np.log(np.asarray(s))
    assert abs(logs.mean() + 1.2) < 0.05 and abs(logs.std() - 1.2) < 0.05


def test_karras_schedule_endpoints_and_monotone():
    s = np.asarray(diffusion.karras_sigmas(18, 0.002, 80.0, 7.0))
    assert s.shape == (19,)
    np.testing.assert_allclose([s[0], s[-2], s[-1]], [80.0, 0.002, 0.0], rtol=1e-5)
    assert np.all(np.diff(s) < 0)
    with pytest.raises(ValueError, match="num_steps"):
        diffusion.karras_sigmas(0)


def test_heun_with_the_exact_gaussian_denoiser_reaches_the_data_variance():
    s = 0.7  # Data N(0, s^2 I): E[x0 | x] = x s^2 / (s^2 + sigma^2).

    def exact(x, sigma):
        return x * (s**2 / (s**2 + sigma**2))[:, None]

    key = jax.random.PRNGKey(0)
    errors = []
    for num_steps in (32, 64):
        sigmas = diffusion.karras_sigmas(num_steps)
        x = diffusion.heun_sample(exact, key, (20_000, 2), sigmas)
        # The probability-flow ODE is linear here: x(0) = x(T) s / sqrt(s^2 + sigma_max^2).
        x_t = sigmas[0] * jax.random.normal(key, (20_000, 2))
        errors.append(float(jnp.max(jnp.abs(x / (x_t * s / jnp.sqrt(s**2 + 80.0**2)) - 1))))
    # Second order: doubling the steps divides the error by about 4.
    assert errors[1] < 5e-3 and 3.0 < errors[0] / errors[1] < 5.5, errors
    np.testing.assert_allclose(np.var(np.asarray(x)), s**2, rtol=0.03)


def test_denoising_loss_is_zero_mean_error_for_the_exact_denoiser():
    # For Gaussian data the loss of the exact denoiser equals E lambda Var[x0|x] = E lambda
    # s^2 sigma^2 / (s^2 + sigma^2); with s = sigma_data this is 1 for every sigma.
    sd = 0.5

    def exact(x, sigma):
        return x * (sd**2 / (sd**2 + sigma**2))[:, None]

    x0 = sd * jax.random.normal(jax.random.PRNGKey(1), (50_000, 4))
    loss, aux = diffusion.denoising_loss(exact, jax.random.PRNGKey(2), x0, sd)
    assert aux["denoised"].shape == x0.shape
    np.testing.assert_allclose(loss, 1.0, rtol=0.02)
