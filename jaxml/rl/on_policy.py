"""The on-policy actor-critic training loop that PPO, A2C and later trainers share.

One update of ``B = num_envs`` environments:

1. ``collect`` (``rollout_and_gae``, which MAPPO shares): roll the policy out for
   ``T = num_steps`` steps (``rollout``), value the observation after the last step and, for
   truncated episodes, their final observations, and compute advantages and λ-return targets
   with ``gae_time_major``. Gives a ``Batch`` ``[T, B]``.
2. ``update_fn(params, opt_state, batch, key)``: the algorithm's parameter update. For
   gradient-based methods ``sgd_update`` runs ``update_epochs`` epochs, each a shuffle of the
   ``T·B`` samples into ``num_minibatches`` minibatches and one optimizer step on each, with the
   algorithm's ``objective(params, minibatch) -> (loss, metrics)``.

``train_step(state) -> (state, metrics)`` does both; ``build_trainer`` closes it over the
environment, model and algorithm, and ``make_train`` turns that into PureJaxRL's pure
``train(key)``: ``init`` then a ``lax.scan`` of ``num_updates`` steps. The same ``init`` and
``step`` drive ``jaxml.utils.runner.run`` in chunks (progress, metrics, checkpoints, resume), and
``jax.vmap(train)`` trains many seeds in one program.

One concern per module, all re-exported here: ``_on_policy_config`` (fields, sizes, network,
optimizer), ``_collect`` (state, policy, rollout + GAE), ``_sgd`` (minibatch epochs),
``_separate`` (TRPO's and NPG's separate actor and critic updates); this module joins them into
an ``OnPolicyTrainer``.

Config fields read (``base_config`` has them all): ``num_envs``, ``num_steps``,
``total_timesteps``, ``update_epochs``, ``num_minibatches``, ``learning_rate``, ``anneal_lr``,
``optimizer`` (``adam`` | ``rmsprop``), ``max_grad_norm``, ``gamma``, ``gae_lambda``,
``bootstrap_truncated``, ``auto_reset`` (``fresh`` | ``first_state``), ``hidden``,
``activation``, ``shared_torso``, ``log_std_init``, ``action_squash``,
``normalize_observations``, ``normalize_rewards``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax
from jumanji.env import Environment
from jumanji.wrappers import AutoResetWrapper

from jaxml.models.actor_critic import ActorCritic
from jaxml.rl._collect import (
    Batch,
    Objective,
    TrainState,
    UpdateFn,
    act,
    collect,
    feedforward_bootstrap,
    forward,
    init_state,
    minibatch_outputs,
    rollout_and_gae,
)
from jaxml.rl._on_policy_config import (
    CONTINUOUS_NETWORK,
    LAYERWISE_FREE,
    OPTIMIZERS,
    Metrics,
    Sizes,
    base_config,
    derive_sizes,
    in_range_field,
    make_model,
    make_optimizer,
    make_trainer_evaluate,
    needs_layer_stats,
    normalization_kwargs,
    positive_int_field,
    require_fields,
)
from jaxml.rl._rollout import RolloutState, auto_reset
from jaxml.rl._separate import (
    actor_critic_labels,
    actor_params,
    check_separate_networks,
    critic_params,
    critic_update,
    policy_kl,
    separate_optimizer,
    separate_part,
    with_subtree,
)
from jaxml.rl._sgd import (
    actor_critic_curvature,
    epoch_step,
    flat_batch,
    minibatch_step,
    run_epochs,
    sgd_update,
)
from jaxml.rl._sharding import rollout_partition
from jaxml.utils import trainer as trainer_lib
from jaxml.utils.trainer import Trainer, TrainOutput

__all__ = [
    "LAYERWISE_FREE",
    "OPTIMIZERS",
    "Batch",
    "Metrics",
    "Objective",
    "OnPolicyTrainer",
    "Sizes",
    "TrainOutput",
    "TrainState",
    "UpdateFn",
    "act",
    "actor_critic_curvature",
    "actor_critic_labels",
    "actor_params",
    "CONTINUOUS_NETWORK",
    "base_config",
    "build_trainer",
    "check_separate_networks",
    "collect",
    "critic_params",
    "critic_update",
    "derive_sizes",
    "episode_metrics",
    "epoch_step",
    "feedforward_bootstrap",
    "flat_batch",
    "forward",
    "in_range_field",
    "init_state",
    "make_model",
    "make_optimizer",
    "make_trainer_evaluate",
    "make_sgd_trainer",
    "make_train",
    "minibatch_outputs",
    "minibatch_step",
    "needs_layer_stats",
    "normalization_kwargs",
    "policy_kl",
    "positive_int_field",
    "require_fields",
    "rollout_and_gae",
    "run_epochs",
    "separate_optimizer",
    "separate_part",
    "sgd_update",
    "train_step",
    "with_subtree",
]


def episode_metrics(rollout_state: RolloutState, batch: Batch) -> Metrics:
    """Episode metrics of an update.

    ``episode_return`` / ``episode_length``: mean over environments of each one's last completed
    episode (PureJaxRL's ``returned_episode_returns``; an environment that has not finished one
    yet counts 0). ``episodes``: episodes completed in this rollout.
    """
    episodes = rollout_state.episodes
    return {
        "episode_return": jnp.mean(episodes.returned_episode_return),
        "episode_length": jnp.mean(episodes.returned_episode_length.astype(jnp.float32)),
        "episodes": jnp.sum(batch.transitions.done.astype(jnp.int32)),
    }


def train_step(
    state: TrainState,
    *,
    collect_fn: Callable[[Any, RolloutState, jax.Array], tuple[RolloutState, Any]],
    update_fn: UpdateFn,
    sizes: Sizes,
    metrics_fn: Callable[[RolloutState, Any], Metrics] = episode_metrics,
) -> tuple[TrainState, Metrics]:
    """One update (a scan body): ``collect_fn(params, rollout_state, key)`` gives a rollout,
    ``update_fn`` the new parameters; ``metrics_fn(rollout_state, batch)`` adds the rollout's
    metrics (``episode_metrics``; MAPPO adds win rates) to the update's."""
    key, key_rollout, key_update = jax.random.split(state.key, 3)
    rollout_state, batch = collect_fn(state.params, state.rollout, key_rollout)
    params, opt_state, metrics = update_fn(state.params, state.opt_state, batch, key_update)
    update = state.update + 1
    metrics = {
        **metrics,
        **metrics_fn(rollout_state, batch),
        "env_steps": update * sizes.batch_size,
    }
    return TrainState(params, opt_state, rollout_state, key, update), metrics


