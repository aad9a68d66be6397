"""Generalized advantage estimation over rollouts that cross episode boundaries.

Schulman, Moritz, Levine, Jordan, Abbeel. "High-Dimensional Continuous Control Using Generalized
Advantage Estimation", arXiv 1506.02438.

With ``δ_t = r_t + γ d_t v'_t − v_t`` the advantage is ``A_t = δ_t + γ λ (1 − done_t) A_{t+1}``,
where ``d_t`` is the environment's discount (0 at a termination), ``v_t`` the value of the
observation acted on, and ``v'_t`` the value of the observation after the action: ``v_{t+1}``
inside an episode, the value of the episode's final observation when it was truncated at ``t``
(time limit: the episode could have continued, so its tail is bootstrapped), irrelevant when it
terminated (``d_t = 0``). The trace is cut at every episode end, so advantages never leak into
the next episode of an auto-resetting environment.

The recursion is rlax's ``truncated_generalized_advantage_estimation``: it bootstraps from
``values[t+1]`` and cuts traces with the same discount, so a finished episode's bootstrap
``γ d_t v'_t`` is folded into its reward and its discount set to 0.

``advantage="lambda_return"`` is the advantage brax's PPO trainer feeds its policy loss
(``brax.training.agents.ppo.losses.compute_gae``): one full step against the λ-return,
``A_t = r_t + γ_t G^λ_{t+1} − v_t = δ_t + γ_t A^GAE_{t+1}`` with ``γ_t = γ d_t (1 − done_t)``,
i.e. GAE whose first link is not discounted by λ (IMPALA's policy-gradient advantage, Espeholt
et al., arXiv 1802.01561, on-policy). The value targets are the λ-returns either way.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import rlax

from jaxml.utils import checks

# What ``gae_time_major`` returns as advantages (the targets are the λ-returns for both).
ADVANTAGES = ("gae", "lambda_return")


def gae(
    r_t: jax.Array,
    discount_t: jax.Array,
    done_t: jax.Array,
    values: jax.Array,
    final_value_t: jax.Array,
    *,
    gamma: float,
    lambda_: float,
) -> jax.Array:
    """Advantages ``A_t`` of one trajectory of ``T`` steps (see the module docstring).

    Args:
      r_t: ``[T]`` rewards.
      discount_t: ``[T]`` environment discounts (0 at a termination, 1 otherwise).
      done_t: ``[T]`` bool, the episode ended at step ``t`` (termination or truncation).
      values: ``[T + 1]`` values of the observations acted on; ``values[T]`` is the value of
        the observation after the last step (the bootstrap of a rollout cut mid-episode).
      final_value_t: ``[T]`` value of the final observation of an episode that ended at ``t``;
        read only where ``done_t`` (pass zeros to treat truncation as termination).
      gamma: discount factor γ.
      lambda_: GAE parameter λ (λ = 1: Monte-Carlo returns minus values; λ = 0: TD errors).

    Returns:
      ``[T]`` advantages; ``advantages + values[:-1]`` are the λ-return value targets.
    """
    chex.assert_rank([r_t, discount_t, done_t, values, final_value_t], 1)
    chex.assert_equal_shape([r_t, discount_t, done_t, final_value_t])
    chex.assert_shape(values, (r_t.shape[0] + 1,))
    done = done_t.astype(r_t.dtype)
    reward = r_t + gamma * discount_t * done * final_value_t
    discount = gamma * discount_t * (1.0 - done)
    return rlax.truncated_generalized_advantage_estimation(reward, discount, lambda_, values)


def gae_time_major(
    reward: jax.Array,
    discount: jax.Array,
    done: jax.Array,
    values: jax.Array,
    final_value: jax.Array,
    *,
    gamma: float,
    lambda_: float,
    advantage: str = "gae",
) -> tuple[jax.Array, jax.Array]:
    """``gae`` vmapped over a batch of trajectories, e.g. a rollout's ``[T, B]`` arrays.

    Args:
      reward, discount, final_value: ``[T, *batch]``, e.g. ``[T, B]`` or ``[T, B, A]``.
      done: ``[T, B]``; broadcast over trailing per-agent axes.
      values: ``[T + 1, *batch]``.
      gamma, lambda_: as in ``gae``.
      advantage: one of ``ADVANTAGES`` (see the module docstring).

    Returns:
      ``(advantages, targets)``, both ``[T, *batch]``; ``targets`` are the λ-returns
      ``A^GAE + values[:-1]``.
    """
    checks.choice(advantage, "advantage", ADVANTAGES)
    chex.assert_equal_shape([reward, discount, final_value])
    chex.assert_shape(values, (reward.shape[0] + 1,) + reward.shape[1:])
    done = jnp.reshape(done, done.shape + (1,) * (reward.ndim - done.ndim))
    done = jnp.broadcast_to(done, reward.shape)
    num_steps, batch = reward.shape[0], reward.shape[1:]

    def flat(x):
        return jnp.reshape(x, (x.shape[0], -1))

    per_trajectory = jax.vmap(
        lambda r, d, e, v, f: gae(r, d, e, v, f, gamma=gamma, lambda_=lambda_),
        in_axes=1,
        out_axes=1,
    )
    advantages = per_trajectory(
        flat(reward), flat(discount), flat(done), flat(values), flat(final_value)
    )
    advantages = jnp.reshape(advantages, (num_steps,) + batch)
    targets = advantages + values[:-1]
    if advantage == "lambda_return":
        # A_t = δ_t + γ_t A^GAE_{t+1} = A^GAE_t + (1 − λ) γ_t A^GAE_{t+1}; nothing after step T.
        step_discount = gamma * discount * (1.0 - done.astype(discount.dtype))
        following = jnp.concatenate([advantages[1:], jnp.zeros_like(advantages[:1])], axis=0)
        advantages = advantages + (1.0 - lambda_) * step_discount * following
    return advantages, targets
