"""On-policy trainers take any optimizer of jaxml.optim's registry by name (config.optimizer)."""

import jax
import numpy as np
import optax
import pytest

from jaxml import envs, optim
from jaxml.rl import on_policy, ppo

TINY = dict(num_envs=4, num_steps=8, total_timesteps=4 * 8 * 3, update_epochs=1,
            num_minibatches=2, hidden=(8,))  # fmt: skip


def tiny(optimizer, **kwargs):
    config = ppo.default_config()
    config.update(TINY, optimizer=optimizer, optimizer_kwargs=kwargs)
    return config


@pytest.mark.parametrize("name", ["rank1", "sophia", "adamw", "sgd"])
def test_ppo_trains_with_a_registry_optimizer(name):
    out = jax.jit(ppo.make_train(tiny(name), envs.make("gymnax/CartPole-v1")))(
        jax.random.PRNGKey(0)
    )
    for metric, values in out.metrics.items():
        assert np.all(np.isfinite(values)), (name, metric)
    # Every update moved the parameters.
    assert float(out.metrics["loss"][-1]) != float(out.metrics["loss"][0])


def test_registry_optimizer_is_the_one_jaxml_optim_builds():
    """rank1 through the trainer equals optim.make("rank1") after the same clip on one step."""
    config = tiny("rank1", damping=1e-2)
    sizes = on_policy.derive_sizes(config)
    config.anneal_lr = False
    tx = on_policy.make_optimizer(config, sizes)
    reference = optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optim.make("rank1", learning_rate=config.learning_rate, damping=1e-2),
    )
    params = {"w": np.arange(6.0, dtype=np.float32).reshape(2, 3)}
    grads = {"w": np.full((2, 3), 0.3, np.float32)}
    got, _ = tx.update(grads, tx.init(params), params, obj_fn=lambda p: 0.0)
    want, _ = reference.update(grads, reference.init(params), params)
    np.testing.assert_allclose(got["w"], want["w"], rtol=1e-6)


@pytest.mark.parametrize("kwargs", [{}, {"eps": 1e-8}])
def test_adam_takes_its_keywords_from_optimizer_kwargs(kwargs):
    """adam is PureJaxRL's (eps 1e-5) unless optimizer_kwargs overrides it (brax's eps 1e-8)."""
    config = tiny("adam", **kwargs)
    config.update(anneal_lr=False, max_grad_norm=None)
    tx = on_policy.make_optimizer(config, on_policy.derive_sizes(config))
    reference = optax.adam(config.learning_rate, eps=kwargs.get("eps", 1e-5))
    params = {"w": np.zeros((2, 3), np.float32)}
    # A tiny gradient, where eps dominates the step's size.
    grads = {"w": np.full((2, 3), 1e-6, np.float32)}
    got, _ = tx.update(grads, tx.init(params), params)
    want, _ = reference.update(grads, reference.init(params), params)
    np.testing.assert_allclose(got["w"], want["w"], rtol=1e-6)


def learning_rates(config, num_grad_steps):
    """The rate of each gradient step: SGD's update of a unit gradient is −lr."""
    tx = on_policy.make_optimizer(config, on_policy.derive_sizes(config))
    params = {"w": np.zeros((), np.float32)}
    state, rates = tx.init(params), []
    for _ in range(num_grad_steps):
        update, state = tx.update({"w": np.ones((), np.float32)}, state, params)
        rates.append(-float(update["w"]))
    return np.array(rates)


def test_anneal_span_places_the_run_inside_a_longer_decay():
    config = tiny("sgd")
    config.max_grad_norm = None
    sizes = on_policy.derive_sizes(config)  # 3 updates of 2 gradient steps.
    k = np.arange(6) // sizes.grad_steps_per_update
    np.testing.assert_allclose(
        learning_rates(config, 6), config.learning_rate * (1 - k / 3), rtol=1e-6
    )
    config.anneal_span = (2, 7)
    np.testing.assert_allclose(
        learning_rates(config, 6), config.learning_rate * (1 - (2 + k) / 7), rtol=1e-6
    )


@pytest.mark.parametrize("span", [(5, 7), (-1, 4), (0, 2), (0.0, 3), 3])
def test_anneal_span_that_does_not_hold_the_run_is_refused(span):
    config = tiny("adam")
    config.anneal_span = span  # The run has 3 updates.
    with pytest.raises(ValueError, match="config.anneal_span"):
        on_policy.derive_sizes(config)
