"""MABraxAdapter against raw jaxmarl MABrax: same keys and actions give the same transitions.

The tests use brax's ``spring`` backend, which compiles fastest on CPU (about twice as fast as
MABrax's default ``positional``); the adapter's code path does not depend on the backend.
"""

import jax
import jax.numpy as jnp
import jaxmarl
import numpy as np
import pytest

from jaxml import envs
from jaxml.envs.adapters.jaxmarl import MABraxAdapter, MABraxObservation
from tests.envs.adapters import _checks
from tests.helpers import fast_jit

STEPS, BATCH, EPISODE = 10, 4, 6


def raw_rollout(keys, key_before, actions):
    """jaxmarl's own API (dicts keyed by agent) on the same reset keys and actions."""
    env = jaxmarl.make("ant_4x2", episode_length=EPISODE, backend="spring", auto_reset=False)
    agents = env.agents

    def stack(tree):
        return jnp.stack([tree[a] for a in agents], axis=1)  # [B, ...] per agent -> [B, A, ...]

    def body(state, inputs):
        key, action = inputs
        act = {a: action[:, i] for i, a in enumerate(agents)}
        obs, state, rewards, dones, info = jax.vmap(env.step_env)(key, state, act)
        return state, (stack(obs), state.obs, stack(rewards), dones["__all__"], info["truncation"])

    @fast_jit
    def run(keys, key_before, actions):
        obs0, state = jax.vmap(env.reset)(_checks.reset_keys(keys))
        return stack(obs0), jax.lax.scan(body, state, (key_before, actions))[1]

    with jax.numpy_rank_promotion("allow"):  # brax broadcasts ranks implicitly.
        return run(keys, key_before, actions)


@pytest.fixture(scope="module")
def rollouts():
    env = envs.make("jaxmarl/MABrax", episode_length=EPISODE, backend="spring")
    assert isinstance(env, MABraxAdapter) and env.agents == tuple(f"agent_{i}" for i in range(4))
    key_reset, key_act = jax.random.split(jax.random.key(0))
    keys = jax.random.split(key_reset, BATCH)
    actions = _checks.random_actions(env.action_spec, key_act, (STEPS, BATCH))
    assert actions.shape == (STEPS, BATCH, 4, 2)
    rollout = _checks.make_rollout(env)
    return env, rollout, keys, actions, rollout(keys, actions)


def test_steps_under_jit_and_vmap_with_jumanji_wrappers(rollouts):
    env, rollout, _, actions, ours = rollouts
    ts = ours.timestep
    assert isinstance(ts.observation, MABraxObservation)
    assert ts.observation.agents_view.shape == (STEPS, BATCH, 4, 18)
    assert ts.observation.world_state.shape == (STEPS, BATCH, 27)
    assert ts.reward.shape == ts.discount.shape == (STEPS, BATCH, 4)
    # One team reward, the same for every agent.
    np.testing.assert_array_equal(ts.reward, np.broadcast_to(ts.reward[..., :1], ts.reward.shape))
    # Each agent's view is jaxmarl's slice of the full brax observation.
    index = np.asarray(env.jaxmarl_env.agent_obs_mapping["agent_2"])
    np.testing.assert_array_equal(
        ts.extras["next_obs"].agents_view[:, :, 2], ts.extras["next_obs"].world_state[..., index]
    )
    # A random ant stays healthy for EPISODE steps: every first episode is truncated there,
    # and AutoResetWrapper restarts it (brax's step counter back to 0).
    assert _checks.truncated(ts)[EPISODE - 1].all() and not _checks.terminated(ts).any()
    assert (np.asarray(ours.state_after.env_state.info["steps"])[EPISODE - 1] == 0).all()
    _checks.validate_specs(env, ours, actions)
    # New keys and actions reuse the compiled rollout: the adapter's step traces once.
    rollout(jax.random.split(jax.random.key(1), BATCH), actions[::-1])


@pytest.mark.slow  # A second MABrax compile (about 10 s on 2 CPU cores).
def test_matches_raw_mabrax(rollouts):
    _, _, keys, actions, ours = rollouts
    obs0, (obs, world_state, reward, done, truncation) = raw_rollout(keys, ours.key_before, actions)
    ts = ours.timestep
    np.testing.assert_allclose(ours.first.observation.agents_view, obs0, rtol=1e-6)
    mask = _checks.first_episode(ts.step_type)
    next_obs = ts.extras["next_obs"]
    _checks.assert_close_where(mask, next_obs.agents_view, obs, rtol=1e-4, atol=1e-4)
    _checks.assert_close_where(mask, next_obs.world_state, world_state, rtol=1e-4, atol=1e-4)
    _checks.assert_close_where(mask, ts.reward, reward, rtol=1e-4, atol=1e-4)
    done, truncation = np.asarray(done), np.asarray(truncation) > 0
    np.testing.assert_array_equal(np.asarray(ts.last())[mask], done[mask])
    np.testing.assert_array_equal(_checks.truncated(ts)[mask], (done & truncation)[mask])
    np.testing.assert_array_equal(_checks.terminated(ts)[mask], (done & ~truncation)[mask])


def test_homogenisation_makes_unequal_splits_stackable():
    with pytest.raises(ValueError, match="homogenisation_method"):
        MABraxAdapter("hopper_3x1", backend="spring")
    env = MABraxAdapter("hopper_3x1", backend="spring", homogenisation_method="max")
    # "max": a one-hot agent id (3) then the largest per-agent observation (9), zero-padded.
    assert env.observation_spec.agents_view.shape == (3, 12)
    assert env.action_spec.shape == (3, 1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"env_name": "ant_8x1"}, "env_name"),
        ({"backend": "physx"}, "backend"),
        ({"episode_length": 0}, "episode_length"),
        ({"homogenisation_method": "pad"}, "homogenisation_method"),
        ({"action_repeat": 1.5}, "action_repeat"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MABraxAdapter(**kwargs)
