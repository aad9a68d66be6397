"""SAC's brax options (``jaxml.rl.sac``): observation normalisation, reward scaling, the critic's
kernel init and policy warm-up, each checked by a property that fails without it."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from jumanji import specs
from jumanji.wrappers import Wrapper
from scipy import stats

from jaxml import envs, rl
from jaxml.rl import sac
from jaxml.utils.trainer import make_train
from tests.rl.test_sac import tiny_config
from tests.utils.offpolicy_double import ConstantRewardEnv

SCALE, SHIFT = np.array([4.0, 0.5, 2.0]), np.array([1.0, -1.0, 0.5])


class AffineObservation(Wrapper):
    """Pendulum with each observation feature mapped to ``SCALE·obs + SHIFT``."""

    def _map(self, timestep):
        return timestep.replace(observation=timestep.observation * SCALE + SHIFT)

    def reset(self, key):
        state, timestep = self._env.reset(key)
        return state, self._map(timestep)

    def step(self, state, action):
        state, timestep = self._env.step(state, action)
        return state, self._map(timestep)


class DictObservation(Wrapper):
    """An env whose observation is a dict (normalisation takes one float array only)."""

    @property
    def observation_spec(self):
        return specs.Spec(dict, "Obs", x=self._env.observation_spec)


def pendulum(affine: bool):
    env = envs.make("gymnax/Pendulum-v1")
    return AffineObservation(env) if affine else env


def train(config, env, seed=0):
    trainer = sac.make_trainer(config, env)
    out = jax.jit(make_train(trainer))(jax.random.PRNGKey(seed))
    return trainer, out.state


def test_the_defaults_keep_the_papers_setting():
    config = sac.default_config()
    assert config.normalize_observations is False
    assert config.reward_scale == 1.0
    assert config.critic_kernel_init == "lecun_normal"
    assert config.warmup_actions == "uniform"
    _, state = train(tiny_config(total_timesteps=2 * 3), pendulum(False))
    assert state.normalizer is None


def invariance_config(**overrides):
    return tiny_config(
        num_envs=16, buffer_size=512, batch_size=32, total_timesteps=16 * 12, learning_starts=32,
        eval_episodes=2, eval_max_steps=50, **overrides,
    )  # fmt: skip


def test_normalised_training_is_invariant_to_an_affine_map_of_the_observations():
    # Standardising by running moments removes any per-feature scale and shift, so with
    # normalisation the two runs act, learn and evaluate identically up to float rounding
    # (16 envs keep every feature's spread far above the moments' prior weight of 1e-4);
    # without it they do not. The policy, the critics' buffer inputs and evaluate must all
    # apply it for this to hold.
    config = invariance_config(normalize_observations=True)
    trainer, plain = train(config, pendulum(False))
    affine_trainer, mapped = train(config, pendulum(True))
    chex.assert_trees_all_close(mapped.actor_params, plain.actor_params, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mapped.normalizer.obs.mean, plain.normalizer.obs.mean * SCALE
                               + SHIFT, rtol=1e-4, atol=1e-4)  # fmt: skip
    np.testing.assert_allclose(
        jax.jit(affine_trainer.evaluate)(mapped)["eval_return"],
        jax.jit(trainer.evaluate)(plain)["eval_return"], rtol=1e-4,
    )  # fmt: skip
    # The buffer keeps the raw observations, the moments are those of every one acted from.
    raw = np.asarray(mapped.buffer.experience.obs[0, : config.total_timesteps], np.float64)
    np.testing.assert_allclose(raw.mean(0), mapped.normalizer.obs.mean, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(raw.var(0), mapped.normalizer.obs.var, rtol=1e-3, atol=1e-4)
    # rl.evaluate with the state's normaliser is what trainer.evaluate plays.
    direct = rl.evaluate(
        trainer.model, plain.actor_params, jax.random.fold_in(plain.key, 0x5EED),
        plain.normalizer, env=pendulum(False), num_episodes=2, max_steps=50,
    )  # fmt: skip
    np.testing.assert_allclose(
        jnp.mean(direct.returns), jax.jit(trainer.evaluate)(plain)["eval_return"], rtol=1e-6
    )


def test_without_normalisation_an_affine_map_changes_what_is_learned():
    # The invariance above is not trivially true.
    config = invariance_config(normalize_observations=False)
    _, plain = train(config, pendulum(False))
    _, mapped = train(config, pendulum(True))
    diff = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), plain.actor_params,
                        mapped.actor_params)  # fmt: skip
    assert max(jax.tree.leaves(diff)) > 1e-3  # ~6e-3 here; ~2e-7 with normalisation.


def test_reward_scale_scales_the_learned_q():
    # Reward 1 forever, truncated every 5 steps, α ≈ 0, γ = ½: Q = c / (1 − γ) = 2c.
    config = tiny_config(
        total_timesteps=2 * 500, gamma=0.5, learning_starts=20, autotune=False,
        init_alpha=1e-6, critic_learning_rate=3e-3, tau=0.05, reward_scale=3.0,
    )  # fmt: skip
    _, state = train(config, ConstantRewardEnv(horizon=5, discrete=False))
    items = state.buffer.experience
    np.testing.assert_allclose(np.asarray(items.reward), 1.0)  # Raw rewards stored.
    q = sac.TwinQ((16,)).apply(state.critic_params, items.obs[0], items.action[0])
    np.testing.assert_allclose(np.mean(q), 6.0, atol=0.15)


@pytest.mark.parametrize("name", ["lecun_uniform", "lecun_normal"])
def test_critic_kernel_init(name):
    params = sac.TwinQ((512, 512), kernel_init=name).init(
        jax.random.PRNGKey(0), jnp.zeros((1, 7)), jnp.zeros((1, 1))
    )
    w = np.asarray(params["params"]["q0_1"]["kernel"])  # fan-in 512.
    # Both have variance 1 / fan_in; only the uniform one is bounded by sqrt(3 / fan_in).
    np.testing.assert_allclose(w.var(), 1 / 512, rtol=0.05)
    bounded = np.max(np.abs(w)) <= np.sqrt(3 / 512)
    assert bounded == (name == "lecun_uniform")


@pytest.mark.parametrize("mode", ["uniform", "policy"])
def test_warm_up_actions(mode):
    # Uniform warm-up fills [-2, 2] evenly; the initial tanh-Gaussian actor (mean ≈ 0,
    # std ≈ softplus(0)) puts far fewer actions near the bounds.
    config = tiny_config(
        num_envs=50, total_timesteps=50 * 8, learning_starts=50 * 8, buffer_size=400,
        warmup_actions=mode,
    )  # fmt: skip
    _, state = train(config, pendulum(False))
    actions = np.asarray(state.buffer.experience.action[0, :, 0])
    p = stats.kstest(actions, stats.uniform(-2, 4).cdf).pvalue
    assert (p > 1e-3) == (mode == "uniform"), p


def test_bad_option_values_raise_naming_them():
    env = pendulum(False)
    for field, value, match in [
        ("normalize_observations", 1, "config.normalize_observations: expected True or False"),
        ("reward_scale", 0.0, "config.reward_scale"),
        ("critic_kernel_init", "xavier", "config.critic_kernel_init"),
        ("warmup_actions", "random", "config.warmup_actions"),
    ]:
        # A fresh ConfigDict: an existing one already refuses a value of the wrong type.
        config = ml_collections.ConfigDict({**tiny_config().to_dict(), field: value})
        with pytest.raises(ValueError, match=match):
            sac.make_trainer(config, env)
    with pytest.raises(ValueError, match="config.normalize_observations: expected False"):
        sac.make_trainer(tiny_config(normalize_observations=True), DictObservation(env))
