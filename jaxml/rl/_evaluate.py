"""Policy evaluation: N fresh episodes of a trained actor-critic, deterministic or stochastic.

``evaluate(model, params, env, key, num_episodes=..., max_steps=..., normalizer=...)`` plays
``num_episodes`` episodes of the (not auto-resetting) ``env`` from resets on fresh keys split off
``key``, choosing actions from ``model``'s policy: its mode (``deterministic=True``: the Gaussian's
mean, squashed through the tanh head's bijector when there is one; the Categorical's argmax) or a
sample. Observations are standardised by ``normalizer`` (the trainer's
``state.rollout.normalizer``) exactly as the training rollouts standardise them
(``normalization.standardize_obs``, which leaves the statistics unchanged). Episodes end at the
environment's last step or after ``max_steps`` steps. Pure and jittable; ``jax.vmap`` it over
``(params, normalizer, key)`` for seeds::

    out = jax.jit(jax.vmap(functools.partial(evaluate, model, env=env, num_episodes=8,
                                             max_steps=1000)))(params, keys, normalizer)
    out.returns  # [seeds, 8]
"""

from __future__ import annotations

from typing import Any, NamedTuple

import distrax
import jax
import jax.numpy as jnp
from jumanji.env import Environment

from jaxml.models.actor_critic import TanhGaussian, flatten_observation
from jaxml.rl import normalization
from jaxml.rl._rollout import to_env_action


class EvalResult(NamedTuple):
    returns: jax.Array  # [N] float32: undiscounted return of each episode.
    lengths: jax.Array  # [N] int32: steps of each episode.


def policy_mode(policy: distrax.Distribution) -> jax.Array:
    """The deterministic action of a policy head: the squashed mean, the mean, or the argmax."""
    if isinstance(policy, TanhGaussian):
        return policy.bijector.forward(policy.distribution.mode())
    return policy.mode()


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
    """Returns and lengths of ``num_episodes`` episodes of ``model``'s policy (see the module)."""

    def episode(key):
        reset_key, act_key = jax.random.split(key)
        state, timestep = env.reset(reset_key)

        def step(carry, step_key):
            state, timestep, ret, length, done = carry
            obs = normalization.standardize_obs(normalizer, timestep.observation)
            policy, _ = model.apply(params, flatten_observation(obs, 0))
            action = policy_mode(policy) if deterministic else policy.sample(seed=step_key)
            env_action = to_env_action(action[None], env.action_spec)[0]
            next_state, next_timestep = env.step(state, env_action)
            live = jnp.logical_not(done)
            ret = ret + jnp.where(live, next_timestep.reward, 0.0)
            length = length + live.astype(jnp.int32)
            done = jnp.logical_or(done, next_timestep.last())
            # Freeze the state once done (the environment is not auto-resetting).
            state, timestep = jax.tree.map(
                lambda new, old: jnp.where(live, new, old),
                (next_state, next_timestep),
                (state, timestep),
            )
            return (state, timestep, ret, length, done), None

        carry = (state, timestep, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32),
                 jnp.zeros((), bool))  # fmt: skip
        (_, _, ret, length, _), _ = jax.lax.scan(step, carry, jax.random.split(act_key, max_steps))
        return ret, length

    returns, lengths = jax.vmap(episode)(jax.random.split(key, num_episodes))
    return EvalResult(returns, lengths)


__all__ = ["EvalResult", "evaluate", "policy_mode"]
