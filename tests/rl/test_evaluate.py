import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import restart, termination, transition

from jaxml import envs
from jaxml.models import make_actor_critic
from jaxml.models.agent_actor_critic import initial_carry
from jaxml.rl import evaluate, evaluation_metrics, normalization, policy_mode


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


class _CoordinationState(NamedTuple):
    t: jax.Array  # int32 step index.
    key: jax.Array


class _Coordination(Environment):
    """A tiny two-agent game: each agent is paid 1 per step when both choose action 1.

    Episodes last ``HORIZON`` steps (a termination); ``extras["won"]`` says whether every step of
    the episode so far was coordinated, so the optimal joint policy returns ``HORIZON`` per agent
    and wins. Observations ``[A, 2]`` are the time fraction and the agent index.
    """

    HORIZON = 4

    def _obs(self, t):
        frac = jnp.full((2,), t / self.HORIZON, jnp.float32)
        return jnp.stack([frac, jnp.arange(2, dtype=jnp.float32)], axis=-1)

    def reset(self, key):
        state = _CoordinationState(jnp.zeros((), jnp.int32), key)
        extras = {"won": jnp.ones((), bool)}
        return state, restart(self._obs(state.t), extras=extras, shape=(2,))

    def step(self, state, action):
        paid = jnp.all(action == 1)
        reward = jnp.full((2,), paid, jnp.float32)
        t = state.t + 1
        won = paid & (t <= self.HORIZON)  # "won" at the end: the last step was coordinated.
        extras = {"won": won}
        last = t >= self.HORIZON
        obs = self._obs(t)
        timestep = jax.lax.cond(
            last,
            lambda: termination(reward, obs, extras=extras, shape=(2,)),
            lambda: transition(reward, obs, extras=extras, shape=(2,)),
        )
        return _CoordinationState(t, state.key), timestep

    @property
    def observation_spec(self):
        return specs.Array((2, 2), jnp.float32, "observation")

    @property
    def action_spec(self):
        return specs.MultiDiscreteArray(jnp.array([2, 2], jnp.int32), jnp.int32, name="action")

    @property
    def reward_spec(self):
        return specs.Array((2,), jnp.float32, "reward")

    @property
    def discount_spec(self):
        return specs.BoundedArray((2,), jnp.float32, 0.0, 1.0, "discount")


def _mappo_policy(recurrent: str):
    from jaxml.rl import mappo

    config = mappo.default_config("ippo")
    config.update(recurrent=recurrent, rnn_size=8, hidden=(8,))
    env = _Coordination()
    policy = mappo.make_policy(config, env)
    carry = initial_carry(recurrent, 8, (2,))
    actor_in, critic_in, _ = mappo.agent_inputs(
        env.observation_spec.generate_value(), 2, 0, centralised=False, agent_id=True
    )
    params = policy.model.init(jax.random.PRNGKey(0), carry, actor_in, critic_in)
    return env, policy, params


def test_multi_agent_evaluate_reaches_the_known_optimum_and_reports_wins():
    env, policy, params = _mappo_policy("none")
    # Make action 1 certain for every agent: the optimal, winning joint policy.
    params = jax.tree_util.tree_map_with_path(
        lambda path, x: (
            x.at[..., 1].add(20.0)
            if "bias" in jax.tree_util.keystr(path)
            and x.shape[-1:] == (2,)
            and "head" in jax.tree_util.keystr(path)
            else x
        ),
        params,
    )
    out = evaluate(policy, params, jax.random.PRNGKey(0), env=env, num_episodes=3, max_steps=10)
    np.testing.assert_array_equal(out.returns, np.full((3, 2), _Coordination.HORIZON))
    np.testing.assert_array_equal(out.lengths, np.full((3,), _Coordination.HORIZON))
    np.testing.assert_array_equal(out.outcomes["won"], np.ones(3, bool))
    metrics = evaluation_metrics(out)
    assert float(metrics["eval_return"]) == _Coordination.HORIZON
    assert float(metrics["eval_won"]) == 1.0
    # Sampling from the same near-certain policy gives the same episodes.
    sampled = evaluate(
        policy, params, jax.random.PRNGKey(1), env=env, num_episodes=3, max_steps=10,
        deterministic=False,
    )  # fmt: skip
    np.testing.assert_array_equal(sampled.returns, out.returns)


def test_recurrent_multi_agent_evaluate_matches_a_hand_rolled_loop():
    env, policy, params = _mappo_policy("gru")
    key = jax.random.PRNGKey(5)
    out = jax.jit(functools.partial(evaluate, policy, env=env, num_episodes=4, max_steps=10))(
        params, key
    )
    for n, episode_key in enumerate(jax.random.split(key, 4)):
        state, timestep = env.reset(jax.random.split(episode_key)[0])
        carry, ret, won = initial_carry("gru", 8, (2,)), np.zeros(2), None
        for _ in range(10):
            carry, logits, _ = policy.apply(params, timestep.observation, carry, 0)
            action = jnp.argmax(logits[0], axis=-1).astype(jnp.int32)
            state, timestep = env.step(state, action)
            ret += np.asarray(timestep.reward)
            won = bool(timestep.extras["won"])
            if bool(timestep.last()):
                break
        np.testing.assert_allclose(out.returns[n], ret)
        assert bool(out.outcomes["won"][n]) == won


def test_trainer_evaluate_is_attached_by_config_and_reads_its_state():
    from jaxml.rl import ppo

    config = ppo.default_config()
    config.update(num_envs=4, num_steps=8, total_timesteps=64, num_minibatches=2)
    env = envs.make("gymnax/CartPole-v1")
    assert ppo.make_trainer(config, env).evaluate is None
    config.update(eval_episodes=3, eval_max_steps=50)
    trainer = ppo.make_trainer(config, env)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    metrics = jax.jit(trainer.evaluate)(state)
    direct = evaluate(
        trainer.model, state.params, jax.random.fold_in(state.key, 0x5EED),
        state.rollout.normalizer, env=env, num_episodes=3, max_steps=50,
    )  # fmt: skip
    np.testing.assert_allclose(metrics["eval_return"], np.mean(direct.returns))
    np.testing.assert_allclose(metrics["eval_length"], np.mean(direct.lengths))
    config.eval_episodes = -1
    with pytest.raises(ValueError, match="config.eval_episodes"):
        ppo.make_trainer(config, env)


def test_continuous_presets_share_brax_networks_and_refuse_multi_agent_trainers():
    from jaxml import rl
    from jaxml.rl import on_policy, ppo

    for name in ("a2c", "trpo", "npg"):
        config, default = rl.default_config(name, "continuous"), rl.default_config(name)
        for field, value in on_policy.CONTINUOUS_NETWORK.items():
            assert config[field] == value, (name, field)
        # Everything else is the trainer's default.
        rest = {k: v for k, v in config.items() if k not in on_policy.CONTINUOUS_NETWORK}
        assert rest == {k: v for k, v in default.items() if k not in on_policy.CONTINUOUS_NETWORK}
    assert rl.default_config("ppo", "continuous") == ppo.default_config("continuous")
    with pytest.raises(ValueError, match="preset"):
        rl.default_config("mappo", "continuous")
    with pytest.raises(ValueError, match="preset"):
        rl.default_config("ppo", "fast")
