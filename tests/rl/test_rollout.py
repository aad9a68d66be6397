"""Batched auto-reset rollouts: transitions, episode ends, statistics, bootstrapped advantages."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jumanji import specs

from jaxml import envs
from jaxml.rl import (
    auto_reset,
    init_episode_stats,
    on_policy,
    ppo,
    reset,
    rollout,
    to_env_action,
    update_episode_stats,
)
from tests.rl.test_gae import reference_gae

MAX_STEPS = 12  # CartPole time limit short enough for truncations next to terminations.
NUM_ENVS, NUM_STEPS = 4, 64


def random_policy(params, obs, key):
    del params
    action = jax.random.randint(key, (obs.shape[0],), 0, 2)
    return action, jnp.zeros(obs.shape[0]), jnp.zeros(obs.shape[0])


@pytest.fixture(scope="module")
def cartpole_rollout():
    env = auto_reset(envs.make("gymnax/CartPole-v1", max_steps_in_episode=MAX_STEPS))
    state = reset(env, jax.random.PRNGKey(0), NUM_ENVS)
    run = jax.jit(functools.partial(rollout, env, random_policy, None, num_steps=NUM_STEPS))
    final_state, traj = run(state, jax.random.PRNGKey(1))
    return state, final_state, jax.device_get(traj)


def test_shapes_and_types(cartpole_rollout):
    _, _, traj = cartpole_rollout
    assert traj.obs.shape == traj.next_obs.shape == (NUM_STEPS, NUM_ENVS, 4)
    for x in (traj.action, traj.reward, traj.discount, traj.done, traj.log_prob, traj.value):
        assert x.shape == (NUM_STEPS, NUM_ENVS)
    assert traj.done.dtype == bool and traj.action.dtype == np.int32


def test_episode_ends_are_told_apart(cartpole_rollout):
    start, _, traj = cartpole_rollout
    obs_next = np.concatenate([traj.obs[1:], traj.obs[-1:] * np.nan])
    mid = ~traj.done
    mid[-1] = False
    # Inside an episode the next observation is the one the policy acts on next.
    np.testing.assert_array_equal(traj.next_obs[mid], obs_next[mid])
    ends = traj.done.copy()
    ends[-1] = False
    # After an episode end the policy acts on a fresh reset (CartPole starts within ±0.05).
    assert np.all(np.abs(obs_next[ends]) <= 0.05)
    # Terminations (discount 0) end out of bounds; truncations (discount 1) at the time limit.
    x, theta = traj.next_obs[..., 0], traj.next_obs[..., 2]
    out_of_bounds = (np.abs(x) > 2.4) | (np.abs(theta) > 12 * 2 * np.pi / 360)
    terminated = traj.done & (traj.discount == 0)
    truncated = traj.done & (traj.discount == 1)
    assert terminated.any() and truncated.any()
    np.testing.assert_array_equal(terminated, traj.done & out_of_bounds)
    np.testing.assert_array_equal(traj.discount[~traj.done], 1.0)
    lengths = episode_lengths(traj.done)
    np.testing.assert_array_equal(lengths[truncated], MAX_STEPS)
    assert np.all(lengths[terminated] <= MAX_STEPS)  # Terminal at the limit: a termination.


def episode_lengths(done):
    """Length of the episode that ends at each done step (counting from the rollout start)."""
    lengths = np.zeros(done.shape, int)
    for b in range(done.shape[1]):
        count = 0
        for t in range(done.shape[0]):
            count += 1
            if done[t, b]:
                lengths[t, b], count = count, 0
    return lengths


def test_episode_stats_match_numpy(cartpole_rollout):
    _, final_state, traj = cartpole_rollout
    running = np.zeros(NUM_ENVS)
    last = np.zeros(NUM_ENVS)
    for t in range(NUM_STEPS):
        running += traj.reward[t]
        last = np.where(traj.done[t], running, last)
        running = np.where(traj.done[t], 0.0, running)
    stats = final_state.episodes
    np.testing.assert_allclose(stats.episode_return, running)
    np.testing.assert_allclose(stats.returned_episode_return, last)
    # CartPole pays 1 per step, so lengths equal returns.
    np.testing.assert_allclose(stats.returned_episode_length, last)


def test_episode_stats_per_agent_rewards():
    stats = init_episode_stats((2, 3))
    reward = jnp.ones((2, 3))
    stats = update_episode_stats(stats, reward, jnp.array([False, True]))
    np.testing.assert_array_equal(stats.episode_return, [[1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(stats.returned_episode_return, [[0, 0, 0], [1, 1, 1]])


def test_to_env_action_reshapes_and_clips():
    spec = specs.BoundedArray((2,), jnp.float32, -1.0, 1.0, name="action")
    out = to_env_action(jnp.array([[0.5, 3.0], [-2.0, 0.0]]), spec)
    np.testing.assert_array_equal(out, [[0.5, 1.0], [-1.0, 0.0]])
    scalar_spec = specs.BoundedArray((), jnp.float32, -2.0, 2.0, name="action")
    assert to_env_action(jnp.array([[5.0], [1.0]]), scalar_spec).tolist() == [2.0, 1.0]
    discrete = specs.DiscreteArray(3, jnp.int32)
    assert to_env_action(jnp.array([2, 0]), discrete).dtype == jnp.int32


def test_auto_reset_requires_next_obs():
    from jumanji.wrappers import AutoResetWrapper

    with pytest.raises(ValueError, match="next_obs_in_extras"):
        auto_reset(AutoResetWrapper(envs.make("gymnax/CartPole-v1")))


@pytest.mark.parametrize("bootstrap_truncated", [True, False])
def test_collect_bootstraps_truncations_from_final_observation(bootstrap_truncated):
    config = ppo.default_config()
    config.update(num_envs=NUM_ENVS, num_steps=32, total_timesteps=NUM_ENVS * 32, hidden=(8,))
    trainer = ppo.make_trainer(config, envs.make("gymnax/CartPole-v1", max_steps_in_episode=5))
    state = trainer.init(jax.random.PRNGKey(0))
    collect = jax.jit(
        functools.partial(
            on_policy.collect, env=trainer.env, model=trainer.model, num_steps=32,
            gamma=0.99, gae_lambda=0.95, bootstrap_truncated=bootstrap_truncated,
        )
    )  # fmt: skip
    rollout_state, batch = collect(state.params, state.rollout, jax.random.PRNGKey(1))
    traj = jax.device_get(batch.transitions)
    assert traj.done.sum() >= NUM_ENVS * 5 and (traj.discount[traj.done] == 1).any()

    # The critic on each environment's observations, outside the trainer's code path.
    value = jax.jit(lambda obs: trainer.model.apply(state.params, obs)[1])
    last = np.asarray(value(rollout_state.obs))
    for b in range(NUM_ENVS):
        values = np.append(np.asarray(value(traj.obs[:, b])), last[b])
        np.testing.assert_allclose(traj.value[:, b], values[:-1], rtol=1e-5, atol=1e-6)
        final = np.asarray(value(traj.next_obs[:, b])) * bootstrap_truncated
        want = reference_gae(
            traj.reward[:, b], traj.discount[:, b], traj.done[:, b], values, final, 0.99, 0.95
        )
        np.testing.assert_allclose(batch.advantages[:, b], want, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(batch.targets[:, b], want + values[:-1], rtol=1e-4, atol=1e-4)


def test_reward_scale_multiplies_the_gae_targets_and_leaves_episode_returns_raw():
    from jaxml.rl.on_policy import rollout_and_gae

    env = auto_reset(envs.make("gymnax/CartPole-v1", max_steps_in_episode=MAX_STEPS))

    def bootstrap_fn(params, rollout_state, traj, initial):  # A zero critic.
        return jnp.zeros(traj.value.shape[1:]), jnp.zeros_like(traj.value)

    out = {}
    for scale in (1.0, 3.0):
        state = reset(env, jax.random.PRNGKey(0), 4)
        out[scale] = rollout_and_gae(
            None, state, jax.random.PRNGKey(1), env=env, act_fn=random_policy,
            bootstrap_fn=bootstrap_fn, num_steps=40, gamma=0.9, gae_lambda=0.95,
            reward_scale=scale,
        )  # fmt: skip
    (state1, batch1), (state3, batch3) = out[1.0], out[3.0]
    np.testing.assert_allclose(batch3.targets, 3.0 * batch1.targets, rtol=1e-6)
    np.testing.assert_allclose(batch3.advantages, 3.0 * batch1.advantages, rtol=1e-6)
    np.testing.assert_array_equal(
        state3.episodes.returned_episode_return, state1.episodes.returned_episode_return
    )
