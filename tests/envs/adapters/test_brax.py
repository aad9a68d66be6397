"""BraxAdapter against raw brax: same keys and actions give the same transitions.

The tests use brax's ``spring`` backend, which compiles fastest on CPU; the adapter's code
path does not depend on the backend.
"""

import jax
import numpy as np
import pytest
from brax import envs as brax_envs

from jaxml import envs
from jaxml.envs.adapters.brax import BraxAdapter
from tests.envs.adapters import _checks
from tests.helpers import fast_jit

STEPS, BATCH, EPISODE = 30, 8, 12


def raw_rollout(keys, actions):
    """brax's own API on the same reset keys and actions (compared over each first episode)."""
    env = brax_envs.create(
        "inverted_pendulum", episode_length=EPISODE, backend="spring", auto_reset=False
    )

    def body(state, action):
        state = jax.vmap(env.step)(state, action)
        return state, (state.obs, state.reward, state.done, state.info["truncation"])

    @fast_jit
    def run(keys, actions):
        state = jax.vmap(env.reset)(_checks.reset_keys(keys))
        return state.obs, jax.lax.scan(body, state, actions)[1]

    with jax.numpy_rank_promotion("allow"):  # brax broadcasts ranks implicitly.
        return run(keys, actions)


@pytest.fixture(scope="module")
def rollouts():
    env = envs.make("brax/inverted_pendulum", episode_length=EPISODE, backend="spring")
    assert isinstance(env, BraxAdapter)
    key_reset, key_act = jax.random.split(jax.random.key(0))
    keys = jax.random.split(key_reset, BATCH)
    actions = _checks.random_actions(env.action_spec, key_act, (STEPS, BATCH))
    rollout = _checks.make_rollout(env)
    ours = rollout(keys, actions)
    return env, rollout, keys, actions, ours, raw_rollout(keys, actions)


def test_matches_raw_brax_under_jit_and_vmap(rollouts):
    env, rollout, _, actions, ours, (obs0, (obs, reward, done, truncation)) = rollouts
    np.testing.assert_allclose(ours.first.observation, obs0, rtol=1e-6)
    ts = ours.timestep
    mask = _checks.first_episode(ts.step_type)
    _checks.assert_close_where(mask, ts.extras["next_obs"], obs)
    _checks.assert_close_where(mask, ts.reward, reward)
    done, truncation = np.asarray(done) > 0, np.asarray(truncation) > 0
    np.testing.assert_array_equal(np.asarray(ts.last())[mask], done[mask])
    np.testing.assert_array_equal(_checks.truncated(ts)[mask], (done & truncation)[mask])
    np.testing.assert_array_equal(_checks.terminated(ts)[mask], (done & ~truncation)[mask])
    _checks.validate_specs(env, ours, actions)
    # New keys and actions reuse the compiled rollout: the adapter's step traces once.
    rollout(jax.random.split(jax.random.key(1), BATCH), actions[::-1])


def test_termination_and_truncation(rollouts):
    _, _, _, _, ours, _ = rollouts
    ts = ours.timestep
    term, trunc = _checks.terminated(ts), _checks.truncated(ts)
    # The random policy drops some poles (termination: the pole angle left [-0.2, 0.2]) and
    # keeps others up until the time limit (truncation exactly at step EPISODE).
    assert term.any() and trunc.any()
    angle = np.abs(np.asarray(ts.extras["next_obs"])[..., 1])
    assert (angle[term] > 0.2).all()
    steps_in_episode = np.asarray(ours.state_after.brax_state.info["steps"])
    first_trunc = trunc & _checks.first_episode(ts.step_type)
    assert (np.argmax(first_trunc, axis=0)[first_trunc.any(0)] == EPISODE - 1).all()
    # AutoResetWrapper restarted the episode: brax's step counter is 0 after LAST.
    np.testing.assert_array_equal(steps_in_episode[np.asarray(ts.last())], 0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"env_name": "cartpole"}, "env_name"),
        ({"env_name": "inverted_pendulum", "backend": "physx"}, "backend"),
        ({"env_name": "inverted_pendulum", "episode_length": -1}, "episode_length"),
        ({"env_name": "inverted_pendulum", "env_kwargs": {"gravity": 1}}, "env_kwargs"),
        ({"env_name": "inverted_pendulum", "env_kwargs": {"backend": "spring"}}, "env_kwargs"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BraxAdapter(**kwargs)


def test_clip_keyword_numpy_matches_jnp_clip():
    from jaxml.envs.adapters.brax import _ClipKeywordNumpy

    shim, x = _ClipKeywordNumpy(), jax.numpy.linspace(-2.0, 2.0, 9)
    np.testing.assert_array_equal(shim.clip(x, a_min=-1.0, a_max=0.5), np.clip(x, -1.0, 0.5))
    np.testing.assert_array_equal(shim.clip(x, 0.0), np.clip(x, 0.0, None))
    assert shim.sum is jax.numpy.sum  # Everything else is jax.numpy's.


def test_swimmer_fluid_forces_run():
    """swimmer's viscous forces go through brax.fluid, which calls jnp.clip(a_min=...)."""
    env = BraxAdapter("swimmer", episode_length=20)  # swimmer is generalized-only.
    assert env.brax_env.sys.viscosity > 0  # The fluid model is in play.
    actions = jax.numpy.ones((5, *env.action_spec.shape))

    @jax.jit
    def run(key):
        state, first = env.reset(key)
        return first.observation, jax.lax.scan(lambda s, a: env.step(s, a), state, actions)[1]

    obs0, timesteps = run(jax.random.key(0))
    assert np.isfinite(np.asarray(timesteps.observation)).all()
    assert np.isfinite(np.asarray(timesteps.reward)).all()
    assert not np.allclose(timesteps.observation[-1], obs0)
