"""The heteroscedastic regressor: shapes, positive variance, Faithful detachment, natural params."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.al import HeteroscedasticRegressor, gaussian_nll

X = jax.random.normal(jax.random.PRNGKey(0), (5, 3))
Y = jnp.arange(5.0)


@pytest.mark.parametrize("trunk,dim,depth", [("mlp", 16, 2), ("ft_transformer", 8, 1)])
def test_shapes_and_positive_variance(trunk, dim, depth):
    model = HeteroscedasticRegressor(trunk=trunk, width=dim, depth=depth, num_heads=2, ffn_width=16)
    params = jax.jit(model.init)(jax.random.PRNGKey(1), X)
    pred = jax.jit(model.apply)(params, X)
    assert pred.mean.shape == (5,) and pred.variance.shape == (5,)
    assert pred.embedding.shape == (5, dim)
    assert bool(jnp.all(pred.variance >= 1e-6))
    # Each row is predicted independently of the others (no leakage across the batch).
    single = jax.jit(model.apply)(params, X[2:3])
    np.testing.assert_allclose(single.mean[0], pred.mean[2], rtol=1e-5, atol=1e-6)


def test_ft_transformer_has_a_token_per_feature_and_cls():
    model = HeteroscedasticRegressor(trunk="ft_transformer", width=8, depth=1, num_heads=2)
    params = jax.eval_shape(model.init, jax.random.PRNGKey(1), X)
    tok = params["params"]["FTTransformerTrunk_0"]["FeatureTokenizer_0"]
    assert tok["weight"].shape == (3, 8) and tok["cls"].shape == (8,)


def test_unknown_trunk_is_rejected():
    with pytest.raises(ValueError, match="trunk='cnn'.*mlp"):
        HeteroscedasticRegressor(trunk="cnn").init(jax.random.PRNGKey(0), X)


def _trunk_grad_norm(detach: bool) -> float:
    model = HeteroscedasticRegressor(width=8, depth=2, detach_variance_features=detach)
    params = model.init(jax.random.PRNGKey(2), X)

    def variance_only_loss(p):  # NLL with a frozen mean: only the variance path matters.
        pred = model.apply(p, X)
        return gaussian_nll(jax.lax.stop_gradient(pred.mean), pred.variance, Y)

    g = jax.jit(jax.grad(variance_only_loss))(params)["params"]
    trunk = jax.tree.leaves(g["MLPTrunk_0"])
    head = jax.tree.leaves(g["variance_head"])
    assert sum(float(jnp.abs(t).sum()) for t in head) > 0
    return sum(float(jnp.abs(t).sum()) for t in trunk)


def test_faithful_detaches_the_variance_path_from_the_trunk():
    assert _trunk_grad_norm(detach=True) == 0.0
    assert _trunk_grad_norm(detach=False) > 0.0  # CAAL keeps the shared trunk attached.


def test_natural_parameters_mean_is_eta1_times_variance():
    plain = HeteroscedasticRegressor(width=8, depth=1)
    natural = HeteroscedasticRegressor(width=8, depth=1, natural_parameters=True)
    params = plain.init(jax.random.PRNGKey(3), X)
    p, n = plain.apply(params, X), natural.apply(params, X)
    np.testing.assert_allclose(n.variance, p.variance)
    np.testing.assert_allclose(n.mean, p.mean * p.variance, rtol=1e-6)
