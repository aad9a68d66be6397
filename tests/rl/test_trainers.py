"""PPO and A2C trainers: jit, vmap over seeds, determinism, no retracing, runner, config checks."""

import functools
import types

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jumanji import specs

from jaxml import envs
from jaxml.rl import a2c, on_policy, ppo, trpo
from jaxml.utils import runner

NUM_UPDATES = 4
TINY = dict(
    num_envs=4,
    num_steps=8,
    total_timesteps=4 * 8 * NUM_UPDATES,
    update_epochs=2,
    num_minibatches=2,
    hidden=(16, 16),
)


def tiny_ppo_config():
    config = ppo.default_config()
    config.update(TINY)
    return config


def cartpole():
    return envs.make("gymnax/CartPole-v1")


def assert_trees_equal(a, b):
    chex.assert_trees_all_equal(jax.device_get(a), jax.device_get(b))


@pytest.fixture(scope="module")
def single_run():
    key = jax.random.PRNGKey(3)
    return key, jax.jit(ppo.make_train(tiny_ppo_config(), cartpole()))(key)


def test_train_runs_and_reports(single_run):
    _, out = single_run
    assert set(out.metrics) >= {
        "loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
        "episode_return", "episode_length", "episodes", "env_steps",
    }  # fmt: skip
    for name, values in out.metrics.items():
        assert values.shape == (NUM_UPDATES,), name
        assert np.all(np.isfinite(values)), name
    np.testing.assert_array_equal(out.metrics["env_steps"], 32 * np.arange(1, NUM_UPDATES + 1))
    assert int(out.state.update) == NUM_UPDATES
    # Separate actor and critic parameters (an NPG actor and an Adam critic can split them).
    params = out.state.params["params"]
    assert set(params) == {"actor", "critic"}
    assert set(params["actor"]) == {"torso", "policy_head"}
    assert set(params["critic"]) == {"torso", "value_head"}


def test_vmap_over_seeds_same_key_same_result(single_run):
    key, out = single_run
    train = ppo.make_train(tiny_ppo_config(), cartpole())
    keys = jnp.stack([key, key, jax.random.PRNGKey(4)])
    runs = jax.jit(jax.vmap(train))(keys)
    assert runs.metrics["loss"].shape == (3, NUM_UPDATES)
    # The same key gives identical results: nothing but the key makes a run random ...
    row = lambda tree, i: jax.tree.map(lambda x: x[i], tree)  # noqa: E731
    assert_trees_equal(row(runs, 0), row(runs, 1))
    # ... seed 0 of the vmapped run is the single run (up to batched-matmul rounding) ...
    chex.assert_trees_all_close(row(runs.state.params, 0), out.state.params, rtol=1e-4, atol=1e-5)
    # ... and another key trains differently.
    kernels = runs.state.params["params"]["actor"]["policy_head"]["kernel"]
    assert not np.allclose(kernels[0], kernels[2])


def test_runner_drives_step_traced_once_and_resumes(single_run, tmp_path):
    key, out = single_run
    trainer = ppo.make_trainer(tiny_ppo_config(), cartpole())
    traces = []

    def step(state):
        traces.append(1)
        return trainer.step(state)

    fast = dict(chunk_size=2, workdir=tmp_path, tensorboard=False, progress_bar=False)
    result = runner.run(step, trainer.init(key), num_steps=NUM_UPDATES, **fast)
    # Two jitted chunks of two scanned steps: one trace of step, and the carry types are stable.
    assert len(traces) == 1
    assert [row["step"] for row in result.history] == [2, 4]
    # Chunked training is train(key), bit for bit.
    assert_trees_equal(result.carry, out.state)
    np.testing.assert_allclose(
        result.history[-1]["loss"], np.mean(out.metrics["loss"][2:]), rtol=1e-6
    )
    # The whole TrainState checkpoints and restores exactly (what a resume continues from).
    resumed = runner.run(step, trainer.init(key), num_steps=NUM_UPDATES, resume=True, **fast)
    assert_trees_equal(resumed.carry, out.state)
    assert len(traces) == 1  # Nothing left to run, nothing traced.


