"""Optimizers by name, and one training step that feeds each the curvature extra args it needs.

tx = jaxml.optim.make("ring", learning_rate=0.1, rho=0.05)
params, opt_state, metrics = jaxml.optim.train_step(
    "ring", tx, model, params, opt_state, x, y, key)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import optax

from jaxml.optim._curvature import loss_grads_and_stats, per_example_nll
from jaxml.optim._grng import reng, ring
from jaxml.optim._kfac import kfac
from jaxml.optim._rank1 import rank1_natural_gradient
from jaxml.optim._rkalman import rkalman
from jaxml.utils import checks


class OptimizerSpec(NamedTuple):
    factory: Callable[..., optax.GradientTransformation]
    # Extra args layer_stats (and loss_fn, curvature_gram, value: ignored when unused).
    needs_layer_stats: bool
    needs_obj_fn: bool  # Sophia's Hutchinson estimator: extra arg obj_fn.


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(optax.sgd, False, False),
    "adam": OptimizerSpec(optax.adam, False, False),
    "rmsprop": OptimizerSpec(optax.rmsprop, False, False),
    # v = g (no fisher_vector): the damped rank-1 natural gradient of the batch gradient.
    "rank1": OptimizerSpec(rank1_natural_gradient, False, False),
    "adamw": OptimizerSpec(optax.adamw, False, False),
    "sophia": OptimizerSpec(optax.contrib.sophia, False, True),
    "kfac": OptimizerSpec(kfac, True, False),
    "ring": OptimizerSpec(ring, True, False),
    "reng": OptimizerSpec(reng, True, False),
    "rkalman": OptimizerSpec(rkalman, True, False),
}


def make(name: str, **hyperparams) -> optax.GradientTransformationExtraArgs:
    """The optimizer ``name`` (one of :data:`OPTIMIZERS`) built with ``hyperparams``.

    Numeric hyper-parameters live in the state (``optax.inject_hyperparams``), so one compiled
    step serves a whole learning-rate sweep: set ``state.hyperparams["learning_rate"]``.
    """
    checks.choice(name, "optimizer", OPTIMIZERS)
    return optax.inject_hyperparams(OPTIMIZERS[name].factory)(**hyperparams)


def train_step(
    name: str,
    tx: optax.GradientTransformationExtraArgs,
    model: nn.Module,
    params: Any,
    opt_state: optax.OptState,
    inputs: jax.Array,
    targets: jax.Array,
    key: jax.Array,
    likelihood: str = "categorical",
) -> tuple[Any, optax.OptState, dict[str, jax.Array]]:
    """One update of ``params`` by the optimizer ``name`` on a batch; returns loss and grad norm."""
    spec = OPTIMIZERS[name]
    if spec.needs_layer_stats:
        ci = loss_grads_and_stats(model, params, inputs, targets, key, likelihood=likelihood)
        loss, grads = ci.loss, ci.grads
        # curvature_gram and value feed the adaptive step (adaptive=True); others ignore them.
        extra = {
            "layer_stats": ci.layer_stats,
            "loss_fn": ci.loss_fn,
            "curvature_gram": ci.curvature_gram,
            "value": ci.loss,
        }
    else:

        def loss_fn(p):
            return per_example_nll(model.apply(p, inputs), targets, likelihood).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        extra = {"obj_fn": loss_fn} if spec.needs_obj_fn else {}
    updates, opt_state = tx.update(grads, opt_state, params, **extra)
    params = optax.apply_updates(params, updates)
    return params, opt_state, {"loss": loss, "grad_norm": optax.tree.norm(grads)}
