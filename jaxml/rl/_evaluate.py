"""Policy evaluation: N fresh episodes of a trained policy, deterministic or stochastic.

``evaluate(model, params, key, normalizer, *, env, num_episodes, max_steps)`` plays
``num_episodes`` episodes of ``env`` from resets on fresh keys split off ``key``, choosing actions
from ``model``'s policy: its mode (``deterministic=True``: the Gaussian's mean, squashed through
the tanh head's bijector when there is one, per agent for a multi-agent continuous head; each
categorical head's argmax) or a sample.
``model`` is any trainer's ``model``: a single-agent ``ActorCritic`` (PPO, A2C, TRPO, NPG) or a
multi-agent ``mappo.Policy`` (IPPO, MAPPO; feed-forward or recurrent, every agent acting from one
shared network, its recurrent state starting each episode at zero as in training).
Observations are standardised by ``normalizer`` (the trainer's ``state.rollout.normalizer``)
exactly as the training rollouts standardise them (``normalization.standardize_obs``, which
leaves the statistics unchanged). Episodes end at the environment's last step or after
``max_steps`` steps; an auto-resetting env is unwrapped first. Pure and jittable; ``jax.vmap``
it over ``(params, key, normalizer)`` for seeds::

    out = jax.jit(jax.vmap(functools.partial(evaluate, model, env=env, num_episodes=8,
                                             max_steps=1000)))(params, keys, normalizer)
    out.returns  # [seeds, 8] (multi-agent: [seeds, 8, A])

``make_evaluate(model, env, ...)`` is the same as a trainer's ``evaluate(state) -> metrics``
(``eval_return``, ``eval_length`` and, where the env reports it, ``eval_won``), which
``run_trainer`` runs between chunks and at the end; on-policy trainers attach it when
``config.eval_episodes > 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
from jumanji.env import Environment
from jumanji.wrappers import AutoResetWrapper

from jaxml.models.actor_critic import TanhGaussian, flatten_observation
from jaxml.models.agent_actor_critic import factorised_policy, initial_carry
from jaxml.rl import normalization
from jaxml.rl._rollout import to_env_action

# The extras an episode's outcome is read from (SMAX's ``won``; goal-reaching envs' ``success``).
OUTCOME_EXTRAS = ("won", "success")
# fold_in salt: evaluation keys are derived from, but never advance, the trainer's key.
_EVAL_SALT = 0x5EED


class EvalResult(NamedTuple):
    returns: jax.Array  # [N] (multi-agent [N, A]) float32: undiscounted return of each episode.
    lengths: jax.Array  # [N] int32: steps of each episode.
    # {"won" | "success": [N] bool}: the env's outcome extra at each episode's last step.
    outcomes: Mapping[str, jax.Array]


def policy_mode(policy: distrax.Distribution) -> jax.Array:
    """The deterministic action of a policy head: the squashed mean, the mean, or the argmax."""
    if isinstance(policy, TanhGaussian):
        return policy.bijector.forward(policy.distribution.mode())
    return policy.mode()


class _Actor(NamedTuple):
    carry: Any  # One environment's initial policy state (None: feed-forward).
    # (params, observation, carry, key, deterministic) -> (env action, carry).
    act: Callable[..., tuple[Any, Any]]


def _actor(model: Any, env: Environment) -> _Actor:
    if isinstance(model, nn.Module):  # A single-agent ActorCritic on a flat observation.

        def act(params, obs, carry, key, deterministic):
            policy, _ = model.apply(params, flatten_observation(obs, 0))
            action = policy_mode(policy) if deterministic else policy.sample(seed=key)
            return to_env_action(action[None], env.action_spec)[0], carry

        return _Actor(None, act)
    # A multi-agent policy (``mappo.Policy``): per-agent categorical heads or one continuous
    # (tanh-Gaussian) head, optional cell.
    net = model.model
    continuous = getattr(model, "continuous", False)

    def act(params, obs, carry, key, deterministic):
        carry, logits, _ = model.apply(params, obs, carry, 0)
        if continuous:  # [A, d]: each agent's squashed mean, or a sample inside the bounds.
            policy = model.distribution(logits, 1)
            actions = policy_mode(policy) if deterministic else policy.sample(seed=key)
        elif deterministic:
            actions = tuple(jnp.argmax(lg, axis=-1).astype(jnp.int32) for lg in logits)
        else:
            actions = factorised_policy(logits, 1).sample(seed=key)
        return model.env_action(actions), carry

    return _Actor(initial_carry(net.cell, net.rnn_size, (model.layout.num_agents,)), act)


def outcome_names(env: Environment) -> tuple[str, ...]:
    """The ``OUTCOME_EXTRAS`` that ``env``'s timesteps carry, in that order."""
    extras = jax.eval_shape(env.reset, jax.random.PRNGKey(0))[1].extras
    return tuple(name for name in OUTCOME_EXTRAS if name in extras)


