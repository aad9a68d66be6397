"""``HVAC-v0``: the JAX step against the numpy reference, jumanji smoke checks, episodes, vmap."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jumanji.testing.env_not_smoke import check_env_does_not_smoke, check_env_specs_does_not_smoke
from jumanji.types import StepType
from jumanji.wrappers import AutoResetWrapper, VmapWrapper

from jaxml import envs
from jaxml.data import weather
from jaxml.envs.hvac import HVAC, bem, discrete_settings, setpoint_action
from tests.envs.hvac import reference
from tests.helpers import fast_jit

NY_EPW = "USA_NY_New.York-J.F.Kennedy.Intl.AP.744860_TMY3"
ENV = HVAC(climates=weather.CITIES + (NY_EPW,), episode_steps=6)
DISCRETE = HVAC(climates=("london", "singapore"), episode_steps=6, discrete=True)


def rollout(env, key, actions):
    """States and TimeSteps of a jitted rollout of ``actions`` from ``reset_to``-style keys."""
    step = fast_jit(env.step)
    state, ts = fast_jit(env.reset)(key)
    states, steps = [state], [ts]
    for a in actions:
        state, ts = step(state, a)
        states.append(state)
        steps.append(ts)
    return states, steps


@pytest.mark.parametrize("env_name", ["continuous", "discrete"])
def test_step_matches_numpy_reference(env_name):
    env = ENV if env_name == "continuous" else DISCRETE
    reset_to = fast_jit(env.reset_to)
    step = fast_jit(env.step)
    rng = np.random.default_rng(0)
    for climate in range(len(env.climates)):
        state, _ = reset_to(jax.random.PRNGKey(climate), climate, 0.3)
        for k in range(6):
            if env.discrete:
                action = jnp.int32(rng.integers(8))
            else:  # Include out-of-range values: both sides clip them the same way.
                action = jnp.asarray(rng.uniform([22, 8, 0.2], [38, 22, 0.6]), jnp.float32)
            temps, heat_in, reward, obs = reference.env_step(env, state, action)
            state, ts = step(state, action)
            np.testing.assert_allclose(state.temps, temps, atol=2e-3, err_msg=f"{climate} {k}")
            np.testing.assert_allclose(state.heat_to_canyon, heat_in, rtol=1e-3, atol=1e-2)
            np.testing.assert_allclose(ts.reward, reward, rtol=1e-3, atol=1e-2)
            np.testing.assert_allclose(ts.observation, obs, atol=2e-3)


def test_jumanji_smoke_checks():
    for env in (HVAC(climates=("beijing", NY_EPW), episode_steps=5), DISCRETE):
        check_env_specs_does_not_smoke(env)
        check_env_does_not_smoke(env)


def test_step_traces_once_and_specs_hold():
    env = HVAC(climates=("hongkong",), episode_steps=4, time_features=True)
    chex.clear_trace_counter()
    step = fast_jit(chex.assert_max_traces(env.step, n=1))
    state, ts = env.reset(jax.random.PRNGKey(0))
    assert ts.observation.shape == (9,)
    for k in range(env.episode_steps + 2):  # Past the end too: nothing in the state retraces.
        action = envs.sample_action(env.action_spec, jax.random.PRNGKey(k))
        state, ts = step(state, action)
        env.observation_spec.validate(ts.observation)
        env.reward_spec.validate(ts.reward)


def test_a_year_ending_is_a_truncation():
    env = HVAC(climates=("london",), episode_steps=5)
    _, steps = rollout(env, jax.random.PRNGKey(1), [jnp.array([26.0, 15.0, 0.5])] * 5)
    kinds = [int(ts.step_type) for ts in steps]
    assert kinds == [StepType.FIRST] + [StepType.MID] * 4 + [StepType.LAST]
    assert all(float(ts.discount) == 1.0 for ts in steps)  # Bootstrap through the end.
    assert bool(steps[-1].extras["truncated"]) and not bool(steps[-2].extras["truncated"])


def test_auto_reset_restarts_after_the_truncation():
    env = HVAC(climates=("newyork", "singapore"), episode_steps=3)
    wrapped = VmapWrapper(AutoResetWrapper(env))
    state, _ = fast_jit(wrapped.reset)(jax.random.split(jax.random.PRNGKey(0), 4))
    step = fast_jit(wrapped.step)
    action = jnp.tile(jnp.array([26.0, 15.0, 0.5]), (4, 1))
    for _ in range(3):
        state, ts = step(state, action)
    np.testing.assert_array_equal(ts.step_type, StepType.LAST)
    np.testing.assert_array_equal(state.step_count, 0)  # Reset already happened.


def test_default_episode_is_a_year_from_a_random_start():
    env = envs.make("HVAC-v0")
    assert env.episode_steps == 17_520 == 365 * 48
    starts = jax.vmap(lambda k: env.reset(k)[0].start)(jax.random.split(jax.random.PRNGKey(0), 64))
    assert len(np.unique(np.asarray(starts))) > 50 and np.all(np.asarray(starts) < 17_520)
    fixed = HVAC(climates=("london",), random_start=False)
    assert int(fixed.reset(jax.random.PRNGKey(3))[0].start) == 0


def test_vmap_over_buildings_and_weights_matches_single_runs():
    """One program runs a grid of cities x weights; each lane equals its own unbatched run."""
    env = HVAC(episode_steps=100)
    cities = jnp.repeat(jnp.arange(5), 3)
    weights = jnp.tile(jnp.array([0.1, 0.5, 0.9]), 5)
    keys = jnp.repeat(jax.random.split(jax.random.PRNGKey(0), 5), 3, axis=0)  # Shared per city.
    action = jnp.array([27.0, 16.0, 0.4])

    def run(key, city, w):
        state, _ = env.reset_to(key, city, w)

        def body(s, _):
            s, ts = env.step(s, action)
            return s, (ts.reward, ts.extras["p_ac"] + ts.extras["p_heat"], ts.extras["comfort"])

        return jax.lax.scan(body, state, None, 8)[1]

    reward, power, comfort = fast_jit(jax.vmap(run))(keys, cities, weights)
    for lane in (0, 7, 14):
        single = fast_jit(run)(keys[lane], cities[lane], weights[lane])
        np.testing.assert_allclose(reward[lane], single[0], rtol=1e-5, atol=1e-5)
    # The reward is the weighted sum of its parts, per lane.
    w = weights[:, None]
    np.testing.assert_allclose(reward, -w * power - (1 - w) * comfort, rtol=1e-5, atol=1e-5)
    # Same city and key, different weights: identical physics, different rewards.
    np.testing.assert_allclose(power[0], power[2])
    np.testing.assert_allclose(comfort[0], comfort[2])
    assert not np.allclose(reward[0], reward[2])


def test_energy_balance_closes_every_step():
    env = HVAC(climates=weather.CITIES + (NY_EPW,), episode_steps=48)
    keys = jax.random.split(jax.random.PRNGKey(5), 6)

    def run(key, city):
        state, _ = env.reset_to(key, city, 0.5)
        sample = lambda k: envs.sample_action(env.action_spec, k)

        def body(s, k):
            s, ts = env.step(s, sample(k))
            scale = ts.extras["heating"] + ts.extras["cooling"] + 100.0
            return s, ts.extras["energy_balance"] / scale

        return jax.lax.scan(body, state, jax.random.split(key, 48))[1]

    rel = fast_jit(jax.vmap(run))(keys, jnp.arange(6))
    assert np.max(np.abs(rel)) < 1e-4, np.max(np.abs(rel))


def test_discrete_actions_are_the_papers_eight():
    table = discrete_settings()
    assert table.shape == (8, 3)
    assert {tuple(r) for r in table.tolist()} == {
        (c, h, v) for c in (26.0, 35.0) for h in (15.0, 10.0) for v in (0.5, 0.30000001192092896)
    }
    env = envs.make("HVACDiscrete-v0", climates=("london",), episode_steps=2)
    assert env.discrete and env.action_spec.num_values == 8


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"climates": ("paris",)}, "climates"),
        ({"climates": ()}, "climates"),
        ({"weight": 1.5}, "weight"),
        ({"episode_steps": 0}, "episode_steps"),
        ({"density_class": 4}, "density_class"),
        ({"epw_building": "tokyo"}, "epw_building"),
        ({"hvac_capacity": -1.0}, "hvac_capacity"),
        ({"discrete": 1}, "discrete"),
    ],
)
def test_invalid_config_names_the_argument(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}: expected"):
        HVAC(**kwargs)


@pytest.mark.parametrize(
    "args, field",
    [
        ((24.0, 15.0, 0.4), "cooling"),
        ((26.0, 21.0, 0.4), "heating"),
        ((26.0, 15.0, 0.6), "ach"),
    ],  # fmt: skip
)
def test_setpoint_outside_its_range_raises(args, field):
    with pytest.raises(ValueError, match=f"^{field}: expected a value in"):
        setpoint_action(*args)
    np.testing.assert_allclose(setpoint_action(26.0, 15.0, 0.4), [26.0, 15.0, 0.4], rtol=1e-7)


def test_setpoints_hold_when_capacity_allows():
    """With unlimited capacity the indoor air stays in [heating, cooling] set points."""
    env = HVAC(climates=("beijing", "singapore", "london"), episode_steps=48 * 4)
    action = jnp.array([25.0, 20.0, 0.5])  # The narrowest band.

    def run(key, city):
        state, _ = env.reset_to(key, city, 0.5)
        return jax.lax.scan(
            lambda s, _: (lambda out: (out[0], out[1].extras["t_indoor"]))(env.step(s, action)),
            state,
            None,
            48 * 4,
        )[1]

    t_in = fast_jit(jax.vmap(run))(jax.random.split(jax.random.PRNGKey(2), 3), jnp.arange(3))
    assert np.all(np.asarray(t_in) >= 20.0 - 1e-3) and np.all(np.asarray(t_in) <= 25.0 + 1e-3)
    capped = HVAC(climates=("beijing",), episode_steps=10, hvac_capacity=5.0)
    state, _ = capped.reset_to(jax.random.PRNGKey(0), 0, 0.5)
    for _ in range(5):
        state, ts = fast_jit(capped.step)(state, action)
        assert float(ts.extras["heating"]) <= 5.0 + 1e-4
        assert float(ts.extras["cooling"]) <= 5.0 + 1e-4


def test_same_key_same_trajectory():
    actions = [jnp.array([30.0, 12.0, 0.35])] * 3
    a = rollout(ENV, jax.random.PRNGKey(9), actions)
    b = rollout(ENV, jax.random.PRNGKey(9), actions)
    chex.assert_trees_all_equal(a, b)
    assert bem.NUM_NODES == a[0][0].temps.shape[0]


def test_keep_task_auto_reset_keeps_climate_and_weight():
    from jaxml.envs.hvac import KeepTaskAutoReset

    env = HVAC(climates=("london", "beijing", "singapore"), episode_steps=3)
    wrapped = KeepTaskAutoReset(env, next_obs_in_extras=True)
    cities, weights = jnp.array([0, 2, 1, 1]), jnp.array([0.1, 0.5, 0.9, 0.7])
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    state, _ = jax.vmap(env.reset_to)(keys, cities, weights)
    step = fast_jit(jax.vmap(wrapped.step))
    action = jnp.tile(jnp.array([26.0, 15.0, 0.5]), (4, 1))
    starts = np.asarray(state.start)
    for _ in range(3):
        state, ts = step(state, action)
    np.testing.assert_array_equal(ts.step_type, StepType.LAST)
    np.testing.assert_array_equal(state.step_count, 0)  # Reset happened ...
    np.testing.assert_array_equal(state.climate, cities)  # ... with the same task.
    np.testing.assert_allclose(state.weight, weights)
    assert np.any(np.asarray(state.start) != starts)  # A new start time.
    assert ts.extras["next_obs"].shape == ts.observation.shape
    with pytest.raises(ValueError, match="^env: expected an unwrapped HVAC"):
        KeepTaskAutoReset(AutoResetWrapper(env))


def test_free_running_numpy_reference_tracks_two_days():
    """The reference run on its own (float64, its own temperatures and canyon heat) for 96 steps
    under the same weather stays within 2 mK of the JAX trajectory: errors do not build up."""
    env = HVAC(climates=("beijing", NY_EPW), episode_steps=200)
    step, forcing = fast_jit(env.step), fast_jit(env.forcing)
    rng = np.random.default_rng(1)
    for climate in range(2):
        state, _ = fast_jit(env.reset_to)(jax.random.PRNGKey(climate), climate, 0.5)
        p = {k: float(v) for k, v in state.building._asdict().items()}
        temps, heat_in = np.asarray(state.temps, np.float64), 0.0
        for _ in range(96):
            action = rng.uniform(reference.env_low(), reference.env_high())
            f = np.asarray(forcing(state), np.float64)  # The weather does not depend on temps.
            cool, heat, ach = action
            temps, heating, cooling, waste = reference.bem_step(
                p, temps, f, heat + 273.15, cool + 273.15, ach, heat_in, np.inf, 1800.0
            )
            heat_in = waste + cooling
            state, _ = step(state, jnp.asarray(action, jnp.float32))
        np.testing.assert_allclose(state.temps, temps, atol=2e-3)  # Measured: 5e-5 K.
