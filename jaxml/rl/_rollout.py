"""Batched environment rollouts with a policy: one ``lax.scan`` of vmapped, auto-resetting steps.

The environment is a ``jumanji.Environment`` wrapped in ``AutoResetWrapper(env,
next_obs_in_extras=True)`` (``auto_reset(env)`` does it). When an episode ends at step ``t``, that
wrapper returns a LAST timestep whose reward and discount are those of the final transition, whose
``observation`` is already the first observation of the next episode, and whose
``extras["next_obs"]`` holds the episode's real final observation. The rollout keeps both: the
policy continues from the new episode's observation, and ``Transition.next_obs`` keeps the final
one so a trainer can bootstrap a truncated episode from its value. Termination and truncation are
told apart by the discount: ``done`` with discount 0 is a termination, ``done`` with discount 1
a truncation (time limit), as every jaxml environment and adapter reports them.

Shapes: ``B`` environments, ``T`` steps; a multi-agent environment adds its agent axis after
``B`` to observations, actions, rewards and discounts (``[T, B, A, ...]``); ``done`` stays
``[T, B]``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jumanji import specs
from jumanji.env import Environment
from jumanji.wrappers import AutoResetWrapper

from jaxml.envs._first_state import FirstStateAutoReset
from jaxml.rl import normalization
from jaxml.utils import checks


class Transition(NamedTuple):
    """One step of ``B`` environments (time-major ``[T, B, ...]`` once stacked by ``rollout``)."""

    obs: Any  # [B, *obs_shape]: the observation the action was chosen from.
    # [B, *action_shape]: the policy's action, before ``rollout``'s ``action_fn`` (a tanh-Gaussian
    # head's pre-squash sample, see ``_collect.forward``) and ``to_env_action``.
    action: jax.Array
    reward: jax.Array  # [B] (or [B, A]) float32: reward of the transition.
    discount: jax.Array  # [B] (or [B, A]) float32: env discount, 0 at termination, else 1.
    done: jax.Array  # [B] bool: the episode ended here (termination or truncation).
    log_prob: jax.Array  # [B] (or [B, A]): log-probability of the action under the policy.
    value: jax.Array  # [B] (or [B, A]): the critic's value of ``obs``.
    next_obs: Any  # [B, *obs_shape]: the observation after the action (an episode's final one).
    # What ``rollout(..., extras_fn=...)`` kept of each timestep (None without an extras_fn).
    extras: Any = None


class EpisodeStats(NamedTuple):
    """Returns and lengths of running and last completed episodes, per environment.

    Before an environment completes its first episode its ``returned_*`` fields are 0. The
    fields follow the reward's shape (``[B]``, or ``[B, A]`` for per-agent rewards).
    """

    episode_return: jax.Array  # [B] float32: return so far of the running episode.
    episode_length: jax.Array  # [B] int32: steps so far of the running episode.
    returned_episode_return: jax.Array  # [B] float32: return of the last completed episode.
    returned_episode_length: jax.Array  # [B] int32: length of the last completed episode.


class RolloutState(NamedTuple):
    """What a rollout continues from: ``B`` environment states and their current observations."""

    env_state: Any  # [B] batched environment state (holds each environment's key).
    obs: Any  # [B, *obs_shape]: observation the next action will be chosen from.
    episodes: EpisodeStats  # [B]
    # A recurrent policy's state [B, ...] before the next action, zeroed where an episode
    # ended; None for feed-forward policies.
    policy_state: Any = None
    # Running observation/reward statistics (``normalization.Normalizer``); None: raw. With it,
    # ``obs`` above is already standardised.
    normalizer: Any = None


# policy_fn(params, obs [B, ...], key) -> (action [B, ...], log_prob [B], value [B]); a
# recurrent one (RolloutState.policy_state not None) takes and returns the state too:
# policy_fn(params, obs, key, policy_state) -> (action, log_prob, value, policy_state).
PolicyFn = Callable[[Any, Any, jax.Array], tuple[jax.Array, jax.Array, jax.Array]]


AUTO_RESETS = ("fresh", "first_state")


def auto_reset(env: Environment, mode: str = "fresh") -> AutoResetWrapper:
    """``env`` wrapped to reset itself and keep the final observation in ``extras["next_obs"]``.

    ``mode``: ``"fresh"`` (jumanji's ``AutoResetWrapper``: a new start every episode) or
    ``"first_state"`` (``FirstStateAutoReset``: the environment's own first start again, brax's
    training rule). An env that is already an ``AutoResetWrapper`` is kept as it is.
    """
    checks.choice(mode, "mode", AUTO_RESETS)
    if isinstance(env, AutoResetWrapper):
        if not env.next_obs_in_extras:
            raise ValueError("env: an AutoResetWrapper needs next_obs_in_extras=True here")
        return env
    if mode == "first_state":
        return FirstStateAutoReset(env, next_obs_in_extras=True)
    return AutoResetWrapper(env, next_obs_in_extras=True)


def init_episode_stats(reward_shape: tuple[int, ...]) -> EpisodeStats:
    """Zero statistics for rewards of ``reward_shape`` (``(B,)`` or ``(B, A)``)."""
    zeros = jnp.zeros(reward_shape, jnp.float32)
    lengths = jnp.zeros(reward_shape, jnp.int32)
    return EpisodeStats(zeros, lengths, zeros, lengths)


def update_episode_stats(stats: EpisodeStats, reward: jax.Array, done: jax.Array) -> EpisodeStats:
    """Adds one step's ``reward`` ([B] or [B, A]); ``done`` ([B]) closes an episode."""
    done = jnp.reshape(done, done.shape + (1,) * (reward.ndim - done.ndim))
    done = jnp.broadcast_to(done, reward.shape)
    ret = stats.episode_return + reward
    length = stats.episode_length + 1
    return EpisodeStats(
        episode_return=jnp.where(done, 0.0, ret),
        episode_length=jnp.where(done, 0, length),
        returned_episode_return=jnp.where(done, ret, stats.returned_episode_return),
        returned_episode_length=jnp.where(done, length, stats.returned_episode_length),
    )


def reset(
    env: Environment,
    key: jax.Array,
    num_envs: int,
    *,
    normalize_observations: bool = False,
    normalize_rewards: bool = False,
    gamma: float = 0.99,
    obs_update: str = "step",
) -> RolloutState:
    """Resets ``num_envs`` copies of ``env`` (an ``auto_reset`` env) with independent keys.

    ``normalize_observations`` / ``normalize_rewards`` start running statistics
    (``jaxml.rl.normalization``; ``gamma`` discounts the return that scales rewards;
    ``obs_update``: ``normalization.init``'s); the reset observations are the first the
    observation statistics see.
    """
    env_state, timestep = jax.vmap(env.reset)(jax.random.split(key, num_envs))
    normalizer = normalization.init(
        timestep.observation,
        timestep.reward.shape,
        observations=normalize_observations,
        rewards=normalize_rewards,
        gamma=gamma,
        obs_update=obs_update,
    )
    normalizer, obs = normalization.observe(normalizer, timestep.observation)
    episodes = init_episode_stats(timestep.reward.shape)
    return RolloutState(env_state, obs, episodes, normalizer=normalizer)


def to_env_action(action: jax.Array, action_spec: specs.Spec) -> jax.Array:
    """The environment's action for a policy's ``action`` ``[B, ...]``.

    Discrete actions pass through (cast to the spec's dtype). Float actions are reshaped to
    ``[B, *spec.shape]`` (a Gaussian head samples flat vectors) and clipped to the bounds of a
    ``BoundedArray``. A nested ``Spec`` (e.g. the Foraging Games' ``ForagingAction``) takes an
    action of the same structure, each leaf converted by its own spec.
    """
    if not isinstance(action_spec, specs.Array):  # Nested: leaves by their specs.
        leaf_specs = jax.tree.leaves(action_spec._constructor(**action_spec._specs))
        leaves, treedef = jax.tree.flatten(action)
        converted = [to_env_action(a, s) for a, s in zip(leaves, leaf_specs, strict=True)]
        return jax.tree.unflatten(treedef, converted)
    if not jnp.issubdtype(action_spec.dtype, jnp.floating):
        return action.astype(action_spec.dtype)
    action = jnp.reshape(action, (action.shape[0],) + tuple(action_spec.shape))
    if isinstance(action_spec, specs.BoundedArray):
        low = jnp.broadcast_to(action_spec.minimum, action.shape)
        high = jnp.broadcast_to(action_spec.maximum, action.shape)
        action = jnp.clip(action, low, high)
    return action.astype(action_spec.dtype)


def rollout_step(
    state: RolloutState,
    key: jax.Array,
    *,
    env: AutoResetWrapper,
    policy_fn: PolicyFn,
    params: Any,
    extras_fn: Callable[[Any], Any] | None = None,
    action_fn: Callable[[jax.Array], jax.Array] | None = None,
) -> tuple[RolloutState, Transition]:
    """One vmapped step of ``B`` environments: act, step, auto-reset, record (a scan body).

    A recurrent policy's state is carried and zeroed where an episode ended, so the next
    episode starts from the initial (zero) state; ``extras_fn(timestep) -> pytree [B, ...]``
    picks what ``Transition.extras`` keeps of the (batched) timestep; ``action_fn(action)``
    (None: the identity) maps the action the transition keeps to the one ``to_env_action``
    converts for the environment (a tanh-Gaussian head's squash of its pre-squash sample).
    """
    policy_state = None
    if state.policy_state is None:
        action, log_prob, value = policy_fn(params, state.obs, key)
    else:
        action, log_prob, value, policy_state = policy_fn(
            params, state.obs, key, state.policy_state
        )
    env_action = action if action_fn is None else action_fn(action)
    env_state, timestep = jax.vmap(env.step)(
        state.env_state, to_env_action(env_action, env.action_spec)
    )
    done = timestep.last()
    # With a normalizer the policy and the trainer see standardised observations and scaled
    # rewards; the episode statistics keep the raw rewards.
    normalizer, obs = normalization.observe(state.normalizer, timestep.observation)
    next_obs = normalization.standardize_obs(normalizer, timestep.extras["next_obs"])
    normalizer, reward = normalization.scale_reward(normalizer, timestep.reward, done)
    transition = Transition(
        obs=state.obs,
        action=action,
        reward=reward,
        discount=timestep.discount,
        done=done,
        log_prob=log_prob,
        value=value,
        next_obs=next_obs,
        extras=None if extras_fn is None else extras_fn(timestep),
    )
    episodes = update_episode_stats(state.episodes, timestep.reward, done)
    if policy_state is not None:
        policy_state = reset_policy_state(policy_state, done)
    return RolloutState(env_state, obs, episodes, policy_state, normalizer), transition


def reset_policy_state(policy_state: Any, done: jax.Array) -> Any:
    """``policy_state`` (leaves ``[B, ...]``) with the entries where ``done`` ``[B]`` zeroed."""

    def reset(x):
        d = jnp.reshape(done, done.shape + (1,) * (x.ndim - done.ndim))
        return jnp.where(d, jnp.zeros_like(x), x)

    return jax.tree.map(reset, policy_state)


def rollout(
    env: AutoResetWrapper,
    policy_fn: PolicyFn,
    params: Any,
    state: RolloutState,
    key: jax.Array,
    num_steps: int,
    extras_fn: Callable[[Any], Any] | None = None,
    action_fn: Callable[[jax.Array], jax.Array] | None = None,
) -> tuple[RolloutState, Transition]:
    """Runs ``num_steps`` steps of the ``B`` environments in ``state`` with ``policy_fn``.

    Args:
      env: an ``auto_reset`` environment (unbatched; it is vmapped here).
      policy_fn: ``(params, obs [B, ...], key) -> (action [B, ...], log_prob [B], value [B])``.
      params: the policy's parameters.
      state: where the environments are (from ``reset`` or a previous rollout).
      key: PRNG key for the actions (environments carry their own keys).
      num_steps: ``T``.
      extras_fn: optional ``timestep -> pytree``, kept in ``Transition.extras`` (e.g. a win
        flag read from the environment's extras).
      action_fn: optional ``action [B, ...] -> action [B, ...]`` between the kept action and
        ``to_env_action`` (``rollout_step``).

    Returns:
      The state after ``T`` steps and the time-major ``Transition`` ``[T, B, ...]``. A
      normaliser with ``obs_update="rollout"`` takes in the rollout's observations at its end.
    """
    body = functools.partial(
        rollout_step, env=env, policy_fn=policy_fn, params=params, extras_fn=extras_fn,
        action_fn=action_fn,
    )  # fmt: skip
    state, traj = jax.lax.scan(body, state, jax.random.split(key, num_steps))
    return state._replace(normalizer=normalization.commit(state.normalizer)), traj
