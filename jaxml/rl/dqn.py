"""Deep Q-networks with double-DQN targets, end to end in JAX, on the trainer contract.

Mnih et al., "Human-level control through deep reinforcement learning" (Nature 2015); double
Q-learning targets from van Hasselt, Guez, Silver, "Deep Reinforcement Learning with Double
Q-learning", arXiv 1509.06461: the online network picks the next action, the target network
values it, ``y = r + γ·d·Q_target(s', argmax_a Q_online(s', a))``.

One trainer step: act ε-greedily in ``B = num_envs`` auto-resetting environments (ε linear from
``epsilon_start`` to ``epsilon_end`` over ``epsilon_anneal_steps`` env steps), add the ``B``
transitions to a flashbax buffer in the state, and — once ``learning_starts`` env steps are in
the buffer — take ``updates_per_step`` gradient steps on uniform minibatches (Huber or squared
TD error, rlax's ``double_q_learning``), the target network moved towards the online one by
``tau`` every ``target_update_period`` gradient steps (``tau = 1``: DQN's hard copy). ``d`` is
the env's discount, 1 at a time-limit truncation, so truncated episodes are bootstrapped.

The defaults are PureJaxRL's DQN config for CartPole-v1 (10 envs, 5·10⁵ steps, a 10⁴ buffer,
batch 128, 10⁴ warm-up steps, one update per 10 env steps, hard target copy every 500 env steps
= 50 updates, Adam 2.5·10⁻⁴, ε 1 → 0.05 over half the run, MSE, a 120-84 ReLU MLP)::

    from jaxml import envs, rl
    trainer = rl.make_trainer("dqn", None, envs.make("gymnax/CartPole-v1"))
    run = rl.run_trainer(trainer, "/tmp/dqn", num_seeds=3, num_chunks=10)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import chex
import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax
import rlax
from jumanji import specs
from jumanji.env import Environment

from jaxml.models.actor_critic import ACTIVATIONS, flatten_observation
from jaxml.rl import _replay
from jaxml.rl._replay import OffPolicyTrainer
from jaxml.rl._rollout import RolloutState, auto_reset, reset, rollout_step
from jaxml.utils import checks

LOSSES = ("mse", "huber")


def default_config() -> ml_collections.ConfigDict:
    """DQN's config at PureJaxRL's CartPole-v1 values (see the module docstring)."""
    return ml_collections.ConfigDict(
        {
            "num_envs": 10,  # B: environments stepped together; one trainer step = B env steps.
            "total_timesteps": 500_000,  # Env steps of the run (all environments).
            "buffer_size": 10_000,  # Items the replay buffer keeps (FIFO).
            "batch_size": 128,  # Items per gradient step.
            "learning_starts": 10_000,  # Env steps before the first gradient step.
            "updates_per_step": 1,  # Gradient steps per trainer step (per B env steps).
            "learning_rate": 2.5e-4,
            "max_grad_norm": None,  # Global-norm clip (None: none, as PureJaxRL).
            "gamma": 0.99,
            "tau": 1.0,  # Target update step size (1: hard copy).
            "target_update_period": 50,  # Gradient steps between target updates.
            "epsilon_start": 1.0,
            "epsilon_end": 0.05,
            "epsilon_anneal_steps": 250_000,  # Env steps of the linear ε decay.
            "double_q": True,  # Double-DQN targets (False: max over the target network).
            "loss": "mse",  # "mse" (PureJaxRL) or "huber" (Mnih et al.'s clipped error).
            "huber_delta": 1.0,
            "hidden": (120, 84),
            "activation": "relu",
            "eval_episodes": 8,  # Greedy-policy episodes per evaluation (0: no evaluate).
            "eval_max_steps": 500,
        }
    )


class QNetwork(nn.Module):
    """An MLP from a flat observation ``[..., obs_dim]`` to action values ``[..., num_actions]``.

    ``as_policy=True`` (same parameters) returns ``(Categorical over the Q-values, max Q)``
    instead: ``rl.evaluate``'s actor-critic interface, whose mode is the greedy action.
    """

    num_actions: int
    hidden: Sequence[int] = (120, 84)
    activation: str = "relu"
    as_policy: bool = False

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array | tuple[distrax.Categorical, jax.Array]:
        x = obs
        for width in self.hidden:
            x = ACTIVATIONS[self.activation](nn.Dense(width)(x))
        q = nn.Dense(self.num_actions)(x)
        if self.as_policy:
            return distrax.Categorical(logits=q), jnp.max(q, axis=-1)
        return q


def greedy_policy(q_network: QNetwork) -> QNetwork:
    """The Q-network as ``rl.evaluate``'s model (``as_policy=True``, the same parameters)."""
    return q_network.clone(as_policy=True)


