"""NPG-rank1: the actor step equals the dense Sherman–Morrison solve, jit/vmap/determinism,
config checks, and (slow) learning CartPole-v1."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxml import envs
from jaxml.rl import npg, on_policy

NUM_UPDATES = 3
TINY = dict(num_envs=4, num_steps=16, total_timesteps=4 * 16 * NUM_UPDATES, hidden=(4,),
            update_epochs=1, num_minibatches=2)  # fmt: skip


def tiny_config(**overrides):
    config = npg.default_config()
    config.update({**TINY, **overrides})
    return config


def cartpole():
    return envs.make("gymnax/CartPole-v1")


def rollout_batch(config, key=0):
    trainer = npg.make_trainer(config, cartpole())
    state = trainer.init(jax.random.PRNGKey(key))
    collect = jax.jit(functools.partial(
        on_policy.collect, env=trainer.env, model=trainer.model, num_steps=config.num_steps,
        gamma=config.gamma, gae_lambda=config.gae_lambda, bootstrap_truncated=True,
    ))  # fmt: skip
    _, batch = collect(state.params, state.rollout, jax.random.PRNGKey(key + 1))
    return trainer, state, on_policy.flat_batch(batch)


def dense_references(trainer, params, flat):
    """Flat ``g = ∇(−mean(log π · Â))`` and every per-sample score ``[N, d]``, computed directly."""
    actor = on_policy.actor_params(params)
    flat_actor, unravel = ravel_pytree(actor)
    adv = (flat.advantages - flat.advantages.mean()) / (flat.advantages.std() + 1e-8)

    def log_probs(theta):
        full = on_policy.with_subtree(params, "actor", unravel(theta))
        policy, _ = trainer.model.apply(full, flat.transitions.obs)
        return policy.log_prob(flat.transitions.action)

    g = jax.grad(lambda th: -jnp.mean(log_probs(th) * adv))(flat_actor)
    scores = jax.jacobian(log_probs)(flat_actor)
    return np.asarray(g, np.float64), np.asarray(scores, np.float64), flat_actor, unravel


@pytest.mark.parametrize("kind", npg.FISHER_VECTORS)
def test_actor_step_is_the_dense_sherman_morrison_solve(kind):
    config = tiny_config(fisher_vector=kind, damping=0.05, actor_learning_rate=0.3)
    trainer, state, flat = rollout_batch(config)
    _, actor_part, _ = npg.make_optimizers(config, on_policy.derive_sizes(config))
    params, opt_state, metrics = jax.jit(
        functools.partial(npg.actor_step, model=trainer.model, optimizer=actor_part, config=config)
    )(state.params, state.opt_state, flat, jax.random.PRNGKey(7))
    # The critic and its Adam state stay where they were.
    chex.assert_trees_all_equal(params["params"]["critic"], state.params["params"]["critic"])
    chex.assert_trees_all_equal(
        opt_state.inner_states["critic"], state.opt_state.inner_states["critic"]
    )
    g, scores, theta, _ = dense_references(trainer, state.params, flat)
    if kind == "single_sample":
        index = int(metrics["fisher_index"])
        assert 0 <= index < flat.advantages.shape[0]
        v = scores[index]
    else:
        v = scores.mean(axis=0)
    fisher = config.damping * np.eye(len(g)) + np.outer(v, v)
    expected = np.asarray(theta, np.float64) - config.actor_learning_rate * np.linalg.solve(
        fisher, g
    )
    got = np.asarray(ravel_pytree(on_policy.actor_params(params))[0], np.float64)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    # The rank-1 term matters: plain gradient descent at lr α/λ is a different step.
    plain = np.asarray(theta) - config.actor_learning_rate / config.damping * g
    assert not np.allclose(got, plain, rtol=1e-4, atol=1e-6)


def test_different_keys_sample_different_pairs():
    config = tiny_config()
    trainer, state, flat = rollout_batch(config)
    sample = lambda key: npg.fisher_vector(
        state.params, flat, key, model=trainer.model, kind="single_sample"
    )[1]
    indices = set(np.asarray(jax.jit(jax.vmap(sample))(jax.random.split(jax.random.PRNGKey(0), 8))))
    assert len(indices) > 1


def test_kl_radius_sets_the_quadratic_kl():
    config = tiny_config(kl_radius=0.01, actor_learning_rate=1.0, damping=0.05)
    trainer, state, flat = rollout_batch(config)
    _, actor_part, _ = npg.make_optimizers(config, on_policy.derive_sizes(config))
    params, _, metrics = npg.actor_step(
        state.params, state.opt_state, flat, jax.random.PRNGKey(7),
        model=trainer.model, optimizer=actor_part, config=config,
    )  # fmt: skip
    g, scores, theta, _ = dense_references(trainer, state.params, flat)
    v = scores[int(metrics["fisher_index"])]
    actor = on_policy.actor_params(params)
    step = np.asarray(ravel_pytree(actor)[0], np.float64) - np.asarray(theta, np.float64)
    quad = 0.5 * step @ (config.damping * step + v * (v @ step))
    np.testing.assert_allclose(quad, 0.01, rtol=1e-3)


def test_max_step_kl_backtracks_the_step_to_the_measured_kl():
    """A step that breaks ε (α = 5) is halved to the first fraction with KL ≤ ε; the one
    before it broke ε; the direction is the unguarded step's."""
    config = tiny_config(actor_learning_rate=5.0)
    trainer, state, flat = rollout_batch(config)
    _, actor_part, _ = npg.make_optimizers(config, on_policy.derive_sizes(config))
    step = functools.partial(
        npg.actor_step, state.params, state.opt_state, flat, jax.random.PRNGKey(7),
        model=trainer.model, optimizer=actor_part,
    )  # fmt: skip
    free, _, free_metrics = step(config=config)
    eps = 0.1 * float(free_metrics["kl"])
    guarded, _, metrics = step(config=tiny_config(actor_learning_rate=5.0, max_step_kl=eps))
    fraction = float(metrics["step_fraction"])
    assert 0 < fraction < 1
    theta = ravel_pytree(on_policy.actor_params(state.params))[0]
    full = ravel_pytree(on_policy.actor_params(free))[0] - theta
    np.testing.assert_allclose(
        ravel_pytree(on_policy.actor_params(guarded))[0], theta + fraction * full, atol=1e-6
    )
    _, unravel = ravel_pytree(on_policy.actor_params(state.params))

    def kl_at(f):
        actor = unravel(theta + f * full)
        new = on_policy.with_subtree(state.params, "actor", actor)
        return float(on_policy.policy_kl(trainer.model, state.params, new, flat.transitions.obs))

    assert kl_at(fraction) <= eps * (1 + 1e-4) and kl_at(2 * fraction) > eps
    np.testing.assert_allclose(float(metrics["kl"]), kl_at(fraction), rtol=1e-4)


