"""TRPO: conjugate gradient vs numpy, the KL bound of an accepted step, the line search's
rejections, jit/vmap/determinism, config checks, and (slow) learning CartPole-v1."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import envs
from jaxml.rl import on_policy, trpo
from jaxml.rl._cg import conjugate_gradient

NUM_UPDATES = 3
TINY = dict(num_envs=4, num_steps=16, total_timesteps=4 * 16 * NUM_UPDATES, hidden=(8, 8),
            update_epochs=1, num_minibatches=2)  # fmt: skip


def tiny_config(**overrides):
    config = trpo.default_config()
    config.update({**TINY, **overrides})
    return config


def cartpole():
    return envs.make("gymnax/CartPole-v1")


def test_cg_solves_a_damped_spd_system_like_numpy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 5)).astype(np.float32)
    fisher = a @ a.T / 5  # Rank 5: singular without damping.
    damping = 0.1
    b = {"w": rng.normal(size=(3, 4)).astype(np.float32)}
    matvec = lambda v: {"w": ((fisher @ v["w"].ravel()) + damping * v["w"].ravel()).reshape(3, 4)}
    x = jax.jit(functools.partial(conjugate_gradient, matvec, iters=50, tol=1e-7))(b)
    expected = np.linalg.solve(fisher + damping * np.eye(12), b["w"].ravel())
    np.testing.assert_allclose(np.asarray(x["w"]).ravel(), expected, rtol=1e-4, atol=1e-4)
    # A truncated solve (2 iterations) is not the solution: the test can tell them apart.
    x2 = conjugate_gradient(matvec, b, iters=2)
    assert not np.allclose(np.asarray(x2["w"]).ravel(), expected, atol=1e-3)


def test_cg_vmaps_over_right_hand_sides():
    m = jnp.array([[3.0, 1.0], [1.0, 2.0]])
    bs = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    xs = jax.vmap(lambda b: conjugate_gradient(lambda v: m @ v, b, iters=5))(bs)
    np.testing.assert_allclose(xs, np.linalg.solve(np.asarray(m), np.asarray(bs).T).T, atol=1e-5)


def test_cg_rejects_bad_arguments():
    with pytest.raises(ValueError, match="iters"):
        conjugate_gradient(lambda v: v, jnp.ones(2), iters=0)


def rollout_batch(config, key=0):
    trainer = trpo.make_trainer(config, cartpole())
    state = trainer.init(jax.random.PRNGKey(key))
    collect = jax.jit(functools.partial(
        on_policy.collect, env=trainer.env, model=trainer.model, num_steps=config.num_steps,
        gamma=config.gamma, gae_lambda=config.gae_lambda, bootstrap_truncated=True,
    ))  # fmt: skip
    _, batch = collect(state.params, state.rollout, jax.random.PRNGKey(key + 1))
    return trainer, state, on_policy.flat_batch(batch)


@pytest.mark.parametrize("max_kl", [1e-2])
def test_accepted_step_satisfies_the_kl_bound(max_kl):
    config = tiny_config(max_kl=max_kl)
    trainer, state, flat = rollout_batch(config)
    step = jax.jit(functools.partial(trpo.actor_step, model=trainer.model, config=config))
    actor, metrics = step(state.params, flat)
    new_params = on_policy.with_subtree(state.params, "actor", actor)
    kl = float(on_policy.policy_kl(trainer.model, state.params, new_params, flat.transitions.obs))
    assert bool(metrics["step_accepted"])
    assert 0 < kl <= max_kl * (1 + 1e-4)
    # The maximal step is sized for the quadratic model: the accepted KL is near the radius.
    assert kl > 0.2 * max_kl
    np.testing.assert_allclose(kl, float(metrics["kl"]), rtol=1e-4)
    assert float(metrics["surrogate_improvement"]) > 0


def test_line_search_backtracks_past_steps_that_break_the_bound():
    # Loss −x (improves along +x), "KL" x²: the full step 4 has KL 16, 2 has 4, 1 has 1.
    loss_fn = lambda p: -p["x"]
    kl_fn = lambda p: p["x"] ** 2
    zero = {"x": jnp.zeros(())}
    search = trpo.backtracking_line_search(
        loss_fn, kl_fn, zero, {"x": jnp.array(4.0)}, max_kl=1.5, steps=5, decay=0.5
    )
    assert bool(search.accepted)
    np.testing.assert_allclose(search.fraction, 0.25)
    np.testing.assert_allclose(search.params["x"], 1.0)
    np.testing.assert_allclose(search.kl, 1.0)


def test_line_search_keeps_the_params_when_nothing_qualifies():
    loss_fn = lambda p: -p["x"]
    kl_fn = lambda p: p["x"] ** 2
    zero = {"x": jnp.zeros(())}
    # Every candidate breaks the bound (the smallest, 4 · 0.5², has KL 1 > 0.5) ...
    search = trpo.backtracking_line_search(
        loss_fn, kl_fn, zero, {"x": jnp.array(4.0)}, max_kl=0.5, steps=3, decay=0.5
    )
    assert not bool(search.accepted)
    np.testing.assert_allclose(search.params["x"], 0.0)
    # ... or none improves the loss (a step uphill).
    search = trpo.backtracking_line_search(
        loss_fn, kl_fn, zero, {"x": jnp.array(-0.5)}, max_kl=10.0, steps=3, decay=0.5
    )
    assert not bool(search.accepted)
    np.testing.assert_allclose(search.params["x"], 0.0)


@pytest.fixture(scope="module")
def single_run():
    key = jax.random.PRNGKey(3)
    return key, jax.jit(trpo.make_train(tiny_config(), cartpole()))(key)


def test_train_jits_and_reports(single_run):
    _, out = single_run
    assert set(out.metrics) >= {"policy_loss", "value_loss", "kl", "step_accepted",
                                "episode_return", "env_steps"}  # fmt: skip
    for name, values in out.metrics.items():
        assert values.shape == (NUM_UPDATES,), name
        assert np.all(np.isfinite(values)), name
    assert np.all(np.asarray(out.metrics["kl"]) <= 0.01 * (1 + 1e-4))


def test_the_critic_steps_inside_the_partition_and_the_actor_group_is_zero(single_run):
    _, out = single_run
    inner = out.state.opt_state.inner_states
    assert inner["actor"].inner_state == optax.EmptyState()  # set_to_zero: the line search steps.
    adam = inner["critic"].inner_state[-1][0]  # chain(clip, adam): adam's ScaleByAdamState.
    assert int(adam.count) == NUM_UPDATES * TINY["update_epochs"] * TINY["num_minibatches"]
    assert not jax.tree.leaves(adam.mu["params"]["actor"])  # MaskedNodes: no actor moments.


def test_critic_update_leaves_the_actor_alone():
    config = tiny_config()
    trainer, state, _ = rollout_batch(config)
    collect = functools.partial(
        on_policy.collect, env=trainer.env, model=trainer.model, num_steps=config.num_steps,
        gamma=config.gamma, gae_lambda=config.gae_lambda, bootstrap_truncated=True,
    )  # fmt: skip
    _, batch = jax.jit(collect)(state.params, state.rollout, jax.random.PRNGKey(1))
    update = functools.partial(
        on_policy.critic_update, model=trainer.model, optimizer=trainer.optimizer,
        sizes=trainer.sizes,
    )  # fmt: skip
    params, _, metrics = jax.jit(update)(
        state.params, state.opt_state, batch, jax.random.PRNGKey(2)
    )
    chex.assert_trees_all_equal(params["params"]["actor"], state.params["params"]["actor"])
    moved = jax.tree.map(
        lambda a, b: bool(jnp.any(a != b)),
        params["params"]["critic"],
        state.params["params"]["critic"],
    )
    assert all(jax.tree.leaves(moved))
    assert np.isfinite(float(metrics["value_loss"]))


def test_vmap_over_seeds_same_key_same_result(single_run):
    key, out = single_run
    keys = jnp.stack([key, key, jax.random.PRNGKey(4)])
    runs = jax.jit(jax.vmap(trpo.make_train(tiny_config(), cartpole())))(keys)
    row = lambda tree, i: jax.tree.map(lambda x: x[i], tree)
    chex.assert_trees_all_equal(jax.device_get(row(runs, 0)), jax.device_get(row(runs, 1)))
    chex.assert_trees_all_close(row(runs.state.params, 0), out.state.params, rtol=1e-4, atol=1e-5)
    kernels = runs.state.params["params"]["actor"]["policy_head"]["kernel"]
    assert not np.allclose(kernels[0], kernels[2])


@pytest.mark.parametrize(
    "field, value",
    [("max_kl", 0.0), ("cg_iters", 0), ("cg_damping", -1.0), ("line_search_steps", 0),
     ("line_search_decay", 1.0), ("shared_torso", True), ("num_minibatches", 3)],
)  # fmt: skip
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"config.{field}"):
        trpo.make_trainer(tiny_config(**{field: value}), cartpole())


@pytest.mark.slow
def test_trpo_learns_cartpole():
    # Measured 2026-11-25 (2-core CPU): 1e5 steps, 2 seeds, ~19 s; last-5-update mean ~490.
    config = trpo.default_config()
    config.total_timesteps = 100_000
    out = jax.jit(jax.vmap(trpo.make_train(config, cartpole())))(
        jax.random.split(jax.random.PRNGKey(0), 2)
    )
    returns = np.asarray(out.metrics["episode_return"])[:, -5:].mean(axis=1)
    assert np.all(returns >= 200), returns


def test_line_search_keeps_the_params_when_the_full_step_is_not_finite():
    # A CG direction with a NaN (a non-finite gradient) qualifies nowhere; the parameters must
    # stay as they were, not become p + 0·NaN.
    loss_fn = lambda p: -jnp.sum(p["x"])
    kl_fn = lambda p: jnp.sum(p["x"] ** 2)
    start = {"x": jnp.array([0.5, -1.0])}
    search = trpo.backtracking_line_search(
        loss_fn, kl_fn, start, {"x": jnp.array([jnp.nan, 1.0])}, max_kl=10.0, steps=3, decay=0.5
    )
    assert not bool(search.accepted)
    np.testing.assert_array_equal(search.params["x"], start["x"])
