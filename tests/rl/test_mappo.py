"""IPPO/MAPPO and recurrent policies: masks, agent ids, critics, hidden-state resets, replay,
jit/vmap/determinism and config checks, on a tiny multi-agent environment (fast to compile)."""

import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import restart, termination, transition

from jaxml.models.agent_actor_critic import factorised_policy, initial_carry
from jaxml.rl import mappo, on_policy
from jaxml.rl._rollout import to_env_action

A, N, OBS, S = 3, 4, 5, 6  # Agents, actions, per-agent observation size, world state size.


class ToyObs(NamedTuple):
    agents_view: chex.Array  # [A, OBS]
    action_mask: chex.Array  # [A, N] bool
    world_state: chex.Array  # [S]


@chex.dataclass
class ToyState:
    x: chex.Array  # [A, OBS]
    t: chex.Array  # []
    key: chex.PRNGKey


class ToyMultiAgent(Environment):
    """Agents are rewarded for choosing action ``argmax(x[i, :N])``; action 3 is never available
    and agent 0 may not use action 2. Episodes last 5 steps (a termination)."""

    def _obs(self, state):
        mask = jnp.ones((A, N), bool).at[:, 3].set(False).at[0, 2].set(False)
        world = jnp.concatenate([jnp.sum(state.x, 0), jnp.zeros((S - OBS,))])
        return ToyObs(state.x, mask, world)

    def reset(self, key):
        key, sub = jax.random.split(key)
        state = ToyState(x=jax.random.normal(sub, (A, OBS)), t=jnp.zeros((), jnp.int32), key=key)
        return state, restart(self._obs(state), {"success": jnp.zeros((), bool)}, (A,))

    def step(self, state, action):
        key, sub = jax.random.split(state.key)
        reward = (action == jnp.argmax(state.x[:, :N], -1)).astype(jnp.float32)
        state = ToyState(x=jax.random.normal(sub, (A, OBS)), t=state.t + 1, key=key)
        extras = {"success": jnp.sum(reward) >= 2}
        obs = self._obs(state)
        timestep = jax.lax.cond(
            state.t >= 5,
            lambda: termination(reward, obs, extras, (A,)),
            lambda: transition(reward, obs, jnp.ones((A,)), extras, (A,)),
        )
        return state, timestep

    @property
    def observation_spec(self):
        return specs.Spec(
            ToyObs,
            "ToyObs",
            agents_view=specs.Array((A, OBS), jnp.float32, "agents_view"),
            action_mask=specs.Array((A, N), bool, "action_mask"),
            world_state=specs.Array((S,), jnp.float32, "world_state"),
        )

    @property
    def action_spec(self):
        return specs.MultiDiscreteArray(np.full((A,), N, np.int32), jnp.int32, "action")

    @property
    def reward_spec(self):
        return specs.Array((A,), jnp.float32, "reward")

    @property
    def discount_spec(self):
        return specs.BoundedArray((A,), jnp.float32, 0.0, 1.0, "discount")


def tiny_config(algorithm="mappo", recurrent="none"):
    config = mappo.default_config(algorithm)
    config.update(
        num_envs=4,
        num_steps=8,
        total_timesteps=4 * 8 * 3,
        update_epochs=2,
        num_minibatches=2,
        hidden=(16, 16),
        rnn_size=8,
        recurrent=recurrent,
    )
    return config


def init_params(policy, config, key=0):
    obs = ToyMultiAgent().observation_spec.generate_value()
    actor_in, critic_in, _ = mappo.agent_inputs(
        obs, A, 0, centralised=policy.centralised, agent_id=policy.agent_id
    )
    carry = initial_carry(config.recurrent, config.rnn_size, (A,))
    return policy.model.init(jax.random.PRNGKey(key), carry, actor_in, critic_in)


def toy_obs(key, batch=()):
    x = jax.random.normal(key, batch + (A, OBS))
    return jax.vmap(lambda x: ToyMultiAgent()._obs(ToyState(x=x, t=0, key=key)))(
        jnp.reshape(x, (-1, A, OBS))
    )


def test_masked_actions_are_never_sampled_and_have_zero_probability():
    config = tiny_config()
    policy = mappo.make_policy(config, ToyMultiAgent())
    params = init_params(policy, config)
    # Large random logits: perturb the head so the unmasked policy would favour masked actions.
    params = jax.tree.map(lambda p: p * 50.0, params)
    obs = toy_obs(jax.random.PRNGKey(1), (64,))
    _, logits, _ = jax.jit(functools.partial(policy.apply, carry=None, batch_ndim=1))(params, obs)
    probs = jax.nn.softmax(logits[0], -1)  # [64, A, N]
    mask = np.asarray(obs.action_mask)
    assert np.all(np.asarray(probs)[~mask] == 0.0)
    np.testing.assert_allclose(np.sum(np.asarray(probs), -1), 1.0, rtol=1e-5)
    keys = jax.random.split(jax.random.PRNGKey(2), 50)
    actions = jax.jit(jax.vmap(lambda k: mappo.act(params, obs, k, policy=policy)[0]))(keys)
    actions = np.asarray(actions)  # [50, 64, A]
    chosen = np.take_along_axis(np.broadcast_to(mask, (50,) + mask.shape), actions[..., None], -1)
    assert chosen.all()
    assert set(np.unique(actions[..., 0])) <= {0, 1}
    assert np.all(np.isfinite(np.asarray(factorised_policy(logits, 2).entropy())))


