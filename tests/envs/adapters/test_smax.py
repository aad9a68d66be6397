"""SMAXAdapter against raw jaxmarl SMAX: same keys and actions give the same transitions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxmarl.environments.smax import HeuristicEnemySMAX, map_name_to_scenario

from jaxml import envs
from jaxml.envs.adapters.jaxmarl import SMAXAdapter, SMAXObservation
from tests.envs.adapters import _checks
from tests.helpers import fast_jit

STEPS, BATCH = 40, 8


def raw_rollout(env, keys, key_before, actions):
    """jaxmarl's own API (dicts keyed by agent, auto-resetting ``step``) on the same inputs."""
    agents = env.agents

    def stack(tree):
        return jnp.stack([tree[a] for a in agents], axis=1)  # [B, ...] per agent -> [B, A, ...]

    def body(state, inputs):
        key, action = inputs
        act = {a: action[:, i] for i, a in enumerate(agents)}
        obs, state, rewards, dones, _ = jax.vmap(env.step)(key, state, act)
        avail = jax.vmap(env.get_avail_actions)(state)
        return state, (stack(obs), obs["world_state"], stack(avail), stack(rewards),
                       stack(dones), dones["__all__"])  # fmt: skip

    @fast_jit
    def run(keys, key_before, actions):
        obs0, state = jax.vmap(env.reset)(_checks.reset_keys(keys))
        return stack(obs0), jax.lax.scan(body, state, (key_before, actions))[1]

    with jax.numpy_rank_promotion("allow"):  # jaxmarl broadcasts ranks implicitly.
        return run(keys, key_before, actions)


@pytest.fixture(scope="module")
def rollouts():
    env = envs.make("jaxmarl/SMAX")
    assert isinstance(env, SMAXAdapter) and env.agents == ("ally_0", "ally_1", "ally_2")
    key_reset, key_act = jax.random.split(jax.random.key(0))
    keys = jax.random.split(key_reset, BATCH)
    actions = _checks.random_actions(env.action_spec, key_act, (STEPS, BATCH))
    rollout = _checks.make_rollout(env)
    ours = rollout(keys, actions)
    raw_env = HeuristicEnemySMAX(scenario=map_name_to_scenario("3m"), max_steps=100)
    raw = raw_rollout(raw_env, keys, ours.key_before, actions)
    return env, rollout, actions, ours, raw


def test_matches_raw_smax_under_jit_and_vmap(rollouts):
    env, rollout, actions, ours, (obs0, raw) = rollouts
    obs, world_state, avail, reward, agent_done, done = raw
    ts = ours.timestep
    assert isinstance(ts.observation, SMAXObservation)
    assert ts.observation.agents_view.shape == (STEPS, BATCH, 3, 75)
    assert ts.reward.shape == ts.discount.shape == (STEPS, BATCH, 3)
    np.testing.assert_allclose(ours.first.observation.agents_view, obs0, rtol=1e-6)

    mask = _checks.first_episode(ts.step_type)
    # jaxmarl's step returns the next episode's observation on the last step; compare the
    # observations before it, and rewards and dones up to and including it.
    before_last = mask & ~np.asarray(ts.last())
    next_obs = ts.extras["next_obs"]
    _checks.assert_close_where(before_last, next_obs.agents_view, obs)
    _checks.assert_close_where(before_last, next_obs.world_state, world_state)
    _checks.assert_close_where(before_last, next_obs.action_mask, np.asarray(avail, bool))
    _checks.assert_close_where(mask, ts.reward, reward)
    _checks.assert_close_where(mask, ts.extras["agent_dead"], agent_done)
    np.testing.assert_array_equal(np.asarray(ts.last())[mask], np.asarray(done)[mask])
    # The heuristic enemy beats random allies inside 40 steps: terminations, all allies dead.
    term = _checks.terminated(ts)
    assert term[mask].sum() >= BATCH // 2 and not _checks.truncated(ts).any()
    assert np.asarray(ts.extras["agent_dead"])[term].all()

    _checks.validate_specs(env, ours, actions)
    # New keys and actions reuse the compiled rollout: the adapter's step traces once.
    rollout(jax.random.split(jax.random.key(1), BATCH), actions[::-1])


def test_termination_and_truncation_on_built_states():
    env = SMAXAdapter("3m", max_steps=10)
    step = fast_jit(env.step)
    state, _ = fast_jit(env.reset)(jax.random.key(0))
    noop = jnp.full((3,), 4, jnp.int32)  # Action 4 is "stop" for every unit.
    smax = state.env_state.state

    # Time limit with both teams alive: truncation, discount 1. (jaxmarl tests the limit on
    # the step counter before incrementing it, so an episode has max_steps + 1 transitions.)
    late = state.replace(env_state=state.env_state.replace(state=smax.replace(step=10)))
    _, ts = step(late, noop)
    assert ts.last() and np.all(ts.discount == 1.0)

    # Every enemy dead: termination (the allies won), discount 0, the win bonus paid.
    dead = np.arange(6) >= 3
    won = smax.replace(
        unit_health=jnp.where(dead, 0.0, smax.unit_health), unit_alive=jnp.asarray(~dead)
    )
    _, ts = step(state.replace(env_state=state.env_state.replace(state=won)), noop)
    assert ts.last() and np.all(ts.discount == 0.0) and np.all(ts.reward >= 1.0)

    # Neither: a MID step.
    _, ts = step(state, noop)
    assert ts.mid() and np.all(ts.discount == 1.0)


def test_self_play_pads_action_masks():
    # 5 allies (6 enemies to shoot + 5 moves = 11 actions) against 6 enemies (10 actions).
    env = SMAXAdapter("5m_vs_6m", heuristic_enemy=False)
    assert env.agents == tuple([f"ally_{i}" for i in range(5)] + [f"enemy_{i}" for i in range(6)])
    np.testing.assert_array_equal(env.action_spec.num_values, [11] * 5 + [10] * 6)
    state, ts = fast_jit(env.reset)(jax.random.key(2))
    # The adapter's state holds the raw SMAX state: jaxmarl's own masks and observations of it.
    with jax.numpy_rank_promotion("allow"):  # jaxmarl broadcasts ranks implicitly.
        avail = env.jaxmarl_env.get_avail_actions(state.env_state)
        obs = env.jaxmarl_env.get_obs(state.env_state)
    mask = np.asarray(ts.observation.action_mask)
    assert mask.shape == (11, 11)
    for i, agent in enumerate(env.agents):
        n = int(env.action_spec.num_values[i])
        np.testing.assert_array_equal(mask[i, :n], np.asarray(avail[agent], bool))
        assert not mask[i, n:].any()
        np.testing.assert_allclose(ts.observation.agents_view[i], obs[agent], rtol=1e-6)
    env.observation_spec.validate(ts.observation)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"scenario": "4m"}, "scenario"),
        ({"max_steps": 0}, "max_steps"),
        ({"heuristic_enemy": "yes"}, "heuristic_enemy"),
        ({"env_kwargs": {"num_marines": 3}}, "env_kwargs"),
        ({"env_kwargs": {"action_type": "continuous"}}, "env_kwargs"),
        ({"env_kwargs": {"max_steps": 5}}, "env_kwargs"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SMAXAdapter(**kwargs)
