"""SAC (``jaxml.rl.sac``): the tanh-Gaussian log-probability and soft target against numpy, the
temperature gradient's sign, exact Polyak targets, warm-up, truncation bootstrapping, vmapped
seeds, and learning Pendulum."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxml import envs, rl
from jaxml.rl import sac
from jaxml.utils.trainer import make_train
from tests.helpers import eval_return_before_and_after
from tests.utils.offpolicy_double import ConstantRewardEnv


def tiny_config(**overrides):
    config = sac.default_config()
    config.update(
        num_envs=2, total_timesteps=2 * 20, buffer_size=256, batch_size=8, learning_starts=10,
        actor_hidden=(16,), critic_hidden=(16,), eval_episodes=0,
    )  # fmt: skip
    config.update(overrides)
    return config


def pendulum_config(total_timesteps: int):
    """Pendulum at a size 2 CPU cores train in seconds: 64-64 networks, lr 10⁻³."""
    return tiny_config(
        total_timesteps=total_timesteps, num_envs=1, buffer_size=total_timesteps,
        batch_size=256, learning_starts=1000, actor_hidden=(64, 64), critic_hidden=(64, 64),
        actor_learning_rate=1e-3, critic_learning_rate=1e-3, alpha_learning_rate=1e-3,
        eval_episodes=8, eval_max_steps=200,
    )  # fmt: skip


def test_soft_target_with_the_squashed_log_prob_matches_numpy():
    low, high = (-2.0, 0.0), (2.0, 1.0)
    actor = sac.SACActor(low, high, hidden=(8,))
    obs = jax.random.normal(jax.random.PRNGKey(0), (5, 3))
    params = actor.init(jax.random.PRNGKey(1), obs)
    dist, _ = actor.apply(params, obs)
    key = jax.random.PRNGKey(2)
    action, log_prob = sac.sample_and_log_prob(dist, key)
    # The same key draws the same pre-squash u from the Gaussian.
    u = np.asarray(dist.distribution.sample(seed=key), np.float64)
    loc = np.asarray(dist.distribution.loc, np.float64)
    scale = np.asarray(dist.distribution.scale_diag, np.float64)
    lo, hi = np.array(low), np.array(high)
    np.testing.assert_allclose(action, lo + (hi - lo) * (np.tanh(u) + 1) / 2, rtol=1e-5, atol=1e-6)
    # log π(a) = log N(u; μ, σ) − Σ log |da/du|, da/du = (high − low)/2 · (1 − tanh² u).
    want = stats.norm.logpdf(u, loc, scale).sum(-1) - np.sum(
        np.log((hi - lo) / 2 * (1 - np.tanh(u) ** 2)), axis=-1
    )
    np.testing.assert_allclose(log_prob, want, rtol=1e-4, atol=1e-4)
    # The soft target r + γ·d·(min(Q1, Q2) − α·log π), d = 1 at a truncation, 0 at a termination.
    rng = np.random.default_rng(0)
    r, d, q = rng.normal(size=5), np.array([1.0, 0, 1, 1, 0]), rng.normal(size=(2, 5))
    got = sac.soft_q_target(jnp.asarray(r), jnp.asarray(d), jnp.asarray(q), log_prob, 0.2, 0.9)
    np.testing.assert_allclose(got, r + 0.9 * d * (q.min(0) - 0.2 * want), rtol=1e-4, atol=1e-4)


def test_temperature_gradient_sign():
    target_entropy = -1.0
    grad = jax.grad(sac.alpha_loss)
    # Entropy −E[log π] = −1.5 below the target −1: the gradient is negative, descent raises α.
    low_entropy = jnp.full((4,), 1.5)
    assert float(grad(jnp.log(0.3), low_entropy, target_entropy)) < 0
    # Entropy 0.5 above the target: α falls.
    assert float(grad(jnp.log(0.3), jnp.full((4,), -0.5), target_entropy)) > 0
    # d/d log α of −α·(log π + H̄) is −α·(log π + H̄).
    np.testing.assert_allclose(grad(jnp.log(0.3), low_entropy, target_entropy), -0.3 * 0.5,
                               rtol=1e-6)  # fmt: skip


def test_warm_up_then_exact_polyak_targets():
    config = tiny_config(learning_starts=10, tau=0.1)
    trainer = sac.make_trainer(config, envs.make("gymnax/Pendulum-v1"))
    step = jax.jit(trainer.step)
    state = trainer.init(jax.random.PRNGKey(0))
    first = state
    for i in range(7):
        previous = state
        state, metrics = step(state)
        if (i + 1) * config.num_envs < config.learning_starts:  # Random actions, no updates.
            chex.assert_trees_all_equal(
                (state.actor_params, state.critic_params, state.log_alpha),
                (first.actor_params, first.critic_params, first.log_alpha),
            )
            assert float(metrics["critic_loss"]) == 0.0
            continue
        # One update: the targets are exactly τ·critic + (1 − τ)·old targets.
        chex.assert_trees_all_close(
            state.target_critic_params,
            jax.tree.map(lambda c, t: 0.1 * c + 0.9 * t, state.critic_params,
                         previous.target_critic_params),
            rtol=1e-6, atol=1e-7,
        )  # fmt: skip
        assert not np.allclose(state.log_alpha, previous.log_alpha)  # α is learned.
    assert float(metrics["critic_loss"]) > 0
    # Warm-up actions are uniform over [-2, 2] (the actor's initial samples are not stored).
    stored = np.asarray(state.buffer.experience.action[0, : config.learning_starts, 0])
    assert np.all(np.abs(stored) <= 2.0)


def test_truncation_is_bootstrapped_not_terminal():
    # Reward 1 forever, truncated every 5 steps, α ≈ 0: Q = 1 / (1 − γ) = 2 at γ = ½; treating
    # the truncation as terminal would give 1 / (1 − γ·4/5) = 5/3.
    config = tiny_config(
        total_timesteps=2 * 500, gamma=0.5, learning_starts=20, autotune=False,
        init_alpha=1e-6, critic_learning_rate=3e-3, tau=0.05,
    )  # fmt: skip
    trainer = sac.make_trainer(config, ConstantRewardEnv(horizon=5, discrete=False))
    out = jax.jit(make_train(trainer))(jax.random.PRNGKey(0))
    items = out.state.buffer.experience
    assert np.all(np.asarray(items.discount) == 1.0)
    # Q of the stored (observation, action) pairs: the actions the critic was trained on.
    q = sac.TwinQ((16,)).apply(out.state.critic_params, items.obs[0], items.action[0])
    np.testing.assert_allclose(np.mean(q), 2.0, atol=0.05)


@pytest.mark.slow  # 3 compiles; the conformance suite checks the same by default.
def test_vmapped_seeds_equal_seeds_run_one_by_one():
    trainer = sac.make_trainer(tiny_config(), envs.make("gymnax/Pendulum-v1"))
    keys = jax.random.split(jax.random.PRNGKey(3), 2)
    train = make_train(trainer)
    both = jax.jit(jax.vmap(train))(keys)
    for i in range(2):
        one = jax.jit(train)(keys[i])
        chex.assert_trees_all_close(
            jax.tree.map(lambda x, i=i: x[i], both.state.actor_params), one.state.actor_params,
            rtol=1e-4, atol=1e-6,
        )  # fmt: skip


def test_bad_config_and_env_raise_naming_them():
    with pytest.raises(ValueError, match="config.tau: expected a value in"):
        sac.make_trainer(tiny_config(tau=0.0), envs.make("gymnax/Pendulum-v1"))
    with pytest.raises(ValueError, match="config.learning_starts: expected an integer >= 0"):
        sac.make_trainer(tiny_config(learning_starts=-1), envs.make("gymnax/Pendulum-v1"))
    with pytest.raises(ValueError, match="env.action_spec: expected a float BoundedArray"):
        sac.make_trainer(tiny_config(), envs.make("gymnax/CartPole-v1"))
    with pytest.raises(ValueError, match="config.actor_learning_rate: missing"):
        config = tiny_config()
        del config["actor_learning_rate"]
        sac.make_trainer(config, envs.make("gymnax/Pendulum-v1"))
    assert rl.default_config("sac").to_dict() == sac.default_config().to_dict()
    assert "sac" in rl.names("off_policy") and "sac" not in rl.names()


def mean_action_return(config, seeds):
    return eval_return_before_and_after(
        sac.make_trainer(config, envs.make("gymnax/Pendulum-v1")), seeds
    )


def test_sac_improves_on_pendulum_in_a_short_budget():
    config = pendulum_config(3_000)
    config.learning_starts = 500
    before, after = mean_action_return(config, seeds=1)
    assert after[0] > before[0] + 300, (before, after)


@pytest.mark.slow
def test_sac_learns_pendulum():
    _, after = mean_action_return(pendulum_config(12_000), seeds=3)
    assert np.mean(after) >= -250, after
