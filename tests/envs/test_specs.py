"""``sample_action``: values of any (nested) jumanji spec, uniform over discrete ranges."""

import jax
import jax.numpy as jnp
import numpy as np
from jumanji import specs

from jaxml import envs
from jaxml.envs.foraging import ForagingAction, ForagingScoreG


def test_samples_validate_and_cover_nested_discrete_specs():
    spec = ForagingScoreG(vocab_size=16, message_length=3).action_spec
    values = jax.jit(jax.vmap(lambda k: envs.sample_action(spec, k)))(
        jax.random.split(jax.random.PRNGKey(0), 4000)
    )
    assert isinstance(values, ForagingAction)
    spec.validate(jax.tree.map(lambda x: x[0], values))
    counts = np.bincount(np.asarray(values.action).ravel(), minlength=5)
    assert counts.shape == (5,) and counts.min() > 0.9 * counts.mean()  # 8000 draws over 5.
    tokens = np.bincount(np.asarray(values.message).ravel(), minlength=16)
    assert tokens.shape == (16,) and tokens.min() > 0.8 * tokens.mean()
    # Fields are drawn independently: the two agents' actions are uncorrelated.
    a = np.asarray(values.action, float)
    assert abs(np.corrcoef(a[:, 0], a[:, 1])[0, 1]) < 0.06


def test_bounded_float_int_and_unbounded_specs():
    key = jax.random.PRNGKey(1)
    spec = specs.BoundedArray((1000,), jnp.float32, -2.0, 3.0)
    x = np.asarray(envs.sample_action(spec, key))
    assert x.dtype == np.float32 and x.min() >= -2.0 and x.max() < 3.0 and x.std() > 1.0
    spec = specs.BoundedArray((1000,), jnp.int32, -3, 2)
    assert set(np.unique(envs.sample_action(spec, key)).tolist()) == {-3, -2, -1, 0, 1, 2}
    spec = specs.DiscreteArray(7)
    assert envs.sample_action(spec, key).shape == () and 0 <= envs.sample_action(spec, key) < 7
    spec = specs.Array((2, 3), jnp.float32)
    spec.validate(envs.sample_action(spec, key))