@dataclasses.dataclass(frozen=True, kw_only=True)
class OnPolicyTrainer(Trainer):
    """An on-policy ``Trainer`` (one step = one rollout + update) with the pieces its users read.

    ``num_steps`` is ``sizes.num_updates``; ``partition`` splits the rollout's environment axis.
    """

    sizes: Sizes
    model: Any  # The network (an ``ActorCritic``, or MAPPO's ``Policy``).
    optimizer: optax.GradientTransformation
    env: AutoResetWrapper  # The auto-resetting environment the rollouts use.
    partition: Any = rollout_partition


def build_trainer(
    config: ml_collections.ConfigDict,
    env: Environment,
    *,
    model: ActorCritic,
    optimizer: optax.GradientTransformation,
    update_fn: UpdateFn,
    sizes: Sizes,
) -> OnPolicyTrainer:
    """``init`` and ``step`` around an algorithm's ``update_fn`` (where TRPO and NPG plug in)."""
    env = auto_reset(env, config.get("auto_reset", "fresh"))
    init = functools.partial(
        init_state,
        env=env,
        model=model,
        optimizer=optimizer,
        num_envs=sizes.num_envs,
        **normalization_kwargs(config),
    )
    collect_fn = functools.partial(
        collect,
        env=env,
        model=model,
        num_steps=sizes.num_steps,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        bootstrap_truncated=config.bootstrap_truncated,
        reward_scale=float(config.get("reward_scale", 1.0)),
        advantage=config.get("advantage", "gae"),
    )
    step = functools.partial(train_step, collect_fn=collect_fn, update_fn=update_fn, sizes=sizes)
    return OnPolicyTrainer(
        init=init,
        step=step,
        num_steps=sizes.num_updates,
        evaluate=make_trainer_evaluate(config, model, env),
        sizes=sizes,
        model=model,
        optimizer=optimizer,
        env=env,
    )


def make_sgd_trainer(
    config: ml_collections.ConfigDict,
    env: Environment,
    objective: Callable[..., tuple[jax.Array, Metrics]],
    *,
    segment_length: int = 0,
) -> OnPolicyTrainer:
    """A trainer whose update is ``sgd_update`` on ``objective(params, minibatch, *, model)``;
    ``segment_length > 0`` hands the objective minibatches of whole segments (``sgd_update``)."""
    sizes = derive_sizes(config)
    model = make_model(config, env)
    optimizer = make_optimizer(config, sizes, layer_stats=True)
    bound = functools.partial(objective, model=model)
    curvature_fn = None
    if needs_layer_stats(config):  # The K-FAC family: ACKTR's Fisher of the actor-critic.
        curvature_fn = functools.partial(actor_critic_curvature, model=model, objective=bound)
    update_fn = functools.partial(
        sgd_update,
        objective=bound,
        optimizer=optimizer,
        sizes=sizes,
        curvature_fn=curvature_fn,
        segment_length=segment_length,
    )
    return build_trainer(
        config, env, model=model, optimizer=optimizer, update_fn=update_fn, sizes=sizes
    )


def make_train(trainer: Trainer) -> Callable[[jax.Array], TrainOutput]:
    """PureJaxRL's pure ``train(key) -> TrainOutput``; jit it, vmap it over keys for seeds."""
    return trainer_lib.make_train(trainer)
