"""What SAC and DQN share: the replay buffer, Polyak targets, the mesh layout and evaluation.

The buffer is flashbax's item buffer (a flat FIFO of ``Item``s sampled uniformly with
replacement), whose state is a pytree carried in the trainer's state, so it is vmapped over
seeds, checkpointed and resumed like the parameters. Each trainer step adds the ``B = num_envs``
transitions of one vectorised environment step (``jaxml.rl.rollout_step`` on an auto-resetting
env); an item keeps the env's discount (0 at a termination, 1 at a time-limit truncation) and
the episode's real final observation, so a truncated episode is bootstrapped from its last state
(Pardo et al., "Time Limits in Reinforcement Learning", arXiv 1712.00378) and never treated as
terminal.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import flashbax as fbx
import jax
import jax.numpy as jnp
import ml_collections
import optax
from jax.sharding import Mesh

from jaxml.rl._evaluate import evaluate as evaluate_policy
from jaxml.rl._evaluate import evaluation_metrics
from jaxml.rl._rollout import EpisodeStats, Transition
from jaxml.utils import checks
from jaxml.utils.trainer import Trainer, replicated, split_leading_axis


class Item(NamedTuple):
    """One stored transition (the buffer's leaves are ``[1, buffer_size, ...]``)."""

    obs: jax.Array  # [*obs_shape] float32: the observation the action was chosen from.
    action: jax.Array  # [*action_shape]: the action the environment received.
    reward: jax.Array  # [] float32
    discount: jax.Array  # [] float32: the env's discount, 0 at termination, 1 at truncation.
    next_obs: jax.Array  # [*obs_shape] float32: the next (an episode's final) observation.


def make_buffer(buffer_size: int, batch_size: int, min_size: int) -> Any:
    """A flashbax item buffer of ``buffer_size`` items, sampling ``batch_size`` at a time once
    it holds ``max(min_size, batch_size)`` (``can_sample``)."""
    return fbx.make_item_buffer(
        max_length=buffer_size,
        min_length=max(min_size, batch_size),
        sample_batch_size=batch_size,
        add_sequences=False,
        add_batches=True,
    )


def items(transition: Transition, action: jax.Array) -> Item:
    """The ``[B]`` items of one rollout step (``action``: what the environment received)."""
    return Item(
        obs=transition.obs,
        action=action,
        reward=transition.reward.astype(jnp.float32),
        discount=transition.discount.astype(jnp.float32),
        next_obs=transition.next_obs,
    )


def sample(buffer: Any, buffer_state: Any, key: jax.Array) -> Item:
    """A uniform minibatch ``[batch_size, ...]`` of items."""
    # flashbax broadcasts implicitly; jaxml's tests raise on silent rank promotion.
    with jax.numpy_rank_promotion("allow"):
        return buffer.sample(buffer_state, key).experience


def polyak(online: Any, target: Any, tau: float | jax.Array) -> Any:
    """``tau · online + (1 − tau) · target`` leaf by leaf (``tau = 1``: a hard copy)."""
    return optax.incremental_update(online, target, step_size=tau)


def partition(state: Any, mesh: Mesh) -> Any:
    """``Trainer.partition`` of an off-policy state with a ``rollout`` field: the environments
    split over the devices, everything else (parameters, the one shared buffer) replicated.

    Raises:
      ValueError: naming ``num_envs`` when the environments do not split evenly.
    """
    rollout = split_leading_axis(state.rollout, mesh, name="num_envs")
    return replicated(state, mesh)._replace(rollout=rollout)


@dataclasses.dataclass(frozen=True, kw_only=True)
class OffPolicyTrainer(Trainer):
    """An off-policy ``Trainer``: one step is one vectorised env step and its gradient updates.

    ``env`` is the auto-resetting training environment, ``model`` the acting network (SAC's
    actor, DQN's greedy policy over its Q-network: ``rl.evaluate`` runs either), ``config`` the
    checked config it was built from.
    """

    env: Any
    model: Any
    config: ml_collections.ConfigDict
    partition: Any = partition


def episode_metrics(episodes: EpisodeStats) -> dict[str, jax.Array]:
    """Mean over environments of each one's last completed episode (0 before the first)."""
    return {
        "episode_return": jnp.mean(episodes.returned_episode_return),
        "episode_length": jnp.mean(episodes.returned_episode_length.astype(jnp.float32)),
    }


def make_evaluate(model: Any, env: Any, config: ml_collections.ConfigDict, params_of) -> Any:
    """``Trainer.evaluate``: ``config.eval_episodes`` fresh episodes of ``model``'s deterministic
    policy (``rl.evaluate``) from ``params_of(state)``, on a key folded off ``state.key`` (the
    training stream is not consumed); None when ``eval_episodes`` is 0."""
    if config.eval_episodes == 0:
        return None

    def evaluate(state) -> dict[str, jax.Array]:
        key = jax.random.fold_in(state.key, 0x5EED)
        out = evaluate_policy(
            model, params_of(state), key, env=env, num_episodes=config.eval_episodes,
            max_steps=config.eval_max_steps, deterministic=True,
        )  # fmt: skip
        return evaluation_metrics(out)

    return evaluate


def check_common(
    config: ml_collections.ConfigDict, defaults: ml_collections.ConfigDict, module: str
) -> dict[str, int]:
    """Checks that ``config`` has every field of ``defaults`` and the fields SAC and DQN share;
    returns the derived integer sizes.

    Raises:
      ValueError: naming the missing or out-of-range ``config.<field>``.
    """
    for field in defaults:
        if field not in config:
            raise ValueError(f"config.{field}: missing; start from {module}.default_config()")
    sizes = {
        name: checks.positive_int(config[name], f"config.{name}")
        for name in (
            "num_envs",
            "total_timesteps",
            "buffer_size",
            "batch_size",
            "updates_per_step",
            "eval_max_steps",
        )  # fmt: skip
    }
    for name in ("learning_starts", "eval_episodes"):
        value = config[name]
        checks.expect(
            isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            f"config.{name}", "an integer >= 0", value,
        )  # fmt: skip
        sizes[name] = value
    if sizes["total_timesteps"] < sizes["num_envs"]:
        raise ValueError(checks.message(
            "config.total_timesteps", f">= num_envs = {sizes['num_envs']}",
            sizes["total_timesteps"],
        ))  # fmt: skip
    checks.expect(
        sizes["batch_size"] <= sizes["buffer_size"], "config.batch_size",
        f"<= buffer_size = {sizes['buffer_size']}", sizes["batch_size"],
    )  # fmt: skip
    checks.expect(
        sizes["num_envs"] <= sizes["buffer_size"], "config.num_envs",
        f"<= buffer_size = {sizes['buffer_size']}", sizes["num_envs"],
    )  # fmt: skip
    checks.in_range(config.gamma, "config.gamma", 0.0, 1.0)
    checks.in_range(config.tau, "config.tau", 0.0, 1.0, closed=(False, True))
    return sizes
