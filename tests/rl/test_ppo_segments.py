"""PPO with advantages recomputed on k-step segments (brax's PPO, ``gae_segment_length``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import envs
from jaxml.rl import batching, ppo
from jaxml.rl._gae import gae


def test_split_segments_matches_a_loop():
    tree = {"x": jnp.arange(6 * 3 * 2).reshape(6, 3, 2), "y": jnp.arange(18).reshape(6, 3)}
    out = batching.split_segments(tree, 2)
    x = np.asarray(tree["x"])
    expected = [x[s * 2 : s * 2 + 2, b] for s in range(3) for b in range(3)]
    np.testing.assert_array_equal(out["x"], np.stack(expected))
    assert out["y"].shape == (9, 2)
    with pytest.raises(ValueError, match="length"):
        batching.split_segments(tree, 4)


def _config(**fields):
    config = ppo.default_config("continuous")
    config.update(num_envs=4, num_steps=16, num_minibatches=1, update_epochs=1)
    config.update(total_timesteps=4 * 16, **fields)
    return config


def _one_update(config):
    trainer = ppo.make_trainer(config, envs.make("gymnax/Pendulum-v1"))
    state = trainer.init(jax.random.PRNGKey(0))
    new_state, metrics = jax.jit(trainer.step)(state)
    return new_state.params, metrics


@pytest.mark.parametrize("bootstrap_truncated", [False, True])
def test_one_whole_segment_equals_the_rollout_gae_on_the_first_step(bootstrap_truncated):
    # One minibatch, one epoch, segments of the whole rollout: the critic that recomputes the
    # advantages is the rollout's, so the update must be the flat one (up to the sum's order).
    flat, m_flat = _one_update(_config(bootstrap_truncated=bootstrap_truncated))
    seg, m_seg = _one_update(
        _config(bootstrap_truncated=bootstrap_truncated, gae_segment_length=16)
    )
    np.testing.assert_allclose(m_seg["value_loss"], m_flat["value_loss"], rtol=1e-5)
    np.testing.assert_allclose(m_seg["policy_loss"], m_flat["policy_loss"], rtol=1e-4, atol=1e-6)
    for a, b in zip(jax.tree.leaves(seg), jax.tree.leaves(flat), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)


def test_segment_advantages_bootstrap_each_segment_from_its_last_next_observation():
    config = _config(gae_segment_length=8)
    trainer = ppo.make_trainer(config, envs.make("gymnax/Pendulum-v1"))
    state = trainer.init(jax.random.PRNGKey(1))
    params = state.params
    _, batch = trainer.step.keywords["collect_fn"](params, state.rollout, jax.random.PRNGKey(2))
    segments = batching.split_segments(batch, 8)
    _, _, flat = ppo.segment_advantages(params, segments, model=trainer.model, config=config)
    value = lambda obs: trainer.model.apply(params, obs)[1]
    got = np.asarray(flat.advantages).reshape(8, -1)  # [k, n]: time-major within segments
    t = segments.transitions
    for s in range(t.reward.shape[0]):
        values = jnp.concatenate([value(t.obs[s]), value(t.next_obs[s][-1:])])
        expected = gae(
            t.reward[s], t.discount[s], t.done[s], values, jnp.zeros(8),
            gamma=config.gamma, lambda_=config.gae_lambda,
        )  # fmt: skip
        np.testing.assert_allclose(got[:, s], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"gae_segment_length": 5}, "gae_segment_length"),
        ({"gae_segment_length": 8, "num_minibatches": 3}, "num_minibatches"),
    ],
)
def test_bad_segment_length_names_the_field(fields, match):
    config = _config()
    config.update(**fields)
    with pytest.raises(ValueError, match=match):
        ppo.make_trainer(config, envs.make("gymnax/Pendulum-v1"))


@pytest.mark.parametrize("segment_length", [0, 8])
def test_config_advantage_reaches_the_update(segment_length):
    # brax's lambda-return advantages change the policy loss but not the value targets.
    # (The first minibatch's policy loss is −mean of normalised advantages, 0 for both.)
    plain_params, plain = _one_update(_config(gae_segment_length=segment_length))
    brax_params, brax = _one_update(
        _config(gae_segment_length=segment_length, advantage="lambda_return")
    )
    np.testing.assert_allclose(brax["value_loss"], plain["value_loss"], rtol=1e-6)
    actor = lambda p: jax.tree.leaves(p["params"]["actor"])  # noqa: E731
    moved = [
        np.abs(a - b).max() for a, b in zip(actor(brax_params), actor(plain_params), strict=True)
    ]
    assert max(moved) > 1e-6


def test_unknown_advantage_names_the_field():
    with pytest.raises(ValueError, match="config.advantage: expected one of gae, lambda_return"):
        ppo.make_trainer(_config(advantage="vtrace"), envs.make("gymnax/Pendulum-v1"))
