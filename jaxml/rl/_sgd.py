"""On-policy SGD: shuffled minibatch epochs over a rollout (PPO's and A2C's update)."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxml.rl import batching
from jaxml.rl._collect import Batch, Objective
from jaxml.rl._on_policy_config import Metrics, Sizes


def minibatch_step(
    carry: tuple[Any, Any],
    minibatch: Batch,
    *,
    objective: Objective,
    optimizer: optax.GradientTransformation,
) -> tuple[tuple[Any, Any], Metrics]:
    """One optimizer step on one minibatch (a scan body)."""
    params, opt_state = carry
    (loss, metrics), grads = jax.value_and_grad(objective, has_aux=True)(params, minibatch)
    # obj_fn for optimizers that probe the loss (Sophia's Hessian estimate); others ignore it.
    obj_fn = lambda p: objective(p, minibatch)[0]
    updates, opt_state = optimizer.update(grads, opt_state, params, obj_fn=obj_fn)
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
) -> tuple[tuple[Any, Any], Metrics]:
    """One pass over a flattened ``batch`` ``[N]`` in shuffled minibatches (a scan body)."""
    if num_minibatches == 1:
        minibatches = jax.tree.map(lambda x: x[None], batch)  # One full batch: no shuffle.
    else:
        minibatches = batching.shuffled_minibatches(key, batch, num_minibatches)
    body = functools.partial(minibatch_step, objective=objective, optimizer=optimizer)
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
) -> tuple[Any, Any, Metrics]:
    """``update_epochs`` shuffled minibatch passes over a rollout; metrics averaged over steps."""
    # next_obs was only needed for bootstrapping; leave it out of the shuffles.
    batch = batch._replace(transitions=batch.transitions._replace(next_obs=None))
    flat = batching.merge_leading_axes(batch)
    return run_epochs(
        params, opt_state, flat, key, objective=objective, optimizer=optimizer, sizes=sizes
    )


def run_epochs(
    params: Any,
    opt_state: Any,
    samples: Any,
    key: jax.Array,
    *,
    objective: Objective,
    optimizer: optax.GradientTransformation,
    sizes: Sizes,
) -> tuple[Any, Any, Metrics]:
    """``update_epochs`` scanned ``epoch_step``s over ``samples`` (leading axis: what minibatches
    split: samples, or MAPPO's environments); metrics averaged over every optimizer step."""
    body = functools.partial(
        epoch_step,
        batch=samples,
        num_minibatches=sizes.num_minibatches,
        objective=objective,
        optimizer=optimizer,
    )
    keys = jax.random.split(key, sizes.update_epochs)
    (params, opt_state), metrics = jax.lax.scan(body, (params, opt_state), keys)
    return params, opt_state, jax.tree.map(jnp.mean, metrics)


def flat_batch(batch: Batch) -> Batch:
    """A rollout ``[T, B]`` flattened to ``[N = T·B]``, without ``next_obs`` (used only by GAE)."""
    batch = batch._replace(transitions=batch.transitions._replace(next_obs=None))
    return batching.merge_leading_axes(batch)
