"""The vmapped ensemble trainer: equals members trained one by one, early stopping, uncertainty."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import spearmanr

from jaxml.al import (
    HeteroscedasticRegressor,
    TrainSettings,
    ensemble_uncertainty,
    make_ensemble_trainer,
    make_loss,
    make_member_trainer,
    mse,
    predict_ensemble,
    steps_per_epoch,
)
from jaxml.data.heteroscedastic import make_sine

N = 120
VAL = np.arange(N) % 4 == 0
SETTINGS = TrainSettings(learning_rate=3e-3, batch_size=32, max_epochs=12, patience=3)
MODEL = HeteroscedasticRegressor(width=16, depth=2)


@pytest.fixture(scope="module")
def data():
    d = make_sine(jax.random.PRNGKey(0), N)
    x = (d.x - 5.0) / 3.0
    y = (d.y - d.y.mean()) / d.y.std()
    train_w = jnp.asarray(~VAL, jnp.float32)
    val_w = jnp.asarray(VAL, jnp.float32)
    return x, y, train_w, val_w, steps_per_epoch(int((~VAL).sum()), SETTINGS.batch_size)


@pytest.fixture(scope="module")
def vmapped_fit(data):
    trainer = make_ensemble_trainer(MODEL, make_loss("caal"), SETTINGS)
    keys = jax.random.split(jax.random.PRNGKey(7), 3)
    return keys, trainer(keys, *data)


def test_vmapped_ensemble_equals_members_trained_one_by_one(data, vmapped_fit):
    keys, fit = vmapped_fit
    member = jax.jit(make_member_trainer(MODEL, make_loss("caal"), SETTINGS))
    for m in range(keys.shape[0]):
        one = member(keys[m], *data)
        assert int(one.epochs) == int(fit.epochs[m])
        np.testing.assert_allclose(one.best_val_mse, fit.best_val_mse[m], rtol=1e-4)
        jax.tree.map(
            lambda a, b, m=m: np.testing.assert_allclose(a, b[m], rtol=1e-4, atol=1e-5),
            one.params,
            fit.params,
        )
    # Members differ (different keys), so the comparison above is not vacuous.
    assert not np.allclose(fit.best_val_mse[0], fit.best_val_mse[1])


def test_returned_params_are_the_best_validated_and_stopping_follows_patience(data, vmapped_fit):
    x, y, _, val_w, _ = data
    keys, fit = vmapped_fit
    predict = jax.jit(lambda p: predict_ensemble(MODEL, p, x).mean)
    val = jax.vmap(lambda mu: mse(mu, y, val_w))(predict(fit.params))
    np.testing.assert_allclose(val, fit.best_val_mse, rtol=1e-5)
    # Better than the untrained initialisation.
    init = jax.jit(jax.vmap(lambda k: MODEL.init(jax.random.split(k)[0], x[:1])))(keys)
    init_val = jax.vmap(lambda mu: mse(mu, y, val_w))(predict(init))
    assert bool(jnp.all(fit.best_val_mse < init_val))
    # Training stops `patience` epochs after the best one, or at max_epochs.
    expected = np.minimum(np.asarray(fit.best_epoch) + SETTINGS.patience, SETTINGS.max_epochs)
    np.testing.assert_array_equal(fit.epochs, expected)
    assert bool(jnp.all(fit.best_epoch >= 1))


def test_ensemble_uncertainty_matches_numpy():
    rng = np.random.default_rng(0)
    means, variances = rng.normal(size=(4, 6)), rng.uniform(0.1, 2.0, size=(4, 6))
    u = ensemble_uncertainty(jnp.asarray(means), jnp.asarray(variances))
    np.testing.assert_allclose(u.mean, means.mean(0), rtol=1e-6)
    np.testing.assert_allclose(u.epistemic, np.var(means, axis=0, ddof=0), rtol=1e-5)
    np.testing.assert_allclose(u.aleatoric, variances.mean(0), rtol=1e-6)
    np.testing.assert_allclose(u.total, u.epistemic + u.aleatoric)


def test_learned_variance_tracks_the_true_noise():
    """On the sine benchmark with noise variance 0.09 (1 + x²), σ² must follow the true noise."""
    n = 400
    d = make_sine(jax.random.PRNGKey(0), n)
    val = np.arange(n) % 5 == 0
    loc, scale = float(d.y[~val].mean()), float(d.y[~val].std())
    x = (d.x - 5.0) / 3.0
    settings = TrainSettings(learning_rate=5e-3, batch_size=64, max_epochs=60, patience=15)
    model = HeteroscedasticRegressor(width=32, depth=2)
    fit = make_ensemble_trainer(model, make_loss("caal"), settings)(
        jax.random.split(jax.random.PRNGKey(1), 2),
        x,
        (d.y - loc) / scale,
        jnp.asarray(~val, jnp.float32),
        jnp.asarray(val, jnp.float32),
        steps_per_epoch(int((~val).sum()), 64),
    )
    pred = jax.jit(lambda p: predict_ensemble(model, p, x))(fit.params)
    u = ensemble_uncertainty(pred.mean * scale + loc, pred.variance * scale**2)
    rho = spearmanr(np.asarray(u.aleatoric), np.asarray(d.noise_variance)).correlation
    assert rho > 0.8, rho
    # And the scale is right, not only the ranking: within a factor 2 on average.
    ratio = float(jnp.mean(u.aleatoric) / jnp.mean(d.noise_variance))
    assert 0.5 < ratio < 2.0, ratio
