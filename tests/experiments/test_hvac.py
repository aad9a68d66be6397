"""The HVAC study's pieces: the transfer matrix against a loop, the fixed controller's metrics
against a hand-run episode, tasks kept per member through auto-resets, the claims' arithmetic,
and bad configs (the whole run is the registry's smoke test)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.hvac import config as hvac_config
from experiments.hvac import grid, main
from jaxml import rl
from jaxml.envs.hvac import HVAC, KeepTaskAutoReset
from jaxml.utils.cli import build_config
from jaxml.utils.config import ConfigError
from jaxml.utils.trainer import member_grid


def test_transfer_matrix_and_gain_against_loops():
    rng = np.random.default_rng(0)
    grid_values = rng.normal(size=(6, 3, 2))  # 6 members, 3 targets, 2 metrics.
    climates = np.array([0, 0, 1, 1, 2, 2])
    m = grid.transfer_matrix(grid_values, climates, range(3), metric=1)
    for s in range(3):
        for t in range(3):
            expected = np.mean([grid_values[i, t, 1] for i in range(6) if climates[i] == s])
            assert m[s, t] == pytest.approx(expected)
    gain = grid.transfer_regret(m)
    for s in range(3):
        others = [t for t in range(3) if t != s]
        assert gain[s] == pytest.approx(np.mean([m[s, t] - m[t, t] for t in others]))
    with pytest.raises(ValueError, match="member_climates"):
        grid.transfer_matrix(grid_values, climates, range(4))
    with pytest.raises(ValueError, match="matrix"):
        grid.transfer_regret(np.zeros((2, 3)))


def test_settings_are_climate_major():
    s = grid.settings([0, 2], [0.1, 0.9])
    assert s["climate"].tolist() == [0, 0, 2, 2]
    assert np.allclose(s["weight"], [0.1, 0.9, 0.1, 0.9])


def test_fixed_controller_metrics_match_a_hand_run_episode():
    """evaluate_grid of the fixed set points against the env stepped by hand with the same keys
    (rl.evaluate's scheme: episode keys split off fold_in(key, city), each split into reset and
    action keys), and the reward's mean is its parts' weighted means (it is linear in them)."""
    env = HVAC(climates=("london", "singapore"), episode_steps=6)
    weights = np.array([0.1, 0.7], np.float32)
    key = jax.random.PRNGKey(3)
    out = np.asarray(grid.evaluate_grid(grid.fixed_policy(2), env, weights, [0, 1], key,
                                        num_episodes=2))  # fmt: skip
    assert out.shape == (2, 2, len(grid.METRICS))
    action = jnp.asarray(grid.FIXED_ACTION)
    for m, w in enumerate(weights):
        for city in (0, 1):
            sums = []
            for ep_key in jax.random.split(jax.random.fold_in(key, city), 2):
                reset_key, _ = jax.random.split(ep_key)
                state, _ = env.reset_to(reset_key, city, w)
                rows = []
                for _ in range(6):
                    state, ts = env.step(state, action)
                    x = {k: float(v) for k, v in ts.extras.items()}
                    rows.append(
                        [
                            float(ts.reward),
                            x["p_ac"] + x["p_heat"],
                            x["comfort"],
                            x["t_indoor"],
                            x["t_canyon"],
                            x["t_air"],
                            x["waste_heat"],
                        ]
                    )
                sums.append(np.mean(rows, axis=0))
            np.testing.assert_allclose(out[m, city], np.mean(sums, axis=0), rtol=1e-5, atol=1e-5)
    r, energy, comfort = (out[..., grid.METRICS.index(k)] for k in ("reward", "energy", "comfort"))
    np.testing.assert_allclose(r, -weights[:, None] * energy - (1 - weights[:, None]) * comfort,
                               rtol=1e-5)  # fmt: skip


def test_metrics_reward_return_equals_rl_evaluate_return():
    env = HVAC(climates=("beijing",), episode_steps=5)
    policy = grid.fixed_policy(1)
    params = jax.tree.map(lambda x: x[0], policy.params)
    key = jax.random.PRNGKey(1)
    plain = rl.evaluate(policy.model, params, key, env=grid.TaskEnv(env, 0, 0.3),
                        num_episodes=3, max_steps=5)  # fmt: skip
    vector = rl.evaluate(policy.model, params, key,
                         env=grid.MetricsAsReward(grid.TaskEnv(env, 0, 0.3)),
                         num_episodes=3, max_steps=5)  # fmt: skip
    np.testing.assert_allclose(vector.returns[:, 0], plain.returns, rtol=1e-6)
    assert vector.returns.shape == (3, len(grid.METRICS))


def test_task_env_scales_observations_also_after_an_auto_reset():
    env = HVAC(climates=("london", "hongkong"), episode_steps=2)
    task = KeepTaskAutoReset(grid.TaskEnv(env, 1, 0.7), next_obs_in_extras=True)
    state, ts = task.reset(jax.random.PRNGKey(0))
    _, raw = env.reset_to(jax.random.PRNGKey(0), 1, 0.7)
    np.testing.assert_allclose(ts.observation, grid.scale_observation(raw.observation))
    action = jnp.asarray(grid.FIXED_ACTION)
    for _ in range(3):  # Through the truncation at step 2.
        state, ts = task.step(state, action)
        assert int(state.climate) == 1 and float(state.weight) == pytest.approx(0.7)
        # Scaled: indoor temperatures of 15-26 C map to about -0.5..0.6.
        assert abs(float(ts.observation[3])) < 1.0
        assert float(ts.observation[0]) == pytest.approx((26.0 - 30.0) / 5.0)


def test_task_trainer_members_train_in_their_own_task():
    env = HVAC(climates=("london", "newyork", "singapore"), episode_steps=3, discrete=True)
    config = rl.default_config("dqn")
    config.update(num_envs=2, total_timesteps=16, buffer_size=32, batch_size=4,
                  learning_starts=4, hidden=(8,), eval_episodes=0)  # fmt: skip
    trained = grid.task_trainer("dqn", config, env)
    settings = grid.settings([0, 2], [0.2, 0.8])
    keys, member_settings = member_grid(0, 2, settings)
    state = jax.jit(jax.vmap(trained.trainer.init))(keys, member_settings)
    step = jax.jit(jax.vmap(trained.trainer.step))
    for _ in range(5):  # Past an episode end (3 steps): the auto-reset keeps the task.
        state, metrics = step(state)
    env_state = state.inner.rollout.env_state
    assert env_state.climate.shape == (8, 2)
    np.testing.assert_array_equal(env_state.climate, np.repeat([0, 0, 0, 0, 2, 2, 2, 2], 2)
                                  .reshape(8, 2))  # fmt: skip
    np.testing.assert_allclose(env_state.weight[:, 0], member_settings["weight"])
    assert np.all(np.asarray(env_state.step_count) < 3)
    assert np.all(np.isfinite(np.asarray(metrics["episode_return"])))
    # The greedy policies in every city of the discrete env: [members, cities, metrics].
    policy = grid.trained_policy("dqn", trained, state)
    out = grid.evaluate_grid(policy, env, member_settings["weight"], [0, 1, 2],
                             jax.random.PRNGKey(2), num_episodes=1)  # fmt: skip
    assert out.shape == (8, 3, len(grid.METRICS)) and np.all(np.isfinite(np.asarray(out)))


def _tables(rewards_by_weight, regret, cities):
    n = len(cities)
    per_city = {"fixed": {"reward": [-10.0] * n}}
    per_city["sac"] = {
        "reward": list(rewards_by_weight.values())[0],
        "reward_seeds": [[r, r + 0.01] for r in list(rewards_by_weight.values())[0]],
        "d_indoor_seeds": [[i, i + 0.01] for i in range(n)],
        "d_canyon_seeds": [[0.1 * i, 0.1 * i + 0.001] for i in range(n)],
    }
    return {"per_city": per_city, "sweep": {"sac": rewards_by_weight},
            "transfer": {"sac": {"regret": regret}}}  # fmt: skip


def test_claims_follow_the_numbers():
    config = build_config(hvac_config.get_config, "quick", {})
    cities = list(config.cities)  # london, newyork, beijing, hongkong, singapore
    results = {"algos": {"sac": {}}}
    hot_high = {
        "0.1": [-9, -9, -9, -5, -5],
        "0.5": [-9, -9, -9, -5, -5],
        "0.9": [-5, -5, -5, -9, -9],
    }
    # Transfer gain rising with the T_air spread (Beijing most variable, Singapore least).
    spread = main.tair_std(cities)
    found = main.claims(config, results, _tables(hot_high, list(spread), cities))
    by_start = {c.statement.split(" ")[0]: c for c in found}
    assert by_start["SAC"].held  # -9/-5 > -10 in every city.
    hot = next(c for c in found if c.statement.startswith("hot-climate"))
    assert hot.held and "2 of 3 weights" in hot.evidence
    transfer = next(c for c in found if "transfer better" in c.statement)
    assert transfer.held and "rho = 1.00" in transfer.evidence
    differ = next(c for c in found if "differ by climate" in c.statement)
    assert differ.held
    found = main.claims(config, results, _tables({"0.1": [-5, -5, -5, -9, -9]}, list(-spread),
                                                 cities))  # fmt: skip
    assert not next(c for c in found if c.statement.startswith("hot-climate")).held
    assert not next(c for c in found if "transfer better" in c.statement).held


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cities": ("london", "paris")}, "cities"),
        ({"algos": ("sac", "td3")}, "algos"),
        ({"weights": (0.1, 1.5)}, "weights"),
        ({"base_weight": -0.1}, "base_weight"),
        ({"eval_episodes": 0}, "eval_episodes"),
        ({"trainers.sac.batch_size": 0}, r"trainers\.sac: config\.batch_size"),
        ({"trainers.ppo.num_minibatches": 7}, r"trainers\.ppo"),
    ],
)
def test_bad_config_raises_naming_the_field(overrides, field):
    config = build_config(hvac_config.get_config, "quick", overrides)
    with pytest.raises(ConfigError, match=rf"--config\.{field}"):
        main.validate(config)
    assert issubclass(ConfigError, ValueError)


def test_both_presets_validate_and_full_is_the_papers_scale():
    full = build_config(hvac_config.get_config, "full", {})
    main.validate(full)
    assert full.episode_steps == 17_520 and full.eval_episode_steps == 17_520
    assert tuple(full.cities) == ("london", "newyork", "beijing", "hongkong", "singapore")
    assert tuple(full.weights) == (0.1, 0.3, 0.5, 0.7, 0.9)
    main.validate(build_config(hvac_config.get_config, "quick", {}))


@pytest.mark.slow
def test_cost_extrapolates_the_measured_member_steps_to_the_preset():
    from experiments.hvac import cost

    rows = cost.measure("quick", members=1, timed_steps={"sac": 2, "dqn": 2, "ppo": 1})
    assert [r["algo"] for r in rows] == list(hvac_config.get_config("quick").algos)
    for r in rows:
        assert r["cpu_ms_per_member_step"] > 0 and r["wall_ms_per_member_step"] > 0
        want = r["cpu_ms_per_member_step"] * r["preset_members"] * r["preset_steps_per_member"]
        assert r["preset_cpu_hours"] == pytest.approx(want / 3.6e6)
    # quick: SAC at three weights in five cities, two seeds; PPO and DQN at one weight.
    assert {r["algo"]: r["preset_members"] for r in rows} == {"sac": 30, "ppo": 10, "dqn": 10}