def evaluate(
    model: Any,
    params: Any,
    key: jax.Array,
    normalizer: normalization.Normalizer | None = None,
    *,
    env: Environment,
    num_episodes: int,
    max_steps: int,
    deterministic: bool = True,
) -> EvalResult:
    """Returns, lengths and outcomes of ``num_episodes`` episodes of ``model``'s policy.

    Args:
      model: the trainer's network (``ActorCritic``) or multi-agent ``Policy``.
      params: its parameters (one member's).
      key: the episodes' keys are split off it (resets and sampled actions).
      normalizer: the trainer's observation normaliser (``state.rollout.normalizer``) or None.
      env: the environment (an auto-resetting wrapper is removed).
      num_episodes: N.
      max_steps: an episode is cut after this many steps.
      deterministic: the policy's mode (True) or a sample (False).
    """
    if isinstance(env, AutoResetWrapper):
        env = env._env  # Episodes end at the env's last step; nothing resets them.
    actor = _actor(model, env)
    outcomes_read = outcome_names(env)

    def episode(key):
        reset_key, act_key = jax.random.split(key)
        state, timestep = env.reset(reset_key)

        def step(carry, step_key):
            state, timestep, policy_state, ret, length, done, outcomes = carry
            obs = normalization.standardize_obs(normalizer, timestep.observation)
            action, next_carry = actor.act(params, obs, policy_state, step_key, deterministic)
            next_state, next_timestep = env.step(state, action)
            live = jnp.logical_not(done)
            ret = ret + jnp.where(live, next_timestep.reward, 0.0)
            length = length + live.astype(jnp.int32)
            ends = live & next_timestep.last()
            outcomes = {
                name: jnp.where(ends, jnp.asarray(next_timestep.extras[name], bool), value)
                for name, value in outcomes.items()
            }
            done = jnp.logical_or(done, next_timestep.last())
            # Freeze the state once done (nothing resets the environment).
            state, timestep, policy_state = jax.tree.map(
                lambda new, old: jnp.where(live, new, old),
                (next_state, next_timestep, next_carry),
                (state, timestep, policy_state),
            )
            return (state, timestep, policy_state, ret, length, done, outcomes), None

        reward_shape = jnp.shape(timestep.reward)
        carry = (
            state,
            timestep,
            actor.carry,
            jnp.zeros(reward_shape, jnp.float32),
            jnp.zeros((), jnp.int32),
            jnp.zeros((), bool),
            {name: jnp.zeros((), bool) for name in outcomes_read},
        )
        carry, _ = jax.lax.scan(step, carry, jax.random.split(act_key, max_steps))
        _, _, _, ret, length, _, outcomes = carry
        return ret, length, outcomes

    returns, lengths, outcomes = jax.vmap(episode)(jax.random.split(key, num_episodes))
    return EvalResult(returns, lengths, outcomes)


def evaluation_metrics(result: EvalResult) -> dict[str, jax.Array]:
    """Scalars of one evaluation: mean return (over episodes and agents), length, win rate."""
    metrics = {
        "eval_return": jnp.mean(result.returns),
        "eval_length": jnp.mean(result.lengths.astype(jnp.float32)),
    }
    for name, value in result.outcomes.items():
        metrics["eval_won" if name == "won" else f"eval_{name}"] = jnp.mean(
            value.astype(jnp.float32)
        )
    return metrics


def make_evaluate(
    model: Any,
    env: Environment,
    *,
    num_episodes: int,
    max_steps: int,
    deterministic: bool = True,
) -> Callable[[Any], dict[str, jax.Array]]:
    """A trainer's ``evaluate(state) -> metrics`` (``evaluation_metrics`` of ``evaluate``).

    ``state`` is an on-policy ``TrainState`` (``params``, ``rollout.normalizer``, ``key``); the
    episodes' key is folded from ``state.key``, so each evaluation plays fresh episodes and the
    training itself (and an exact resume) is unchanged by evaluating.
    """

    def evaluate_state(state: Any) -> dict[str, jax.Array]:
        result = evaluate(
            model,
            state.params,
            jax.random.fold_in(state.key, _EVAL_SALT),
            state.rollout.normalizer,
            env=env,
            num_episodes=num_episodes,
            max_steps=max_steps,
            deterministic=deterministic,
        )
        return evaluation_metrics(result)

    return evaluate_state


__all__ = [
    "EvalResult",
    "OUTCOME_EXTRAS",
    "evaluate",
    "evaluation_metrics",
    "make_evaluate",
    "outcome_names",
    "policy_mode",
]
