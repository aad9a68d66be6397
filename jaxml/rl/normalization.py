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
  With ``obs_update="rollout"`` (brax's PPO, ``brax.training.agents.ppo.train``) the moments
  stay frozen through a rollout: its observations accumulate in ``pending_obs`` and are merged
  once, by ``commit``, when the rollout ends (``jaxml.rl.rollout`` calls it), so every
  observation of a rollout is standardised by the same statistics and the first rollout by the
  initial ones (mean 0, variance 1: the raw observations). The observation carried from one
  rollout's last step into the next (its first) keeps the statistics it was standardised with,
  the ones the policy acted on.
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

from jaxml.utils import checks

EPSILON = 1e-8  # Added to the variance before the square root.
INITIAL_COUNT = 1e-4  # Prior weight of the initial moments (mean 0, variance 1), as SB3's.
CLIP = 10.0  # |standardised observation| and |scaled reward| bound (SB3's default).
OBS_UPDATES = ("step", "rollout")  # When the observation moments take in new observations.


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
    # obs_update="rollout": like ``obs``, the moments of this rollout's observations so far
    # (count 0 after each ``commit``); None: the moments take in every step ("step").
    pending_obs: Any = None


def init_moments(shape: tuple[int, ...]) -> RunningMoments:
    return RunningMoments(
        jnp.zeros(shape, jnp.float32),
        jnp.ones(shape, jnp.float32),
        jnp.asarray(INITIAL_COUNT, jnp.float32),
    )


def empty_moments(shape: tuple[int, ...]) -> RunningMoments:
    """Moments of nothing (count 0): what ``combine_moments`` adds as nothing."""
    zeros = jnp.zeros(shape, jnp.float32)
    return RunningMoments(zeros, zeros, jnp.zeros((), jnp.float32))


def combine_moments(a: RunningMoments, b: RunningMoments) -> RunningMoments:
    """The moments of two samples pooled (Chan, Golub and LeVeque's parallel update); at least
    one of them must have a positive count."""
    total = a.count + b.count
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.count / total)
    m2 = a.var * a.count + b.var * b.count + jnp.square(delta) * (a.count * b.count / total)
    return RunningMoments(mean, m2 / total, total)


def update_moments(moments: RunningMoments, batch: jax.Array) -> RunningMoments:
    """Adds ``batch [N, *shape]`` to ``moments``."""
    batch = batch.astype(jnp.float32)
    n = jnp.asarray(batch.shape[0], jnp.float32)
    return combine_moments(moments, RunningMoments(jnp.mean(batch, 0), jnp.var(batch, 0), n))


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
    obs: Any,
    reward_shape: tuple[int, ...],
    *,
    observations: bool,
    rewards: bool,
    gamma: float,
    obs_update: str = "step",
) -> Normalizer | None:
    """Fresh statistics for observations ``obs [B, ...]`` and rewards of ``reward_shape``
    (``[B]`` or ``[B, A]``); None when neither is normalised. ``obs_update``: ``"step"`` (the
    moments take in each step's observations) or ``"rollout"`` (once per rollout, ``commit``)."""
    checks.choice(obs_update, "obs_update", OBS_UPDATES)
    if not (observations or rewards):
        return None
    obs_moments = pending = None
    if observations:
        obs_moments = jax.tree.map(
            lambda x: init_moments(x.shape[1:]) if _is_float(x) else None, obs
        )
        if obs_update == "rollout":
            pending = jax.tree.map(
                lambda x: empty_moments(x.shape[1:]) if _is_float(x) else None, obs
            )
    if not rewards:
        return Normalizer(obs_moments, None, None, None, pending)
    return Normalizer(
        obs_moments,
        init_moments(()),
        jnp.zeros(reward_shape, jnp.float32),
        jnp.asarray(gamma, jnp.float32),
        pending,
    )


def _standardize_tree(obs_moments: Any, obs: Any) -> Any:
    return jax.tree.map(
        lambda m, x: x if m is None else standardize(m, x),
        obs_moments,
        obs,
        is_leaf=_moments_or_none,
    )


def _update_tree(moments: Any, obs: Any) -> Any:
    return jax.tree.map(
        lambda m, x: None if m is None else update_moments(m, x),
        moments,
        obs,
        is_leaf=_moments_or_none,
    )


def observe(normalizer: Normalizer | None, obs: Any) -> tuple[Normalizer | None, Any]:
    """Adds observations ``obs [B, ...]`` to the moments (with ``obs_update="rollout"``, to the
    pending ones); returns them standardised by the moments then in use."""
    if normalizer is None or normalizer.obs is None:
        return normalizer, obs
    if normalizer.pending_obs is not None:
        pending = _update_tree(normalizer.pending_obs, obs)
        return normalizer._replace(pending_obs=pending), _standardize_tree(normalizer.obs, obs)
    moments = _update_tree(normalizer.obs, obs)
    return normalizer._replace(obs=moments), _standardize_tree(moments, obs)


def commit(normalizer: Normalizer | None) -> Normalizer | None:
    """Merges the pending observation moments (``obs_update="rollout"``) into those in use and
    empties them; any other normaliser is returned unchanged."""
    if normalizer is None or normalizer.pending_obs is None:
        return normalizer
    merge = lambda m, p: None if m is None else combine_moments(m, p)
    moments = jax.tree.map(merge, normalizer.obs, normalizer.pending_obs, is_leaf=_moments_or_none)
    empty = jax.tree.map(
        lambda p: None if p is None else empty_moments(p.mean.shape),
        normalizer.pending_obs,
        is_leaf=_moments_or_none,
    )
    return normalizer._replace(obs=moments, pending_obs=empty)


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
