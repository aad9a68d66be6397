"""Running observation and reward normalisation: moments, a rollout against numpy, training."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import envs
from jaxml.rl import auto_reset, normalization, ppo, reset, rollout
from jaxml.rl.normalization import CLIP, EPSILON, INITIAL_COUNT, RunningMoments
from tests.rl.test_rollout import random_policy

NUM_ENVS, NUM_STEPS, MAX_STEPS, GAMMA = 4, 40, 12, 0.9


def test_moments_of_chunks_equal_numpy_of_all():
    data = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 3)).astype(np.float32)
    moments = RunningMoments(jnp.zeros(3), jnp.zeros(3), jnp.zeros(()))  # No prior.
    for chunk in np.split(data, [7, 20, 21]):
        moments = normalization.update_moments(moments, chunk)
    np.testing.assert_allclose(moments.mean, data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(moments.var, data.var(0), rtol=1e-4)
    assert float(moments.count) == 50


def reference(raw_obs, reward, done):
    """numpy's normalisation of a raw CartPole stream: obs [T+1, B, 4] (reset first), reward and
    done [T, B]. Returns the standardised obs [T+1, B, 4] and the scaled rewards [T, B]."""
    obs_seen, returns_seen = [], []
    standardized, scaled = [], []
    discounted = np.zeros(raw_obs.shape[1])

    def moments(seen, prior_shape):  # The prior (mean 0, var 1, weight 1e-4), then the data.
        data = np.concatenate(seen).astype(np.float64)
        n = len(data)
        total = INITIAL_COUNT + n
        mean = data.mean(0) * n / total
        m2 = INITIAL_COUNT * np.ones(prior_shape) + data.var(0) * n
        m2 += data.mean(0) ** 2 * INITIAL_COUNT * n / total
        return mean, m2 / total

    for t in range(raw_obs.shape[0]):
        obs_seen.append(raw_obs[t])
        mean, var = moments(obs_seen, (4,))
        standardized.append(np.clip((raw_obs[t] - mean) / np.sqrt(var + EPSILON), -CLIP, CLIP))
        if t < reward.shape[0]:
            discounted = GAMMA * discounted + reward[t]
            returns_seen.append(discounted)
            _, ret_var = moments(returns_seen, ())
            scaled.append(np.clip(reward[t] / np.sqrt(ret_var + EPSILON), -CLIP, CLIP))
            discounted = np.where(done[t], 0.0, discounted)
    return np.stack(standardized), np.stack(scaled)


@pytest.fixture(scope="module")
def paired_rollouts():
    """The same keys with and without normalisation (the random policy ignores observations)."""
    env = auto_reset(envs.make("gymnax/CartPole-v1", max_steps_in_episode=MAX_STEPS))
    out = []
    for on in (False, True):
        state = reset(
            env,
            jax.random.PRNGKey(0),
            NUM_ENVS,
            normalize_observations=on,
            normalize_rewards=on,
            gamma=GAMMA,
        )
        run = jax.jit(functools.partial(rollout, env, random_policy, None, num_steps=NUM_STEPS))
        out.append((state, *jax.device_get(run(state, jax.random.PRNGKey(1)))))
    return out


def test_rollout_matches_numpy_reference(paired_rollouts):
    (raw_start, raw_end, raw), (start, end, traj) = paired_rollouts
    assert raw_start.normalizer is None and start.normalizer is not None
    raw_obs = np.concatenate([raw.obs, raw_end.obs[None]])  # Reset obs, then each step's.
    want_obs, want_reward = reference(raw_obs, raw.reward, raw.done)
    np.testing.assert_allclose(start.obs, want_obs[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(traj.obs, want_obs[:-1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(end.obs, want_obs[-1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(traj.reward, want_reward, rtol=1e-4)
    # Episode statistics keep the raw rewards; dones and discounts are untouched.
    np.testing.assert_array_equal(
        end.episodes.returned_episode_return, raw_end.episodes.returned_episode_return
    )
    np.testing.assert_array_equal(traj.done, raw.done)
    np.testing.assert_array_equal(traj.discount, raw.discount)


def test_final_observations_use_current_moments(paired_rollouts):
    """An episode's final observation is standardised by the moments of its step, not added."""
    (_, _, raw), (_, end, traj) = paired_rollouts
    assert raw.done.any()
    moments = end.normalizer.obs
    # The last step's final observations, with the end-of-rollout moments (that step's).
    want = np.clip((raw.next_obs[-1] - moments.mean) / np.sqrt(moments.var + EPSILON), -CLIP, CLIP)
    np.testing.assert_allclose(traj.next_obs[-1], want, rtol=1e-5, atol=1e-6)
    assert float(moments.count) == pytest.approx(INITIAL_COUNT + (NUM_STEPS + 1) * NUM_ENVS)


