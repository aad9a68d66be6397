"""Tanh-Gaussian heads in the on-policy trainers keep pre-squash actions (as brax's PPO does):
the environment gets the squashed action, and log-probabilities, ratios and gradients stay exact
where tanh saturates (the cause of TRPO's and NPG-rank1's divergence on brax swimmer/hopper)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import envs, rl
from jaxml.rl import npg, on_policy, to_env_action, trpo

NUM_ENVS, NUM_STEPS = 4, 8
# std = softplus(−9) + 1e-3 ≈ 1.12e-3: brax's std floor, where NPG's and TRPO's runs went.
RAW_SCALE = -9.0


def tiny_config(algo):
    config = rl.default_config(algo, "continuous")
    config.update(
        num_envs=NUM_ENVS, num_steps=NUM_STEPS, total_timesteps=NUM_ENVS * NUM_STEPS * 2,
        actor_hidden=(8,), critic_hidden=(8,), update_epochs=1, num_minibatches=1,
        normalize_observations=False,
    )  # fmt: skip
    return config


def fixed_head(params, loc):
    """``params`` whose policy head outputs mean ``loc`` and std ≈ 1.12e-3 for every state."""
    head = params["params"]["actor"]["policy_head"]
    head = {"kernel": jnp.zeros_like(head["kernel"]), "bias": jnp.array([loc, RAW_SCALE])}
    actor = {**params["params"]["actor"], "policy_head": head}
    return {"params": {**params["params"], "actor": actor}}


def collect_batch(algo, loc, num_steps=NUM_STEPS):
    config = tiny_config(algo)
    trainer = rl.make_trainer(algo, config, envs.make("gymnax/Pendulum-v1"))
    state = trainer.init(jax.random.PRNGKey(0))
    params = fixed_head(state.params, loc)
    collect = jax.jit(functools.partial(
        on_policy.collect, env=trainer.env, model=trainer.model, num_steps=num_steps,
        gamma=config.gamma, gae_lambda=config.gae_lambda, bootstrap_truncated=True,
    ))  # fmt: skip
    _, batch = collect(params, state.rollout, jax.random.PRNGKey(1))
    return trainer, config, state, params, batch


def log_density64(u, loc, std, low=-2.0, high=2.0):
    """float64 log-density of Pendulum's squashed action ``2·tanh(u)`` at pre-squash ``u``."""
    u = np.asarray(u, np.float64)[..., 0]
    gauss = -0.5 * ((u - loc) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
    log_dy_du = 2 * (np.log(2) - u - np.logaddexp(0, -2 * u)) + np.log((high - low) / 2)
    return gauss - log_dy_du


def std_of_head():
    return float(np.logaddexp(0.0, RAW_SCALE) + 1e-3)


@pytest.fixture(scope="module")
def saturated():
    """A rollout of NPG's continuous head at mean 12: every u is near 12, tanh(u) = 1."""
    return collect_batch("npg", 12.0)


def test_rollout_keeps_the_pre_squash_action_and_its_exact_log_prob(saturated):
    trainer, _, _, params, batch = saturated
    t = batch.transitions
    # The kept actions are the samples u, far outside Pendulum's [-2, 2].
    assert np.all(np.abs(np.asarray(t.action) - 12.0) < 0.01)
    np.testing.assert_allclose(
        t.log_prob, log_density64(t.action, 12.0, std_of_head()), rtol=1e-5, atol=1e-3
    )
    # Re-evaluated by the trainer's forward pass: the ratio at the old parameters is 1.
    policy, _ = on_policy.forward(trainer.model, params, t.obs, 2)
    np.testing.assert_allclose(jnp.exp(policy.log_prob(t.action) - t.log_prob), 1.0, atol=1e-5)


def test_the_environment_steps_with_the_squashed_action():
    """At mean 0.5 the env must see 2·tanh(u) ≈ 0.92, not the kept u clipped (0.5)."""
    trainer, _, state, _, batch = collect_batch("npg", 0.5, num_steps=1)
    t = batch.transitions
    env_state = state.rollout.env_state
    squashed = 2.0 * jnp.tanh(t.action[0])
    _, expected = jax.vmap(trainer.env.step)(
        env_state, to_env_action(squashed, trainer.env.action_spec)
    )
    np.testing.assert_allclose(t.reward[0], expected.reward, rtol=1e-6)
    np.testing.assert_allclose(t.next_obs[0], expected.extras["next_obs"], rtol=1e-6)
    _, clipped = jax.vmap(trainer.env.step)(
        env_state, to_env_action(t.action[0], trainer.env.action_spec)
    )
    assert np.max(np.abs(np.asarray(clipped.extras["next_obs"]) - np.asarray(t.next_obs[0]))) > 1e-2


@pytest.mark.parametrize("algo", ["npg", "trpo"])
def test_policy_gradient_on_saturated_actions_is_the_analytic_one(saturated, algo):
    """d/dμ and d/d(raw std) of −mean(log π(a|s)·Â) at the old parameters, against float64
    formulas of the sampled u. Taken of the squashed actions (u read back as 7.25) the mean's
    gradient was (7.25 − 12)/σ² ≈ −4e6 per sample instead of about ±1e3 (measured: −7.7e7 and 4.0e7
    for the mean's and the std's bias, against −2.7e3 and −1.1)."""
    trainer, _, _, params, batch = saturated
    flat = on_policy.flat_batch(batch)
    adv = flat.advantages
    actor = on_policy.actor_params(params)
    if algo == "npg":
        loss = lambda a: npg.policy_loss(  # noqa: E731
            on_policy.with_subtree(params, "actor", a), flat, adv, model=trainer.model,
            ent_coef=0.0,
        )[0]  # fmt: skip
    else:
        loss = functools.partial(
            trpo.surrogate_loss, params=params, flat=flat, advantages=adv, model=trainer.model
        )
    grad = jax.grad(loss)(actor)["policy_head"]["bias"]
    u = np.asarray(flat.transitions.action, np.float64)[:, 0]
    a = np.asarray(adv, np.float64)
    std = std_of_head()
    d_loc = -np.mean(a * (u - 12.0) / std**2)
    sigmoid = 1.0 / (1.0 + np.exp(-RAW_SCALE))
    d_raw = -np.mean(a * ((u - 12.0) ** 2 / std**3 - 1.0 / std)) * sigmoid
    np.testing.assert_allclose(np.asarray(grad), [d_loc, d_raw], rtol=2e-3, atol=1e-3)


def test_trpo_accepts_a_step_on_saturated_actions(saturated):
    """With log-probabilities of the squashed actions no candidate of the line search passed
    (KL or surrogate) on this batch, so TRPO could not move the saturated policy."""
    trainer, config, _, params, batch = saturated
    config = tiny_config("trpo")
    model = rl.make_trainer("trpo", config, envs.make("gymnax/Pendulum-v1")).model
    flat = on_policy.flat_batch(batch)
    actor, metrics = trpo.actor_step(params, flat, model=model, config=config)
    assert bool(metrics["step_accepted"])
    assert 0 < float(metrics["kl"]) <= config.max_kl * (1 + 1e-4)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in metrics.values())
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(actor))
