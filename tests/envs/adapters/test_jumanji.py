"""JumanjiAdapter is jumanji's environment, unchanged: same keys and actions, same timesteps."""

import jax
import jumanji
import numpy as np
import pytest
from jumanji.environments.routing.lbf.generator import RandomGenerator

from jaxml import envs
from jaxml.envs.adapters.jumanji import JumanjiAdapter
from tests.envs.adapters import _checks

STEPS, BATCH, TIME_LIMIT = 12, 8, 8


def small_lbf_kwargs():
    generator = RandomGenerator(grid_size=6, fov=6, num_agents=2, num_food=2, force_coop=False)
    return {"generator": generator, "time_limit": TIME_LIMIT}


def test_traces_to_the_raw_environment():
    # The adapter adds nothing to jumanji's computation: reset and step trace to the same
    # jaxprs as the raw environment's, so they return the same values for any key and action.
    env = envs.make("jumanji/LevelBasedForaging-v0", env_kwargs=small_lbf_kwargs())
    raw = jumanji.make("LevelBasedForaging-v0", **small_lbf_kwargs())
    assert isinstance(env, JumanjiAdapter) and isinstance(env, jumanji.Environment)
    key = jax.random.key(0)
    action = env.action_spec.generate_value()
    with jax.numpy_rank_promotion("allow"):  # jumanji's LBF broadcasts ranks implicitly.
        state = jax.eval_shape(raw.reset, key)[0]  # Abstract: tracing needs no values.
        assert str(jax.make_jaxpr(env.reset)(key)) == str(jax.make_jaxpr(raw.reset)(key))
        assert str(jax.make_jaxpr(env.step)(state, action)) == str(
            jax.make_jaxpr(raw.step)(state, action)
        )
        # A jaxpr of a different configuration differs: the comparison can fail.
        other = jumanji.make("LevelBasedForaging-v0", time_limit=TIME_LIMIT + 1)
        assert str(jax.make_jaxpr(env.step)(state, action)) != str(
            jax.make_jaxpr(other.step)(state, action)
        )


def test_steps_under_jit_and_vmap_with_jumanji_wrappers():
    env = envs.make("jumanji/LevelBasedForaging-v0", env_kwargs=small_lbf_kwargs())
    key_reset, key_act = jax.random.split(jax.random.key(0))
    keys = jax.random.split(key_reset, BATCH)
    actions = _checks.random_actions(env.action_spec, key_act, (STEPS, BATCH))
    rollout = _checks.make_rollout(env)
    ours = rollout(keys, actions)

    ts = ours.timestep
    assert ts.observation.agents_view.shape == (STEPS, BATCH, 2, 12)
    assert ts.reward.shape == ts.discount.shape == (STEPS, BATCH, 2)
    # Episodes that eat no food end by truncation at the time limit (discount 1).
    ended_by_limit = ~_checks.terminated(ts)[:TIME_LIMIT].any(0)
    assert ended_by_limit.any()
    assert _checks.truncated(ts)[TIME_LIMIT - 1][ended_by_limit].all()
    # AutoResetWrapper restarted the episode: the step counter is 0 after LAST.
    last = np.asarray(ts.last())
    np.testing.assert_array_equal(np.asarray(ours.state_after.step_count)[last], 0)
    _checks.validate_specs(env, ours, actions)
    # New keys and actions reuse the compiled rollout: step traces once.
    rollout(jax.random.split(jax.random.key(1), BATCH), actions[::-1])


def test_defaults_are_jumanjis():
    env = JumanjiAdapter("LevelBasedForaging-v0")
    raw = jumanji.make("LevelBasedForaging-v0")
    assert env.action_spec == raw.action_spec and env.reward_spec == raw.reward_spec
    assert env.time_limit == raw.time_limit  # Attributes pass through the wrapper.


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"env_id": "LevelBasedForaging-v9"}, "env_id"),
        ({"env_id": "LevelBasedForaging-v0", "env_kwargs": {"grid_size": 5}}, "env_kwargs"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        JumanjiAdapter(**kwargs)
