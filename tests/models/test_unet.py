import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.models.unet import UNet


@pytest.fixture(scope="module")
def setup():
    model = UNet(channels=8, channel_mult=(1, 2), embed_dim=16)
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 8, 8, 2))
    c = jnp.array([-1.0, 0.0, 1.0])
    init, apply = jax.jit(model.init), jax.jit(model.apply)
    return init, apply, init(jax.random.PRNGKey(1), x, c), x, c


def test_shape_and_batch_independence(setup):
    _, apply, params, x, c = setup
    out = apply(params, x, c)
    assert out.shape == x.shape and np.all(np.isfinite(out))
    # Sample i of a batch equals the model on sample i alone (GroupNorm is per sample).
    np.testing.assert_allclose(apply(params, x[1:2], c[1:2])[0], out[1], atol=1e-5)


def test_output_depends_on_the_noise_level_and_on_distant_pixels(setup):
    init, apply, _, x, c = setup
    # Perturb every parameter so the zero-initialised block outputs (which hide the noise
    # embedding at initialisation) are non-zero.
    params = init(jax.random.PRNGKey(2), x, c)
    leaves, tree = jax.tree.flatten(params)
    rng = np.random.default_rng(0)
    params = jax.tree.unflatten(
        tree, [p + jnp.float32(0.1) * rng.normal(size=p.shape).astype(np.float32) for p in leaves]
    )
    a = apply(params, x, c)
    assert float(jnp.max(jnp.abs(a - apply(params, x, c + 1.0)))) > 1e-4
    # A change in one corner moves the opposite corner (the downsampled path and GroupNorm).
    x2 = x.at[:, 0, 0, :].add(1.0)
    moved = jnp.abs(apply(params, x2, c) - a)[:, -1, -1, :]
    assert float(jnp.max(moved)) > 1e-6


def test_bad_spatial_shape_raises():
    model = UNet(channels=8, channel_mult=(1, 2, 2))
    with pytest.raises(ValueError, match="divisible by 4"):
        model.init(jax.random.PRNGKey(0), jnp.zeros((1, 6, 6, 2)), jnp.zeros(1))
