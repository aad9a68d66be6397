"""Actor-critic heads, shapes, parameter layout and PureJaxRL's orthogonal initialisation."""

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jumanji import specs

from jaxml.models import ActorCritic, flatten_observation, make_actor_critic
from jaxml.models.actor_critic import action_head

OBS = jax.random.normal(jax.random.PRNGKey(0), (5, 7))


def test_discrete_head():
    model = make_actor_critic(specs.DiscreteArray(3, jnp.int32))
    params = model.init(jax.random.PRNGKey(1), OBS)
    policy, value = model.apply(params, OBS)
    assert isinstance(policy, distrax.Categorical)
    assert policy.logits.shape == (5, 3) and value.shape == (5,)
    # Head gain 0.01: the initial policy is almost uniform.
    np.testing.assert_allclose(policy.probs, 1 / 3, atol=0.01)
    assert set(params["params"]) == {"actor", "critic"}
    assert set(params["params"]["actor"]) == {"torso", "policy_head"}


def test_gaussian_head_for_float_actions():
    spec = specs.BoundedArray((2, 3), jnp.float32, -1.0, 1.0, name="action")
    assert action_head(spec) == ("continuous", 6)
    model = make_actor_critic(spec, log_std_init=-0.5)
    params = model.init(jax.random.PRNGKey(1), OBS)
    policy, value = model.apply(params, OBS)
    assert isinstance(policy, distrax.MultivariateNormalDiag)
    assert policy.event_shape == (6,) and policy.batch_shape == (5,) and value.shape == (5,)
    np.testing.assert_allclose(policy.stddev(), np.exp(-0.5), rtol=1e-6)
    action = policy.sample(seed=jax.random.PRNGKey(2))
    # The log-density is the diagonal Gaussian's, computed by hand.
    mean, std = policy.mean(), np.exp(-0.5)
    by_hand = np.sum(
        -0.5 * ((action - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi), -1
    )
    np.testing.assert_allclose(policy.log_prob(action), by_hand, rtol=1e-5)


def test_orthogonal_init_gains():
    model = ActorCritic("discrete", 2, hidden=(7,))  # Square first kernel: 7 x 7.
    params = model.init(jax.random.PRNGKey(0), OBS)["params"]
    kernel = params["actor"]["torso"]["Dense_0"]["kernel"]
    np.testing.assert_allclose(kernel.T @ kernel, 2.0 * np.eye(7), atol=1e-5)  # gain sqrt(2)
    value_kernel = params["critic"]["value_head"]["kernel"]  # 7 x 1, gain 1: a unit column.
    np.testing.assert_allclose(np.linalg.norm(value_kernel), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(params["actor"]["torso"]["Dense_0"]["bias"], 0.0)


def test_shared_torso_and_separate_networks():
    shared = ActorCritic("discrete", 2, hidden=(8, 8), shared_torso=True)
    params = shared.init(jax.random.PRNGKey(0), OBS)["params"]
    assert set(params) == {"torso", "actor", "critic"}
    assert set(params["actor"]) == {"policy_head"} and set(params["critic"]) == {"value_head"}
    separate = ActorCritic("discrete", 2, hidden=(8, 8))
    params = separate.init(jax.random.PRNGKey(0), OBS)
    # With separate networks the value does not depend on the actor's parameters.
    grads = jax.grad(lambda p: separate.apply(p, OBS)[1].sum())(params)["params"]
    assert all(np.all(g == 0) for g in jax.tree.leaves(grads["actor"]))
    assert any(np.any(g != 0) for g in jax.tree.leaves(grads["critic"]))


def test_unsupported_specs_and_options_raise():
    with pytest.raises(ValueError, match="action_spec"):
        make_actor_critic(specs.MultiDiscreteArray(jnp.array([2, 2]), jnp.int32))
    with pytest.raises(ValueError, match="activation"):
        make_actor_critic(specs.DiscreteArray(2), activation="softsign")


def test_flatten_observation():
    obs = {"a": jnp.ones((3, 4, 2)), "b": jnp.zeros((3, 5), jnp.int32)}
    flat = flatten_observation(obs, 1)
    assert flat.shape == (3, 13) and flat.dtype == jnp.float32
    assert flatten_observation(jnp.ones((2, 3, 4)), 2).shape == (2, 3, 4)
    assert flatten_observation(jnp.ones((6,)), 0).shape == (6,)
