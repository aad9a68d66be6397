"""IPPO/MAPPO with per-agent continuous (tanh-squashed Gaussian) heads, as MABrax needs: the
layout of a ``BoundedArray [A, d]``, log-probabilities against numpy and distrax, the rollout's
ratio of 1, learning toward a known optimum, the evaluator's squashed mean and samples, every
parameter mode, and LoRASA's frozen backbone, on a 2-agent target-reaching toy environment."""

import chex
import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import restart, termination, transition

from jaxml.models import lora
from jaxml.models.agent_actor_critic import continuous_policy
from jaxml.rl import evaluate, mappo, on_policy
from jaxml.utils.partition import path_names

A, D, OBS, T = 2, 2, 3, 4  # Agents, action size, observation size, episode length.
LOW = np.array([[-1.0, -2.0], [-1.0, 0.0]], np.float32)  # [A, D]: unequal bounds on purpose.
HIGH = np.array([[1.0, 2.0], [1.0, 3.0]], np.float32)
TARGET = np.array([[0.5, -1.0], [-0.4, 2.0]], np.float32)  # Inside the bounds.


@chex.dataclass
class TargetState:
    t: chex.Array  # [] int32
    key: chex.PRNGKey


class TargetReaching(Environment):
    """Agent ``i``'s reward is ``−|a_i − target_i|²`` (its optimum: ``a_i = target_i``); the
    observation is constant, so only the agent id tells the agents apart. ``T`` steps."""

    def _obs(self):
        return {"agents_view": jnp.ones((A, OBS), jnp.float32)}

    def reset(self, key):
        state = TargetState(t=jnp.zeros((), jnp.int32), key=key)
        return state, restart(self._obs(), {}, (A,))

    def step(self, state, action):
        chex.assert_shape(action, (A, D))
        reward = -jnp.sum(jnp.square(action - TARGET), axis=-1)
        state = TargetState(t=state.t + 1, key=state.key)
        return state, jax.lax.cond(
            state.t >= T,
            lambda: termination(reward, self._obs(), {}, (A,)),
            lambda: transition(reward, self._obs(), jnp.ones((A,)), {}, (A,)),
        )

    @property
    def observation_spec(self):
        return specs.Spec(
            dict, "obs", agents_view=specs.Array((A, OBS), jnp.float32, "agents_view")
        )

    @property
    def action_spec(self):
        return specs.BoundedArray((A, D), jnp.float32, LOW, HIGH, "action")

    @property
    def reward_spec(self):
        return specs.Array((A,), jnp.float32, "reward")

    @property
    def discount_spec(self):
        return specs.BoundedArray((A,), jnp.float32, 0.0, 1.0, "discount")


def tiny_config(mode="shared", **updates):
    config = mappo.default_config("ippo")
    config.update(
        num_envs=8,
        num_steps=T,
        total_timesteps=8 * T * 3,
        update_epochs=2,
        num_minibatches=2,
        hidden=(16,),
        activation="tanh",
        learning_rate=3e-3,
        ent_coef=0.0,
        parameter_sharing=mode,
    )
    config.lora.update(rank=2, alpha=2.0)
    config.update(updates)
    return config


def _params(policy, key=0):
    actor_in, critic_in, _ = mappo.agent_inputs(
        TargetReaching()._obs(), A, 0, centralised=policy.centralised, agent_id=policy.agent_id
    )
    return policy.model.init(jax.random.PRNGKey(key), None, actor_in, critic_in)


def _collect(trainer, config, state):
    def collect(s):
        kwargs = dict(env=trainer.env, policy=trainer.model, config=config, extras_fn=None)
        return mappo.collect(s.params, s.rollout, s.key, **kwargs)

    return jax.jit(collect)(state)


def _flat(tree):
    return {path_names(p): x for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]}


def test_bounded_box_gets_one_continuous_head_of_width_2d():
    layout = mappo.action_layout(TargetReaching().action_spec)
    assert layout.continuous and layout.num_agents == A
    assert layout.head_sizes == (2 * D,) and layout.head_shapes == ((),)
    np.testing.assert_array_equal(layout.low, LOW)
    np.testing.assert_array_equal(layout.high, HIGH)
    # Discrete layouts are unchanged (and say so).
    discrete = mappo.action_layout(specs.MultiDiscreteArray(np.full((A,), 3), jnp.int32))
    assert not discrete.continuous and discrete.head_sizes == (3,)