def test_agent_id_makes_shared_policies_differ():
    obs = toy_obs(jax.random.PRNGKey(0), (1,))
    same = jnp.broadcast_to(obs.agents_view[:, :1], obs.agents_view.shape)
    obs = obs._replace(agents_view=same, action_mask=jnp.ones_like(obs.action_mask))
    for agent_id, differ in ((True, True), (False, False)):
        config = tiny_config()
        config.agent_id = agent_id
        policy = mappo.make_policy(config, ToyMultiAgent())
        _, logits, value = policy.apply(init_params(policy, config), obs, None, 1)
        logits = np.asarray(logits[0][0])  # [A, N]
        assert (not np.allclose(logits[0], logits[1], atol=1e-7)) == differ
        assert (not np.allclose(value[0, 0], value[0, 1], atol=1e-7)) == differ


def test_centralised_critic_sees_world_state_and_ippo_critic_only_own_obs():
    obs = toy_obs(jax.random.PRNGKey(0), (1,))
    mappo_policy = mappo.make_policy(tiny_config("mappo"), ToyMultiAgent())
    ippo_policy = mappo.make_policy(tiny_config("ippo"), ToyMultiAgent())
    _, critic_in, _ = mappo.agent_inputs(obs, A, 1, centralised=True, agent_id=True)
    assert critic_in.shape == (1, A, S + A)
    _, critic_in, _ = mappo.agent_inputs(obs, A, 1, centralised=False, agent_id=True)
    assert critic_in.shape == (1, A, OBS + A)
    # Without a world_state field, the centralised critic sees every agent's observation.
    plain = {"agents_view": obs.agents_view}
    _, critic_in, _ = mappo.agent_inputs(plain, A, 1, centralised=True, agent_id=False)
    np.testing.assert_array_equal(critic_in[0, 1], jnp.reshape(obs.agents_view[0], (-1,)))

    mappo_params = init_params(mappo_policy, tiny_config("mappo"))
    ippo_params = init_params(ippo_policy, tiny_config("ippo"))
    other_world = obs._replace(world_state=obs.world_state + 1.0)
    v0 = mappo_policy.apply(mappo_params, obs, None, 1)[2]
    v1 = mappo_policy.apply(mappo_params, other_world, None, 1)[2]
    assert np.all(np.abs(np.asarray(v0 - v1)) > 1e-6)
    # MAPPO's critic ignores the agents' own views (the world state summarises them) ...
    other_view = obs._replace(agents_view=obs.agents_view.at[:, 1].add(1.0))
    np.testing.assert_array_equal(v0, mappo_policy.apply(mappo_params, other_view, None, 1)[2])
    # ... and IPPO's critic for agent 0 ignores agent 1's observation but not its own.
    w0 = ippo_policy.apply(ippo_params, obs, None, 1)[2]
    w1 = ippo_policy.apply(ippo_params, other_view, None, 1)[2]
    np.testing.assert_array_equal(w0[:, 0], w1[:, 0])
    np.testing.assert_array_equal(w0[:, 2], w1[:, 2])
    assert np.abs(float(w0[0, 1] - w1[0, 1])) > 1e-6
    np.testing.assert_array_equal(w0, ippo_policy.apply(ippo_params, other_world, None, 1)[2])


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_recurrent_state_resets_at_done_like_a_manual_loop(cell):
    config = tiny_config("ippo", cell)
    policy = mappo.make_policy(config, ToyMultiAgent())
    params = init_params(policy, config)
    T, B = 6, 2
    obs = toy_obs(jax.random.PRNGKey(3), (T, B))
    obs = jax.tree.map(lambda x: jnp.reshape(x, (T, B) + x.shape[1:]), obs)
    done = jnp.array([[0, 0], [1, 0], [0, 0], [0, 1], [1, 0], [0, 0]], bool)
    carry0 = jax.tree.map(
        lambda x: jax.random.normal(jax.random.PRNGKey(4), x.shape),
        initial_carry(cell, config.rnn_size, (B, A)),
    )
    logits, values, _ = mappo.unroll(policy, params, obs, done, carry0)
    apply = jax.jit(functools.partial(policy.apply, batch_ndim=1))

    for b in range(B):  # Manual loop, one environment at a time, fresh zeros after a done.
        carry = jax.tree.map(lambda x, b=b: x[b : b + 1], carry0)
        for t in range(T):
            obs_tb = jax.tree.map(lambda x, t=t, b=b: x[t, b : b + 1], obs)
            carry, lg, v = apply(params, obs_tb, carry)
            np.testing.assert_allclose(v[0], values[t, b], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(lg[0][0], logits[0][t, b], rtol=1e-5, atol=1e-6)
            if done[t, b]:
                carry = initial_carry(cell, config.rnn_size, (1, A))
    # The reset matters: without it the values after a done differ.
    _, no_reset, _ = mappo.unroll(policy, params, obs, jnp.zeros_like(done), carry0)
    assert not np.allclose(no_reset[2, 0], values[2, 0])


def _collect(config, key=0, shapes_only=False):
    env = ToyMultiAgent()
    trainer = mappo.make_trainer(config, env)
    run = jax.eval_shape if shapes_only else lambda f, *args: jax.jit(f)(*args)
    state = run(trainer.init, jax.random.PRNGKey(key))
    policy = trainer.model
    collect = functools.partial(
        mappo.collect,
        env=trainer.env,
        policy=policy,
        config=config,
        extras_fn=mappo.outcome_fn(env),
    )
    _, batch = run(collect, state.params, state.rollout, jax.random.PRNGKey(key + 1))
    return trainer, state, batch


def test_recurrent_rollout_resets_state_and_replay_gives_ratio_one():
    config = tiny_config("mappo", "lstm")
    config.num_steps = 12  # Two episode ends (5 steps each) inside the rollout.
    trainer, state, batch = _collect(config)
    assert isinstance(batch, mappo.SequenceBatch)
    t = batch.batch.transitions
    assert t.log_prob.shape == (12, 4, A) and t.value.shape == (12, 4, A)
    assert np.asarray(t.done).sum() == 8
    chex.assert_trees_all_equal(batch.initial_state, state.rollout.policy_state)
    unroll = jax.jit(functools.partial(mappo.unroll, trainer.model))
    logits, values, _ = unroll(state.params, t.obs, t.done, batch.initial_state)
    log_prob = factorised_policy(logits, 3).log_prob(trainer.model.heads(t.action))
    np.testing.assert_allclose(log_prob, t.log_prob, atol=1e-6)
    np.testing.assert_allclose(values, t.value, atol=1e-6)
    # The update's first minibatch (a subset of environments, env-major) sees ratio 1.
    env_major = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1)[:2], batch.batch)
    minibatch = mappo.SequenceBatch(env_major, jax.tree.map(lambda x: x[:2], batch.initial_state))
    objective = functools.partial(mappo.sequence_objective, policy=trainer.model, config=config)
    _, metrics = jax.jit(objective)(state.params, minibatch)
    assert float(metrics["approx_kl"]) < 1e-10 and float(metrics["clip_fraction"]) == 0.0


