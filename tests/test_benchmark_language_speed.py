"""benchmarks/language_speed.py at tiny sizes: the rows run, every step's timestep is consumed."""

import functools

import jax
import numpy as np
import pytest

from benchmarks import language_speed
from jaxml import envs
from tests.helpers import fast_jit


def select(done, new, old):
    """``new`` where the env is ``done`` [B], else ``old`` (leaves [B, ...])."""
    return np.where(done.reshape(done.shape + (1,) * (np.ndim(old) - 1)), new, old)


def reference_total(make_env, num_envs: int, num_steps: int, key) -> float:
    """The consumed rollout's checksum, stepped from Python with numpy sums of every leaf."""
    env = make_env()
    sample = jax.vmap(lambda k: envs.sample_action(env.action_spec, k))
    reset = jax.jit(jax.vmap(env.reset))
    step = jax.jit(jax.vmap(env.step))
    key_reset, key = jax.random.split(key)
    state, timestep = reset(jax.random.split(key_reset, num_envs))

    def total(ts):
        leaves = jax.tree.leaves(ts.observation) + [ts.reward]
        return sum(float(np.sum(np.asarray(x, np.float64))) for x in leaves)

    out = total(timestep)
    for _ in range(num_steps):
        key, key_act = jax.random.split(key)
        action = sample(jax.random.split(key_act, num_envs))
        state, timestep = step(state, action)
        done = np.asarray(timestep.last())
        if done.any():  # Auto-reset: the finished envs show their next first observation.
            key_next = jax.vmap(lambda k: jax.random.split(k)[0])(state.key)
            fresh, first = reset(key_next)
            pick = functools.partial(select, done)
            state = jax.tree.map(pick, fresh, state)
            timestep = timestep.replace(
                observation=jax.tree.map(pick, first.observation, timestep.observation)
            )
        out += total(timestep)
    return out


@pytest.mark.parametrize("game", ["ForagingScoreG-v0", "ForagingTemporalG-v0"])
def test_rollout_checksum_adds_every_observation_and_reward(game):
    make_env = lambda: envs.make(game)  # noqa: E731
    num_envs, num_steps = 3, 12  # ScoreG's horizon is 10: auto-reset happens.
    init, run = language_speed.consumed_rollout(make_env)(num_envs, num_steps)
    key = jax.random.PRNGKey(4)
    carry = run(init(key))
    expected = reference_total(make_env, num_envs, num_steps, key)
    np.testing.assert_allclose(float(carry[2]), expected, rtol=1e-5)
    # The steps did add to the total (not just the reset's observation).
    assert abs(expected - float(init(key)[2])) > 1.0


def test_env_table_rows_and_ratios():
    with jax.numpy_rank_promotion("allow"):  # jumanji's LevelBasedForaging broadcasts ranks.
        rows = language_speed.env_table(num_envs=4, num_steps=3, repeats=3, jit=fast_jit)
    names = [row["name"] for row in rows]
    assert "ForagingScoreG-v0" in names and "ForagingTemporalG-v0" in names
    rates = {row["name"]: row["steps_per_s"] for row in rows}
    for row in rows:
        assert np.isfinite(row["steps_per_s"]) and row["steps_per_s"] > 0
        if row["peer"]:
            assert row["peer"].startswith("LevelBasedForaging 5x5")
            assert row["ratio"] == pytest.approx(rates[row["name"]] / rates[row["peer"]])
            # Every repetition's paired ratio bounds the ratio of the medians (p_r >= m t_r for
            # every r gives median p >= m median t).
            assert row["ratio_min"] <= row["ratio"] * (1 + 1e-9)
            assert row["ratio"] <= row["ratio_max"] * (1 + 1e-9)


def test_null_game_keeps_scoreg_specs():
    game = envs.make("ForagingScoreG-v0")
    null = language_speed.NullGame(game)
    state, timestep = jax.jit(null.reset)(jax.random.PRNGKey(0))
    game.observation_spec.validate(timestep.observation)
    action = envs.sample_action(null.action_spec, jax.random.PRNGKey(1))
    for _ in range(game.horizon):
        state, timestep = jax.jit(null.step)(state, action)
    assert bool(timestep.last())  # Episodes end at the game's horizon.


@pytest.mark.slow
def test_train_row_runs_a_tiny_population(capsys):
    row = language_speed.train_row(
        population_size=4, num_envs=8, num_steps=4, rounds=1, agent="cpu", repeats=1
    )
    assert row["pairs_per_round"] == 2
    assert row["train_steps_per_s"] > 0 and row["random_steps_per_s"] > 0
    assert row["member_param_and_adam_bytes"] > 0
    language_speed.print_train(row)
    assert "per member" in capsys.readouterr().out