class DQNState(NamedTuple):
    params: Any  # Online Q-network.
    target_params: Any  # Target Q-network.
    opt_state: Any
    rollout: RolloutState  # [B] environments.
    buffer: Any  # flashbax item-buffer state of ``_replay.Item`` ([1, buffer_size, ...]).
    key: jax.Array  # [2]
    step: jax.Array  # [] int32: trainer steps done (env steps = step · B).
    updates: jax.Array  # [] int32: gradient steps done.


def double_q_target(
    r_t: jax.Array,
    discount_t: jax.Array,
    q_t_target: jax.Array,
    q_t_online: jax.Array,
    gamma: float,
) -> jax.Array:
    """``r_t + γ·discount_t·q_t_target[argmax q_t_online]`` ``[N]`` (van Hasselt et al. 2016).

    Args:
      r_t, discount_t: ``[N]`` rewards and env discounts.
      q_t_target, q_t_online: ``[N, A]`` next-state values of the target and online networks.
    """
    chex.assert_rank([r_t, discount_t, q_t_target, q_t_online], [1, 1, 2, 2])
    best = jnp.argmax(q_t_online, axis=-1)
    return r_t + gamma * discount_t * jnp.take_along_axis(q_t_target, best[:, None], 1)[:, 0]


def td_errors(
    q_tm1: jax.Array, batch: _replay.Item, q_t_target: jax.Array, q_t_online: jax.Array,
    *, gamma: float, double_q: bool,
) -> jax.Array:  # fmt: skip
    """TD errors ``[N]`` of the taken actions: rlax's double Q-learning (or Q-learning)."""
    discount = gamma * batch.discount
    if double_q:
        fn = jax.vmap(rlax.double_q_learning)
        return fn(q_tm1, batch.action, batch.reward, discount, q_t_target, q_t_online)
    return jax.vmap(rlax.q_learning)(q_tm1, batch.action, batch.reward, discount, q_t_target)


def td_loss(errors: jax.Array, loss: str, huber_delta: float) -> jax.Array:
    """Mean of ``½·e²`` (``mse``; PureJaxRL's mean e² halved, the same minimiser) or Huber."""
    if loss == "huber":
        return jnp.mean(rlax.huber_loss(errors, huber_delta))
    return jnp.mean(rlax.l2_loss(errors))


def _check(config: ml_collections.ConfigDict, env: Environment) -> dict[str, int]:
    sizes = _replay.check_common(config, default_config(), "jaxml.rl.dqn")
    if not isinstance(env.action_spec, specs.DiscreteArray):
        raise ValueError(checks.message("env.action_spec", "a DiscreteArray", env.action_spec))
    checks.positive(config.learning_rate, "config.learning_rate")
    if config.max_grad_norm is not None:
        checks.positive(config.max_grad_norm, "config.max_grad_norm")
    sizes["target_update_period"] = checks.positive_int(
        config.target_update_period, "config.target_update_period"
    )
    checks.in_range(config.epsilon_start, "config.epsilon_start", 0.0, 1.0)
    checks.in_range(config.epsilon_end, "config.epsilon_end", 0.0, 1.0)
    sizes["epsilon_anneal_steps"] = checks.positive_int(
        config.epsilon_anneal_steps, "config.epsilon_anneal_steps"
    )
    checks.choice(config.loss, "config.loss", LOSSES)
    checks.positive(config.huber_delta, "config.huber_delta")
    checks.positive_ints(tuple(config.hidden), "config.hidden")
    checks.choice(config.activation, "config.activation", ACTIVATIONS)
    return sizes


