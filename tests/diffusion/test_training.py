import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import diffusion
from jaxml.utils.trainer import make_train

SIGMAS = diffusion.karras_sigmas(4)


def ellipse_family(theta):
    return lambda x: diffusion.ellipse_residual(x, (theta[0], theta[1]))


def model_fn(method):
    net = lambda: diffusion.MLPDenoiserNet(width=16, depth=2)  # noqa: E731
    return lambda theta: diffusion.make_denoiser(method, net(), ellipse_family(theta))


def member_params(method, thetas):
    x, sigma = jnp.ones((2, 2)), jnp.ones((2,))
    keys = jax.random.split(jax.random.PRNGKey(0), len(thetas))
    return jax.vmap(lambda k, t: model_fn(method)(t).init(k, x, sigma))(keys, thetas)


@pytest.mark.parametrize("method", ["plain", "soft", "dps"])
def test_vmapped_sampler_equals_sampling_each_model_alone(method):
    thetas = jnp.asarray([[1.0, 1.0], [1.2, 0.8], [0.7, 1.5]])
    params = member_params(method, thetas)
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    dps = diffusion.DPSGuidance(ellipse_family, 0.5, "constant") if method == "dps" else None
    samples = diffusion.heun_sample_models(
        model_fn(method), params, thetas, keys, (32, 2), SIGMAS, dps
    )
    assert samples.shape == (3, 32, 2)
    for m in range(3):
        p = jax.tree.map(lambda leaf, m=m: leaf[m], params)
        denoise = diffusion.apply_fn(model_fn(method)(thetas[m]), p)
        if dps is not None:
            denoise = diffusion.dps_guided(denoise, ellipse_family(thetas[m]), 0.5, "constant")
        alone = diffusion.heun_sample(denoise, keys[m], (32, 2), SIGMAS)
        # vmap vs one model: the same sums, reassociated (untrained models reach |x| ~ 20 here).
        np.testing.assert_allclose(samples[m], alone, rtol=1e-4, atol=1e-4)
    # Members differ (their params, keys and constraints do).
    assert float(jnp.max(jnp.abs(samples[0] - samples[1]))) > 1e-3


def test_sampler_rejects_an_unknown_dps_weighting():
    thetas = jnp.asarray([[1.2, 1.2]])
    params, keys = member_params("plain", thetas), jax.random.split(jax.random.PRNGKey(2), 1)
    bad = diffusion.DPSGuidance(ellipse_family, 1.0, "wild")
    with pytest.raises(ValueError, match="dps.weighting: expected one of sigma_squared, constant"):
        diffusion.heun_sample_models(model_fn("dps"), params, thetas, keys, (4, 2), SIGMAS, bad)


def test_sample_metrics_row_matches_direct_calls_and_zeroes_non_finite_samples():
    key = jax.random.PRNGKey(3)
    x = jax.random.normal(jax.random.PRNGKey(4), (40, 2))
    x_test = jax.random.normal(jax.random.PRNGKey(5), (40, 2))
    given = ellipse_family(jnp.asarray([1.2, 0.8]))
    row = diffusion.sample_metrics(key, x, x_test, diffusion.circle_residual, given)
    assert row == {
        "finite": True,
        "w1": diffusion.wasserstein_1_exact(np.asarray(x), np.asarray(x_test)),
        "sliced_w1": float(diffusion.sliced_wasserstein_1(key, x, x_test)),
        "residual_true": float(diffusion.mean_abs_residual(diffusion.circle_residual, x)),
        "diversity": float(diffusion.mean_pairwise_distance(x)),
        "residual_given": float(diffusion.mean_abs_residual(given, x)),
    }
    bad = x.at[3, 1].set(jnp.nan)
    row_bad = diffusion.sample_metrics(key, bad, x_test, diffusion.circle_residual)
    assert "residual_given" not in row_bad and row_bad["finite"] is False
    zeroed = diffusion.sample_metrics(key, x.at[3, 1].set(0.0), x_test, diffusion.circle_residual)
    assert {**row_bad, "finite": True} == zeroed


def test_reference_metrics_match_direct_calls():
    x_fresh = jax.random.normal(jax.random.PRNGKey(6), (30, 2))
    x_test = jax.random.normal(jax.random.PRNGKey(7), (30, 2))
    ref = diffusion.reference_metrics(x_fresh, x_test, diffusion.circle_residual)
    assert ref == {
        "residual_true_data": float(diffusion.mean_abs_residual(diffusion.circle_residual, x_test)),
        "diversity_data": float(diffusion.mean_pairwise_distance(x_test)),
        "w1_data_vs_data": diffusion.wasserstein_1_exact(np.asarray(x_fresh), np.asarray(x_test)),
    }


