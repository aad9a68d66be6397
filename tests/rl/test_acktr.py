"""ACKTR's curvature (arXiv 1708.05144): the K-FAC family trains PPO and A2C's actor-critic.

``optim.sampled_layer_stats`` against ``optim.loss_grads_and_stats`` (same sampled labels), the
actor-critic's output-gradient factors against their closed forms (softmax − one-hot of the
sampled action; −ε for the Gaussian value target), and the trainers that refuse the family.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import envs, optim
from jaxml.optim._curvature import per_example_nll, sample_targets
from jaxml.rl import a2c, mappo, on_policy, trpo
from jaxml.rl._collect import Batch
from jaxml.rl._rollout import Transition


def test_sampled_layer_stats_equal_the_classifier_helpers():
    model = nn.Sequential([nn.Dense(5), nn.tanh, nn.Dense(3)])
    x = jax.random.normal(jax.random.PRNGKey(0), (16, 4))
    y = jax.random.randint(jax.random.PRNGKey(1), (16,), 0, 3)
    params = model.init(jax.random.PRNGKey(2), x)
    key = jax.random.PRNGKey(3)

    def sampled_loss(outputs, key):
        return jnp.sum(per_example_nll(outputs, sample_targets(key, outputs, "categorical"),
                                       "categorical"))  # fmt: skip

    got = optim.sampled_layer_stats(model, params, x, sampled_loss, key)
    want = optim.loss_grads_and_stats(model, params, x, y, key).layer_stats
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), got, want)


def test_actor_critic_factors_have_their_closed_forms():
    config = a2c.default_config()
    config.hidden = (8,)
    model = on_policy.make_model(config, envs.make("gymnax/CartPole-v1"))
    obs = jax.random.normal(jax.random.PRNGKey(0), (12, 4))
    params = model.init(jax.random.PRNGKey(1), obs[:1])
    zeros = jnp.zeros(12)
    transitions = Transition(obs, zeros.astype(jnp.int32), zeros, zeros, zeros > 0, zeros, zeros,
                             None)  # fmt: skip
    minibatch = Batch(transitions, zeros, zeros)
    key = jax.random.PRNGKey(2)
    extra = on_policy.actor_critic_curvature(
        params, minibatch, key, model=model, objective=lambda p, b: (jnp.float32(0), {})
    )
    stats = extra["layer_stats"]["params"]
    policy, value = model.apply(params, obs)
    action_key, value_key = jax.random.split(key)
    action = policy.sample(seed=action_key)
    expected_policy = jax.nn.softmax(policy.logits) - jax.nn.one_hot(action, 2)
    np.testing.assert_allclose(stats["actor"]["policy_head"].output_grads, expected_policy,
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    noise = jax.random.normal(value_key, value.shape)
    np.testing.assert_allclose(stats["critic"]["value_head"].output_grads[:, 0], -noise,
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(stats["actor"]["torso"]["Dense_0"].inputs, obs, rtol=1e-6)
    assert set(extra) == {"layer_stats", "loss_fn"}


@pytest.mark.parametrize("name", ["kfac", "reng"])
def test_a2c_trains_with_the_kfac_family(name):
    config = a2c.default_config()
    config.update(total_timesteps=8 * 5 * 6, hidden=(8,), optimizer=name, learning_rate=0.05,
                  optimizer_kwargs={"damping": 0.01, "kl_clip": 0.001})  # fmt: skip
    out = jax.jit(a2c.make_train(config, envs.make("gymnax/CartPole-v1")))(jax.random.PRNGKey(0))
    for metric, values in out.metrics.items():
        assert np.all(np.isfinite(values)), (name, metric)


def test_trainers_without_layer_statistics_refuse_the_family():
    for module, config in ((trpo, trpo.default_config()), (mappo, mappo.default_config())):
        config.optimizer = "kfac"
        env = envs.make("gymnax/CartPole-v1")
        env = mappo.AsMultiAgent(env) if module is mappo else env
        with pytest.raises(ValueError, match="config.optimizer: expected one of .*rank1.*'kfac'"):
            module.make_trainer(config, env)