def test_non_float_leaves_pass_through():
    obs = {"x": jnp.arange(6.0).reshape(3, 2), "mask": jnp.ones((3, 2), bool)}
    normalizer = normalization.init(obs, (3,), observations=True, rewards=False, gamma=0.99)
    assert normalizer.obs["mask"] is None and normalizer.returns is None
    normalizer, out = normalization.observe(normalizer, obs)
    np.testing.assert_array_equal(out["mask"], obs["mask"])
    assert abs(float(out["x"].mean())) < 1e-3
    assert normalization.init(obs, (3,), observations=False, rewards=False, gamma=0.9) is None


def test_ppo_with_normalisation_trains_and_reports_raw_returns():
    """Pendulum rewards are about -1..-16 a step: raw episode returns stay in the thousands."""
    config = ppo.default_config()
    config.update(
        num_envs=8, total_timesteps=8 * 128 * 8, normalize_observations=True, normalize_rewards=True
    )
    train = jax.jit(ppo.make_train(config, envs.make("gymnax/Pendulum-v1")))
    out = train(jax.random.PRNGKey(0))
    returns = np.asarray(out.metrics["episode_return"])
    assert np.isfinite(returns).all() and returns[-1] < -300
    normalizer = out.state.rollout.normalizer
    assert float(normalizer.returns.var) > 1.0  # Discounted returns of -100s: scaled down.
    assert np.isfinite(np.asarray(out.metrics["loss"])).all()


def test_interrupted_run_resumes_to_the_uninterrupted_statistics(tmp_path):
    """The normalizer is part of the checkpointed state: stop after 2 of 4 updates, resume."""
    from jaxml.utils import runner

    config = ppo.default_config()
    config.update(
        num_envs=4,
        num_steps=8,
        total_timesteps=4 * 8 * 4,
        hidden=(16, 16),
        normalize_observations=True,
        normalize_rewards=True,
    )
    trainer = ppo.make_trainer(config, envs.make("gymnax/CartPole-v1"))
    key = jax.random.PRNGKey(5)

    def run(workdir, num_steps, resume=False):
        fast = dict(chunk_size=2, tensorboard=False, progress_bar=False, resume=resume)
        out = runner.run(
            trainer.step, trainer.init(key), num_steps=num_steps, workdir=workdir, **fast
        )
        return jax.device_get(out.carry)

    whole = run(tmp_path / "whole", 4)
    run(tmp_path / "cut", 2)  # "Killed" after 2 updates ...
    resumed = run(tmp_path / "cut", 4, resume=True)  # ... and started again.
    jax.tree.map(np.testing.assert_array_equal, resumed, whole)
    moments = resumed.rollout.normalizer.obs
    assert float(moments.count) == pytest.approx(INITIAL_COUNT + 4 * (1 + 4 * 8))
    # train(key) in one scan: the same statistics (to float rounding of another program).
    one_scan = jax.jit(ppo.make_train(config, envs.make("gymnax/CartPole-v1")))(key).state
    np.testing.assert_allclose(moments.mean, one_scan.rollout.normalizer.obs.mean, rtol=1e-5)


def _two_rollouts(**normalization_kwargs):
    """Two random-policy rollouts of CartPole on fixed keys: ``(states [3], trajs [2])``."""
    env = auto_reset(envs.make("gymnax/CartPole-v1", max_steps_in_episode=MAX_STEPS))
    state = reset(env, jax.random.PRNGKey(0), NUM_ENVS, gamma=GAMMA, **normalization_kwargs)
    run = jax.jit(functools.partial(rollout, env, random_policy, None, num_steps=NUM_STEPS))
    states, trajs = [state], []
    for i in range(2):
        state, traj = run(state, jax.random.PRNGKey(1 + i))
        states.append(state)
        trajs.append(traj)
    return jax.device_get(states), jax.device_get(trajs)


