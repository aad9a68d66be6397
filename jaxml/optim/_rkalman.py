"""R-Kalman: GRNG's Bayesian variant, a regularized extended Kalman filter on the parameters.

Dash, Abdi, Pan, Kaski, Sun. "Gradient Regularized Natural Gradients", AISTATS 2026 (arXiv
2601.18420); the filter-as-natural-gradient view is Ollivier, "Online natural gradient as a Kalman
filter", 2018 (arXiv 1703.00209).

The filter keeps a diagonal information (inverse covariance) ``J``, shaped like params. Per step,
with N observations in the batch (every row of the layer statistics), mean gradient ``ḡ`` and mean
per-example diagonal Fisher ``F̂`` (exact for dense layers: ``(a²)ᵀ(e²)/N``):

    J⁻ = (1 − q)·J + q·J₀                 (process noise: information relaxes to the prior J₀)
    J  = J⁻ + N·(F̂ + ρ‖ḡ‖²)               (observation update; GR inflates the curvature as in RING)
    Δ  = J⁻¹ · N·(ḡ + ρ_e·H ḡ)            (gain times innovation; optional explicit GR term)

and the filter's step is ``θ ← θ − Δ`` (``learning_rate`` 1). Only elementwise division: no matrix
is formed or inverted. With ``q = 0`` and ``ρ = 0``, on linear-Gaussian regression with orthogonal
features, this is the exact recursive Bayesian posterior mean; with ``q > 0`` its steady state is a
diagonal natural gradient step of size about q. How ρ enters is not given by the paper's readable
pages; ``rho`` (curvature inflation, option (a) of shared/papers/grng.md) and ``explicit_rho`` (the
gradient-norm pseudo-observation, option (b)) are both arguments.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax
from flax import traverse_util

from jaxml.optim._kronecker import (
    flat_layer_stats,
    kronecker_layers,
    regularized_gradient,
    unflatten_like,
)
from jaxml.optim._rank1 import _value


class ScaleByRKalmanState(NamedTuple):
    count: chex.Array  # [] int32: updates so far.
    information: Any  # Diagonal posterior information J, shaped like params (float32).


def diagonal_fisher(params: Any, stats_by_path: dict) -> tuple[Any, jax.Array]:
    """Mean per-example diagonal Fisher of every dense layer (0 elsewhere), and the row count N."""
    flat = {
        k: jnp.zeros(v.shape, jnp.float32) for k, v in traverse_util.flatten_dict(params).items()
    }
    rows = None
    for path, has_bias in kronecker_layers(params).items():
        stats = stats_by_path[path]
        a2 = jnp.square(stats.inputs.astype(jnp.float32))
        e2 = jnp.square(stats.output_grads.astype(jnp.float32))
        n = a2.shape[0]
        rows = n if rows is None else rows
        kernel_shape = flat[path + ("kernel",)].shape
        flat[path + ("kernel",)] = (a2.T @ e2 / n).reshape(kernel_shape)
        if has_bias:
            flat[path + ("bias",)] = jnp.mean(e2, axis=0)
    if rows is None:
        raise ValueError(
            "params: R-Kalman needs at least one dense (2-D kernel) or conv (4-D kernel) layer"
        )
    return unflatten_like(flat, params), rows


def scale_by_rkalman(
    prior_precision: float = 1.0,
    fading: optax.ScalarOrSchedule = 0.01,
    rho: optax.ScalarOrSchedule = 0.05,
    explicit_rho: optax.ScalarOrSchedule | None = None,
) -> optax.GradientTransformationExtraArgs:
    """The R-Kalman filter step ``Δ`` (see the module docstring; arXiv 2601.18420).

    Args:
      prior_precision: J₀, the information of the Gaussian prior around the initial params.
      fading: q in [0, 1): process noise as fading memory; the filter's effective step size.
      rho: GR curvature inflation ``ρ‖ḡ‖²`` added to the per-example information.
      explicit_rho: weight of the gradient-norm pseudo-observation ``ρ_e·H ḡ`` (needs ``loss_fn``);
        None (the default) leaves it out. Off is None, not 0: ``optax.inject_hyperparams`` turns
        every number into a traced array, and a traced 0 would still pay for the Hessian product.

    Extra args of ``update``: ``layer_stats`` (required) and ``loss_fn`` (when ``explicit_rho``).
    """

    def init_fn(params):
        information = jax.tree.map(
            lambda p: jnp.full(jnp.shape(p), prior_precision, jnp.float32), params
        )
        return ScaleByRKalmanState(jnp.zeros([], jnp.int32), information)

    def update_fn(updates, state, params=None, *, layer_stats=None, loss_fn=None, **extra_args):
        del extra_args
        if params is None:
            raise ValueError("params: R-Kalman needs params (layer shapes)")
        fisher, n = diagonal_fisher(params, flat_layer_stats(layer_stats, params))
        q = _value(fading, state.count).astype(jnp.float32)
        inflation = _value(rho, state.count).astype(jnp.float32) * optax.tree.norm(
            updates, squared=True
        ).astype(jnp.float32)
        information = jax.tree.map(
            lambda j, f: (1.0 - q) * j + q * prior_precision + n * (f + inflation),
            state.information,
            fisher,
        )
        innovation = updates
        if explicit_rho is not None:
            innovation = regularized_gradient(
                updates, params, loss_fn, explicit_rho, state.count, "R-Kalman"
            )
        step = jax.tree.map(
            lambda g, j: (n * g.astype(jnp.float32) / j).astype(g.dtype), innovation, information
        )
        return step, ScaleByRKalmanState(optax.safe_increment(state.count), information)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def rkalman(
    learning_rate: optax.ScalarOrSchedule = 1.0,
    prior_precision: float = 1.0,
    fading: optax.ScalarOrSchedule = 0.01,
    rho: optax.ScalarOrSchedule = 0.05,
    explicit_rho: optax.ScalarOrSchedule | None = None,
) -> optax.GradientTransformationExtraArgs:
    """R-Kalman (arXiv 2601.18420); ``learning_rate`` 1 is the filter itself."""
    return optax.chain(
        scale_by_rkalman(prior_precision, fading, rho, explicit_rho),
        optax.scale_by_learning_rate(learning_rate),
    )
