"""GymnaxAdapter against raw gymnax: same keys and actions give the same transitions."""

import gymnax
import jax
import numpy as np
import pytest

from jaxml import envs
from jaxml.envs.adapters.gymnax import GymnaxAdapter
from tests.envs.adapters import _checks
from tests.helpers import fast_jit

STEPS, BATCH = 60, 8


def raw_rollout(env_id: str, max_steps: int | None, keys, key_before, actions):
    """gymnax's own API (auto-resetting ``step``) driven by the adapter's keys."""
    env, params = gymnax.make(env_id)
    if max_steps is not None:
        params = params.replace(max_steps_in_episode=max_steps)

    def body(state, inputs):
        key, action = inputs
        _, state, reward, term, trunc, info = jax.vmap(env.step, (0, 0, 0, None))(
            key, state, action, params
        )
        return state, (info["final_observation"], reward, term, trunc)

    @fast_jit
    def run(keys, key_before, actions):
        obs0, state = jax.vmap(env.reset, (0, None))(_checks.reset_keys(keys), params)
        return obs0, jax.lax.scan(body, state, (key_before, actions))[1]

    return run(keys, key_before, actions)


# CartPole terminates under a random policy; Pendulum never terminates, so a short time limit
# gives truncations; Acrobot checks the third registered id and its noisy transitions.
CASES = [("CartPole-v1", None), ("Pendulum-v1", 25), ("Acrobot-v1", 40)]


@pytest.mark.parametrize("env_id,max_steps", CASES)
def test_matches_raw_gymnax_under_jit_and_vmap(env_id, max_steps):
    env = envs.make(f"gymnax/{env_id}", max_steps_in_episode=max_steps)
    assert isinstance(env, GymnaxAdapter)
    key_reset, key_act = jax.random.split(jax.random.key(0))
    keys = jax.random.split(key_reset, BATCH)
    actions = _checks.random_actions(env.action_spec, key_act, (STEPS, BATCH))
    rollout = _checks.make_rollout(env)
    ours = rollout(keys, actions)
    obs0, (obs, reward, term, trunc) = raw_rollout(
        env_id, max_steps, keys, ours.key_before, actions
    )

    np.testing.assert_allclose(ours.first.observation, obs0, rtol=1e-6)
    mask = _checks.first_episode(ours.timestep.step_type)
    ts = ours.timestep
    _checks.assert_close_where(mask, ts.extras["next_obs"], obs)
    _checks.assert_close_where(mask, ts.reward, reward)
    np.testing.assert_array_equal(_checks.terminated(ts)[mask], np.asarray(term)[mask])
    np.testing.assert_array_equal(_checks.truncated(ts)[mask], np.asarray(trunc)[mask])
    # Each env's first episode ends inside the rollout, the way the library says it should.
    ended = (_checks.terminated(ts) | _checks.truncated(ts)).any(0)
    assert ended.all()
    if max_steps is not None and env_id == "Pendulum-v1":
        assert _checks.truncated(ts)[max_steps - 1].all() and not _checks.terminated(ts).any()
    if env_id == "CartPole-v1":
        assert _checks.terminated(ts).any() and not _checks.truncated(ts).any()
    # AutoResetWrapper restarted the episode: gymnax's step counter is back to 0 after LAST.
    last = np.asarray(ts.last())
    np.testing.assert_array_equal(np.asarray(ours.state_after.env_state.time)[last], 0)

    _checks.validate_specs(env, ours, actions)
    # New keys and actions reuse the compiled rollout: the adapter's step traces once.
    rollout(jax.random.split(jax.random.key(1), BATCH), actions[::-1])


@pytest.mark.parametrize("env_id,reads_key", [("CartPole-v1", False), ("Acrobot-v1", True)])
def test_unbatched_step_under_jit(env_id, reads_key):
    env = GymnaxAdapter(env_id)
    first_state, timestep = jax.jit(env.reset)(jax.random.key(3))
    assert timestep.first() and timestep.reward.shape == () and timestep.discount == 1.0
    state, timestep = jax.jit(env.step)(first_state, np.int32(1))
    assert timestep.mid() and timestep.observation.shape == env.observation_spec.shape
    # A stochastic transition (Acrobot's torque noise) gets a fresh key every step; a
    # deterministic one (CartPole) keeps its key, which only seeds AutoResetWrapper's resets.
    key_data = jax.random.key_data
    moved = not np.array_equal(key_data(state.key), key_data(first_state.key))
    assert moved == reads_key


def test_terminated_and_truncated_step_map_to_discount():
    # A state just past the cart-position threshold on the last allowed step: gymnax calls it
    # both terminated and truncated; termination wins (discount 0), as in jumanji.
    env = GymnaxAdapter("CartPole-v1", max_steps_in_episode=3)
    step = jax.jit(env.step)
    state, _ = env.reset(jax.random.key(0))
    time = np.int32(2)
    far = state.env_state.replace(x=np.float32(2.45), x_dot=np.float32(1.0), time=time)
    _, timestep = step(state.replace(env_state=far), np.int32(1))
    assert timestep.last() and float(timestep.discount) == 0.0
    # The same state earlier in the episode is only terminated.
    _, timestep = step(state.replace(env_state=far.replace(time=np.int32(0))), np.int32(1))
    assert timestep.last() and float(timestep.discount) == 0.0
    # Upright at the time limit: truncation, discount 1.
    upright = state.env_state.replace(time=time)
    _, timestep = step(state.replace(env_state=upright), np.int32(1))
    assert timestep.last() and float(timestep.discount) == 1.0
    # Upright before the limit: a MID step.
    _, timestep = step(state, np.int32(1))
    assert timestep.mid() and float(timestep.discount) == 1.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"env_id": "CartPole-v9"}, "env_id"),
        ({"env_id": "CartPole-v1", "max_steps_in_episode": 0}, "max_steps_in_episode"),
        ({"env_id": "CartPole-v1", "env_params": {"gravity_x": 1.0}}, "env_params"),
        (
            {
                "env_id": "CartPole-v1",
                "max_steps_in_episode": 5,
                "env_params": {"max_steps_in_episode": 6},
            },
            "max_steps_in_episode",
        ),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GymnaxAdapter(**kwargs)


def test_env_params_override_reaches_the_dynamics():
    heavy = GymnaxAdapter("CartPole-v1", env_params={"gravity": 30.0})
    light = GymnaxAdapter("CartPole-v1")
    key = jax.random.key(0)
    s_heavy, _ = heavy.reset(key)
    s_light, _ = light.reset(key)
    _, ts_heavy = heavy.step(s_heavy, np.int32(0))
    _, ts_light = light.step(s_light, np.int32(0))
    assert not np.allclose(ts_heavy.observation, ts_light.observation)