def test_rollout_mode_freezes_moments_through_a_rollout_and_commits_at_its_end():
    """brax's PPO: one set of statistics per rollout, merged when it ends; the first rollout is
    standardised by the prior (mean 0, variance 1). The random policy ignores observations, so
    the unnormalised run on the same keys gives the raw observations."""
    raw_states, raw = _two_rollouts()
    states, trajs = _two_rollouts(normalize_observations=True, obs_update="rollout")
    # Raw observations in the order the statistics see them: reset, then each step's new one.
    seen = [raw[0].obs[0]] + [raw[0].obs[t] for t in range(1, NUM_STEPS)]
    seen += [raw_states[1].obs] + [raw[1].obs[t] for t in range(1, NUM_STEPS)]
    seen += [raw_states[2].obs]

    def standardised(moments, x):
        return np.clip((x - moments.mean) / np.sqrt(moments.var + EPSILON), -CLIP, CLIP)

    for k in (0, 1):
        # Rollout k's new observations are standardised by the moments committed before it; its
        # first, carried over from the step before, by the moments that step used.
        moments = states[k].normalizer.obs
        np.testing.assert_allclose(
            trajs[k].obs[1:], standardised(moments, raw[k].obs[1:]), rtol=1e-4, atol=1e-5
        )
        before = states[max(k - 1, 0)].normalizer.obs
        np.testing.assert_allclose(
            trajs[k].obs[0], standardised(before, raw[k].obs[0]), rtol=1e-4, atol=1e-5
        )
    assert np.abs(trajs[1].obs[1:] - raw[1].obs[1:]).max() > 0.1  # Not the identity any more.
    np.testing.assert_array_equal(states[0].normalizer.obs.mean, 0.0)
    np.testing.assert_array_equal(states[0].normalizer.obs.var, 1.0)
    for k in (1, 2):
        # After rollout k: the prior pooled with every raw observation seen so far (numpy).
        data = np.concatenate(seen[: 1 + k * NUM_STEPS]).astype(np.float64)
        n = len(data)
        total = INITIAL_COUNT + n
        mean = data.mean(0) * n / total
        m2 = INITIAL_COUNT + data.var(0) * n + data.mean(0) ** 2 * INITIAL_COUNT * n / total
        moments = states[k].normalizer.obs
        np.testing.assert_allclose(moments.mean, mean, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(moments.var, m2 / total, rtol=1e-4, atol=1e-6)
        assert float(moments.count) == pytest.approx(total)
        assert float(states[k].normalizer.pending_obs.count) == 0.0


def test_step_and_rollout_modes_end_a_rollout_with_the_same_moments():
    """The two modes see the same observations; only when they take them in differs."""
    step_states, _ = _two_rollouts(normalize_observations=True)
    states, _ = _two_rollouts(normalize_observations=True, obs_update="rollout")
    for a, b in zip(step_states[1:], states[1:], strict=True):
        np.testing.assert_allclose(
            a.normalizer.obs.mean, b.normalizer.obs.mean, rtol=1e-4, atol=1e-6
        )
        np.testing.assert_allclose(a.normalizer.obs.var, b.normalizer.obs.var, rtol=1e-4)
    assert step_states[1].normalizer.pending_obs is None


def test_ppo_takes_the_normalizer_update_field():
    config = ppo.default_config("continuous")
    config.update(num_envs=4, num_steps=8, total_timesteps=64, num_minibatches=2)
    env = envs.make("gymnax/Pendulum-v1")
    config.normalizer_update = "rollout"
    out = jax.jit(ppo.make_train(config, env))(jax.random.PRNGKey(0))
    normalizer = out.state.rollout.normalizer
    # Two rollouts of 4 x 8 and the 4 reset observations, all committed.
    assert float(normalizer.obs.count) == pytest.approx(INITIAL_COUNT + 4 + 2 * 4 * 8)
    config.normalizer_update = "batch"
    with pytest.raises(ValueError, match="config.normalizer_update"):
        ppo.make_train(config, env)
    with pytest.raises(ValueError, match="obs_update"):
        normalization.init(jnp.zeros((2, 3)), (2,), observations=True, rewards=False,
                           gamma=0.9, obs_update="episode")  # fmt: skip
