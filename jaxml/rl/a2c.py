"""Advantage actor-critic (A2C), the synchronous variant of A3C, end to end in JAX.

Mnih, Badia, Mirza, Graves, Lillicrap, Harley, Silver, Kavukcuoglu. "Asynchronous Methods for
Deep Reinforcement Learning", arXiv 1602.01783. Advantages are n-step returns minus values: GAE
(arXiv 1506.02438) with λ = 1 over a rollout of ``T = num_steps`` steps, bootstrapped from the
value after the last step. Each rollout gives exactly one gradient step on the whole batch
(``update_epochs = num_minibatches = 1``).

Everything but the loss is PPO's machinery (``on_policy``): rollout, GAE, init, metrics.
Defaults follow Stable-Baselines3's A2C (RMSprop, lr 7e-4, 5 steps, λ = 1, no entropy bonus)
with 8 environments::

    train = a2c.make_train(a2c.default_config(), envs.make("gymnax/CartPole-v1"))
    out = jax.jit(train)(jax.random.PRNGKey(0))
"""

from __future__ import annotations

from typing import Any

import jax
import ml_collections
from jumanji.env import Environment

from jaxml.models.actor_critic import ActorCritic
from jaxml.rl import on_policy
from jaxml.rl.losses import a2c_loss
from jaxml.rl.on_policy import Batch, Metrics, OnPolicyTrainer, TrainOutput


def default_config() -> ml_collections.ConfigDict:
    """A2C on CartPole-v1: 8 envs x 5 steps, RMSprop 7e-4, λ = 1, 5e5 steps."""
    config = on_policy.base_config()
    config.update(
        num_envs=8,
        num_steps=5,
        update_epochs=1,
        num_minibatches=1,
        learning_rate=7e-4,
        anneal_lr=False,
        optimizer="rmsprop",
        gae_lambda=1.0,
    )
    config.ent_coef = 0.0
    config.vf_coef = 0.5
    config.normalize_advantages = False
    return config


def objective(
    params: Any,
    minibatch: Batch,
    *,
    model: ActorCritic,
    config: ml_collections.ConfigDict,
) -> tuple[jax.Array, Metrics]:
    """A2C's loss on a flat batch ``[N]`` (``losses.a2c_loss`` on the network's outputs)."""
    t = minibatch.transitions
    policy, value, advantages = on_policy.minibatch_outputs(
        model, params, minibatch, config.normalize_advantages
    )
    return a2c_loss(
        policy.log_prob(t.action),
        advantages,
        value,
        minibatch.targets,
        policy.entropy(),
        vf_coef=config.vf_coef,
        ent_coef=config.ent_coef,
    )


def make_trainer(config: ml_collections.ConfigDict, env: Environment) -> OnPolicyTrainer:
    """A2C's ``init(key)`` and ``step(state) -> (state, metrics)`` for ``env``.

    Raises:
      ValueError: naming the config field that is out of range (A2C takes exactly one gradient
        step per rollout, so ``update_epochs`` and ``num_minibatches`` must be 1).
    """
    for field in ("update_epochs", "num_minibatches"):
        if config[field] != 1:
            raise ValueError(f"config.{field}: A2C takes one step per rollout; must be 1")
    for field in ("vf_coef", "ent_coef"):
        if field not in config or not config[field] >= 0:
            raise ValueError(f"config.{field}: expected >= 0, got {config.get(field)!r}")

    def a2c_objective(params, minibatch, *, model):
        return objective(params, minibatch, model=model, config=config)

    return on_policy.make_sgd_trainer(config, env, a2c_objective)


def make_train(config: ml_collections.ConfigDict, env: Environment):
    """The pure ``train(key) -> TrainOutput`` (final state, metrics ``[num_updates]``)."""
    return on_policy.make_train(make_trainer(config, env))


__all__ = ["TrainOutput", "default_config", "make_train", "make_trainer", "objective"]
