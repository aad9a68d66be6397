"""On-policy SGD: shuffled minibatch epochs over a rollout (PPO's and A2C's update)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxml import optim
from jaxml.models.actor_critic import flatten_observation
from jaxml.rl import batching
from jaxml.rl._collect import Batch, Objective
from jaxml.rl._on_policy_config import Metrics, Sizes

# curvature_fn(params, minibatch, key) -> extra args of the optimizer's update (K-FAC's
# ``layer_stats``, RENG's ``loss_fn``), for optimizers that need more than the gradient.
CurvatureFn = Callable[[Any, Batch, jax.Array], dict[str, Any]]


def actor_critic_curvature(
    params: Any,
    minibatch: Batch,
    key: jax.Array,
    *,
    model: Any,
    objective: Objective,
) -> dict[str, Any]:
    """K-FAC's extra args for an actor-critic on a minibatch: ACKTR's joint Fisher.

    Wu, Mansimov, Liao, Grosse, Ba. "Scalable trust-region method for deep reinforcement learning
    using Kronecker-factored approximation" (ACKTR), arXiv 1708.05144: the policy's Fisher at
    actions sampled from the policy, and the critic's as a unit-variance Gaussian around its value,
    so every layer (actor, critic, a shared torso) gets its own Kronecker factors. ``loss_fn`` is
    the minibatch objective (RENG's gradient regulariser differentiates it).
    """
    obs = flatten_observation(minibatch.transitions.obs, 1)

    def sampled_loss(outputs, key):
        policy, value = outputs
        action_key, value_key = jax.random.split(key)
        action = jax.lax.stop_gradient(policy.sample(seed=action_key))
        target = jax.lax.stop_gradient(value + jax.random.normal(value_key, value.shape))
        return jnp.sum(-policy.log_prob(action)) + 0.5 * jnp.sum((value - target) ** 2)

    layer_stats = optim.sampled_layer_stats(model, params, obs, sampled_loss, key)
    return {"layer_stats": layer_stats, "loss_fn": lambda p: objective(p, minibatch)[0]}


def minibatch_step(
    carry: tuple[Any, Any],
    minibatch: Batch | tuple[Batch, jax.Array],
    *,
    objective: Objective,
    optimizer: optax.GradientTransformation,
    curvature_fn: CurvatureFn | None = None,
) -> tuple[tuple[Any, Any], Metrics]:
    """One optimizer step on one minibatch (a scan body); with ``curvature_fn`` the minibatch
    comes with a key for it."""
    params, opt_state = carry
    extra = {}
    if curvature_fn is not None:
        minibatch, key = minibatch
        extra = curvature_fn(params, minibatch, key)
    (loss, metrics), grads = jax.value_and_grad(objective, has_aux=True)(params, minibatch)
    # obj_fn for optimizers that probe the loss (Sophia's Hessian estimate); others ignore it.
    obj_fn = lambda p: objective(p, minibatch)[0]
    updates, opt_state = optimizer.update(grads, opt_state, params, obj_fn=obj_fn, **extra)
    params = optax.apply_updates(params, updates)
    return (params, opt_state), {"loss": loss, **metrics}


def epoch_step(
    carry: tuple[Any, Any],
    key: jax.Array,
    *,
    batch: Batch,
    num_minibatches: int,
    objective: Objective,
    optimizer: optax.GradientTransformation,
    curvature_fn: CurvatureFn | None = None,
) -> tuple[tuple[Any, Any], Metrics]:
    """One pass over a flattened ``batch`` ``[N]`` in shuffled minibatches (a scan body)."""
    if num_minibatches == 1:
        minibatches = jax.tree.map(lambda x: x[None], batch)  # One full batch: no shuffle.
    else:
        minibatches = batching.shuffled_minibatches(key, batch, num_minibatches)
    if curvature_fn is not None:
        # The shuffle keeps ``key``; the curvature samples draw from a key folded off it.
        curvature_keys = jax.random.split(jax.random.fold_in(key, 1), num_minibatches)
        minibatches = (minibatches, curvature_keys)
    body = functools.partial(
        minibatch_step, objective=objective, optimizer=optimizer, curvature_fn=curvature_fn
    )
    carry, metrics = jax.lax.scan(body, carry, minibatches)
    return carry, metrics


def sgd_update(
    params: Any,
    opt_state: Any,
    batch: Batch,
    key: jax.Array,
    *,
    objective: Objective,
    optimizer: optax.GradientTransformation,
    sizes: Sizes,
    curvature_fn: CurvatureFn | None = None,
    segment_length: int = 0,
) -> tuple[Any, Any, Metrics]:
    """``update_epochs`` shuffled minibatch passes over a rollout; metrics averaged over steps.

    ``segment_length = 0``: minibatches of single samples ``[N]`` (the rollout flattened).
    ``segment_length = k``: minibatches of whole ``k``-step segments ``[n, k]``, ``next_obs``
    kept, for an objective that recomputes advantages inside the loss (brax's PPO).
    """
    if segment_length:
        samples = batching.split_segments(batch, segment_length)
    else:
        # next_obs was only needed for bootstrapping; leave it out of the shuffles.
        samples = flat_batch(batch)
    return run_epochs(
        params, opt_state, samples, key,
        objective=objective, optimizer=optimizer, sizes=sizes, curvature_fn=curvature_fn,
    )  # fmt: skip


def run_epochs(
    params: Any,
    opt_state: Any,
    samples: Any,
    key: jax.Array,
    *,
    objective: Objective,
    optimizer: optax.GradientTransformation,
    sizes: Sizes,
    curvature_fn: CurvatureFn | None = None,
) -> tuple[Any, Any, Metrics]:
    """``update_epochs`` scanned ``epoch_step``s over ``samples`` (leading axis: what minibatches
    split: samples, or MAPPO's environments); metrics averaged over every optimizer step."""
    body = functools.partial(
        epoch_step,
        batch=samples,
        num_minibatches=sizes.num_minibatches,
        objective=objective,
        optimizer=optimizer,
        curvature_fn=curvature_fn,
    )
    keys = jax.random.split(key, sizes.update_epochs)
    (params, opt_state), metrics = jax.lax.scan(body, (params, opt_state), keys)
    return params, opt_state, jax.tree.map(jnp.mean, metrics)


def flat_batch(batch: Batch) -> Batch:
    """A rollout ``[T, B]`` flattened to ``[N = T·B]``, without ``next_obs`` (used only by GAE)."""
    batch = batch._replace(transitions=batch.transitions._replace(next_obs=None))
    return batching.merge_leading_axes(batch)