def test_a2c_takes_one_gradient_step_on_the_whole_rollout():
    config = a2c.default_config()
    config.update(num_envs=4, num_steps=5, total_timesteps=4 * 5 * 3, hidden=(16,))
    trainer = a2c.make_trainer(config, cartpole())
    state = trainer.init(jax.random.PRNGKey(0))
    new_state, metrics = jax.jit(trainer.step)(state)

    @jax.jit
    def by_hand(state):  # Collect with the step's rollout key, then one RMSprop step.
        _, key_rollout, _ = jax.random.split(state.key, 3)
        _, batch = on_policy.collect(
            state.params, state.rollout, key_rollout, env=trainer.env, model=trainer.model,
            num_steps=5, gamma=config.gamma, gae_lambda=1.0, bootstrap_truncated=True,
        )  # fmt: skip
        flat = jax.tree.map(lambda x: x.reshape((20,) + x.shape[2:]), batch)
        loss_fn = functools.partial(a2c.objective, model=trainer.model, config=config)
        grads, _ = jax.grad(loss_fn, has_aux=True)(state.params, flat)
        updates, _ = trainer.optimizer.update(grads, state.opt_state, state.params)
        return optax.apply_updates(state.params, updates)

    chex.assert_trees_all_close(new_state.params, by_hand(state), rtol=1e-5, atol=1e-7)
    assert np.isfinite(float(metrics["loss"]))


def test_continuous_actions_train():
    config = tiny_ppo_config()
    out = jax.jit(ppo.make_train(config, envs.make("gymnax/Pendulum-v1")))(jax.random.PRNGKey(0))
    assert all(np.all(np.isfinite(v)) for v in out.metrics.values())
    assert out.state.params["params"]["actor"]["log_std"].shape == (1,)


@pytest.mark.parametrize("module", [ppo, trpo], ids=["ppo", "trpo"])
def test_tanh_squashed_actions_train_inside_the_bounds(module):
    config = module.default_config()
    config.update(num_envs=4, num_steps=32, total_timesteps=4 * 32 * 3, action_squash="tanh")
    trainer = module.make_trainer(config, envs.make("gymnax/Pendulum-v1"))
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    step = jax.jit(trainer.step)
    for _ in range(3):  # PPO's ratio and TRPO's KL both re-evaluate stored pre-squash actions.
        state, metrics = step(state)
        assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
    policy, _ = trainer.model.apply(state.params, jnp.zeros((64, 3)))
    actions = np.asarray(policy.sample(seed=jax.random.PRNGKey(1)))
    assert np.all(np.abs(actions) < 2.0) and actions.std() > 0  # Pendulum's torque in (-2, 2).


def test_tanh_squash_on_an_unbounded_spec_names_the_field():
    config = tiny_ppo_config()
    config.action_squash = "tanh"
    env = types.SimpleNamespace(action_spec=specs.Array((2,), jnp.float32))
    with pytest.raises(ValueError, match="config.action_squash: 'tanh' needs a BoundedArray"):
        on_policy.make_model(config, env)


@pytest.mark.parametrize(
    "field, value",
    [
        ("num_envs", 0),
        ("num_steps", -3),
        ("total_timesteps", 16),
        ("num_minibatches", 3),
        ("update_epochs", -1),
        ("gamma", 1.5),
        ("gae_lambda", -0.1),
        ("learning_rate", 0.0),
        ("max_grad_norm", 0.0),
        ("optimizer", "lbfgs"),
        ("activation", "softsign"),
        ("hidden", ()),
        ("clip_eps", 0.0),
        ("ent_coef", -0.01),
    ],
)
def test_bad_config_names_the_field(field, value):
    config = tiny_ppo_config()
    with config.unlocked():
        config[field] = value
    with pytest.raises(ValueError, match=f"config.{field}"):
        ppo.make_trainer(config, cartpole())


def test_a2c_rejects_epochs():
    config = a2c.default_config()
    config.update_epochs = 2
    with pytest.raises(ValueError, match="config.update_epochs"):
        a2c.make_trainer(config, cartpole())


def test_unsupported_action_spec_names_it():
    class MultiDiscreteEnv:
        action_spec = specs.MultiDiscreteArray(jnp.array([2, 3]), jnp.int32)

    with pytest.raises(ValueError, match="^action_spec"):
        on_policy.make_model(tiny_ppo_config(), MultiDiscreteEnv())


@pytest.mark.slow
def test_ppo_solves_cartpole():
    """PureJaxRL's default config (4 envs x 128 steps, 5e5 steps): mean return >= 450."""
    train = ppo.make_train(ppo.default_config(), cartpole())
    out = jax.jit(jax.vmap(train))(jax.random.split(jax.random.PRNGKey(0), 4))
    final = np.asarray(out.metrics["episode_return"][:, -10:]).mean(axis=1)  # [4 seeds]
    assert final.mean() >= 450, final
