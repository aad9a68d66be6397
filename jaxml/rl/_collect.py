"""On-policy rollouts: the training state, the network's policy, and rollout + GAE batches."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jumanji.wrappers import AutoResetWrapper

from jaxml.models.actor_critic import ActorCritic, ScaledTanh, TanhGaussian, flatten_observation
from jaxml.rl import losses
from jaxml.rl._gae import gae_time_major
from jaxml.rl._on_policy_config import Metrics
from jaxml.rl._rollout import RolloutState, Transition, reset, rollout


class TrainState(NamedTuple):
    """The whole state of a run: checkpoint it to resume exactly."""

    params: Any  # The actor-critic's parameters.
    opt_state: optax.OptState
    rollout: RolloutState  # [B] environments, current observations, episode statistics.
    key: jax.Array  # [2] uint32: PRNG key of the next update.
    update: jax.Array  # [] int32: updates done.


class Batch(NamedTuple):
    """A rollout with its advantages and targets: ``[T, B, ...]``, or ``[N, ...]`` flattened."""

    transitions: Transition
    advantages: jax.Array  # [T, B] (or [T, B, A]): GAE advantages.
    targets: jax.Array  # [T, B] (or [T, B, A]): λ-return value targets.


# objective(params, minibatch [N]) -> (loss [], metrics {name: []}).
Objective = Callable[[Any, Batch], tuple[jax.Array, Metrics]]
# update_fn(params, opt_state, batch [T, B], key) -> (params, opt_state, metrics {name: []}).
UpdateFn = Callable[[Any, Any, Batch, jax.Array], tuple[Any, Any, Metrics]]


def forward(model: ActorCritic, params: Any, obs: Any, batch_ndim: int):
    """``(policy, value)`` of observations with ``batch_ndim`` leading batch axes.

    A tanh-Gaussian head's policy is its ``RawTanhGaussian``, over the pre-squash actions ``u``:
    the rollout keeps ``u`` (the environment gets ``squash(u)``, ``env_action_fn``) and every
    trainer's log-probabilities, ratios and scores are taken of ``u``, as brax's PPO does. Taken
    of the squashed action instead, they are wrong wherever ``tanh(u)`` rounds to ±1, by up to
    4.6e7 nats measured once the std is small (``RawTanhGaussian``): what made TRPO diverge on
    brax swimmer, and NPG-rank1 on hopper after its steps collapsed the std
    (experiments/npg/README.md).
    """
    policy, value = model.apply(params, flatten_observation(obs, batch_ndim))
    if isinstance(policy, TanhGaussian):
        policy = policy.raw()
    return policy, value


def env_action_fn(model: ActorCritic) -> Callable[[jax.Array], jax.Array] | None:
    """``rollout``'s ``action_fn`` for ``model``: the squash of a tanh-Gaussian head's kept
    pre-squash actions into the bounds (``forward``); None for the other heads."""
    if getattr(model, "action_kind", None) != "tanh_gaussian":
        return None
    low = jnp.asarray(model.action_low, jnp.float32)
    high = jnp.asarray(model.action_high, jnp.float32)

    def squash(u):  # u [B, d]; the bounds broadcast explicitly (no rank promotion).
        bounds = jnp.broadcast_to(low, u.shape), jnp.broadcast_to(high, u.shape)
        return ScaledTanh(*bounds).forward(u)

    return squash


def minibatch_outputs(model: ActorCritic, params: Any, minibatch: Batch, normalize: bool):
    """``(policy, value [N], advantages [N])`` of a flat minibatch; advantages are normalized
    per minibatch when ``normalize`` (the loss functions' shared preamble)."""
    policy, value = forward(model, params, minibatch.transitions.obs, 1)
    advantages = minibatch.advantages
    if normalize:
        advantages = losses.normalize(advantages)
    return policy, value, advantages


def act(params: Any, obs: Any, key: jax.Array, *, model: ActorCritic):
    """The rollout policy: ``(action [B, ...], log_prob [B], value [B])`` for ``obs [B, ...]``
    (a tanh-Gaussian head's action is pre-squash, ``forward``)."""
    policy, value = forward(model, params, obs, 1)
    # Not sample_and_log_prob: distrax's broadcasts a sample axis of 1 into the logits' rank.
    action = policy.sample(seed=key)
    return action, policy.log_prob(action), value


def init_state(
    key: jax.Array,
    *,
    env: AutoResetWrapper,
    model: ActorCritic,
    optimizer: optax.GradientTransformation,
    num_envs: int,
    **normalization: Any,
) -> TrainState:
    """Initial parameters, optimizer state and ``num_envs`` freshly reset environments.

    ``normalization``: ``reset``'s ``normalize_observations``, ``normalize_rewards``, ``gamma``.
    """
    key_params, key_env, key_next = jax.random.split(key, 3)
    example = flatten_observation(env.observation_spec.generate_value(), 0)
    params = model.init(key_params, example)
    return TrainState(
        params=params,
        opt_state=optimizer.init(params),
        rollout=reset(env, key_env, num_envs, **normalization),
        key=key_next,
        update=jnp.zeros((), jnp.int32),
    )


def transition_gae(
    traj: Transition,
    values: jax.Array,
    last_value: jax.Array,
    final_value: jax.Array,
    *,
    gamma: float,
    gae_lambda: float,
    advantage: str = "gae",
) -> tuple[jax.Array, jax.Array]:
    """``(advantages, targets)`` ``[T, B, ...]`` of a time-major ``traj`` whose observations have
    ``values`` ``[T, B, ...]``, bootstrapped from ``last_value`` ``[B, ...]`` (the observation
    after the last step) and, where an episode was truncated, its ``final_value``; ``advantage``
    as in ``gae_time_major``."""
    values = jnp.concatenate([values, last_value[None]], axis=0)
    return gae_time_major(
        traj.reward, traj.discount, traj.done, values, final_value,
        gamma=gamma, lambda_=gae_lambda, advantage=advantage,
    )  # fmt: skip


def rollout_and_gae(
    params: Any,
    rollout_state: RolloutState,
    key: jax.Array,
    *,
    env: AutoResetWrapper,
    act_fn: Callable[..., Any],
    bootstrap_fn: Callable[..., tuple[jax.Array, jax.Array]],
    num_steps: int,
    gamma: float,
    gae_lambda: float,
    extras_fn: Callable[..., Any] | None = None,
    reward_scale: float = 1.0,
    advantage: str = "gae",
    action_fn: Callable[[jax.Array], jax.Array] | None = None,
) -> tuple[RolloutState, Batch]:
    """Rolls ``act_fn`` out for ``num_steps`` steps; advantages (``advantage``: one of
    ``ADVANTAGES``) and λ-return targets by GAE (``[T, B]``).

    Rewards (after any running normalisation) are multiplied by ``reward_scale`` before GAE, so
    the critic learns scaled returns (brax's ``reward_scaling``; episode statistics stay raw).
    ``action_fn``: ``rollout``'s (the kept action to the environment's, e.g. ``env_action_fn``).

    ``bootstrap_fn(params, rollout_state, traj, initial_policy_state) -> (last_value [B, ...],
    final_value [T, B, ...])`` values the observation after the last step and each step's final
    observation (read by GAE only where an episode was truncated); ``initial_policy_state`` is
    the recurrent state the rollout started from (None for feed-forward policies).
    """
    initial_policy_state = rollout_state.policy_state
    rollout_state, traj = rollout(
        env, act_fn, params, rollout_state, key, num_steps, extras_fn=extras_fn,
        action_fn=action_fn,
    )  # fmt: skip
    if reward_scale != 1.0:
        traj = traj._replace(reward=traj.reward * reward_scale)
    last_value, final_value = bootstrap_fn(params, rollout_state, traj, initial_policy_state)
    advantages, targets = transition_gae(
        traj, traj.value, last_value, final_value,
        gamma=gamma, gae_lambda=gae_lambda, advantage=advantage,
    )  # fmt: skip
    return rollout_state, Batch(traj, advantages, targets)


def feedforward_bootstrap(
    params: Any,
    rollout_state: RolloutState,
    traj: Transition,
    initial_policy_state: Any,
    *,
    value_fn: Callable[[Any, Any, int], jax.Array],
    bootstrap_truncated: bool,
) -> tuple[jax.Array, jax.Array]:
    """``bootstrap_fn`` of a feed-forward critic ``value_fn(params, obs, batch_ndim)``."""
    del initial_policy_state
    last_value = value_fn(params, rollout_state.obs, 1)
    if not bootstrap_truncated:
        return last_value, jnp.zeros_like(traj.value)
    # One batched pass over all T·B next observations; gae reads only the episode ends.
    return last_value, value_fn(params, traj.next_obs, 2)


def collect(
    params: Any,
    rollout_state: RolloutState,
    key: jax.Array,
    *,
    env: AutoResetWrapper,
    model: ActorCritic,
    num_steps: int,
    gamma: float,
    gae_lambda: float,
    bootstrap_truncated: bool,
    reward_scale: float = 1.0,
    advantage: str = "gae",
) -> tuple[RolloutState, Batch]:
    """``rollout_and_gae`` for a single-agent ``ActorCritic`` (``Batch [T, B]``)."""
    return rollout_and_gae(
        params,
        rollout_state,
        key,
        env=env,
        act_fn=functools.partial(act, model=model),
        bootstrap_fn=functools.partial(
            feedforward_bootstrap,
            value_fn=lambda p, obs, ndim: forward(model, p, obs, ndim)[1],
            bootstrap_truncated=bootstrap_truncated,
        ),
        num_steps=num_steps,
        gamma=gamma,
        gae_lambda=gae_lambda,
        reward_scale=reward_scale,
        advantage=advantage,
        action_fn=env_action_fn(model),
    )
