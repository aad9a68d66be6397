import functools

import jax
import jax.numpy as jnp
import numpy as np
from jumanji import specs

from jaxml import envs
from jaxml.models import make_actor_critic
from jaxml.rl import evaluate, normalization, policy_mode


def _hand_rolled(model, params, env, key, num_episodes, max_steps, normalizer):
    returns, lengths = [], []
    for episode_key in jax.random.split(key, num_episodes):
        reset_key, _ = jax.random.split(episode_key)
        state, timestep = env.reset(reset_key)
        ret, length = 0.0, 0
        for _ in range(max_steps):
            obs = normalization.standardize_obs(normalizer, timestep.observation)
            policy, _ = model.apply(params, obs)
            action = policy_mode(policy)
            state, timestep = env.step(state, action.astype(env.action_spec.dtype))
            ret += float(timestep.reward)
            length += 1
            if bool(timestep.last()):
                break
        returns.append(ret)
        lengths.append(length)
    return np.array(returns), np.array(lengths)


def _setup():
    env = envs.make("gymnax/CartPole-v1")
    model = make_actor_critic(env.action_spec, hidden=(8,))
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((4,)))
    return env, model, params


def test_evaluate_matches_a_hand_rolled_loop_and_is_reproducible():
    env, model, params = _setup()
    key = jax.random.PRNGKey(3)
    run = jax.jit(functools.partial(evaluate, model, env=env, num_episodes=3, max_steps=60))
    out = run(params, key)
    ref_returns, ref_lengths = _hand_rolled(model, params, env, key, 3, 60, None)
    np.testing.assert_allclose(out.returns, ref_returns)
    np.testing.assert_array_equal(out.lengths, ref_lengths)
    # CartPole pays 1 per step: the return is the length.
    np.testing.assert_allclose(out.returns, out.lengths)
    again = run(params, key)
    np.testing.assert_array_equal(out.returns, again.returns)


def test_evaluate_applies_the_normaliser():
    env, model, params = _setup()
    key = jax.random.PRNGKey(4)
    moments = normalization.RunningMoments(
        jnp.array([0.3, -2.0, 0.1, 5.0]), jnp.array([0.01, 4.0, 0.001, 9.0]), jnp.asarray(10.0)
    )
    normalizer = normalization.Normalizer(moments, None, None, None)
    run = jax.jit(functools.partial(evaluate, model, env=env, num_episodes=3, max_steps=60))
    with_norm = run(params, key, normalizer)
    ref_returns, _ = _hand_rolled(model, params, env, key, 3, 60, normalizer)
    np.testing.assert_allclose(with_norm.returns, ref_returns)
    without = run(params, key)
    assert not np.array_equal(with_norm.returns, without.returns)


def test_evaluate_vmaps_over_seeds_and_samples_when_stochastic():
    env, model, params = _setup()
    stacked = jax.tree.map(lambda x: jnp.stack([x, 2 * x]), params)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    run = functools.partial(
        evaluate, model, env=env, num_episodes=4, max_steps=30, deterministic=False
    )
    out = jax.jit(jax.vmap(run))(stacked, keys)
    assert out.returns.shape == (2, 4) and out.lengths.shape == (2, 4)
    assert np.all(out.lengths >= 1) and np.all(out.lengths <= 30)


def test_policy_mode_of_the_tanh_head_is_the_squashed_mean():
    spec = specs.BoundedArray((1,), jnp.float32, -2.0, 2.0)
    model = make_actor_critic(spec, squash="tanh", std="softplus")
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((3,)))
    policy, _ = model.apply(params, jnp.ones((3,)))
    mean = policy.distribution.mean()
    np.testing.assert_allclose(policy_mode(policy), 2.0 * jnp.tanh(mean), rtol=1e-5, atol=1e-6)


def test_continuous_preset_trains_and_evaluates_with_its_normaliser():
    from jaxml.rl import ppo

    assert ppo.default_config().to_dict() == ppo.default_config("purejaxrl").to_dict()
    config = ppo.default_config("continuous")
    config.update(num_envs=4, num_steps=8, total_timesteps=64, num_minibatches=2)
    config.update(actor_hidden=(8,), critic_hidden=(8, 8))
    env = envs.make("gymnax/Pendulum-v1")
    trainer = ppo.make_trainer(config, env)
    out = jax.jit(ppo.make_train(config, env))(jax.random.PRNGKey(0))
    normalizer = out.state.rollout.normalizer
    assert normalizer is not None and normalizer.obs is not None
    result = jax.jit(
        functools.partial(evaluate, trainer.model, env=env, num_episodes=2, max_steps=20)
    )(out.state.params, jax.random.PRNGKey(1), normalizer)
    assert result.returns.shape == (2,) and np.all(np.isfinite(result.returns))
    assert np.all(result.lengths == 20)
