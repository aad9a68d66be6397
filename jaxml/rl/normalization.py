"""Running observation and reward normalisation for on-policy rollouts.

What PureJaxRL's ``NormalizeVecObservation``/``NormalizeVecReward`` wrappers and Stable-Baselines3's
``VecNormalize`` do (the rank-1 NPG author's MuJoCo scripts, arXiv 2601.18626, normalise both),
kept inside the rollout state instead of an environment wrapper, because jaxml's rollouts vmap
one unbatched environment and the statistics are shared by the whole batch:

- Observations: every floating-point observation leaf ``[B, ...]`` is standardised by running
  moments of all observations seen so far (batch axis pooled; each feature and, in a multi-agent
  environment, each agent separately), then clipped to ``±clip``. The moments are updated with
  each step's observations before they are standardised (reset observations included); an
  episode's final observation (``Transition.next_obs``) is standardised without updating them.
- Rewards: divided by the running standard deviation of the discounted return
  ``R ← γ·R·(1 − done) + r`` (no mean subtraction, so signs are kept), then clipped to ``±clip``.

Trainers store the standardised observations and scaled rewards in their ``Transition``s, so the
update sees exactly what the policy saw; episode returns (``EpisodeStats``) stay in raw rewards.
Non-float leaves (action masks, indices) pass through untouched.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

EPSILON = 1e-8  # Added to the variance before the square root.
INITIAL_COUNT = 1e-4  # Prior weight of the initial moments (mean 0, variance 1), as SB3's.
CLIP = 10.0  # |standardised observation| and |scaled reward| bound (SB3's default).


class RunningMoments(NamedTuple):
    """Mean and (population) variance of everything seen, with its sample count."""

    mean: jax.Array  # [*shape] float32.
    var: jax.Array  # [*shape] float32.
    count: jax.Array  # [] float32.


class Normalizer(NamedTuple):
    """Normalisation state of ``B`` environments (part of ``RolloutState``; checkpointed)."""

    obs: Any  # Like the observation: RunningMoments per float leaf, None elsewhere; or None.
    returns: RunningMoments | None  # Moments of the discounted return [] (None: rewards raw).
    discounted_return: jax.Array | None  # [B] (or [B, A]): R of each running episode.
    gamma: jax.Array | None  # []: the discount of R.


def init_moments(shape: tuple[int, ...]) -> RunningMoments:
    return RunningMoments(
        jnp.zeros(shape, jnp.float32),
        jnp.ones(shape, jnp.float32),
        jnp.asarray(INITIAL_COUNT, jnp.float32),
    )


def update_moments(moments: RunningMoments, batch: jax.Array) -> RunningMoments:
    """Adds ``batch [N, *shape]`` (Chan, Golub and LeVeque's parallel mean/variance update)."""
    batch = batch.astype(jnp.float32)
    n = jnp.asarray(batch.shape[0], jnp.float32)
    batch_mean, batch_var = jnp.mean(batch, axis=0), jnp.var(batch, axis=0)
    total = moments.count + n
    delta = batch_mean - moments.mean
    mean = moments.mean + delta * (n / total)
    m2 = (
        moments.var * moments.count
        + batch_var * n
        + jnp.square(delta) * (moments.count * n / total)
    )
    return RunningMoments(mean, m2 / total, total)


def standardize(moments: RunningMoments, x: jax.Array, clip: float = CLIP) -> jax.Array:
    """``x [..., *shape]`` standardised by ``moments`` and clipped to ``±clip``."""
    lead = (1,) * (x.ndim - moments.mean.ndim)  # Explicit broadcast over the batch axes.
    mean = jnp.reshape(moments.mean, lead + moments.mean.shape)
    std = jnp.sqrt(jnp.reshape(moments.var, lead + moments.var.shape) + EPSILON)
    return jnp.clip((x - mean) / std, -clip, clip)


def _is_float(x: Any) -> bool:
    return jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)


def _moments_or_none(node: Any) -> bool:
    return node is None or isinstance(node, RunningMoments)


def init(
    obs: Any, reward_shape: tuple[int, ...], *, observations: bool, rewards: bool, gamma: float
) -> Normalizer | None:
    """Fresh statistics for observations ``obs [B, ...]`` and rewards of ``reward_shape``
    (``[B]`` or ``[B, A]``); None when neither is normalised."""
    if not (observations or rewards):
        return None
    obs_moments = None
    if observations:
        obs_moments = jax.tree.map(
            lambda x: init_moments(x.shape[1:]) if _is_float(x) else None, obs
        )
    if not rewards:
        return Normalizer(obs_moments, None, None, None)
    return Normalizer(
        obs_moments,
        init_moments(()),
        jnp.zeros(reward_shape, jnp.float32),
        jnp.asarray(gamma, jnp.float32),
    )


def _standardize_tree(obs_moments: Any, obs: Any) -> Any:
    return jax.tree.map(
        lambda m, x: x if m is None else standardize(m, x),
        obs_moments,
        obs,
        is_leaf=_moments_or_none,
    )


def observe(normalizer: Normalizer | None, obs: Any) -> tuple[Normalizer | None, Any]:
    """Adds observations ``obs [B, ...]`` to the moments; returns them standardised."""
    if normalizer is None or normalizer.obs is None:
        return normalizer, obs
    moments = jax.tree.map(
        lambda m, x: None if m is None else update_moments(m, x),
        normalizer.obs,
        obs,
        is_leaf=_moments_or_none,
    )
    return normalizer._replace(obs=moments), _standardize_tree(moments, obs)


def standardize_obs(normalizer: Normalizer | None, obs: Any) -> Any:
    """``obs`` standardised by the current moments, which it does not change."""
    if normalizer is None or normalizer.obs is None:
        return obs
    return _standardize_tree(normalizer.obs, obs)


def scale_reward(
    normalizer: Normalizer | None, reward: jax.Array, done: jax.Array
) -> tuple[Normalizer | None, jax.Array]:
    """Updates each environment's discounted return with ``reward`` ([B] or [B, A]; ``done``
    [B] restarts it after this step) and divides ``reward`` by the return's running std."""
    if normalizer is None or normalizer.returns is None:
        return normalizer, reward
    discounted = normalizer.gamma * normalizer.discounted_return + reward
    returns = update_moments(normalizer.returns, jnp.reshape(discounted, (-1,)))
    scaled = jnp.clip(reward / jnp.sqrt(returns.var + EPSILON), -CLIP, CLIP)
    done = jnp.reshape(done, done.shape + (1,) * (reward.ndim - done.ndim))
    discounted = jnp.where(done, 0.0, discounted)
    return normalizer._replace(returns=returns, discounted_return=discounted), scaled
