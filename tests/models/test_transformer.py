import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from jaxml import optim
from jaxml.models import CharTransformer


def model_and_params():
    model = CharTransformer(vocab_size=11, max_length=8, width=16, num_layers=2, num_heads=4)
    tokens = jax.random.randint(jax.random.PRNGKey(0), (3, 8), 0, 11)
    return model, model.init(jax.random.PRNGKey(1), tokens), tokens


def test_logits_are_causal():
    model, params, tokens = model_and_params()
    logits = model.apply(params, tokens)
    assert logits.shape == (3, 8, 11)
    changed = tokens.at[:, 5].set((tokens[:, 5] + 1) % 11)
    other = model.apply(params, changed)
    np.testing.assert_allclose(other[:, :5], logits[:, :5], rtol=1e-5, atol=1e-6)
    assert not np.allclose(other[:, 5:], logits[:, 5:])


def test_every_kernel_gets_kronecker_statistics():
    model, params, tokens = model_and_params()
    ci = optim.loss_grads_and_stats(model, params, tokens, tokens, jax.random.PRNGKey(2))
    kernels = {p[:-1] for p in traverse_util.flatten_dict(params) if p[-1] == "kernel"}
    stats = set(
        traverse_util.flatten_dict(
            ci.layer_stats, is_leaf=lambda _, v: isinstance(v, optim.LayerStats)
        )
    )
    assert kernels == stats and len(kernels) == 2 + 2 * 4  # embed, head, 4 per block.


def test_too_long_input_is_named():
    model, params, _ = model_and_params()
    with pytest.raises(ValueError, match="tokens"):
        model.apply(params, jnp.zeros((1, 9), jnp.int32))