def make_trainer(config: ml_collections.ConfigDict, env: Environment) -> OffPolicyTrainer:
    """The DQN ``Trainer`` for ``env`` (discrete actions); ``num_steps = total_timesteps // B``.

    Raises:
      ValueError: naming a missing or bad ``config.<field>``, or a non-discrete action spec.
    """
    sizes = _check(config, env)
    num_envs = sizes["num_envs"]
    eval_env = env
    env = auto_reset(env)
    q_network = QNetwork(int(env.action_spec.num_values), tuple(config.hidden), config.activation)
    optimizer = optax.adam(config.learning_rate)
    if config.max_grad_norm is not None:
        optimizer = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optimizer)
    buffer = _replay.make_buffer(
        sizes["buffer_size"], sizes["batch_size"], sizes["learning_starts"]
    )
    epsilon_fn = optax.linear_schedule(
        config.epsilon_start, config.epsilon_end, sizes["epsilon_anneal_steps"]
    )
    errors_fn = functools.partial(td_errors, gamma=config.gamma, double_q=config.double_q)

    def q_values(params, obs):
        return q_network.apply(params, flatten_observation(obs, 1))

    def policy(params, obs, key):
        params, epsilon = params
        q = q_values(params, obs)
        explore_key, action_key = jax.random.split(key)
        greedy = jnp.argmax(q, axis=-1)
        random = jax.random.randint(action_key, greedy.shape, 0, q_network.num_actions)
        explore = jax.random.uniform(explore_key, greedy.shape) < epsilon
        action = jnp.where(explore, random, greedy).astype(jnp.int32)
        zeros = jnp.zeros(action.shape, jnp.float32)
        return action, zeros, jnp.max(q, axis=-1)

    def init(key: jax.Array) -> DQNState:
        key_params, key_env, key_next = jax.random.split(key, 3)
        obs = env.observation_spec.generate_value()
        params = q_network.init(key_params, flatten_observation(obs, 0)[None])
        flat_obs = jnp.zeros_like(flatten_observation(obs, 0))
        item = _replay.Item(flat_obs, jnp.int32(0), jnp.float32(0), jnp.float32(0), flat_obs)
        return DQNState(
            params, params, optimizer.init(params), reset(env, key_env, num_envs),
            buffer.init(item), key_next, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
        )  # fmt: skip

    def loss_fn(params, target_params, batch):
        q_tm1 = q_network.apply(params, batch.obs)
        q_t_online = q_network.apply(params, batch.next_obs)
        q_t_target = q_network.apply(target_params, batch.next_obs)
        errors = errors_fn(q_tm1, batch, jax.lax.stop_gradient(q_t_target),
                           jax.lax.stop_gradient(q_t_online))  # fmt: skip
        return td_loss(errors, config.loss, config.huber_delta), jnp.mean(q_tm1)

    def update(carry, key):
        params, target_params, opt_state, buffer_state, updates = carry
        batch = _replay.sample(buffer, buffer_state, key)
        (loss, q_mean), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, target_params, batch
        )
        step_updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, step_updates)
        updates = updates + 1
        moved = _replay.polyak(params, target_params, config.tau)
        due = updates % sizes["target_update_period"] == 0
        target_params = jax.tree.map(functools.partial(jnp.where, due), moved, target_params)
        carry = (params, target_params, opt_state, buffer_state, updates)
        return carry, {"td_loss": loss, "q_mean": q_mean}

    def step(state: DQNState):
        key, act_key, update_key = jax.random.split(state.key, 3)
        epsilon = epsilon_fn(state.step * num_envs)
        rollout, transition = rollout_step(
            state.rollout, act_key, env=env, policy_fn=policy, params=(state.params, epsilon)
        )
        # Observations are stored flat, as the Q-network reads them.
        transition = transition._replace(
            obs=flatten_observation(transition.obs, 1),
            next_obs=flatten_observation(transition.next_obs, 1),
        )
        buffer_state = buffer.add(state.buffer, _replay.items(transition, transition.action))
        env_steps = (state.step + 1) * num_envs
        learn_now = jnp.logical_and(
            env_steps >= sizes["learning_starts"], buffer.can_sample(buffer_state)
        )
        carry = (state.params, state.target_params, state.opt_state, buffer_state, state.updates)

        def learn(carry):
            keys = jax.random.split(update_key, sizes["updates_per_step"])
            carry, metrics = jax.lax.scan(update, carry, keys)
            return carry, jax.tree.map(jnp.mean, metrics)

        def wait(carry):
            return carry, {"td_loss": jnp.zeros((), jnp.float32),
                           "q_mean": jnp.zeros((), jnp.float32)}  # fmt: skip

        carry, metrics = jax.lax.cond(learn_now, learn, wait, carry)
        params, target_params, opt_state, buffer_state, updates = carry
        metrics = {
            **metrics,
            **_replay.episode_metrics(rollout.episodes),
            "epsilon": epsilon,
            "env_steps": env_steps,
        }
        new_state = DQNState(params, target_params, opt_state, rollout, buffer_state, key,
                             state.step + 1, updates)  # fmt: skip
        return new_state, metrics

    model = greedy_policy(q_network)
    return OffPolicyTrainer(
        init=init,
        step=step,
        num_steps=sizes["total_timesteps"] // num_envs,
        evaluate=_replay.make_evaluate(model, eval_env, config, lambda s: s.params),
        env=env,
        model=model,
        config=config,
    )