def test_make_denoiser_picks_the_module_of_each_method():
    net = diffusion.MLPDenoiserNet(width=8, depth=1)
    for method in ("plain", "pidm", "dps"):
        assert type(diffusion.make_denoiser(method, net)) is diffusion.EDMDenoiser
    soft = diffusion.make_denoiser("soft", net, diffusion.circle_residual, gamma_mode="constant")
    assert isinstance(soft, diffusion.SoftConstrainedDenoiser) and soft.gamma_mode == "constant"
    with pytest.raises(ValueError, match="method: expected one of plain, soft, pidm, dps"):
        diffusion.make_denoiser("magic", net)
    with pytest.raises(ValueError, match="residual_fn"):
        diffusion.make_denoiser("soft", net)


@pytest.mark.parametrize("method", ["plain", "soft", "pidm"])
def test_method_loss_is_the_edm_loss_plus_the_pidm_penalty(method):
    model = model_fn(method)(jnp.asarray([1.0, 1.0]))
    x0 = jax.random.normal(jax.random.PRNGKey(8), (16, 2))
    params = model.init(jax.random.PRNGKey(9), x0[:2], jnp.ones((2,)))
    denoise, key = diffusion.apply_fn(model, params), jax.random.PRNGKey(10)
    residual = diffusion.circle_residual
    loss, aux = diffusion.method_loss(method, denoise, residual, key, x0, pidm_weight=0.3)
    plain, _ = diffusion.denoising_loss(denoise, key, x0)
    if method != "pidm":
        assert aux == {} and float(loss) == float(plain)
        return
    expected, ref = diffusion.regularised_denoising_loss(denoise, residual, 0.3, key, x0)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    np.testing.assert_allclose(aux["denoise_loss"], plain, rtol=1e-6)
    np.testing.assert_allclose(loss, plain + 0.3 * aux["penalty"], rtol=1e-5)
    assert float(aux["penalty"]) == float(ref["residual_penalty"])


@pytest.mark.parametrize("method", ["plain", "pidm"])
def test_denoiser_trainer_equals_a_hand_written_loop(method):
    # The loop the scd launcher used to carry: init with split(key) -> (init, data), and each
    # step split the key in three -> (next, batch, loss); its numbers are the baseline's.
    x_train = jax.random.normal(jax.random.PRNGKey(11), (64, 2))
    theta = jnp.asarray([1.2, 0.8])
    optimizer = optax.adam(1e-2)
    trainer = diffusion.denoiser_trainer(
        method,
        model_fn(method),
        ellipse_family,
        x_train,
        optimizer=optimizer,
        num_steps=3,
        batch_size=8,
    )
    out = jax.jit(make_train(trainer))(jax.random.PRNGKey(12), theta)

    model = model_fn(method)(theta)
    init_key, key = jax.random.split(jax.random.PRNGKey(12))
    params = model.init(init_key, x_train[:2], jnp.ones((2,)))
    opt_state = optimizer.init(params)
    losses = []
    for _ in range(3):
        key, batch_key, loss_key = jax.random.split(key, 3)
        x0 = x_train[jax.random.randint(batch_key, (8,), 0, 64)]

        def loss_fn(p, x0=x0, loss_key=loss_key):
            denoise = diffusion.apply_fn(model, p)
            return diffusion.method_loss(method, denoise, ellipse_family(theta), loss_key, x0)

        (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        losses.append(loss)
    np.testing.assert_allclose(out.metrics["train_loss"], losses, rtol=1e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
        out.state.params,
        params,
    )
    assert ("penalty" in out.metrics) == (method == "pidm")
    assert trainer.evaluate is None


def test_soft_trainer_reports_gamma_at_the_probe_noise_levels():
    x_train = jax.random.normal(jax.random.PRNGKey(13), (32, 2))
    trainer = diffusion.denoiser_trainer(
        "soft",
        model_fn("soft"),
        ellipse_family,
        x_train,
        optimizer=optax.sgd(0.0),
        num_steps=1,
        batch_size=4,
    )
    state = trainer.init(jax.random.PRNGKey(14), jnp.asarray([1.0, 1.0]))
    metrics = trainer.evaluate(state)
    # The learned gamma starts at gamma_init = 0.5 for every sigma (a zero-initialised head).
    assert sorted(metrics) == sorted(f"gamma_sigma_{s:g}" for s in diffusion.GAMMA_PROBES)
    np.testing.assert_allclose([metrics[k] for k in sorted(metrics)], 0.5, rtol=1e-6)
