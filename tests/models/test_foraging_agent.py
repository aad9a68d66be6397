"""The Foraging Games agent (arXiv 2505.12872): its size against the closed form, independent
per-agent parameters, the channel ablation, and mappo's per-head entropy weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import envs
from jaxml.envs.foraging.types import ForagingAction
from jaxml.models import foraging_agent
from jaxml.models.agent_actor_critic import count_params, initial_carry
from jaxml.rl import mappo
from jaxml.rl._collect import Batch
from jaxml.rl._rollout import Transition


def _team(variant="paper", **fields):
    config = foraging_agent.agent_config(variant)
    config.update(**fields)
    env = envs.make("ForagingScoreG-v0", **foraging_agent.env_kwargs(config))
    return config, env, foraging_agent.make_team(config, env)


def _inputs(env, batch=3):
    keys = jax.random.split(jax.random.PRNGKey(0), batch)
    obs = jax.vmap(lambda k: env.reset(k)[1].observation)(keys)
    actor_in, critic_in, _ = mappo.agent_inputs(obs, 2, 1, centralised=False, agent_id=False)
    return actor_in, critic_in


def test_paper_agent_has_the_authors_layer_sizes():
    config, env, team = _team("paper")
    actor_in, critic_in = _inputs(env)
    carry = initial_carry("lstm", 128, (3, 2))
    params = jax.jit(team.init)(jax.random.PRNGKey(1), carry, actor_in, critic_in)
    v, h, e = 18, 128, 16  # 3x3x2 view, LSTM width, message embedding.

    def dense(i, o):
        return i * o + o

    grid = dense(v, 256) + dense(256, 256) + dense(256, 128) + dense(128, 16)
    lstm = 4 * (36 * h) + 4 * (h * h + h)  # flax: input kernels without bias, hidden with.
    heads = dense(h, 5) + dense(h, 4) + dense(h, 1)
    per_agent = grid + dense(2, 4) + 4 * e + dense(e, e) + lstm + heads
    assert count_params(params) == 2 * per_agent
    for leaf in jax.tree.leaves(params):
        assert leaf.shape[0] == 2  # Every parameter belongs to one agent slot.
    apply = jax.jit(team.apply)
    new_carry, (action, message), value = apply(params, carry, actor_in, critic_in)
    assert action.shape == (3, 2, 5) and message.shape == (3, 2, 1, 4) and value.shape == (3, 2)
    assert new_carry["actor"][0].shape == (3, 2, 128)
    # Heads start near uniform (gain 0.01) and the agents' networks differ.
    assert float(jnp.abs(action).max()) < 0.1
    params2 = jax.tree.map(lambda x: x.at[1].set(x[0]), params)
    same_in = jnp.broadcast_to(actor_in[:, :1], actor_in.shape)
    _, (a2, _), _ = apply(params2, carry, same_in, same_in)
    np.testing.assert_allclose(a2[:, 0], a2[:, 1], atol=1e-6)
    _, (a1, _), _ = apply(params, carry, same_in, same_in)
    assert not np.allclose(a1[:, 0], a1[:, 1], atol=1e-7)


def test_message_length_vocab_and_range_are_config_fields():
    config, env, team = _team("cpu", vocab_size=8, message_length=2, comm_range=1)
    assert env.vocab_size == 8 and env.message_length == 2 and env.comm_range == 1
    actor_in, critic_in = _inputs(env)
    carry = initial_carry("lstm", config.rnn_size, (3, 2))
    params = team.init(jax.random.PRNGKey(1), carry, actor_in, critic_in)
    _, (_, message), _ = team.apply(params, carry, actor_in, critic_in)
    assert message.shape == (3, 2, 2, 8)
    with pytest.raises(ValueError, match="agent.vocab_size"):
        bad = config.copy_and_resolve_references()
        bad.vocab_size = 4
        foraging_agent.make_team(bad, env)
    with pytest.raises(ValueError, match="agent.messages"):
        bad = config.copy_and_resolve_references()
        bad.messages = "none"
        foraging_agent.with_channel(env, bad)


def test_heard_message_changes_the_policy_but_zeroed_channel_delivers_silence():
    config, env, team = _team("cpu")
    actor_in, critic_in = _inputs(env, 1)
    carry = initial_carry("lstm", config.rnn_size, (1, 2))
    params = team.init(jax.random.PRNGKey(1), carry, actor_in, critic_in)
    loud = actor_in.at[..., 0].set(3.0)  # The message token is the first input.
    _, (a0, _), _ = team.apply(params, carry, actor_in, critic_in)
    _, (a3, _), _ = team.apply(params, carry, loud, loud)
    assert not np.allclose(a0, a3, atol=1e-7)
    config.messages = "zero"
    silent = foraging_agent.with_channel(env, config)
    state, _ = silent.reset(jax.random.PRNGKey(0))
    action = ForagingAction(jnp.zeros(2, jnp.int32), jnp.full((2, 1), 3, jnp.int32))
    _, timestep = silent.step(state, action)
    np.testing.assert_array_equal(timestep.observation.message, 0)
    np.testing.assert_array_equal(timestep.extras["message_sent"], 0)
    _, timestep = env.step(state, action)  # Without the ablation the tokens arrive.
    np.testing.assert_array_equal(timestep.observation.message, 3)


def _entropy(logits):
    p = jax.nn.softmax(logits, -1)
    return -np.sum(p * np.log(p), -1)


def test_per_head_entropy_weights_in_mappo_loss():
    env = envs.make("ForagingScoreG-v0")
    config = mappo.default_config("ippo")
    policy = mappo.make_policy(config, env)
    k = jax.random.split(jax.random.PRNGKey(0), 4)
    n = 6
    logits = (jax.random.normal(k[0], (n, 2, 5)), jax.random.normal(k[1], (n, 2, 1, 4)))
    action = ForagingAction(
        jax.random.randint(k[2], (n, 2), 0, 5), jax.random.randint(k[3], (n, 2, 1), 0, 4)
    )
    zeros = jnp.zeros((n, 2))
    transitions = Transition(
        obs=None, action=action, reward=zeros, discount=zeros, done=zeros.astype(bool),
        log_prob=zeros - 1.0, value=zeros, next_obs=None,
    )  # fmt: skip
    batch = Batch(transitions, jnp.linspace(-1, 1, 2 * n).reshape(n, 2), zeros + 0.5)

    def loss(**fields):
        c = config.copy_and_resolve_references()
        c.update(**fields)
        return float(mappo.ppo_terms(logits, zeros, batch, policy=policy, config=c)[0])

    h_move = _entropy(logits[0]).mean()
    h_msg = _entropy(logits[1]).sum(-1).mean()
    base = loss(ent_coef=0.0)
    assert loss(ent_coef=0.01) == pytest.approx(loss(ent_coef=0.0, head_ent_coefs=(0.01, 0.01)))
    np.testing.assert_allclose(
        loss(head_ent_coefs=(0.01, 0.002)), base - 0.01 * h_move - 0.002 * h_msg, rtol=1e-5
    )
