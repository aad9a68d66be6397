"""TAR²: temporal-agent reward redistribution of an episodic team return.

"Redistributing Rewards Across Time and Agents for Multi-Agent Reinforcement Learning" (Kapoor,
Tessera, Baranwal, Khadilkar, Albrecht, Sun, Peters; arXiv 2502.04864 v2, first titled "TAR²:
Temporal-Agent Reward Redistribution for Optimal Policy Preservation in Multi-Agent
Reinforcement Learning"; earlier version arXiv 2412.14779). A return model
(``jaxml.models.tar2.TAR2RewardModel``) scores every (step, agent) of an episode; a
deterministic normalisation (``redistribute``) turns the scores into dense per-agent, per-step
rewards whose sum is exactly the episode's return, whatever the scores.

Shapes, for one episode (batch with ``jax.vmap`` at the call site): ``T`` steps (padded to a
fixed length), ``A`` agents; ``valid [T, A]`` bool is True where agent ``i`` is alive at a real
(non-padding) step ``t``. Time comes first, as in ``jaxml.rl.gae`` (``[T, ...]``).

Contents:

- ``redistribute(scores, episode_return, valid)``: TAR²'s normalisation.
- ``uniform_redistribute(episode_return, valid)``: the uniform baseline (R / T per agent-step).
- ``return_model_loss``: the return model's loss, MSE(Σ ŝ, R) + 0.05 · CE(inverse dynamics).
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxml.models.tar2 import TAR2Output, TAR2RewardModel

DEFAULT_EPS = 1e-6  # Relative size below which shifted scores count as all equal.
INVERSE_DYNAMICS_COEF = 0.05  # The authors' weight of the inverse-dynamics cross-entropy.


class Episodes(NamedTuple):
    """A batch of complete episodes, padded to ``T`` steps (time after the batch axis)."""

    observations: jax.Array  # [B, T, A, O] float32, each agent's observation at step t.
    actions: jax.Array  # [B, T, A] int32, the action taken at step t.
    valid: jax.Array  # [B, T, A] bool, agent alive at a real (non-padding) step.
    episode_return: jax.Array  # [B] float32, the episode's team return R.


def _normalised_shift(
    x: jax.Array, mask: jax.Array, axis: int, eps: float
) -> tuple[jax.Array, jax.Array]:
    """Weights ``(x - min x) / Σ (x - min x)`` over the entries of ``mask`` along ``axis``.

    Returns ``(weights, fallback)``: weights are 0 outside ``mask`` and sum to 1 along ``axis``
    wherever ``mask`` has an entry; ``fallback`` (``x`` reduced along ``axis``) is True where the
    shifted values sum to at most ``eps · max |x|``, i.e. all ``x`` are equal up to float32
    rounding, and the weights are then uniform over ``mask`` instead.
    """
    big = jnp.finfo(x.dtype).max
    low = jnp.min(jnp.where(mask, x, big), axis=axis, keepdims=True)
    shifted = jnp.where(mask, x - low, 0.0)
    total = jnp.sum(shifted, axis=axis, keepdims=True)
    scale = jnp.max(jnp.where(mask, jnp.abs(x), 0.0), axis=axis, keepdims=True)
    count = jnp.sum(mask, axis=axis, keepdims=True).astype(x.dtype)
    fallback = total <= eps * scale
    # Divide by 1 where a denominator would be 0, so no NaN enters the unselected branch.
    shifted_w = shifted / jnp.where(fallback, 1.0, total)
    uniform_w = jnp.where(mask, 1.0, 0.0) / jnp.maximum(count, 1.0)
    weights = jnp.where(fallback, uniform_w, shifted_w)
    return weights, jnp.squeeze(fallback, axis)


def redistribute(
    scores: jax.Array,
    episode_return: jax.Array,
    valid: jax.Array,
    *,
    eps: float = DEFAULT_EPS,
) -> jax.Array:
    """TAR²'s deterministic normalisation: per-(step, agent) rewards summing to the return.

    From arXiv 2502.04864 v2 (the ``TAR^2_v2`` branch of the authors' ``reward_model_output``),
    in float32 with masks and without the authors' ``+1e-5`` in the denominators:

    - temporal weights: ``S_t = Σ_{i valid} ŝ_{i,t}``; over the valid steps (those with an alive
      agent), ``w_t = (S_t - min_{t'} S_{t'}) / Σ_{t''} (S_{t''} - min S)``, so ``Σ_t w_t = 1``;
    - agent weights: at each valid step, over its alive agents,
      ``u_{i,t} = (ŝ_{i,t} - min_j ŝ_{j,t}) / Σ_j (ŝ_{j,t} - min_j ŝ_{j,t})``, so
      ``Σ_i u_{i,t} = 1``;
    - ``r_{i,t} = w_t · u_{i,t} · R`` on valid entries and 0 elsewhere; hence
      ``Σ_{t,i} r_{i,t} = R`` by construction, whatever the scores.

    Fallback: where the shifted scores of a normalisation sum to at most ``eps · max |score|``
    (all scores equal, up to rounding; a single valid step or a single alive agent always), that
    normalisation's weights are uniform instead (``1 / #valid steps``, ``1 / #alive agents``), so
    the sum is still ``R``. An episode with no valid entry gets no reward at all (sum 0).

    Shift invariance: adding a constant ``c`` to every score leaves ``u`` unchanged and shifts
    ``S_t`` by ``c · #alive_t``, so the rewards are unchanged when every valid step has the same
    number of alive agents (no deaths, padding only). Note also that the lowest-scoring step and
    agent of each normalisation get weight 0 (the shift by the minimum), as in the paper.

    Args:
      scores: ``[T, A]`` float, the return model's unnormalised scores ``ŝ_{i,t}``.
      episode_return: ``[]`` float, the episode's team return ``R``.
      valid: ``[T, A]`` bool, agent alive at a real step.
      eps: the relative tolerance of the fallback.

    Returns:
      ``[T, A]`` float32 rewards.
    """
    chex.assert_rank(scores, 2)
    chex.assert_shape(valid, scores.shape)
    chex.assert_rank(episode_return, 0)
    scores = jnp.asarray(scores, jnp.float32)
    valid = jnp.asarray(valid, bool)
    step_valid = jnp.any(valid, axis=1)  # [T]
    temporal = jnp.sum(jnp.where(valid, scores, 0.0), axis=1)  # S_t, [T]
    w, _ = _normalised_shift(temporal, step_valid, axis=0, eps=eps)  # [T]
    u, _ = _normalised_shift(scores, valid, axis=1, eps=eps)  # [T, A]
    rewards = w[:, None] * u * jnp.asarray(episode_return, jnp.float32)
    return jnp.where(valid, rewards, 0.0)


def uniform_redistribute(episode_return: jax.Array, valid: jax.Array) -> jax.Array:
    """The uniform baseline: ``R / T`` to every alive agent at every valid step.

    The ``uniform_team_redistribution`` arm of the TAR² code (arXiv 2502.04864). ``T`` counts
    the valid steps (those with an alive agent); each agent alive throughout receives ``R`` in
    total, as a team reward gives every agent. Note the scale: TAR² splits ``R`` among the agents
    (``Σ_{t,i} r = R``) while this gives each agent ``R`` (``Σ_{t,i} r = A · R`` with no
    deaths).

    Args:
      episode_return: ``[]`` float, the episode's team return.
      valid: ``[T, A]`` bool, agent alive at a real step.

    Returns:
      ``[T, A]`` float32 rewards, 0 on invalid entries.
    """
    chex.assert_rank(valid, 2)
    chex.assert_rank(episode_return, 0)
    valid = jnp.asarray(valid, bool)
    num_steps = jnp.sum(jnp.any(valid, axis=1)).astype(jnp.float32)
    per_step = jnp.asarray(episode_return, jnp.float32) / jnp.maximum(num_steps, 1.0)
    return jnp.where(valid, per_step, 0.0)


def return_model_loss(
    output: TAR2Output,
    episodes: Episodes,
    *,
    inverse_dynamics_coef: float = INVERSE_DYNAMICS_COEF,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """TAR²'s return-model loss: ``MSE(Σ_{i,t} ŝ_{i,t}, R) + 0.05 · CE(â, a)``, masked.

    From the authors' ``update_reward_model`` (arXiv 2502.04864): the squared error between the
    sum of the valid scores and the return, averaged over episodes, plus the inverse-dynamics
    cross-entropy averaged over the entries where the agent is valid at ``t`` and ``t+1`` (its
    prediction reads the observation at ``t+1``). Padding and dead agents contribute nothing.

    Args:
      output: the model's ``TAR2Output`` (scores ``[B, T, A]``, logits ``[B, T, A, N]``).
      episodes: the batch the model saw.
      inverse_dynamics_coef: the cross-entropy's weight (0.05 in the paper's code).

    Returns:
      ``(loss [], metrics)`` with ``return_mse``, ``inverse_dynamics_ce`` and
      ``predicted_return`` (the batch mean of ``Σ ŝ``).
    """
    valid = jnp.asarray(episodes.valid, bool)
    chex.assert_equal_shape([output.scores, valid, episodes.actions])
    chex.assert_shape(episodes.episode_return, valid.shape[:1])
    predicted = jnp.sum(jnp.where(valid, output.scores, 0.0), axis=(1, 2))  # [B]
    mse = jnp.mean(jnp.square(predicted - episodes.episode_return))
    next_valid = jnp.concatenate([valid[:, 1:], jnp.zeros_like(valid[:, :1])], axis=1)
    id_mask = valid & next_valid
    ce = optax.softmax_cross_entropy_with_integer_labels(output.action_logits, episodes.actions)
    ce = jnp.sum(jnp.where(id_mask, ce, 0.0)) / jnp.maximum(jnp.sum(id_mask), 1)
    loss = mse + inverse_dynamics_coef * ce
    metrics = {"return_mse": mse, "inverse_dynamics_ce": ce, "predicted_return": predicted.mean()}
    return loss, metrics


def model_rewards(model: nn.Module, params, episodes: Episodes) -> jax.Array:
    """The redistributed rewards ``[B, T, A]`` of a batch: the model's scores, normalised."""
    output = model.apply(params, episodes.observations, episodes.actions, episodes.valid)
    return jax.vmap(redistribute)(output.scores, episodes.episode_return, episodes.valid)


__all__ = [
    "Episodes",
    "TAR2RewardModel",
    "model_rewards",
    "redistribute",
    "return_model_loss",
    "uniform_redistribute",
]