def test_feedforward_rollout_has_per_agent_arrays():
    config = tiny_config("ippo")
    _, _, batch = _collect(config, shapes_only=True)
    t = batch.transitions
    assert t.action.shape == (8, 4, A) and t.action.dtype == jnp.int32
    assert batch.advantages.shape == (8, 4, A) and t.done.shape == (8, 4)
    assert t.extras["won"].shape == (8, 4)


# One minibatch halves the compile time; the shuffles are batching's (tested there), and a
# minibatch of environments replays exactly (test_recurrent_rollout_..._ratio_one).
@pytest.mark.parametrize(
    ("algorithm", "recurrent", "minibatches"), [("mappo", "none", 1), ("ippo", "gru", 1)]
)
def test_trainer_jits_vmaps_over_seeds_and_is_deterministic(algorithm, recurrent, minibatches):
    config = tiny_config(algorithm, recurrent)
    config.update_epochs = 1
    config.num_minibatches = minibatches
    # The toy env never truncates; the recurrent bootstrap is covered by the replay test.
    config.bootstrap_truncated = recurrent == "none"
    train = jax.jit(jax.vmap(mappo.make_train(config, ToyMultiAgent())))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    out = train(keys)
    again = train(keys)
    chex.assert_trees_all_equal(jax.device_get(out.metrics), jax.device_get(again.metrics))
    for name in ("loss", "entropy", "episode_return", "win_rate", "approx_kl"):
        assert out.metrics[name].shape == (2, 3), name
        assert np.all(np.isfinite(out.metrics[name])), name
    assert not np.allclose(out.metrics["loss"][0], out.metrics["loss"][1])
    np.testing.assert_array_equal(out.metrics["env_steps"][0], [32, 64, 96])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("critic", "global"),
        ("recurrent", "rnn"),
        ("rnn_size", 0),
        ("clip_eps", 0.0),
        ("num_minibatches", 3),
        ("hidden", ()),
        ("activation", "swish"),
    ],
)
def test_bad_config_raises(field, value):
    config = tiny_config("mappo", "gru")
    config[field] = value
    with pytest.raises(ValueError, match=field):
        mappo.make_trainer(config, ToyMultiAgent())