@pytest.fixture(scope="module")
def single_run():
    key = jax.random.PRNGKey(3)
    return key, jax.jit(npg.make_train(tiny_config(), cartpole()))(key)


def test_train_jits_and_reports(single_run):
    _, out = single_run
    assert set(out.metrics) >= {"policy_loss", "value_loss", "kl", "entropy", "episode_return",
                                "fisher_index", "env_steps"}  # fmt: skip
    for name, values in out.metrics.items():
        assert values.shape == (NUM_UPDATES,), name
        assert np.all(np.isfinite(values)), name


def test_each_group_of_the_partition_steps_at_its_own_rate(single_run):
    # One rank-1 step of the actor and epochs x minibatches Adam steps of the critic per update:
    # neither group's state moves while the other one steps.
    _, out = single_run
    inner = out.state.opt_state.inner_states
    assert int(inner["actor"].inner_state[0].count) == NUM_UPDATES
    adam = inner["critic"].inner_state[-1][0]  # chain(clip, adam): adam's ScaleByAdamState.
    assert int(adam.count) == NUM_UPDATES * TINY["update_epochs"] * TINY["num_minibatches"]
    assert not jax.tree.leaves(adam.mu["params"]["actor"])  # MaskedNodes: no actor moments.


def test_vmap_over_seeds_same_key_same_result(single_run):
    key, out = single_run
    keys = jnp.stack([key, key, jax.random.PRNGKey(4)])
    runs = jax.jit(jax.vmap(npg.make_train(tiny_config(), cartpole())))(keys)
    row = lambda tree, i: jax.tree.map(lambda x: x[i], tree)
    chex.assert_trees_all_equal(jax.device_get(row(runs, 0)), jax.device_get(row(runs, 1)))
    chex.assert_trees_all_close(row(runs.state.params, 0), out.state.params, rtol=1e-4, atol=1e-5)
    kernels = runs.state.params["params"]["actor"]["policy_head"]["kernel"]
    assert not np.allclose(kernels[0], kernels[2])


@pytest.mark.parametrize(
    "field, value",
    [("damping", 0.0), ("actor_learning_rate", -1.0), ("kl_radius", -0.1), ("max_step_kl", 0.0),
     ("fisher_vector", "advantage_weighted"), ("ent_coef", -1.0), ("shared_torso", True),
     ("num_envs", 0)],
)  # fmt: skip
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"config.{field}"):
        npg.make_trainer(tiny_config(**{field: value}), cartpole())


@pytest.mark.slow
def test_npg_rank1_learns_cartpole():
    # Measured 2026-11-25 (2-core CPU): 2e5 steps, 2 seeds, ~16 s; last-5-update mean ~476.
    config = npg.default_config()
    config.total_timesteps = 200_000
    out = jax.jit(jax.vmap(npg.make_train(config, cartpole())))(
        jax.random.split(jax.random.PRNGKey(0), 2)
    )
    returns = np.asarray(out.metrics["episode_return"])[:, -5:].mean(axis=1)
    assert np.all(returns >= 200), returns
