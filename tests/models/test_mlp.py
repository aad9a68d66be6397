import jax
import jax.numpy as jnp
import numpy as np

from jaxml.models import ResidualBlock, ResidualMLP


def test_output_shape_and_batch_independence():
    model = ResidualMLP(num_outputs=10, width=32, num_blocks=3)
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 64))
    params = model.init(jax.random.PRNGKey(0), x)
    out = model.apply(params, x)
    assert out.shape == (5, 10)
    # Row i of a batch equals the model applied to row i alone (no cross-example mixing).
    np.testing.assert_allclose(model.apply(params, x[2:3])[0], out[2], rtol=1e-5, atol=1e-6)


def test_residual_block_is_the_identity_at_init():
    block = ResidualBlock(width=16)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 16))
    params = block.init(jax.random.PRNGKey(1), x)
    np.testing.assert_array_equal(block.apply(params, x), x)


def test_parameter_count():
    model = ResidualMLP(num_outputs=10, width=32, num_blocks=2)
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 64)))
    count = sum(p.size for p in jax.tree.leaves(params))
    dense = lambda i, o: i * o + o
    block = 2 * 32 + dense(32, 32) * 2  # LayerNorm scale+bias, two Dense layers.
    assert count == dense(64, 32) + 2 * block + 2 * 32 + dense(32, 10)