def test_recurrent_minibatches_must_divide_envs():
    config = tiny_config("mappo", "gru")
    config.update(num_envs=3, num_minibatches=2, num_steps=8, total_timesteps=48)
    with pytest.raises(ValueError, match="num_minibatches"):
        mappo.make_trainer(config, ToyMultiAgent())
    with pytest.raises(ValueError, match="algorithm"):
        mappo.default_config("qmix")


def test_foraging_action_is_a_factorised_categorical():
    from jaxml import envs

    env = envs.make("ForagingScoreG-v0")
    layout = mappo.action_layout(env.action_spec)
    assert layout.num_agents == 2
    assert layout.head_sizes == (5, 4) and layout.head_shapes == ((), (1,))
    key = jax.random.PRNGKey(0)
    logits = (jax.random.normal(key, (7, 2, 5)), jax.random.normal(key, (7, 2, 1, 4)))
    move = jax.random.randint(key, (7, 2), 0, 5)
    message = jax.random.randint(jax.random.PRNGKey(1), (7, 2, 1), 0, 4)
    lp = factorised_policy(logits, 2).log_prob((move, message))
    log_softmax = functools.partial(jax.nn.log_softmax, axis=-1)
    expected = jnp.take_along_axis(log_softmax(logits[0]), move[..., None], -1)[..., 0]
    expected = (
        expected + jnp.take_along_axis(log_softmax(logits[1]), message[..., None], -1)[..., 0, 0]
    )
    np.testing.assert_allclose(lp, expected, rtol=1e-6)
    action = jax.tree.unflatten(layout.treedef, [move, message])
    converted = to_env_action(action, env.action_spec)
    assert type(converted).__name__ == "ForagingAction"
    np.testing.assert_array_equal(converted.message, message)


def test_smax_layout_and_critic_inputs():
    from jaxml import envs

    env = envs.make("jaxmarl/SMAX", scenario="3m")
    config = mappo.default_config("mappo")
    policy = mappo.make_policy(config, env)
    assert policy.layout.head_sizes == (8,) and policy.layout.num_agents == 3
    obs = env.observation_spec.generate_value()
    actor_in, critic_in, mask = mappo.agent_inputs(obs, 3, 0, centralised=True, agent_id=True)
    assert actor_in.shape == (3, 75 + 3) and critic_in.shape == (3, 72 + 3)
    assert mask.shape == (3, 8)
    assert on_policy.derive_sizes(config).num_updates == 1_000_000 // (64 * 128)


def test_as_multi_agent_adds_an_agent_axis_of_one():
    from jaxml import envs

    env = mappo.AsMultiAgent(envs.make("gymnax/CartPole-v1"))
    state, timestep = env.reset(jax.random.PRNGKey(0))
    assert timestep.observation.shape == (1, 4) and timestep.reward.shape == (1,)
    _, timestep = env.step(state, jnp.array([1], jnp.int32))
    assert timestep.discount.shape == (1,)
    assert mappo.action_layout(env.action_spec).head_sizes == (2,)
    assert env.observation_spec.shape == (1, 4)
    with pytest.raises(ValueError, match="action_spec"):
        mappo.AsMultiAgent(ToyMultiAgent())


@pytest.mark.slow
def test_recurrent_ppo_learns_cartpole():
    from jaxml import envs

    config = mappo.default_config("ippo")
    config.update(
        num_envs=4,
        num_steps=128,
        total_timesteps=200_000,
        learning_rate=2.5e-4,
        activation="tanh",
        recurrent="gru",
        rnn_size=32,
        num_minibatches=2,
    )
    env = mappo.AsMultiAgent(envs.make("gymnax/CartPole-v1"))
    out = jax.jit(mappo.make_train(config, env))(jax.random.PRNGKey(0))
    assert float(np.mean(out.metrics["episode_return"][-20:])) >= 150.0


@pytest.mark.slow
def test_mappo_runs_on_smax_3m():
    from jaxml import envs

    config = tiny_config("mappo", "gru")
    config.update(num_envs=8, num_steps=32, total_timesteps=8 * 32 * 2)
    out = jax.jit(mappo.make_train(config, envs.make("jaxmarl/SMAX", scenario="3m")))(
        jax.random.PRNGKey(0)
    )
    assert np.all((out.metrics["win_rate"] >= 0) & (out.metrics["win_rate"] <= 1))
    assert np.all(np.isfinite(out.metrics["loss"]))