@pytest.mark.parametrize(
    "spec",
    [
        specs.Array((A, D), jnp.float32),  # No bounds: no tanh squash.
        specs.BoundedArray((A, D), jnp.float32, -np.inf, 1.0),
        specs.BoundedArray((A, D), jnp.float32, 1.0, 1.0),
        specs.BoundedArray((A,), jnp.float32, -1.0, 1.0),  # No action axis.
    ],
)
def test_bad_continuous_specs_raise_naming_the_action_spec(spec):
    with pytest.raises(ValueError, match="action_spec"):
        mappo.action_layout(spec)


def test_log_prob_and_entropy_against_numpy_and_distrax():
    key = jax.random.PRNGKey(3)
    outputs = jax.random.normal(key, (5, A, 2 * D))  # [B, A, 2d]
    pi = continuous_policy(outputs, LOW, HIGH, 1e-3)
    action = pi.sample(seed=jax.random.PRNGKey(4))
    assert action.shape == (5, A, D)
    assert np.all(np.asarray(action) >= LOW) and np.all(np.asarray(action) <= HIGH)
    # numpy: u = atanh(unit(y)), log N(u) − log|dy/du| summed over d.
    out, y = np.asarray(outputs, np.float64), np.asarray(action, np.float64)
    loc, raw = out[..., :D], out[..., D:]
    scale = np.log1p(np.exp(raw)) + 1e-3
    u = np.arctanh(2 * (y - LOW) / (HIGH - LOW) - 1)
    log_normal = -0.5 * ((u - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)
    log_jac = np.log((HIGH - LOW) / 2 * (1 - np.tanh(u) ** 2))
    expected = np.sum(log_normal - log_jac, axis=-1)
    np.testing.assert_allclose(pi.log_prob(action), expected, rtol=2e-4, atol=2e-4)
    # distrax's own Tanh bijector on the [-1, 1] agent dimension 0 of agent 0 and 1.
    ref = distrax.Transformed(
        distrax.MultivariateNormalDiag(jnp.asarray(loc[..., :1]), jnp.asarray(scale[..., :1])),
        distrax.Block(distrax.Tanh(), ndims=1),
    )
    unit_pi = continuous_policy(outputs[..., [0, D]], LOW[:, :1], HIGH[:, :1], 1e-3)
    np.testing.assert_allclose(
        unit_pi.log_prob(action[..., :1]), ref.log_prob(action[..., :1]), rtol=1e-4, atol=1e-4
    )
    # The squashed entropy, per agent, against Monte Carlo −E[log p(y)].
    entropy = np.asarray(pi.entropy())
    assert entropy.shape == (5, A)
    samples = jax.vmap(lambda k: pi.sample(seed=k))(jax.random.split(key, 4000))
    monte_carlo = -np.mean(np.asarray(jax.vmap(pi.log_prob)(samples)), axis=0)
    np.testing.assert_allclose(entropy, monte_carlo, atol=0.12)


def test_rollout_log_probs_are_per_agent_and_replay_gives_ratio_one():
    config = tiny_config()
    trainer = mappo.make_trainer(config, TargetReaching())
    state = trainer.init(jax.random.PRNGKey(0))
    _, batch = _collect(trainer, config, state)
    t = batch.transitions
    chex.assert_shape(t.action, (T, config.num_envs, A, D))
    chex.assert_shape(t.log_prob, (T, config.num_envs, A))
    assert np.all(np.asarray(t.action) >= LOW) and np.all(np.asarray(t.action) <= HIGH)
    _, logits, _ = trainer.model.apply(state.params, t.obs, None, 2)
    replay = trainer.model.distribution(logits, 3).log_prob(trainer.model.heads(t.action))
    np.testing.assert_allclose(replay, t.log_prob, rtol=1e-5, atol=1e-5)
    # Rewards are the environment's −|a − target|² of the stored actions.
    reward = -np.sum((np.asarray(t.action) - TARGET) ** 2, axis=-1)
    np.testing.assert_allclose(t.reward, reward, rtol=1e-5, atol=1e-5)


def _deterministic_action(policy, params):
    _, logits, _ = policy.apply(params, TargetReaching()._obs(), None, 0)
    pi = policy.distribution(logits, 1)
    return np.asarray(pi.bijector.forward(pi.distribution.loc))


def test_ippo_moves_each_agent_toward_its_target():
    config = tiny_config(total_timesteps=8 * T * 40)
    trainer = mappo.make_trainer(config, TargetReaching())
    out = jax.jit(on_policy.make_train(trainer))(jax.random.PRNGKey(0))
    first = _deterministic_action(trainer.model, trainer.init(jax.random.PRNGKey(0)).params)
    last = _deterministic_action(trainer.model, out.state.params)
    before = np.sum((first - TARGET) ** 2, axis=-1)
    after = np.sum((last - TARGET) ** 2, axis=-1)
    assert np.all(after < 0.5 * before), (before, after)  # Both agents, by the agent id.
    returns = np.asarray(out.metrics["episode_return"])
    assert returns[-5:].mean() > returns[:5].mean(), returns


def test_evaluator_plays_the_squashed_mean_or_samples_inside_the_bounds():
    policy = mappo.make_policy(tiny_config(), TargetReaching())
    params = _params(policy)
    # Move the means off the origin so the squash matters.
    params = jax.tree.map(lambda x: x + 0.3, params)
    mean = _deterministic_action(policy, params)
    kwargs = dict(env=TargetReaching(), num_episodes=3, max_steps=T + 2)
    out = evaluate(policy, params, jax.random.PRNGKey(1), **kwargs)
    expected = -T * np.sum((mean - TARGET) ** 2, axis=-1)  # [A], the same every step.
    np.testing.assert_allclose(out.returns, np.broadcast_to(expected, (3, A)), rtol=1e-5)
    np.testing.assert_array_equal(out.lengths, T)
    sampled = evaluate(policy, params, jax.random.PRNGKey(1), deterministic=False, **kwargs)
    assert not np.allclose(sampled.returns, out.returns)
    assert np.unique(np.asarray(sampled.returns[:, 0])).size == 3  # Fresh draws per episode.


@pytest.mark.parametrize("mode", ["shared", "independent", "lora"])
def test_every_parameter_mode_trains_a_continuous_head(mode):
    config = tiny_config(mode, total_timesteps=8 * T * 2, eval_episodes=2, eval_max_steps=T)
    config.lora.train_backbone = True  # No phase-1 run needed for this check.
    trainer = mappo.make_trainer(config, TargetReaching())
    state = trainer.init(jax.random.PRNGKey(0))
    new_state, metrics = jax.jit(trainer.step)(state)
    assert np.isfinite(float(metrics["loss"]))
    moved = [
        not np.array_equal(a, b)
        for a, b in zip(
            jax.tree.leaves(state.params), jax.tree.leaves(new_state.params), strict=True
        )
    ]
    assert any(moved)
    assert np.isfinite(float(jax.jit(trainer.evaluate)(new_state)["eval_return"]))
    if mode != "shared":  # The head carries the agent axis (NPS) or per-agent adapters.
        flat = _flat(new_state.params)
        head = [p for p in flat if "policy_head_0" in p]
        assert head and (mode == "independent" or any(lora.is_adapter(p) for p in head))


def test_lorasa_phase_two_freezes_the_backbone_with_a_continuous_head():
    config = tiny_config("lora", total_timesteps=8 * T * 6)
    config.lora.phase1_timesteps = 8 * T * 3
    env = TargetReaching()
    phase1, phase2 = mappo.phase_configs(config)
    first = jax.jit(mappo.make_train(phase1, env))(jax.random.PRNGKey(0))
    second = mappo.make_trainer(phase2, env, init_params=first.state)
    out = jax.jit(on_policy.make_train(second))(jax.random.PRNGKey(1))
    before, after = _flat(first.state.params), _flat(out.state.params)
    adapters_moved = 0
    for path, value in after.items():
        if lora.is_adapter(path):
            adapters_moved += "lora_a" in path[-1] and not np.array_equal(value, 0.0)
        elif path[1].startswith(("actor_", "policy_head")):
            np.testing.assert_array_equal(value, before[path])  # Frozen: bitwise.
    assert adapters_moved > 0
    assert [p for p in after if lora.is_adapter(p) and "policy_head_0" in p]


def test_continuous_heads_refuse_masks_and_head_entropy_weights():
    config = tiny_config(head_ent_coefs=(0.01,))
    with pytest.raises(ValueError, match="config.head_ent_coefs"):
        mappo.make_policy(config, TargetReaching())
    with pytest.raises(ValueError, match="config.min_std"):
        mappo.make_policy(tiny_config(min_std=0.0), TargetReaching())


def test_recurrent_continuous_policy_replays_its_rollout():
    config = tiny_config(recurrent="gru", rnn_size=8)
    trainer = mappo.make_trainer(config, TargetReaching())
    state = trainer.init(jax.random.PRNGKey(0))
    _, batch = _collect(trainer, config, state)
    t = batch.batch.transitions
    logits, _, _ = mappo.unroll(trainer.model, state.params, t.obs, t.done, batch.initial_state)
    replay = trainer.model.distribution(logits, 3).log_prob(t.action)
    np.testing.assert_allclose(replay, t.log_prob, rtol=1e-5, atol=1e-5)
