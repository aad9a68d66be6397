"""``FirstStateAutoReset``: brax's training auto-reset rule (each env restarts from its own
first state), against jumanji's ``AutoResetWrapper`` (a fresh start) on a toy env."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import StepType, TimeStep
from jumanji.wrappers import AutoResetWrapper

from jaxml.envs.wrappers import AsMultiAgent, FirstStateAutoReset
from jaxml.rl import auto_reset, mappo, ppo
from tests.helpers import fast_jit

EPISODE = 3


@chex.dataclass
class State:
    start: chex.Array  # [] float32, drawn at reset.
    t: chex.Array  # [] int32
    key: chex.PRNGKey


class Drift(Environment):
    """Observation ``start + t``; a random start in [0, 1); the episode ends after 3 steps."""

    def reset(self, key):
        key, sub = jax.random.split(key)
        state = State(start=jax.random.uniform(sub), t=jnp.zeros((), jnp.int32), key=key)
        return state, TimeStep(
            step_type=StepType.FIRST,
            reward=jnp.zeros(()),
            discount=jnp.ones(()),
            observation=self._obs(state),
        )

    def _obs(self, state):
        return jnp.reshape(state.start + state.t, (1,))

    def step(self, state, action):
        del action
        state = state.replace(t=state.t + 1, key=jax.random.split(state.key)[0])
        last = state.t >= EPISODE
        step_type = jnp.where(last, StepType.LAST, StepType.MID)
        return state, TimeStep(
            step_type=step_type,
            reward=jnp.ones(()),
            discount=jnp.where(last, 0.0, 1.0),
            observation=self._obs(state),
        )

    @property
    def observation_spec(self):
        return specs.Array((1,), jnp.float32, "observation")

    @property
    def action_spec(self):
        return specs.DiscreteArray(2)


def play(env, num_envs, num_steps):
    """Observations ``[num_steps + 1, num_envs]`` and the ``next_obs`` extras of every step."""

    @fast_jit
    def run(key):
        state, ts = jax.vmap(env.reset)(jax.random.split(key, num_envs))

        def body(state, _):
            state, ts = jax.vmap(env.step)(state, jnp.zeros((num_envs,), jnp.int32))
            return state, (ts.observation[:, 0], ts.extras["next_obs"][:, 0])

        _, (obs, next_obs) = jax.lax.scan(body, state, None, num_steps)
        return jnp.concatenate([ts.observation[None, :, 0], obs]), next_obs

    return [np.asarray(x) for x in run(jax.random.key(0))]


def test_each_env_restarts_from_its_own_first_state():
    obs, next_obs = play(FirstStateAutoReset(Drift(), next_obs_in_extras=True), 4, 3 * EPISODE)
    starts = obs[0]
    assert len(np.unique(starts)) == 4  # Every env has its own start.
    for t in range(1, 3 * EPISODE + 1):
        expected = starts + (t % EPISODE)  # Back at the first start after every episode.
        np.testing.assert_allclose(obs[t], expected, rtol=1e-6)
        # The episode's last observation is kept, as jumanji's wrapper keeps it.
        np.testing.assert_allclose(next_obs[t - 1], starts + ((t - 1) % EPISODE + 1), rtol=1e-6)


def test_jumanjis_wrapper_draws_fresh_starts_where_the_first_state_rule_does_not():
    fresh, _ = play(AutoResetWrapper(Drift(), next_obs_in_extras=True), 4, EPISODE)
    first, _ = play(FirstStateAutoReset(Drift(), next_obs_in_extras=True), 4, EPISODE)
    np.testing.assert_array_equal(fresh[0], first[0])  # The same first starts (same keys).
    assert np.all(np.abs(fresh[EPISODE] - fresh[0]) > 1e-6)  # New starts after the episode.
    np.testing.assert_allclose(first[EPISODE], first[0], rtol=1e-6)


def test_the_trainers_auto_reset_field_picks_the_wrapper_and_names_itself_when_wrong():
    assert isinstance(auto_reset(Drift(), "first_state"), FirstStateAutoReset)
    assert type(auto_reset(Drift())) is AutoResetWrapper
    config = ppo.default_config()
    config.update(num_envs=2, num_steps=4, total_timesteps=16, num_minibatches=1)
    config.auto_reset = "first_state"
    assert isinstance(ppo.make_trainer(config, Drift()).env, FirstStateAutoReset)
    config.auto_reset = "brax"
    with pytest.raises(ValueError, match="config.auto_reset"):
        ppo.make_trainer(config, Drift())
    # The multi-agent trainers read the same field.
    config = mappo.default_config("ippo")
    config.update(num_envs=2, num_steps=4, total_timesteps=16, num_minibatches=1)
    config.auto_reset = "first_state"
    assert isinstance(mappo.make_trainer(config, AsMultiAgent(Drift())).env, FirstStateAutoReset)
