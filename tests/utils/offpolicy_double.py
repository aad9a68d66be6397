"""A small off-policy trainer (DQN, Mnih et al. 2015) with a flashbax replay buffer in its state.

A test double for the trainer contract: it shows that an off-policy loop fits ``Trainer`` as it
is (the buffer is a pytree in the state, checkpointed and vmapped like the rest), with no fake
on-policy pieces. Each step: act ε-greedily in ``B`` auto-resetting environments, add the ``B``
transitions to the buffer, and take one TD step on a sampled minibatch once the buffer holds
enough (a ``lax.cond``, so the program does not change shape).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import flashbax as fbx
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxml.rl._rollout import RolloutState, auto_reset, reset, rollout_step
from jaxml.utils.trainer import Trainer, replicated, split_leading_axis


class QNetwork(nn.Module):
    num_actions: int
    width: int = 16

    @nn.compact
    def __call__(self, obs):
        return nn.Dense(self.num_actions)(nn.relu(nn.Dense(self.width)(obs)))


class DQNState(NamedTuple):
    params: Any
    target_params: Any
    opt_state: Any
    rollout: RolloutState  # [B] environments.
    buffer: Any  # flashbax item-buffer state of {obs, action, reward, discount, next_obs}.
    key: jax.Array
    step: jax.Array  # [] int32


def _partition(state: DQNState, mesh) -> DQNState:
    # The environments split over the devices; the buffer (one for all of them) is replicated.
    rollout = split_leading_axis(state.rollout, mesh, name="num_envs")
    return replicated(state, mesh)._replace(rollout=rollout)


def make_dqn_trainer(
    env,
    *,
    num_steps: int,
    num_envs: int = 4,
    buffer_size: int = 256,
    batch_size: int = 16,
    learning_rate: float = 1e-3,
    gamma: float = 0.99,
    epsilon: float = 0.2,
    target_every: int = 4,
) -> Trainer:
    env = auto_reset(env)
    q = QNetwork(int(env.action_spec.num_values))
    optimizer = optax.adam(learning_rate)
    buffer = fbx.make_item_buffer(
        max_length=buffer_size, min_length=batch_size, sample_batch_size=batch_size,
        add_sequences=False, add_batches=True,
    )  # fmt: skip

    def policy(params, obs, key):
        explore_key, action_key = jax.random.split(key)
        greedy = jnp.argmax(q.apply(params, obs), axis=-1)
        random = jax.random.randint(action_key, greedy.shape, 0, q.num_actions)
        explore = jax.random.uniform(explore_key, greedy.shape) < epsilon
        action = jnp.where(explore, random, greedy)
        zeros = jnp.zeros(action.shape, jnp.float32)
        return action, zeros, zeros

    def init(key):
        key_params, key_env, key_next = jax.random.split(key, 3)
        obs = env.observation_spec.generate_value()
        params = q.init(key_params, obs[None])
        item = {"obs": obs, "action": jnp.int32(0), "reward": jnp.float32(0),
                "discount": jnp.float32(0), "next_obs": obs}  # fmt: skip
        return DQNState(
            params, params, optimizer.init(params), reset(env, key_env, num_envs),
            buffer.init(item), key_next, jnp.zeros((), jnp.int32),
        )  # fmt: skip

    def td_loss(params, target_params, batch):
        q_taken = jnp.take_along_axis(q.apply(params, batch["obs"]), batch["action"][:, None], 1)
        target = batch["reward"] + gamma * batch["discount"] * jnp.max(
            q.apply(target_params, batch["next_obs"]), axis=-1
        )
        return jnp.mean((q_taken[:, 0] - jax.lax.stop_gradient(target)) ** 2)

    def step(state: DQNState):
        key, act_key, sample_key = jax.random.split(state.key, 3)
        rollout, t = rollout_step(state.rollout, act_key, env=env, policy_fn=policy,
                                  params=state.params)  # fmt: skip
        items = {"obs": t.obs, "action": t.action.astype(jnp.int32), "reward": t.reward,
                 "discount": t.discount, "next_obs": t.next_obs}  # fmt: skip
        buffer_state = buffer.add(state.buffer, items)

        def learn(params, opt_state):
            # flashbax broadcasts implicitly; the test suite raises on rank promotion.
            with jax.numpy_rank_promotion("allow"):
                batch = buffer.sample(buffer_state, sample_key).experience
            loss, grads = jax.value_and_grad(td_loss)(params, state.target_params, batch)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        def wait(params, opt_state):
            return params, opt_state, jnp.zeros((), jnp.float32)

        params, opt_state, loss = jax.lax.cond(
            buffer.can_sample(buffer_state), learn, wait, state.params, state.opt_state
        )
        count = state.step + 1
        target = jax.tree.map(
            functools.partial(jnp.where, count % target_every == 0), params, state.target_params
        )
        metrics = {
            "td_loss": loss,
            "episode_return": jnp.mean(rollout.episodes.returned_episode_return),
        }
        return DQNState(params, target, opt_state, rollout, buffer_state, key, count), metrics

    return dataclasses.replace(
        Trainer(init=init, step=step, num_steps=num_steps), partition=_partition
    )
